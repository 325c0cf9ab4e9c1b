"""The preset table: named architectures and, where published, their pinned weights.

Each row of :data:`PRESET_TABLE` is one preset: name, task, dataset, backbone, binarization.
The backbone names a row of :data:`BACKBONES` (its model family and architecture arguments);
the dataset names an entry of
:mod:`bidense_keras.datasets.catalog`, which gives the head (classes with their names and
palette, or the depth range) and the input size. A preset's ``weights`` is its entry in the
registry of published files (:mod:`bidense_keras.registry`), or None.
"""

import difflib
import fnmatch

from bidense_keras.backbones import CONVNEXT_SIZES, VIT_SIZES
from bidense_keras.datasets import catalog
from bidense_keras.registry import read_registry

DPT_OUT_CHANNELS = (48, 96, 192, 384)  # the authors' reassemble widths for ViT-S
# {backbone: (family, architecture arguments)}: ConvNeXt and ViT sizes with the paper's decoder
# widths, and the small demo models trained here.
BACKBONES = {
    **{name: ("upernet", {**size, "features": 256}) for name, size in CONVNEXT_SIZES.items()},
    "demo": ("upernet", {"dims": (32, 64, 128, 256), "depths": (1, 1, 3, 1), "features": 64}),
    "vit_small": ("dpt", {**VIT_SIZES["vit_small"], "features": 256, "out_channels": DPT_OUT_CHANNELS}),
    "vit_demo": ("dpt", {"embed_dim": 192, "depth": 4, "num_heads": 3, "features": 64,
                         "out_channels": (24, 48, 96, 192)}),
}

# The demo models are trained on synthetic_rooms by benchmarks/demo_training.py: the *_5ep ones (and
# bidense_deployable, which exports to LCE without approximation) by the 5-epoch ablation schedule,
# the plain names by the long ("converged") schedule, each once its run is published (until then they
# hold the 5-epoch weights; the card's recipe says which).
PRESET_TABLE = (
    # name                                            task            dataset            backbone          binarization
    ("bidense_upernet_convnext_tiny_ade20k",          "segmentation", "ade20k",          "convnext_tiny",  "bidense"),
    ("bidense_upernet_convnext_tiny_voc",             "segmentation", "voc",             "convnext_tiny",  "bidense"),
    ("bidense_upernet_convnext_tiny_nyu",             "depth",        "nyu",             "convnext_tiny",  "bidense"),
    ("bidense_upernet_convnext_tiny_kitti",           "depth",        "kitti",           "convnext_tiny",  "bidense"),
    ("bidense_upernet_convnext_small_ade20k",         "segmentation", "ade20k",          "convnext_small", "bidense"),
    ("bidense_upernet_convnext_small_voc",            "segmentation", "voc",             "convnext_small", "bidense"),
    ("bidense_upernet_convnext_small_nyu",            "depth",        "nyu",             "convnext_small", "bidense"),
    ("bidense_upernet_convnext_small_kitti",          "depth",        "kitti",           "convnext_small", "bidense"),
    ("bidense_upernet_convnext_base_ade20k",          "segmentation", "ade20k",          "convnext_base",  "bidense"),
    ("bidense_upernet_convnext_base_voc",             "segmentation", "voc",             "convnext_base",  "bidense"),
    ("bidense_upernet_convnext_base_nyu",             "depth",        "nyu",             "convnext_base",  "bidense"),
    ("bidense_upernet_convnext_base_kitti",           "depth",        "kitti",           "convnext_base",  "bidense"),
    ("fp32_upernet_convnext_tiny_ade20k",             "segmentation", "ade20k",          "convnext_tiny",  "fp32"),
    ("fp32_upernet_convnext_tiny_voc",                "segmentation", "voc",             "convnext_tiny",  "fp32"),
    ("fp32_upernet_convnext_tiny_nyu",                "depth",        "nyu",             "convnext_tiny",  "fp32"),
    ("fp32_upernet_convnext_tiny_kitti",              "depth",        "kitti",           "convnext_tiny",  "fp32"),
    ("fp32_upernet_convnext_small_ade20k",            "segmentation", "ade20k",          "convnext_small", "fp32"),
    ("fp32_upernet_convnext_small_voc",               "segmentation", "voc",             "convnext_small", "fp32"),
    ("fp32_upernet_convnext_small_nyu",               "depth",        "nyu",             "convnext_small", "fp32"),
    ("fp32_upernet_convnext_small_kitti",             "depth",        "kitti",           "convnext_small", "fp32"),
    ("fp32_upernet_convnext_base_ade20k",             "segmentation", "ade20k",          "convnext_base",  "fp32"),
    ("fp32_upernet_convnext_base_voc",                "segmentation", "voc",             "convnext_base",  "fp32"),
    ("fp32_upernet_convnext_base_nyu",                "depth",        "nyu",             "convnext_base",  "fp32"),
    ("fp32_upernet_convnext_base_kitti",              "depth",        "kitti",           "convnext_base",  "fp32"),
    ("bidense_upernet_demo_rooms_seg",                "segmentation", "synthetic_rooms", "demo",           "bidense"),
    ("bidense_upernet_demo_rooms_depth",              "depth",        "synthetic_rooms", "demo",           "bidense"),
    ("bidense_deployable_upernet_demo_rooms_seg",     "segmentation", "synthetic_rooms", "demo",           "bidense_deployable"),
    ("bidense_deployable_upernet_demo_rooms_depth",   "depth",        "synthetic_rooms", "demo",           "bidense_deployable"),
    ("fp32_upernet_demo_rooms_seg",                   "segmentation", "synthetic_rooms", "demo",           "fp32"),
    ("fp32_upernet_demo_rooms_depth",                 "depth",        "synthetic_rooms", "demo",           "fp32"),
    ("bidense_upernet_demo_rooms_seg_5ep",            "segmentation", "synthetic_rooms", "demo",           "bidense"),
    ("bidense_upernet_demo_rooms_depth_5ep",          "depth",        "synthetic_rooms", "demo",           "bidense"),
    ("fp32_upernet_demo_rooms_seg_5ep",               "segmentation", "synthetic_rooms", "demo",           "fp32"),
    ("fp32_upernet_demo_rooms_depth_5ep",             "depth",        "synthetic_rooms", "demo",           "fp32"),
    ("bidense_dpt_vits14_ade20k",                     "segmentation", "ade20k",          "vit_small",      "bidense"),
    ("bidense_dpt_vits14_voc",                        "segmentation", "voc",             "vit_small",      "bidense"),
    ("bidense_dpt_vits14_nyu",                        "depth",        "nyu",             "vit_small",      "bidense"),
    ("bidense_dpt_vits14_kitti",                      "depth",        "kitti",           "vit_small",      "bidense"),
    ("fp32_dpt_vits14_ade20k",                        "segmentation", "ade20k",          "vit_small",      "fp32"),
    ("fp32_dpt_vits14_voc",                           "segmentation", "voc",             "vit_small",      "fp32"),
    ("fp32_dpt_vits14_nyu",                           "depth",        "nyu",             "vit_small",      "fp32"),
    ("fp32_dpt_vits14_kitti",                         "depth",        "kitti",           "vit_small",      "fp32"),
    ("bidense_dpt_demo_rooms_seg",                    "segmentation", "synthetic_rooms", "vit_demo",       "bidense"),
    ("bidense_dpt_demo_rooms_depth",                  "depth",        "synthetic_rooms", "vit_demo",       "bidense"),
    ("fp32_dpt_demo_rooms_seg",                       "segmentation", "synthetic_rooms", "vit_demo",       "fp32"),
    ("fp32_dpt_demo_rooms_depth",                     "depth",        "synthetic_rooms", "vit_demo",       "fp32"),
)
# The defaults are the demo models trained here, the only ones with published weights so far.
DEFAULT_PRESETS = {"segmentation": "bidense_upernet_demo_rooms_seg", "depth": "bidense_upernet_demo_rooms_depth"}
# Per family: the base of models built by parts (segmentation(backbone=..., num_classes=...)) ...
PAPER_BASE_PRESETS = {
    "upernet": {"segmentation": "bidense_upernet_convnext_tiny_ade20k", "depth": "bidense_upernet_convnext_tiny_nyu"},
    "dpt": {"segmentation": "bidense_dpt_vits14_ade20k", "depth": "bidense_dpt_vits14_nyu"},
}
# ... and the pretrained default (segmentation(architecture="dpt", pretrained=True)).
FAMILY_DEFAULT_PRESETS = {
    "upernet": DEFAULT_PRESETS,
    "dpt": {"segmentation": "bidense_dpt_demo_rooms_seg", "depth": "bidense_dpt_demo_rooms_depth"},
}


def _preset(task, dataset, backbone, binarization, weights):
    family, architecture = BACKBONES[backbone]
    return {
        "task": task,
        "family": family,
        "dataset": dataset,
        "backbone": backbone,
        "input_size": catalog.dataset(dataset)["input_size"],
        "architecture": {**architecture, "binarization": binarization, **catalog.head_arguments(dataset, task)},
        "weights": weights,
    }


_REGISTRY = read_registry()
PRESETS = {name: _preset(*row, _REGISTRY.get(name)) for name, *row in PRESET_TABLE}


def list_presets(pattern="*"):
    """Names of the presets matching a shell-style ``pattern`` (e.g. ``"*convnext_tiny*"``), sorted."""
    return sorted(name for name in PRESETS if fnmatch.fnmatch(name, pattern))


def get_preset(name):
    """The entry of preset ``name``; a ValueError suggests close names if unknown."""
    if name not in PRESETS:
        close = difflib.get_close_matches(str(name), PRESETS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"Unknown preset {name!r}.{hint} See bidense_keras.list_presets() for all names.")
    return PRESETS[name]
