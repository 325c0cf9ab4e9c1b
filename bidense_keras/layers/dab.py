"""DAB: the distribution-adaptive binarizer of BiDense as a Keras layer."""

import keras

from bidense_keras.quantizers import distribution_adaptive_factors, distribution_adaptive_sign


@keras.saving.register_keras_serializable(package="bidense_keras")
class DistributionAdaptiveBinarizer(keras.layers.Layer):
    """Binarizes activations around a threshold that follows each input's statistics.

    Per input channel c it learns ``alpha_c`` (scale), ``k_c`` (threshold slope)
    and ``b_c`` (threshold offset); see
    :func:`bidense_keras.quantizers.distribution_adaptive_sign` for the formula.
    Init: alpha, k ~ Normal(0, 1e-3), b = 0, as in the paper.

    Input: ``(batch, height, width, channels)``. Output: same shape.

    Args:
        zero_as_positive: map sign(0) to +1 (LCE convention) instead of 0.
    """

    precision = 1

    def __init__(self, zero_as_positive=False, **kwargs):
        super().__init__(**kwargs)
        self.zero_as_positive = zero_as_positive

    def build(self, input_shape):
        channels = input_shape[-1]
        small_normal = keras.initializers.RandomNormal(stddev=1e-3)
        self.alpha = self.add_weight(shape=(channels,), initializer=small_normal, name="alpha")
        self.k = self.add_weight(shape=(channels,), initializer=small_normal, name="k")
        self.b = self.add_weight(shape=(channels,), initializer="zeros", name="b")

    def call(self, inputs):
        return distribution_adaptive_sign(
            inputs, self.alpha, self.k, self.b, zero_as_positive=self.zero_as_positive
        )

    def signs_and_scale(self, inputs):
        """DAB split in its two factors: ``call(x) == scale * signs``.

        Returns:
            ``signs (B, H, W, C)`` in {-1, 0, 1} (ApproxSign gradient) and
            ``scale (B, 1, 1, C)`` = ``exp(alpha * (mean_hw|s| - 1))``.
        """
        return distribution_adaptive_factors(
            inputs, self.alpha, self.k, self.b, zero_as_positive=self.zero_as_positive
        )

    def get_config(self):
        return {**super().get_config(), "zero_as_positive": self.zero_as_positive}
