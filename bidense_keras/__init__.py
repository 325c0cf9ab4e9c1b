"""bidense_keras: binary neural networks for dense prediction (BiDense) in Keras 3.

``import bidense_keras`` registers the model families and their presets, and imports every module
that registers Keras objects (:func:`register_keras_objects`): ``keras.saving.load_model`` then reads
a saved ``bidense_keras>UperNet``. Every other public name is imported on first use: ``load``,
``segmentation`` and ``depth`` from :mod:`bidense_keras.loader`, the subpackages, ``model_stats``.
The ``bidense-keras`` command (:mod:`bidense_keras_command`) leaves the Keras objects out until its
arguments parse, so that its help and usage errors answer without importing Keras.
"""

import importlib
import sys

from bidense_keras import startup  # noqa: F401  (first: checks $KERAS_BACKEND, quiets TensorFlow)
from bidense_keras import models  # registers the families and their presets (no Keras)
from bidense_keras.lazy import lazy_attributes
from bidense_keras.presets import list_presets
from bidense_keras.version import __version__


def register_keras_objects():
    """Imports every module that registers Keras objects: Keras itself, quietly (:mod:`bidense_keras.backends`),
    the model classes with their layers and quantizers, and the training losses, metrics and schedules.
    ``keras.saving.load_model`` then finds any ``bidense_keras>...`` name a saved file holds; cheap once done."""
    for module in ("bidense_keras.backends", *models.CLASSES.values(), "bidense_keras.train",
                   "bidense_keras.train.schedules"):
        importlib.import_module(module)


if not getattr(sys.modules.get("bidense_keras_command"), "parsing", False):
    register_keras_objects()

__all__ = [
    "BinaryViTBackbone",
    "ConvNeXtBackbone",
    "DPT",
    "DensePredictionModel",
    "UperNet",
    "__version__",
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
    "register_keras_objects",
    "segmentation",
    "weights",
]
__getattr__, __dir__ = lazy_attributes(__name__, {
    **models.CLASSES,
    **dict.fromkeys(("depth", "load", "segmentation"), "bidense_keras.loader"),
    "model_stats": "bidense_keras.stats",
})
