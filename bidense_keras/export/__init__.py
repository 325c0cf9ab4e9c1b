"""Deployment: Keras model -> SavedModel -> Larq Compute Engine TFLite flatbuffer (TensorFlow only).

``to_tflite`` converts, ``runtime.run_flatbuffer`` / ``TFLiteModel`` run the result in LCE's
interpreter (a numpy-1 side runtime, see :mod:`bidense_keras.export.runtime`), and
``to_float_tflite`` writes the float / int8 baselines of the same model.
"""

from bidense_keras.export.baselines import to_float_tflite
from bidense_keras.export.lce import deployable_model, op_counts, to_tflite
from bidense_keras.export.runtime import create_runtime, run_flatbuffer
from bidense_keras.export.tflite_model import TFLiteModel

__all__ = ["TFLiteModel", "create_runtime", "deployable_model", "op_counts", "run_flatbuffer", "to_float_tflite",
           "to_tflite"]
