"""The BiDense convolution: binarize activations, binary conv, BatchNorm, full-precision bypass."""

import keras
from keras import ops

from bidense_keras import quantizers
from bidense_keras.layers.cfb import channel_adaptive_bypass

BYPASSES = ("cfb", "identity", None)


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


@keras.saving.register_keras_serializable(package="bidense_keras")
class BiDenseConv2D(keras.layers.Layer):
    """``y = BatchNorm(conv(binarize(x), binarize(W))) + bypass(x)``.

    With the defaults this is the BiDense convolution: DAB activations, per-output-
    channel scaled sign weights, no conv bias, BatchNorm (eps 1e-5, momentum 0.9 =
    PyTorch 0.1) and the CFB bypass. Zero padding is applied to the *binarized*
    activations (padded value 0). Set both binarizers to None for the full-precision
    conv + BatchNorm used by the FP32 baselines.

    Input ``(batch, height, width, cin)``; output ``(batch, height', width', filters)``.

    Args:
        filters: output channels (depthwise: None or ``cin``).
        kernel_size: int or ``(kh, kw)``.
        strides: int or pair.
        padding: symmetric zero padding in pixels (int, PyTorch style), ``"valid"``
            (0) or ``"same"`` (``dilation * (k - 1) // 2``, size-preserving at stride 1).
        dilation_rate: int or pair.
        depthwise: one ``(kh, kw)`` filter per channel instead of a full conv.
        activation_binarizer: anything :func:`bidense_keras.quantizers.get` takes: ``"dab"``;
            ``"dab_deployable"`` (DAB with its scale applied after the convolution, see
            :meth:`output_scale`, so that a bitpacked binary conv can run it); another quantizer
            name (e.g. ``"approx_sign"``), a quantizer object or callable (used as given, with its own
            ``zero_as_positive``); or None (float).
        kernel_binarizer: ``"scaled_sign"`` (BiDense), another quantizer (name, object or
            callable), or None (float weights). A name is made with one scale per output channel.
        bypass: ``"cfb"`` (any cin -> cout), ``"identity"`` (added only when
            cin == cout) or None. ``True``/``False`` mean ``"cfb"``/None.
        zero_as_positive: binarize 0 to +1 (LCE convention) instead of 0.
        kernel_initializer: default Normal(0, 1e-3) for binary kernels (as in the
            paper), He normal for float ones.
        use_bias: add a float bias after the convolution, before BatchNorm (the DPT
            decoder's residual units; UperNet's convs have none).
    """

    def __init__(
        self,
        filters=None,
        kernel_size=3,
        strides=1,
        padding="same",
        dilation_rate=1,
        depthwise=False,
        activation_binarizer="dab",
        kernel_binarizer="scaled_sign",
        bypass="cfb",
        zero_as_positive=False,
        kernel_initializer=None,
        use_bias=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if filters is None and not depthwise:
            raise ValueError(f"{self.name}: `filters` is required unless depthwise=True.")
        bypass = {True: "cfb", False: None}.get(bypass, bypass)
        if bypass not in BYPASSES:
            raise ValueError(f"{self.name}: bypass must be one of {BYPASSES}, got {bypass!r}.")
        self.filters = filters
        self.kernel_size = _pair(kernel_size)
        self.strides = _pair(strides)
        self.dilation_rate = _pair(dilation_rate)
        self.padding = self._padding_pixels(padding)
        self.depthwise = depthwise
        # The config's form (a name or a serialized object), not the object: an object held here would be
        # tracked under this attribute's name, and a DAB layer's weights would move in saved files.
        self.activation_binarizer = quantizers.serialize(activation_binarizer)
        self.kernel_binarizer = quantizers.serialize(kernel_binarizer)
        self.bypass = bypass
        self.zero_as_positive = zero_as_positive
        self.use_bias = use_bias
        self.subsampled_strides = False  # export form, see subsample_strides
        if kernel_initializer is None:
            kernel_initializer = (
                keras.initializers.RandomNormal(stddev=1e-3) if kernel_binarizer else "he_normal"
            )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        if bypass and not self._preserves_size():
            raise ValueError(
                f"{self.name}: a bypass needs equal input and output size, but kernel "
                f"{self.kernel_size}, strides {self.strides}, dilation {self.dilation_rate} and "
                f"padding {self.padding} change it. Use bypass=None."
            )

        self.binarizer = quantizers.get(activation_binarizer, zero_as_positive=zero_as_positive)
        # Depthwise kernels (kh, kw, C, 1) keep one scale per channel: axis -2.
        kernel_options = {"channel_axis": -2 if depthwise else -1} if quantizers.takes(kernel_binarizer, "channel_axis") else {}
        self._kernel_quantizer = quantizers.get(kernel_binarizer, zero_as_positive=zero_as_positive, **kernel_options)
        self.norm = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="norm")

    def _padding_pixels(self, padding):
        if padding == "valid":
            return (0, 0)
        if padding == "same":
            return tuple(d * (k - 1) // 2 for k, d in zip(self.kernel_size, self.dilation_rate))
        return _pair(padding)

    def _preserves_size(self):
        return self.strides == (1, 1) and all(
            2 * p == d * (k - 1) for p, k, d in zip(self.padding, self.kernel_size, self.dilation_rate)
        )

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if self.depthwise and self.filters not in (None, in_channels):
            raise ValueError(
                f"{self.name}: a depthwise conv keeps the channel count ({in_channels}); "
                f"got filters={self.filters}."
            )
        if self.depthwise:
            self.filters = in_channels
        if isinstance(self.binarizer, keras.layers.Layer):
            self.binarizer.build(input_shape)
        self.kernel = self.add_weight(
            shape=self._kernel_shape(in_channels), initializer=self.kernel_initializer, name="kernel"
        )
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
        self.norm.build((*input_shape[:-1], self.filters))

    def subsample_strides(self):
        """For export: compute the strided conv as the stride-1 conv with ``"same"`` padding, subsampled.

        Same output. For a strided conv whose padding is the "same" padding of stride 1 (a 3x3 conv
        with padding 1): LCE 0.16's converter fuses the explicit symmetric pad into a strided
        ``CONV_2D`` as TFLite's SAME padding, which at stride 2 pads only after, and so computes
        another convolution (measured; tests/test_runtime.py checks the exported DPT); at stride 1 the
        two paddings agree.
        """
        if self.strides == (1, 1) or tuple(2 * p + 1 for p in self.padding) != tuple(self.kernel_size):
            raise ValueError(f"{self.name}: only a strided conv padded by kernel_size // 2 can be subsampled.")
        self.subsampled_strides = True

    def _kernel_shape(self, in_channels):
        """``(kh, kw, cin, cout)``, or ``(kh, kw, C, 1)`` for a depthwise conv."""
        return (*self.kernel_size, in_channels, 1 if self.depthwise else self.filters)

    def _convolve(self, activations, kernel):
        """The (depthwise) convolution of the binarized activations, zero padding applied to them."""
        conv = ops.depthwise_conv if self.depthwise else ops.conv
        if self.subsampled_strides:  # the stride-1 "same" conv at every stride-th position: the same values
            full = conv(activations, kernel, strides=1, padding="same", dilation_rate=self.dilation_rate)
            return full[:, :: self.strides[0], :: self.strides[1], :]
        padding = "valid"
        if self.padding != (0, 0) and self._preserves_size():
            padding = "same"
        elif self.padding != (0, 0):
            pad_h, pad_w = self.padding
            activations = ops.pad(activations, ((0, 0), (pad_h, pad_h), (pad_w, pad_w), (0, 0)))
        return conv(activations, kernel, strides=self.strides, padding=padding, dilation_rate=self.dilation_rate)

    def quantized_kernel(self):
        """The kernel as the convolution sees it: ``(kh, kw, cin, cout)`` or ``(kh, kw, C, 1)``."""
        if self._kernel_quantizer is None:
            return self.kernel
        return self._kernel_quantizer(self.kernel)

    def fold_kernel_binarizer(self):
        """Stores the binarized kernel in the kernel variable and drops the binarizer.

        The output does not change (the binarizers are idempotent); the graph then holds
        the ±scale kernel as a constant, which is what a converter needs to bitpack it.
        For export only: training after this trains the binary kernel directly.
        """
        self.kernel.assign(self.quantized_kernel())
        self._kernel_quantizer = None

    def output_scale(self, input_scale, kernel):
        """Per-sample output scale of a binarizer that scales after the conv (``dab_deployable``) from its
        ``(B, 1, 1, C_in)`` scale.

        Depthwise: the input scale itself, ``(B, 1, 1, C)`` (exactly DAB). Regular conv: one
        scalar per sample, ``(B, 1, 1, 1)``: the input-channel scales averaged with weights
        ``sum |W[..., c, :]|`` (each channel's share of the kernel's magnitude), so the
        deployed graph needs only ``C_in`` extra floats per layer.
        """
        if self.depthwise:
            return input_scale
        mass = ops.sum(ops.abs(kernel), axis=(0, 1, 3))  # (C_in,)
        return ops.sum(input_scale * (mass / ops.sum(mass)), axis=-1, keepdims=True)

    def call(self, inputs, training=None):
        kernel = self.quantized_kernel()
        output_scale = None
        if getattr(self.binarizer, "scales_after_conv", False):
            activations, input_scale = self.binarizer.signs_and_scale(inputs)
            output_scale = self.output_scale(input_scale, ops.stop_gradient(kernel))
        elif self.binarizer is not None:
            activations = self.binarizer(inputs)
        else:
            activations = inputs
        outputs = self._convolve(activations, kernel)
        if output_scale is not None:
            outputs = outputs * output_scale
        if self.use_bias:
            outputs = outputs + self.bias
        outputs = self.norm(outputs, training=training)
        if self.bypass == "cfb":
            outputs = outputs + channel_adaptive_bypass(inputs, self.filters)
        elif self.bypass == "identity" and inputs.shape[-1] == self.filters:
            outputs = outputs + inputs
        return outputs

    def compute_output_shape(self, input_shape):
        spatial = []
        for size, k, s, p, d in zip(
            input_shape[1:3], self.kernel_size, self.strides, self.padding, self.dilation_rate
        ):
            spatial.append(None if size is None else (size + 2 * p - d * (k - 1) - 1) // s + 1)
        return (input_shape[0], *spatial, self.filters or input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "depthwise": self.depthwise,
            "activation_binarizer": self.activation_binarizer,
            "kernel_binarizer": self.kernel_binarizer,
            "bypass": self.bypass,
            "zero_as_positive": self.zero_as_positive,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "use_bias": self.use_bias,
        }


@keras.saving.register_keras_serializable(package="bidense_keras")
class BiDenseConvTranspose2D(BiDenseConv2D):
    """``y = BatchNorm(conv_transpose(binarize(x), binarize(W)))``: ×``factor`` upsampling, kernel = stride.

    The DPT decoder's learned upsampling: the windows do not overlap and nothing is
    padded. The kernel is ``(factor, factor, filters, cin)``; the BiDense weight binarizer scales it
    per *input* channel (the authors reduce their ``(cin, cout, k, k)`` layout over all but the first
    axis). No bypass of its own: the decoder adds CFB of the nearest-upsampled input.

    Input ``(batch, h, w, cin)``; output ``(batch, factor * h, factor * w, filters)``.

    Args:
        filters: output channels.
        factor: the upsampling factor (kernel size and stride).
        activation_binarizer, kernel_binarizer, zero_as_positive, kernel_initializer: as for
            :class:`BiDenseConv2D`, except a binarizer that scales after the conv (``dab_deployable``):
            the kernel is scaled per input channel, which no output scale can follow.
    """

    def __init__(self, filters, factor, activation_binarizer="dab", kernel_binarizer="scaled_sign",
                 zero_as_positive=False, kernel_initializer=None, **kwargs):
        super().__init__(filters, kernel_size=factor, strides=factor, padding="valid",
                         activation_binarizer=activation_binarizer, kernel_binarizer=kernel_binarizer,
                         bypass=None, zero_as_positive=zero_as_positive, kernel_initializer=kernel_initializer,
                         **kwargs)
        if getattr(self.binarizer, "scales_after_conv", False):
            raise ValueError(f"{self.name}: a transposed conv has no form with the binarizer's scale after it "
                             f"({activation_binarizer!r}); use exact DAB (\"dab\").")
        self.factor = factor

    def _kernel_shape(self, in_channels):
        return (self.factor, self.factor, self.filters, in_channels)

    def _convolve(self, activations, kernel):
        return ops.conv_transpose(activations, kernel, strides=self.factor, padding="valid")

    def compute_output_shape(self, input_shape):
        spatial = [None if size is None else size * self.factor for size in input_shape[1:3]]
        return (input_shape[0], *spatial, self.filters)

    def get_config(self):
        config = super().get_config()
        for key in ("kernel_size", "strides", "padding", "dilation_rate", "depthwise", "bypass", "use_bias"):
            config.pop(key)
        return {**config, "factor": self.factor}
