"""Preset registry: named architectures (and, once published, their weights).

A preset is one entry of :data:`PRESETS`: the task, the architecture keyword
arguments of :class:`~bidense_keras.models.UperNet`, the dataset and the input
size it was designed for, and ``weights`` (None until weights are published).
"""

from bidense_keras.backbones import CONVNEXT_SIZES

DATASETS = {
    "ade20k": {"task": "segmentation", "num_classes": 151, "input_size": (480, 480)},
    "voc": {"task": "segmentation", "num_classes": 22, "input_size": (480, 480)},
    "nyu": {"task": "depth", "max_depth": 10.0, "input_size": (416, 544)},
    "kitti": {"task": "depth", "max_depth": 80.0, "input_size": (352, 704)},
}
DEFAULT_PRESETS = {
    "segmentation": "bidense_upernet_convnext_tiny_ade20k",
    "depth": "bidense_upernet_convnext_tiny_nyu",
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


PRESETS = _architecture_presets()
