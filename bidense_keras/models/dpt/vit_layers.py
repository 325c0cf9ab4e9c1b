"""Layers of the binary ViT (the DPT family's backbone): binary attention, LayerScale and the linear layers."""

import keras
from keras import ops

from bidense_keras.layers.binary_dense import BinaryDense
from bidense_keras.quantizers import binarized_attention, ste_sign


@keras.saving.register_keras_serializable(package="bidense_keras")
class BinaryAttention(keras.layers.Layer):
    """Multi-head self-attention with binary q, k, v and a binarized attention map (as in BiViT).

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
