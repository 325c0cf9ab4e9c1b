"""The model families: :class:`UperNet` (binary ConvNeXt + UperNet) and :class:`DPT` (binary ViT + DPT).

Importing this package registers both families and their presets (:mod:`bidense_keras.families`,
:mod:`bidense_keras.presets`) without importing Keras; UperNet first: its presets lead the table
(``bidense-keras presets``, the README). The classes are imported on first use, or all at once by
:func:`import_classes`, which registers them (with their layers and quantizers) with Keras:
``import bidense_keras`` calls it.
"""
# ruff: noqa: I001  (the import order is the presets' order)

import importlib

from bidense_keras.lazy import lazy_attributes
from bidense_keras.models import upernet, dpt  # noqa: F401  (registers the families, in this order)

CLASSES = {
    "DensePredictionModel": "bidense_keras.models.base",
    "ConvNeXtBackbone": "bidense_keras.models.upernet.convnext",
    "UperNet": "bidense_keras.models.upernet.model",
    "BinaryViTBackbone": "bidense_keras.models.dpt.vit",
    "DPT": "bidense_keras.models.dpt.model",
}


def import_classes():
    """Imports every model class, which registers them with Keras (``keras.saving.load_model`` then finds
    ``bidense_keras>UperNet``); Keras first, quietly (:mod:`bidense_keras.backends`); cheap once done."""
    for module in ("bidense_keras.backends", *CLASSES.values()):
        importlib.import_module(module)


__all__ = ["DPT", "BinaryViTBackbone", "ConvNeXtBackbone", "DensePredictionModel", "UperNet", "import_classes"]
__getattr__, __dir__ = lazy_attributes(__name__, CLASSES)
