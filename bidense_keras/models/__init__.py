"""The model families: :class:`UperNet` (binary ConvNeXt + UperNet) and :class:`DPT` (binary ViT + DPT).

Importing this package registers both families (their classes with Keras, their presets with
:mod:`bidense_keras.presets`); ``import bidense_keras`` does it.
"""

from bidense_keras.models.base import DensePredictionModel
from bidense_keras.models.dpt import DPT, BinaryViTBackbone  # noqa: I001
from bidense_keras.models.upernet import (  # first: its presets lead the table
    ConvNeXtBackbone,
    UperNet,
)

__all__ = ["DPT", "BinaryViTBackbone", "ConvNeXtBackbone", "DensePredictionModel", "UperNet"]
