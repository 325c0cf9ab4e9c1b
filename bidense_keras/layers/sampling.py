"""Resampling with PyTorch semantics: bilinear (align_corners True or False), bicubic by scale factor,
adaptive average pooling.

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


def _one_hot_columns(indices, in_size):
    """``(out, in)`` float32: 1 where column == ``indices[row]``."""
    columns = ops.expand_dims(ops.arange(in_size, dtype="int32"), 0)
    return ops.cast(ops.expand_dims(indices, 1) == columns, "float32")


def _half_pixel_matrix(in_size, out_size, dtype):
    """``(out, in)`` bilinear weights with align_corners=False, no antialias: source = (i + 1/2) in/out - 1/2 >= 0."""
    ratio = ops.cast(in_size, "float32") / ops.cast(out_size, "float32")
    source = ops.maximum((ops.arange(out_size, dtype="float32") + 0.5) * ratio - 0.5, 0.0)
    lower = ops.floor(source)
    fraction = ops.expand_dims(source - lower, 1)
    lower = ops.cast(lower, "int32")
    upper = ops.minimum(lower + 1, ops.cast(in_size, "int32") - 1)
    weights = _one_hot_columns(lower, in_size) * (1.0 - fraction) + _one_hot_columns(upper, in_size) * fraction
    return ops.cast(weights, dtype)


def cubic_weights(t, a=-0.75):
    """The four cubic-convolution weights (taps floor(y)-1 .. floor(y)+2) at fraction ``t``, PyTorch's A = -0.75."""
    def near(x):  # |x| <= 1
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a

    return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]


def bicubic_scale_matrix(in_size, out_size, scale_factor, dtype="float32"):
    """``(out, in)`` weights of PyTorch's bicubic ``interpolate(scale_factor=...)`` (align_corners=False, no antialias).

    Output ``i`` samples ``y = (i + 1/2) / scale_factor - 1/2``; the taps ``floor(y) - 1 .. floor(y) + 2`` are
    clamped to ``[0, in - 1]`` (their weights add up at the edges).

    Args:
        in_size: a Python int.
        out_size, scale_factor: ints/floats or scalar tensors (``out_size = floor(in_size * scale_factor)``).
    """
    ratio = ops.cast(1.0 / scale_factor, "float32")
    source = (ops.arange(out_size, dtype="float32") + 0.5) * ratio - 0.5
    lower = ops.floor(source)
    fraction = ops.expand_dims(source - lower, 1)
    lower = ops.cast(lower, "int32")
    weights = 0.0
    for offset, weight in zip(range(-1, 3), cubic_weights(fraction)):
        tap = ops.clip(lower + offset, 0, in_size - 1)
        weights = weights + _one_hot_columns(tap, in_size) * weight
    return ops.cast(weights, dtype)


def resize_bilinear_half_pixel(x, size):
    """Bilinear resize with PyTorch's ``align_corners=False`` and no antialias.

    Args:
        x: ``(batch, height, width, channels)``.
        size: ``(out_height, out_width)``, ints or scalar tensors.

    Returns:
        ``(batch, out_height, out_width, channels)``.
    """
    return _apply_separable(x, size, _half_pixel_matrix)


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
class ResizeBy(keras.layers.Layer):
    """Bilinear resize (align_corners=True) by an integer ``factor``: ``(B, h, w, C)`` -> ``(B, f*h, f*w, C)``."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        size = ops.shape(inputs)[1:3]
        return resize_bilinear_align_corners(inputs, (size[0] * self.factor, size[1] * self.factor))

    def compute_output_shape(self, input_shape):
        spatial = [None if size is None else size * self.factor for size in input_shape[1:3]]
        return (input_shape[0], *spatial, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


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
