"""The model families: :class:`UperNet` (binary ConvNeXt + UperNet) and :class:`DPT` (binary ViT + DPT).

Importing this package registers both families and their presets (:mod:`bidense_keras.families`,
:mod:`bidense_keras.presets`) without importing Keras; UperNet first: its presets lead the table
(``bidense-keras presets``, the README). The classes (:data:`CLASSES`) are imported on first use;
``import bidense_keras`` imports them all (:func:`bidense_keras.register_keras_objects`), which
registers them with Keras.
"""
# ruff: noqa: I001  (the import order is the presets' order)

from bidense_keras.lazy import lazy_attributes
from bidense_keras.models import upernet, dpt  # noqa: F401  (registers the families, in this order)

CLASSES = {  # name: module
    "DensePredictionModel": "bidense_keras.models.base",
    "ConvNeXtBackbone": "bidense_keras.models.upernet.convnext",
    "UperNet": "bidense_keras.models.upernet.model",
    "BinaryViTBackbone": "bidense_keras.models.dpt.vit",
    "DPT": "bidense_keras.models.dpt.model",
}

__all__ = ["DPT", "BinaryViTBackbone", "ConvNeXtBackbone", "DensePredictionModel", "UperNet"]
__getattr__, __dir__ = lazy_attributes(__name__, CLASSES)
