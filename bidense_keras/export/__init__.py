"""Deployment: Keras model -> SavedModel -> Larq Compute Engine TFLite flatbuffer (TensorFlow only).

``to_tflite`` converts, ``runtime.run_flatbuffer`` / ``TFLiteModel`` run the result in LCE's
interpreter (a numpy-1 side runtime, see :mod:`bidense_keras.export.runtime`), and
``to_float_tflite`` writes the float / int8 baselines of the same model. Each is imported on first use
(the converters import TensorFlow; :mod:`~bidense_keras.export.runtime` does not), and so is each
submodule.
"""

from bidense_keras.lazy import lazy_attributes

__all__ = ["TFLiteModel", "create_runtime", "deployable_model", "op_counts", "run_flatbuffer", "to_float_tflite",
           "to_tflite"]
__getattr__, __dir__ = lazy_attributes(__name__, {
    "to_float_tflite": "bidense_keras.export.baselines",
    **dict.fromkeys(("deployable_model", "op_counts", "to_tflite"), "bidense_keras.export.lce"),
    **dict.fromkeys(("create_runtime", "run_flatbuffer"), "bidense_keras.export.runtime"),
    "TFLiteModel": "bidense_keras.export.tflite_model",
})
