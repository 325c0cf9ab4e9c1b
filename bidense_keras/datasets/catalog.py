"""The facts of every dataset the package knows, in one place: task, classes, colours, depth range, crops.

Each dataset is one flat entry of ``_DATASETS``:

* ``task``: ``"segmentation"`` or ``"depth"``; synthetic_rooms, which has both, gives the tuple of both;
* ``layout``: the on-disk layout the data is written in, the name ``loaders.load_dataset`` reads it by
  (the dataset's own name; for synthetic_rooms a dict task -> layout);
* ``input_size``: (h, w), the paper's training crop used by the presets;
* segmentation: ``num_classes`` (real classes), ``extra_logits`` (zero-weighted logits the authors' models
  add on top of them), ``class_names`` (tuple of str) and ``palette`` (tuple of RGB tuples);
* depth: ``max_depth`` (metres) and ``eval_crop`` (``"eigen"``, ``"garg"`` or None).

The real datasets also say how their files are read and augmented: ``ignore_index`` and
``reduce_zero_label`` (annotation 0 = unlabelled, v -> v - 1) for segmentation; ``depth_scale`` (stored
value per metre), ``kb_crop`` (KITTI benchmark crop), ``max_rotation_degrees`` and ``brightness_range``
for depth.  synthetic_rooms is read as the dataset of its layout.
"""

import copy

import numpy as np

from bidense_keras.datasets import synthetic_rooms
from bidense_keras.families import TASKS
from bidense_keras.inputs import IGNORE_INDEX

# Name and colour of each zero-weighted logit after the real classes, so a head's names and palette
# cover all its logits.
EXTRA_LOGIT_NAME, EXTRA_LOGIT_COLOUR = "unused", (0, 0, 0)


def _voc_palette(num_classes):
    """The PASCAL VOC colormap: bit 3k + c of the class id sets bit 7 - k of channel c (R, G, B)."""
    return tuple(
        tuple(sum(((label >> (3 * k + channel)) & 1) << (7 - k) for k in range(8)) for channel in range(3))
        for label in range(num_classes)
    )


# ADE20K SceneParsing (150 classes): MMSegmentation's short names (the first synonym of each class in the
# benchmark's objectInfo150.txt, but "television receiver") and the benchmark's color150 palette, which
# gives "road" and "skyscraper" the same colour (140, 140, 140).
_ADE20K_CLASS_NAMES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper",
    "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow",
    "screen door", "stairway", "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower",
    "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair",
    "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier",
    "awning", "streetlight", "booth", "television receiver", "airplane", "dirt track", "apparel", "pole",
    "land", "bannister", "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship",
    "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel",
    "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket",
    "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen",
    "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)
_ADE20K_PALETTE = (
    (120, 120, 120), (180, 120, 120), (6, 230, 230), (80, 50, 50), (4, 200, 3), (120, 120, 80),
    (140, 140, 140), (204, 5, 255), (230, 230, 230), (4, 250, 7), (224, 5, 255), (235, 255, 7),
    (150, 5, 61), (120, 120, 70), (8, 255, 51), (255, 6, 82), (143, 255, 140), (204, 255, 4),
    (255, 51, 7), (204, 70, 3), (0, 102, 200), (61, 230, 250), (255, 6, 51), (11, 102, 255),
    (255, 7, 71), (255, 9, 224), (9, 7, 230), (220, 220, 220), (255, 9, 92), (112, 9, 255),
    (8, 255, 214), (7, 255, 224), (255, 184, 6), (10, 255, 71), (255, 41, 10), (7, 255, 255),
    (224, 255, 8), (102, 8, 255), (255, 61, 6), (255, 194, 7), (255, 122, 8), (0, 255, 20),
    (255, 8, 41), (255, 5, 153), (6, 51, 255), (235, 12, 255), (160, 150, 20), (0, 163, 255),
    (140, 140, 140), (250, 10, 15), (20, 255, 0), (31, 255, 0), (255, 31, 0), (255, 224, 0),
    (153, 255, 0), (0, 0, 255), (255, 71, 0), (0, 235, 255), (0, 173, 255), (31, 0, 255),
    (11, 200, 200), (255, 82, 0), (0, 255, 245), (0, 61, 255), (0, 255, 112), (0, 255, 133),
    (255, 0, 0), (255, 163, 0), (255, 102, 0), (194, 255, 0), (0, 143, 255), (51, 255, 0),
    (0, 82, 255), (0, 255, 41), (0, 255, 173), (10, 0, 255), (173, 255, 0), (0, 255, 153),
    (255, 92, 0), (255, 0, 255), (255, 0, 245), (255, 0, 102), (255, 173, 0), (255, 0, 20),
    (255, 184, 184), (0, 31, 255), (0, 255, 61), (0, 71, 255), (255, 0, 204), (0, 255, 194),
    (0, 255, 82), (0, 10, 255), (0, 112, 255), (51, 0, 255), (0, 194, 255), (0, 122, 255),
    (0, 255, 163), (255, 153, 0), (0, 255, 10), (255, 112, 0), (143, 255, 0), (82, 0, 255),
    (163, 255, 0), (255, 235, 0), (8, 184, 170), (133, 0, 255), (0, 255, 92), (184, 0, 255),
    (255, 0, 31), (0, 184, 255), (0, 214, 255), (255, 0, 112), (92, 255, 0), (0, 224, 255),
    (112, 224, 255), (70, 184, 160), (163, 0, 255), (153, 0, 255), (71, 255, 0), (255, 0, 163),
    (255, 204, 0), (255, 0, 143), (0, 255, 235), (133, 255, 0), (255, 0, 235), (245, 0, 255),
    (255, 0, 122), (255, 245, 0), (10, 190, 212), (214, 255, 0), (0, 204, 255), (20, 0, 255),
    (255, 255, 0), (0, 153, 255), (0, 41, 255), (0, 255, 204), (41, 0, 255), (41, 255, 0),
    (173, 0, 255), (0, 245, 255), (71, 0, 255), (122, 0, 255), (0, 255, 184), (0, 92, 255),
    (184, 255, 0), (0, 133, 255), (255, 214, 0), (25, 194, 194), (102, 255, 0), (92, 0, 255),
)

_DATASETS = {
    "synthetic_rooms": {
        "task": ("segmentation", "depth"),
        "layout": {
            "segmentation": synthetic_rooms.TASK_LAYOUTS["segmentation"][0],
            "depth": synthetic_rooms.TASK_LAYOUTS["depth"][0],
        },
        "input_size": (240, 320),
        "num_classes": synthetic_rooms.NUM_CLASSES,
        "extra_logits": 0,
        "class_names": synthetic_rooms.CLASS_NAMES,
        "palette": tuple(map(tuple, synthetic_rooms.PALETTE.tolist())),
        "max_depth": synthetic_rooms.MAX_DEPTH,
        "eval_crop": None,
    },
    "ade20k": {
        "task": "segmentation",
        "layout": "ade20k",
        "input_size": (480, 480),
        "num_classes": 150,
        "extra_logits": 1,
        "class_names": _ADE20K_CLASS_NAMES,
        "palette": _ADE20K_PALETTE,
        "ignore_index": IGNORE_INDEX,
        "reduce_zero_label": True,
    },
    "voc": {
        "task": "segmentation",
        "layout": "voc",
        "input_size": (480, 480),
        "num_classes": 21,
        "extra_logits": 1,
        "class_names": (
            "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
            "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
            "tvmonitor",
        ),
        "palette": _voc_palette(21),
        "ignore_index": IGNORE_INDEX,
        "reduce_zero_label": False,
    },
    "nyu": {
        "task": "depth",
        "layout": "nyu",
        "input_size": (416, 544),
        "max_depth": 10.0,
        "eval_crop": "eigen",
        "depth_scale": 1000.0,
        "kb_crop": False,
        "max_rotation_degrees": 2.5,
        "brightness_range": (0.75, 1.25),
    },
    "kitti": {
        "task": "depth",
        "layout": "kitti",
        "input_size": (352, 704),
        "max_depth": 80.0,
        "eval_crop": "garg",
        "depth_scale": 256.0,
        "kb_crop": True,
        "max_rotation_degrees": 1.0,
        "brightness_range": (0.9, 1.1),
    },
}


def _tasks(entry):
    """The tasks of an entry as a tuple of str."""
    return entry["task"] if isinstance(entry["task"], tuple) else (entry["task"],)


def names(task=None):
    """Dataset names, a tuple of str in catalog order; with ``task``, only the datasets of that task."""
    if task is not None and task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; choose one of {TASKS}.")
    return tuple(name for name, entry in _DATASETS.items() if task is None or task in _tasks(entry))


def dataset(name):
    """The entry of dataset ``name``: a new dict of the keys in the module docstring.

    Raises ValueError, listing the known names, for an unknown one.
    """
    if name not in _DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {names()}.")
    return copy.deepcopy(_DATASETS[name])


def _entry_for(name, task):
    """(entry, task) of dataset ``name``; ``task`` None means the dataset's only task.

    Raises ValueError for an unknown name, a task the dataset does not have, or no task for synthetic_rooms.
    """
    entry = dataset(name)
    tasks = _tasks(entry)
    if task is None:
        if len(tasks) > 1:
            raise ValueError(f"{name} has the tasks {tasks}; pass one of them.")
        (task,) = tasks
    if task not in tasks:
        raise ValueError(f"{name} is a {' and '.join(tasks)} dataset, not {task}.")
    return entry, task


def class_names(name):
    """Names of a segmentation dataset's real classes: tuple of ``num_classes`` str, in class-id order."""
    return _entry_for(name, "segmentation")[0]["class_names"]


def palette(name):
    """Colours of a segmentation dataset's classes: ``numpy.uint8`` array of shape ``(num_classes, 3)``, RGB."""
    return np.array(_entry_for(name, "segmentation")[0]["palette"], dtype=np.uint8)


def head_size(name, task=None):
    """What a model head needs: ``{"num_classes": int}`` (real classes + extra logits) for segmentation,
    ``{"max_depth": float}`` (metres) for depth.  ``task`` is needed for synthetic_rooms only."""
    entry, task = _entry_for(name, task)
    if task == "segmentation":
        return {"num_classes": entry["num_classes"] + entry["extra_logits"]}
    return {"max_depth": entry["max_depth"]}


def head_arguments(name, task=None):
    """The head arguments of a model (UperNet or DPT) for the dataset: :func:`head_size`
    plus, for segmentation, ``class_names`` (tuple of str) and ``palette`` (tuple of RGB tuples) for
    every logit, the extra ones named ``EXTRA_LOGIT_NAME`` and coloured ``EXTRA_LOGIT_COLOUR``."""
    entry, task = _entry_for(name, task)
    if task == "depth":
        return head_size(name, task)
    extra = entry["extra_logits"]
    return {
        **head_size(name, task),
        "class_names": entry["class_names"] + (EXTRA_LOGIT_NAME,) * extra,
        "palette": entry["palette"] + (EXTRA_LOGIT_COLOUR,) * extra,
    }
