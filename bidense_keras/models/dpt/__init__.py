"""The DPT family: a binary DINOv2 ViT backbone, the DPT decoder, its presets (registered here)."""

from bidense_keras import families, presets
from bidense_keras.models.dpt.model import DPT
from bidense_keras.models.dpt.dpt_presets import (
    BACKBONES,
    BASE_PRESETS,
    DEFAULT_PRESETS,
    PRESET_ROWS,
    VIT_SIZES,
)
from bidense_keras.models.dpt.vit import BINARIZATIONS, BinaryViTBackbone

families.register_family(families.Family(
    name=DPT.family, model_class=DPT, backbone_sizes=VIT_SIZES, binarizations=BINARIZATIONS,
    default_presets=DEFAULT_PRESETS, base_presets=BASE_PRESETS,
))
presets.register_presets(DPT.family, BACKBONES, PRESET_ROWS)

__all__ = ["DPT", "VIT_SIZES", "BinaryViTBackbone"]
