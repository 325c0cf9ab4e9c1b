"""Backbones: feature extractors returning a pyramid of stage outputs."""

from bidense_keras.backbones.convnext import CONVNEXT_SIZES, ConvNeXtBackbone
from bidense_keras.backbones.vit import VIT_SIZES, BinaryViTBackbone

__all__ = ["CONVNEXT_SIZES", "VIT_SIZES", "BinaryViTBackbone", "ConvNeXtBackbone"]
