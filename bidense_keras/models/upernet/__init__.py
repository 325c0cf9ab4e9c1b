"""The UperNet family: a binary ConvNeXt backbone, the UperNet decoder, its presets (registered here)."""

from bidense_keras import families, presets
from bidense_keras.models.upernet.convnext import ConvNeXtBackbone
from bidense_keras.models.upernet.model import UperNet
from bidense_keras.models.upernet.upernet_presets import (
    BACKBONES,
    BASE_PRESETS,
    CONVNEXT_SIZES,
    PRESET_ROWS,
)
from bidense_keras.variants import BINARIZATIONS

families.register_family(families.Family(
    name=UperNet.family, model_class=UperNet, backbone_sizes=CONVNEXT_SIZES, binarizations=tuple(BINARIZATIONS),
    default_presets=presets.DEFAULT_PRESETS, base_presets=BASE_PRESETS,
))
presets.register_presets(UperNet.family, BACKBONES, PRESET_ROWS)

__all__ = ["CONVNEXT_SIZES", "ConvNeXtBackbone", "UperNet"]
