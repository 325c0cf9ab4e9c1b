"""bidense_keras: binary neural networks for dense prediction (BiDense) in Keras 3.

``load``, ``segmentation`` and ``depth`` (:mod:`bidense_keras.loader`) are imported on first use: the model
classes and their ``from_preset`` stand on the modules below the loader.
"""

import importlib

from bidense_keras import backends  # first: it checks $KERAS_BACKEND before Keras is imported
from bidense_keras import models  # registers the families and their presets
from bidense_keras import convert, export, layers, quantizers, weights
from bidense_keras.models import (
    DPT,
    BinaryViTBackbone,
    ConvNeXtBackbone,
    DensePredictionModel,
    UperNet,
)
from bidense_keras.presets import list_presets
from bidense_keras.stats import model_stats
from bidense_keras.version import __version__

__all__ = [
    "BinaryViTBackbone",
    "ConvNeXtBackbone",
    "DPT",
    "DensePredictionModel",
    "UperNet",
    "backends",
    "convert",
    "depth",
    "export",
    "layers",
    "list_presets",
    "load",
    "model_stats",
    "models",
    "quantizers",
    "segmentation",
    "weights",
]

_FROM_LOADER = ("depth", "load", "segmentation")


def __dir__():
    return sorted({*globals(), *_FROM_LOADER})


def __getattr__(name):
    """``bidense_keras.load`` / ``segmentation`` / ``depth``: imported from :mod:`bidense_keras.loader` on first use."""
    if name in _FROM_LOADER:
        return getattr(importlib.import_module("bidense_keras.loader"), name)
    raise AttributeError(f"module 'bidense_keras' has no attribute {name!r}")
