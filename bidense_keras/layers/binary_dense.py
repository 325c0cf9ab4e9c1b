"""The binary linear layer: sign activations times a per-unit scaled sign kernel (the binary ViT's linear layers)."""

import math

import keras
from keras import ops

from bidense_keras.quantizers import centered_sign, ste_sign

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
