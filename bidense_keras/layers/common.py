"""Small layers used around binary convolutions, with PyTorch's defaults (the authors' models are PyTorch)."""

import keras


@keras.saving.register_keras_serializable(package="bidense_keras")
class LearnableBias(keras.layers.Layer):
    """Adds a learnable per-channel bias: ``x + b_c`` (init 0), as in ReActNet's RSign/RPReLU.

    Input ``(..., channels)``, output same shape.
    """

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")

    def call(self, inputs):
        return inputs + self.bias


def batch_norm(name):
    """BatchNorm with PyTorch's defaults (eps 1e-5, momentum 0.1 == Keras 0.9)."""
    return keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)


def prelu(name):
    """Per-channel PReLU of ``(B, H, W, C)`` maps with PyTorch's initial slope 0.25."""
    return keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25), shared_axes=[1, 2], name=name)
