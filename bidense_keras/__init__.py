"""bidense_keras: binary neural networks for dense prediction (BiDense) in Keras 3."""

from bidense_keras import backends  # first: it checks $KERAS_BACKEND before Keras is imported
from bidense_keras import convert, export, layers, quantizers, weights
from bidense_keras.backbones import BinaryViTBackbone, ConvNeXtBackbone
from bidense_keras.dpt import DPT
from bidense_keras.loader import depth, load, segmentation
from bidense_keras.models import UperNet
from bidense_keras.presets import list_presets
from bidense_keras.stats import model_stats
from bidense_keras.version import __version__

__all__ = [
    "BinaryViTBackbone",
    "ConvNeXtBackbone",
    "DPT",
    "UperNet",
    "backends",
    "convert",
    "depth",
    "export",
    "layers",
    "list_presets",
    "load",
    "model_stats",
    "quantizers",
    "segmentation",
    "weights",
]
