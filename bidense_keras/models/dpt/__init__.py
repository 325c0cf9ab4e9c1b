"""The DPT family: a binary DINOv2 ViT backbone, the DPT decoder, its presets (registered here).

Importing this package registers the family and its presets without importing Keras; the classes are
imported on first use.
"""

from bidense_keras import families, presets
from bidense_keras.lazy import lazy_attributes
from bidense_keras.models.dpt.dpt_presets import (
    BACKBONES,
    BASE_PRESETS,
    BINARIZATIONS,
    DEFAULT_PRESETS,
    FAMILY,
    PRESET_ROWS,
    VIT_SIZES,
)

families.register_family(families.Family(
    name=FAMILY, model_module="bidense_keras.models.dpt.model", class_name="DPT", backbone_sizes=VIT_SIZES,
    binarizations=BINARIZATIONS, default_presets=DEFAULT_PRESETS, base_presets=BASE_PRESETS,
))
presets.register_presets(FAMILY, BACKBONES, PRESET_ROWS)

__all__ = ["DPT", "VIT_SIZES", "BinaryViTBackbone"]
__getattr__, __dir__ = lazy_attributes(__name__, {"BinaryViTBackbone": "bidense_keras.models.dpt.vit",
                                                  "DPT": "bidense_keras.models.dpt.model"})
