"""Backbones: feature extractors returning a pyramid of stage outputs."""

from bidense_keras.backbones.convnext import CONVNEXT_SIZES, ConvNeXtBackbone

__all__ = ["CONVNEXT_SIZES", "ConvNeXtBackbone"]
