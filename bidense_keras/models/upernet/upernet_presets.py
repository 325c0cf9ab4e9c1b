"""The UperNet family's presets: ConvNeXt sizes with the paper's decoder width, and the demo models trained here.

The demo models are trained on synthetic_rooms by benchmarks/demo_training.py: the *_5ep ones (and
bidense_deployable, which exports to LCE without approximation) by the 5-epoch ablation schedule, the plain
names by the long ("converged") schedule, each once its run is published (until then they hold the 5-epoch
weights; the card's recipe says which).
"""

from bidense_keras.presets import demo_rows, paper_rows

FAMILY = "upernet"

CONVNEXT_SIZES = {
    "convnext_tiny": {"dims": (96, 192, 384, 768), "depths": (3, 3, 9, 3)},
    "convnext_small": {"dims": (96, 192, 384, 768), "depths": (3, 3, 27, 3)},
    "convnext_base": {"dims": (128, 256, 512, 1024), "depths": (3, 3, 27, 3)},
}
BACKBONES = {
    **{name: {**size, "features": 256} for name, size in CONVNEXT_SIZES.items()},
    "demo": {"dims": (32, 64, 128, 256), "depths": (1, 1, 3, 1), "features": 64},
}
BASE_PRESETS = {"segmentation": "bidense_upernet_convnext_tiny_ade20k", "depth": "bidense_upernet_convnext_tiny_nyu"}

PRESET_ROWS = (
    *paper_rows(FAMILY, {name: name for name in CONVNEXT_SIZES}),
    *demo_rows(FAMILY, "demo", ("bidense", "bidense_deployable", "fp32")),
    *demo_rows(FAMILY, "demo", ("bidense", "fp32"), suffix="_5ep"),
)
