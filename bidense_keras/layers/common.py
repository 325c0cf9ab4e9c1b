"""Small layers used around binary convolutions."""

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
