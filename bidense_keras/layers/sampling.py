"""Resampling with PyTorch semantics: bilinear with align_corners=True, adaptive average pooling.

Both are written as separable linear maps: a small ``(out, in)`` matrix per spatial
axis, applied with ``einsum``. The matrices are built from the tensor's runtime
size, so any input size works, and the result matches PyTorch to float rounding.
"""

import keras
from keras import ops


def _align_corners_matrix(in_size, out_size, dtype):
    """``(out, in)`` bilinear weights with align_corners=True: source = i * (in-1)/(out-1)."""
    in_float = ops.cast(in_size, "float32")
    out_float = ops.cast(out_size, "float32")
    step = ops.where(out_float > 1, (in_float - 1) / ops.maximum(out_float - 1, 1), 0.0)
    source = ops.arange(out_size, dtype="float32") * step
    lower = ops.floor(source)
    fraction = ops.expand_dims(source - lower, 1)
    lower = ops.cast(lower, "int32")
    upper = ops.minimum(lower + 1, ops.cast(in_size, "int32") - 1)
    columns = ops.expand_dims(ops.arange(in_size, dtype="int32"), 0)
    lower_hit = ops.cast(ops.expand_dims(lower, 1) == columns, "float32")
    upper_hit = ops.cast(ops.expand_dims(upper, 1) == columns, "float32")
    return ops.cast(lower_hit * (1.0 - fraction) + upper_hit * fraction, dtype)


def _adaptive_pool_matrix(in_size, out_size, dtype):
    """``(out, in)`` averaging weights over PyTorch's bins [floor(i*in/out), ceil((i+1)*in/out))."""
    rows = ops.arange(out_size, dtype="int32")
    start = ops.floor_divide(rows * in_size, out_size)
    end = ops.floor_divide((rows + 1) * in_size + out_size - 1, out_size)
    columns = ops.expand_dims(ops.arange(in_size, dtype="int32"), 0)
    inside = (columns >= ops.expand_dims(start, 1)) & (columns < ops.expand_dims(end, 1))
    weights = ops.cast(inside, "float32") / ops.cast(ops.expand_dims(end - start, 1), "float32")
    return ops.cast(weights, dtype)


def _apply_separable(x, size, matrix):
    """``x (B, H, W, C)`` -> ``(B, size[0], size[1], C)`` with ``matrix(in, out, dtype)`` per axis."""
    height, width = ops.shape(x)[1], ops.shape(x)[2]
    x = ops.einsum("oh,bhwc->bowc", matrix(height, size[0], x.dtype), x)
    return ops.einsum("pw,bowc->bopc", matrix(width, size[1], x.dtype), x)


def resize_bilinear_align_corners(x, size):
    """Bilinear resize with PyTorch's ``align_corners=True``.

    Args:
        x: ``(batch, height, width, channels)``.
        size: ``(out_height, out_width)``, ints or scalar tensors.

    Returns:
        ``(batch, out_height, out_width, channels)``.
    """
    return _apply_separable(x, size, _align_corners_matrix)


def adaptive_average_pool(x, output_size):
    """PyTorch ``AdaptiveAvgPool2d``: overlapping bins when sizes don't divide; output may exceed input.

    Args:
        x: ``(batch, height, width, channels)``.
        output_size: ``(out_height, out_width)`` ints.

    Returns:
        ``(batch, out_height, out_width, channels)``.
    """
    return _apply_separable(x, output_size, _adaptive_pool_matrix)


@keras.saving.register_keras_serializable(package="bidense_keras")
class ResizeLike(keras.layers.Layer):
    """Resizes ``x`` bilinearly (align_corners=True) to the height and width of ``reference``.

    Call: ``ResizeLike()([x, reference])`` with ``x (B, h, w, C)`` and ``reference
    (B, H, W, any)``; returns ``(B, H, W, C)``.
    """

    def call(self, inputs):
        x, reference = inputs
        return resize_bilinear_align_corners(x, ops.shape(reference)[1:3])

    def compute_output_shape(self, input_shape):
        x_shape, reference_shape = input_shape
        return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[3])


@keras.saving.register_keras_serializable(package="bidense_keras")
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """Layer form of :func:`adaptive_average_pool` with a square or ``(h, w)`` output size."""

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.output_size = tuple(output_size)

    def call(self, inputs):
        return adaptive_average_pool(inputs, self.output_size)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}
