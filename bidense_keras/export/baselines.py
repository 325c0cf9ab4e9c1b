"""The baselines an LCE flatbuffer is measured against: the same deployable twin as float or int8 TFLite.

Both convert the same SavedModel of the deployable twin as :func:`~bidense_keras.export.to_tflite`
with TensorFlow's own TFLite converter, so binary convolutions become float ``CONV_2D`` with
±scale weights (float) or 8-bit weights and activations (int8 post-training quantization,
calibrated on sample images). They compute the same function as the LCE flatbuffer and
differ only in how the weights are stored and the convolutions run.
"""

from bidense_keras.export.lce import deployable_model, saved_model_of
from bidense_keras.files import write_bytes_atomic


def to_float_tflite(model, path, input_size, calibration_images=None):
    """Writes ``model``'s deployable twin as a standard TFLite flatbuffer (no LCE ops).

    Args:
        model: a :class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.models.DPT`.
        path: output ``.tflite`` (written atomically).
        input_size: ``(height, width)`` of the flatbuffer's input.
        calibration_images: ``(N, H, W, 3)`` float32 at ``input_size``; when given, the
            flatbuffer is int8 post-training quantized (weights and activations; float input
            and output, float kernels only where TFLite has no int8 kernel).

    Returns:
        dict with ``path`` and ``size_bytes``.
    """
    import tensorflow as tf

    with saved_model_of(deployable_model(model, input_size)) as saved_model:
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        if calibration_images is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([image[None]] for image in calibration_images)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    return {"path": str(write_bytes_atomic(path, flatbuffer)), "size_bytes": len(flatbuffer)}
