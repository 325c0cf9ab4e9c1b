"""The UperNet family's presets: ConvNeXt sizes with the paper's decoder width, and the demo models trained here.

The demo models are trained on synthetic_rooms by benchmarks/demo_training.py: the *_5ep ones (and
bidense_deployable, which exports to LCE without approximation) by the 5-epoch ablation schedule, the plain
names by the long ("converged") schedule, each once its run is published (until then they hold the 5-epoch
weights; the card's recipe says which).
"""

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
)
