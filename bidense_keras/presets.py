"""Preset registry: named architectures and, where published, their pinned weights.

A preset is one entry of :data:`PRESETS`: the task, the architecture keyword
arguments of :class:`~bidense_keras.models.UperNet`, the dataset and the input
size it was designed for, and ``weights``: the pinned Hub files recorded in
``published_weights.json`` by :func:`bidense_keras.publish.update_registry`, or None.
"""

from bidense_keras.backbones import CONVNEXT_SIZES
from bidense_keras.publish import read_registry

# Logits as in the authors' code: ADE20K 150 classes + 1 zero-weighted, VOC 21 + 1.
DATASETS = {
    "ade20k": {"task": "segmentation", "num_classes": 151, "input_size": (480, 480)},
    "voc": {"task": "segmentation", "num_classes": 22, "input_size": (480, 480)},
    "nyu": {"task": "depth", "max_depth": 10.0, "input_size": (416, 544)},
    "kitti": {"task": "depth", "max_depth": 80.0, "input_size": (352, 704)},
}
# The base of models built by parts (segmentation(backbone=..., num_classes=...)).
PAPER_BASE_PRESETS = {
    "segmentation": "bidense_upernet_convnext_tiny_ade20k",
    "depth": "bidense_upernet_convnext_tiny_nyu",
}
# The defaults are the demo models trained here, the only ones with published weights so far.
DEFAULT_PRESETS = {
    "segmentation": "bidense_upernet_demo_rooms_seg",
    "depth": "bidense_upernet_demo_rooms_depth",
}


def _architecture_presets():
    presets = {}
    for binarization in ("bidense", "fp32"):
        for backbone, size in CONVNEXT_SIZES.items():
            for dataset, info in DATASETS.items():
                head = {k: v for k, v in info.items() if k in ("num_classes", "max_depth")}
                presets[f"{binarization}_upernet_{backbone}_{dataset}"] = {
                    "task": info["task"],
                    "dataset": dataset,
                    "backbone": backbone,
                    "input_size": info["input_size"],
                    "architecture": {**size, "features": 256, "binarization": binarization, **head},
                    "weights": None,
                }
    return presets


DEMO_ARCHITECTURE = {"dims": (32, 64, 128, 256), "depths": (1, 1, 3, 1), "features": 64}
DEMO_HEADS = {"seg": ("segmentation", {"num_classes": 9}), "depth": ("depth", {"max_depth": 10.0})}


def _demo_presets():
    """The small models trained here on synthetic_rooms (benchmarks/demo_training.py); the
    ``bidense_deployable`` ones export to LCE without approximation."""
    presets = {}
    for binarization in ("bidense", "bidense_deployable", "fp32"):
        for suffix, (task, head) in DEMO_HEADS.items():
            presets[f"{binarization}_upernet_demo_rooms_{suffix}"] = {
                "task": task,
                "dataset": "synthetic_rooms",
                "backbone": "demo",
                "input_size": (240, 320),
                "architecture": {**DEMO_ARCHITECTURE, "binarization": binarization, **head},
                "weights": None,
            }
    return presets


def _with_published_weights(presets):
    for name, weights in read_registry().items():
        if name in presets:
            presets[name]["weights"] = weights
    return presets


PRESETS = _with_published_weights({**_architecture_presets(), **_demo_presets()})
