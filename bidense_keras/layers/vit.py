"""Layers of the binary ViT (the DPT family's backbone, SPEC_DPT §3): binary linear, binary attention, LayerScale."""

import math

import keras
from keras import ops

from bidense_keras.quantizers import binarized_attention, centered_sign, ste_sign

SCALES = ("learned", "mean")


@keras.saving.register_keras_serializable(package="bidense_keras")
class BinaryDense(keras.layers.Layer):
    """``y = sign(x) @ (s * sign(W - mean_in W)) + b``: the binary ViT's linear layer.

    The input sign has no scale and a strict straight-through gradient (``|x| < 1``); the
    weights are centred per output unit before their sign (:func:`~bidense_keras.quantizers.centered_sign`)
    and scaled per output unit by ``s``:

    * ``scale="learned"`` (attention qkv and proj): ``s`` is a variable, initialised to
      ``mean|W|`` of the initial kernel (the authors set it on the first forward pass);
    * ``scale="mean"`` (MLP fc1 and fc2): ``s = mean|W|`` of the current kernel, a constant for
      the gradient.

    Input ``(batch, tokens, in)``; output ``(batch, tokens, units)``. Always with a bias.

    Args:
        units: output features.
        scale: ``"learned"`` or ``"mean"``.
        kernel_initializer: default uniform ±0.015 for ``"learned"`` (the authors' qkv/proj
            init), uniform ±1/sqrt(in) (PyTorch's Linear) for ``"mean"``.
    """

    precision = 1

    def __init__(self, units, scale="learned", kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        if scale not in SCALES:
            raise ValueError(f"{self.name}: scale must be one of {SCALES}, got {scale!r}.")
        self.units = units
        self.scale_mode = scale
        self.kernel_initializer = keras.initializers.get(kernel_initializer) if kernel_initializer else None
        self.folded = None  # export form, see fold_kernel_binarizer

    def build(self, input_shape):
        fan_in = input_shape[-1]
        bound = 1.0 / math.sqrt(fan_in)
        initializer = self.kernel_initializer or keras.initializers.RandomUniform(
            *((-0.015, 0.015) if self.scale_mode == "learned" else (-bound, bound)))
        self.kernel = self.add_weight(shape=(fan_in, self.units), initializer=initializer, name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer=keras.initializers.RandomUniform(-bound, bound),
                                    name="bias")
        if self.scale_mode == "learned":
            self.scale = self.add_weight(shape=(self.units,), initializer="zeros", name="scale")
            self.scale.assign(ops.mean(ops.abs(self.kernel), axis=0))

    def channel_scale(self):
        """The per-output scale ``s``, ``(units,)``."""
        if self.scale_mode == "learned":
            return self.scale
        return ops.stop_gradient(ops.mean(ops.abs(self.kernel), axis=0))

    def quantized_kernel(self):
        """``s * sign(W - mean_in W)``, ``(in, units)``: the kernel the matrix product sees."""
        if self.folded:
            return self.kernel
        return self.channel_scale() * centered_sign(self.kernel)

    def fold_kernel_binarizer(self, ternary_inputs=False):
        """For export: the ±s kernel as the weights, and the layer computed as 1x1 binary convolutions over tokens.

        LCE has no binary matrix product, but it bitpacks a convolution of ``sign(x)`` (0 -> +1) with
        a kernel of one magnitude per output unit (``LceBconv2d``). The output does not change,
        except that an input exactly 0 binarizes to +1, unless ``ternary_inputs``: then the layer
        computes ``(conv(sign⁺(x)) - conv(sign⁺(-x))) / 2``, which is ``conv(sign(x))`` with
        sign(0) = 0 exactly, at the cost of a second binary conv (the attention output that ``proj``
        binarizes holds exact zeros).
        """
        self.kernel.assign(self.quantized_kernel())
        self.folded = "ternary" if ternary_inputs else "binary"

    def _token_conv(self, inputs):
        """The folded layer: ``(B, N, in)`` -> ``(B, N, units)`` through 1x1 convs of ``(B, N, 1, in)`` signs."""
        kernel = ops.reshape(self.kernel, (1, 1, *self.kernel.shape))
        tokens = ops.expand_dims(inputs, 2)  # the sign after the reshape: the converter sees sign -> conv
        outputs = ops.conv(ste_sign(tokens, zero_as_positive=True), kernel)
        if self.folded == "ternary":
            outputs = 0.5 * (outputs - ops.conv(ste_sign(-tokens, zero_as_positive=True), kernel))
        return ops.squeeze(outputs, 2)

    def call(self, inputs):
        if self.folded:
            return self._token_conv(inputs) + self.bias
        return ops.matmul(ste_sign(inputs, strict=True), self.quantized_kernel()) + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        initializer = keras.initializers.serialize(self.kernel_initializer) if self.kernel_initializer else None
        return {**super().get_config(), "units": self.units, "scale": self.scale_mode,
                "kernel_initializer": initializer}


@keras.saving.register_keras_serializable(package="bidense_keras")
class BinaryAttention(keras.layers.Layer):
    """Multi-head self-attention with binary q, k, v and a binarized attention map (SPEC_DPT §3).

    ``qkv`` (a learned-scale :class:`BinaryDense`, outputs ordered ``[q|k|v][head][dim]``) gives q, k, v,
    each binarized with a strict straight-through sign; ``P = softmax(q kᵀ / sqrt(d))``;
    ``A = 1[P >= max P / 4]`` (:func:`~bidense_keras.quantizers.binarized_attention`);
    ``O = A v`` (integer counts), heads concatenated and projected by ``proj`` (a learned-scale
    :class:`BinaryDense`, whose input sign makes exact zeros of O zero).

    With ``binary=False`` it is the full-precision twin: float ``Dense`` qkv and proj, ``O = P v``.

    Input and output ``(batch, tokens, channels)``.

    Args:
        num_heads: heads; ``channels`` must be a multiple of it.
        binary: binarize (default) or not.
    """

    def __init__(self, num_heads, binary=True, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.binary = binary

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.num_heads:
            raise ValueError(f"{self.name}: {channels} channels do not split into {self.num_heads} heads.")
        self.qkv = vit_linear(3 * channels, "learned", self.binary, name="qkv")
        self.qkv.build(input_shape)
        self.proj = vit_linear(channels, "learned", self.binary, name="proj")
        self.proj.build(input_shape)

    def call(self, inputs):
        tokens, channels = ops.shape(inputs)[1], inputs.shape[2]  # tokens: a tensor when the image size is not fixed
        head_dim = channels // self.num_heads
        qkv = ops.reshape(self.qkv(inputs), (-1, tokens, 3, self.num_heads, head_dim))
        qkv = ops.transpose(ste_sign(qkv, strict=True) if self.binary else qkv, (2, 0, 3, 1, 4))  # (3, B, heads, N, d)
        query, key, value = qkv[0], qkv[1], qkv[2]
        logits = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2))) * (head_dim ** -0.5)
        attention = ops.softmax(logits, axis=-1)
        if self.binary:
            attention = binarized_attention(attention)
        heads = ops.transpose(ops.matmul(attention, value), (0, 2, 1, 3))  # (B, N, heads, d)
        return self.proj(ops.reshape(heads, (-1, tokens, channels)))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "binary": self.binary}


def vit_linear(units, scale, binary, name):
    """A ViT linear layer: :class:`BinaryDense` with ``scale``, or a float ``Dense`` (with bias) if not ``binary``."""
    return BinaryDense(units, scale=scale, name=name) if binary else keras.layers.Dense(units, name=name)


@keras.saving.register_keras_serializable(package="bidense_keras")
class LayerScale(keras.layers.Layer):
    """``x * gamma`` with a learned per-channel ``gamma`` (init 1.0). Input ``(..., channels)``, output same."""

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gamma")

    def call(self, inputs):
        return inputs * self.gamma
