"""The preset table: named architectures and, where published, their pinned weights.

Each family's package registers its rows (:func:`register_presets`) when ``bidense_keras.models`` is imported:
name, task, dataset, backbone, binarization. The backbone names one of the family's architectures; the dataset
names an entry of :mod:`bidense_keras.datasets.catalog`, which gives the head (classes with their names and
palette, or the depth range) and the input size. A preset's ``weights`` is its entry in the registry of
published files (:mod:`bidense_keras.registry`), or None. This module imports no model code.
"""

import difflib
import fnmatch

from bidense_keras.datasets import catalog
from bidense_keras.registry import read_registry

# The zoo's defaults: the demo models trained here (benchmarks/demo_training.py), published with weights.
DEFAULT_PRESETS = {"segmentation": "bidense_upernet_demo_rooms_seg", "depth": "bidense_upernet_demo_rooms_depth"}
DEFAULT_FAMILY = "upernet"  # theirs, and the family of models built by parts when none is named

PAPER_DATASETS = ("ade20k", "voc", "nyu", "kitti")  # the paper's benchmarks, in the table's order
PAPER_BINARIZATIONS = ("bidense", "fp32")  # the paper's method and its full-precision counterpart
DEMO_TASKS = {"seg": "segmentation", "depth": "depth"}  # the demo presets' name suffixes

PRESETS = {}  # name -> entry, filled by register_presets
BACKBONES = {}  # backbone name -> (family, architecture arguments), filled by register_presets
_REGISTRY = read_registry()


def register_presets(family, backbones, rows):
    """Adds a family's presets to :data:`PRESETS` and its architectures to :data:`BACKBONES`.

    Args:
        family: the family name (``"upernet"``).
        backbones: ``{backbone name: architecture arguments}`` the rows name.
        rows: ``(name, task, dataset, backbone, binarization)`` tuples.
    """
    BACKBONES.update({name: (family, arguments) for name, arguments in backbones.items()})
    for name, task, dataset, backbone, binarization in rows:
        PRESETS[name] = {
            "task": task,
            "family": family,
            "dataset": dataset,
            "backbone": backbone,
            "input_size": catalog.dataset(dataset)["input_size"],
            "architecture": {**backbones[backbone], "binarization": binarization,
                             **catalog.head_arguments(dataset, task)},
            "weights": _REGISTRY.get(name),
        }


def paper_rows(family, backbones):
    """Rows ``f"{binarization}_{family}_{tag}_{dataset}"`` of the paper's models: each binarization of
    :data:`PAPER_BINARIZATIONS`, each backbone of ``backbones`` (``{tag in the name: backbone}``), each dataset
    of :data:`PAPER_DATASETS` (its task from the catalog), in that order."""
    return [(f"{binarization}_{family}_{tag}_{dataset}", catalog.dataset(dataset)["task"], dataset, backbone,
             binarization)
            for binarization in PAPER_BINARIZATIONS for tag, backbone in backbones.items() for dataset in PAPER_DATASETS]


def demo_rows(family, backbone, binarizations, suffix=""):
    """Rows ``f"{binarization}_{family}_demo_rooms_{seg|depth}{suffix}"`` of models trained here on synthetic_rooms."""
    return [(f"{binarization}_{family}_demo_rooms_{short}{suffix}", task, "synthetic_rooms", backbone, binarization)
            for binarization in binarizations for short, task in DEMO_TASKS.items()]


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
