"""Keras layers of BiDense: the BiDense convolution with CFB, the binary linear layer and resampling helpers.

DAB, the activation binarizer, is a quantizer object (:class:`bidense_keras.quantizers.DistributionAdaptiveBinarizer`,
re-exported here); :class:`ConvSpec` says which binarizers a model's convolutions share.
"""

from bidense_keras.layers.bidense_conv import BiDenseConv2D, BiDenseConvTranspose2D
from bidense_keras.layers.binary_dense import BinaryDense
from bidense_keras.layers.cfb import (
    ChannelAdaptiveBypass,
    add_bypass,
    channel_adaptive_bypass,
)
from bidense_keras.layers.common import LearnableBias, batch_norm, prelu
from bidense_keras.layers.conv_spec import ConvSpec
from bidense_keras.layers.sampling import (
    AdaptiveAveragePooling2D,
    ResizeLike,
    adaptive_average_pool,
    resize_bilinear_align_corners,
)
from bidense_keras.quantizers import DistributionAdaptiveBinarizer

__all__ = [
    "AdaptiveAveragePooling2D",
    "BiDenseConv2D",
    "BiDenseConvTranspose2D",
    "BinaryDense",
    "ChannelAdaptiveBypass",
    "ConvSpec",
    "DistributionAdaptiveBinarizer",
    "LearnableBias",
    "ResizeLike",
    "adaptive_average_pool",
    "add_bypass",
    "batch_norm",
    "channel_adaptive_bypass",
    "prelu",
    "resize_bilinear_align_corners",
]
