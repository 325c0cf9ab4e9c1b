"""Keras layers of BiDense: DAB, CFB, the BiDense convolution and helpers."""

from bidense_keras.layers.bidense_conv import BiDenseConv2D, BiDenseConvTranspose2D
from bidense_keras.layers.cfb import ChannelAdaptiveBypass, add_bypass, channel_adaptive_bypass
from bidense_keras.layers.common import LearnableBias
from bidense_keras.layers.dab import DistributionAdaptiveBinarizer
from bidense_keras.layers.sampling import (
    AdaptiveAveragePooling2D,
    ResizeLike,
    adaptive_average_pool,
    resize_bilinear_align_corners,
)

__all__ = [
    "AdaptiveAveragePooling2D",
    "BiDenseConv2D",
    "BiDenseConvTranspose2D",
    "ChannelAdaptiveBypass",
    "DistributionAdaptiveBinarizer",
    "LearnableBias",
    "ResizeLike",
    "adaptive_average_pool",
    "add_bypass",
    "channel_adaptive_bypass",
    "resize_bilinear_align_corners",
]
