"""Deployment: Keras model -> SavedModel -> Larq Compute Engine TFLite flatbuffer (TensorFlow only)."""

from bidense_keras.export.lce import deployable_model, op_counts, to_tflite

__all__ = ["deployable_model", "op_counts", "to_tflite"]
