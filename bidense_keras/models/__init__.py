"""The model families: :class:`UperNet` (binary ConvNeXt + UperNet) and :class:`DPT` (binary ViT + DPT).

Importing this package registers both families (their classes with Keras, their presets with
:mod:`bidense_keras.presets`); ``import bidense_keras`` does it. UperNet is imported first: its presets
lead the table (``bidense-keras presets``, the README).
"""
# ruff: noqa: I001  (the import order is the presets' order)

from bidense_keras.models.base import DensePredictionModel
from bidense_keras.models.upernet import ConvNeXtBackbone, UperNet
from bidense_keras.models.dpt import DPT, BinaryViTBackbone

__all__ = ["DPT", "BinaryViTBackbone", "ConvNeXtBackbone", "DensePredictionModel", "UperNet"]
