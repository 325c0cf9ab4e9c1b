"""How a model's convolutions binarize: one small object the backbones, decoders and heads build their convs from."""

import dataclasses

from bidense_keras.layers.bidense_conv import BiDenseConv2D, BiDenseConvTranspose2D
from bidense_keras.variants import binarization_options


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """The binarizers and bypass that every BiDense convolution of a model shares.

    Calling the spec makes a :class:`~bidense_keras.layers.BiDenseConv2D` with them (per-call arguments
    such as ``bypass=None`` win)::

        conv = ConvSpec.of("bidense")
        y = conv(64, 3, padding=1, name="fusion")(x)

    Attributes:
        activation_binarizer, kernel_binarizer: quantizer names (:mod:`bidense_keras.quantizers`) or None.
        bypass: ``"cfb"``, ``"identity"`` or None.
        zero_as_positive: binarize 0 to +1 (LCE convention).
    """

    activation_binarizer: object = "dab"
    kernel_binarizer: object = "scaled_sign"
    bypass: object = "cfb"
    zero_as_positive: bool = False

    @classmethod
    def of(cls, binarization, zero_as_positive=False):
        """The spec of a binarization variant (:data:`bidense_keras.variants.BINARIZATIONS`)."""
        return cls(**binarization_options(binarization), zero_as_positive=zero_as_positive)

    @property
    def binary(self):
        """Whether the convolutions binarize anything (False for the full-precision twin)."""
        return self.activation_binarizer is not None or self.kernel_binarizer is not None

    @property
    def channel_bypass(self):
        """Whether convolutions that change the spatial size get a CFB shortcut beside them."""
        return self.bypass == "cfb"

    def options(self):
        """The spec as keyword arguments of :class:`~bidense_keras.layers.BiDenseConv2D`."""
        return dataclasses.asdict(self)

    def __call__(self, filters=None, kernel_size=3, **kwargs):
        return BiDenseConv2D(filters, kernel_size, **{**self.options(), **kwargs})

    def transpose(self, filters, factor, **kwargs):
        """A :class:`~bidense_keras.layers.BiDenseConvTranspose2D` (``×factor`` upsampling) with the spec's
        binarizers, ``"dab_deployable"`` replaced by exact DAB (``"dab"``): a transposed conv's kernel is
        scaled per input channel, so no scale after it can follow DAB's, and LCE runs it as a float op anyway."""
        activation = "dab" if self.activation_binarizer == "dab_deployable" else self.activation_binarizer
        return BiDenseConvTranspose2D(filters, factor, activation_binarizer=activation,
                                      kernel_binarizer=self.kernel_binarizer,
                                      zero_as_positive=self.zero_as_positive, **kwargs)
