"""The UperNet family: a binary ConvNeXt backbone, the UperNet decoder, its presets (registered here).

Importing this package registers the family and its presets without importing Keras; the classes are
imported on first use.
"""

from bidense_keras import families, presets
from bidense_keras.lazy import lazy_attributes
from bidense_keras.models.upernet.upernet_presets import (
    BACKBONES,
    BASE_PRESETS,
    CONVNEXT_SIZES,
    FAMILY,
    PRESET_ROWS,
)
from bidense_keras.variants import BINARIZATIONS

families.register_family(families.Family(
    name=FAMILY, model_module="bidense_keras.models.upernet.model", class_name="UperNet",
    backbone_sizes=CONVNEXT_SIZES, binarizations=tuple(BINARIZATIONS), default_presets=presets.DEFAULT_PRESETS,
    base_presets=BASE_PRESETS,
))
presets.register_presets(FAMILY, BACKBONES, PRESET_ROWS)

__all__ = ["CONVNEXT_SIZES", "ConvNeXtBackbone", "UperNet"]
__getattr__, __dir__ = lazy_attributes(__name__, {"ConvNeXtBackbone": "bidense_keras.models.upernet.convnext",
                                                  "UperNet": "bidense_keras.models.upernet.model"})
