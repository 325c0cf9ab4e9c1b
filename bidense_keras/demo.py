"""The README's main job: predict segmentation and depth for a sample image and save a picture."""

from pathlib import Path

import numpy as np

from bidense_keras import pictures, visualize
from bidense_keras.datasets import synthetic_rooms
from bidense_keras.files import check_replaceable
from bidense_keras.loader import load
from bidense_keras.presets import DEFAULT_PRESETS, PRESETS, get_preset

HELD_OUT_SEED = synthetic_rooms.HELD_OUT_SEED_OFFSET + 12345  # not among the training scenes
MAX_SCENES = 50  # rows of one picture (matplotlib draws at most 2**16 pixels a side)


def _model(source, task):
    """``(model, title suffix)``: a :func:`load` source of ``task``; a preset without weights runs untrained."""
    if str(source) in PRESETS and get_preset(source)["weights"] is None:
        return load(source, pretrained=False, task=task), f"{source}, untrained weights"
    return load(source, task=task), Path(str(source)).name


def run_demo(out_path, height=240, width=320, seed=HELD_OUT_SEED, segmentation=None, depth=None, scenes=1,
             truth=False, overwrite=False):
    """Renders held-out synthetic rooms, predicts segmentation and depth, writes one row per room.

    Args:
        out_path: the PNG to write.
        height, width: the rooms' size.
        seed: the first room (default: one the training never saw); the others follow it.
        segmentation, depth: the models, any :func:`~bidense_keras.loader.load` source (default: the
            default presets). A preset without published weights runs untrained, and its title says so.
        scenes: how many rooms (rows), 1 to :data:`MAX_SCENES`.
        truth: put each room's true classes and depth beside the predictions (the segmentation
            model must know synthetic_rooms' classes).
        overwrite: replace an existing ``out_path`` that the package did not write (a picture of an
            earlier demo is replaced without it).

    Returns:
        ``out_path``.

    Raises:
        ValueError: a model of the other task, ``scenes`` out of range, ``truth`` with a
            segmentation model of other classes, or an ``out_path`` that is not a ``.png`` file name.
        bidense_keras.files.OutputExistsError: ``out_path`` is a file the package did not write.
    """
    if not 1 <= scenes <= MAX_SCENES:
        raise ValueError(f"scenes must be between 1 and {MAX_SCENES}; got {scenes}.")
    if Path(out_path).suffix.lower() != ".png" or Path(out_path).is_dir():
        raise ValueError(f"The demo writes one PNG picture: give a file name ending in .png, not {str(out_path)!r}.")
    check_replaceable(out_path, overwrite, pictures.written_by_package)  # before the models load
    segmenter, seg_title = _model(segmentation or DEFAULT_PRESETS["segmentation"], "segmentation")
    estimator, depth_title = _model(depth or DEFAULT_PRESETS["depth"], "depth")
    if truth and tuple(segmenter.class_names or ()) != synthetic_rooms.CLASS_NAMES:
        raise ValueError(f"truth needs a segmentation model of synthetic_rooms' classes {synthetic_rooms.CLASS_NAMES}; "
                         f"{seg_title} has {segmenter.class_names}.")
    titles = ["synthetic room (held out)", "true classes", f"segmentation ({seg_title})", "true depth",
              f"depth ({depth_title})"]
    rows = []
    for room in range(seed, seed + scenes):
        scene = synthetic_rooms.render(room, height, width)
        batch = scene["image"][None].astype(np.float32)
        labels = np.argmax(segmenter.predict(batch, verbose=0)[0], axis=-1)
        rows.append([("image", scene["image"]), ("labels", scene["label"]), ("labels", labels),
                     ("depth", scene["depth"]), ("depth", estimator.predict(batch, verbose=0)[0, ..., 0])])
    shown = [0, 2, 4] if not truth else [0, 1, 2, 3, 4]
    figure = visualize.grid_figure([[row[i] for i in shown] for row in rows], [titles[i] for i in shown],
                                   segmenter.class_names, segmenter.palette, estimator.max_depth)
    return pictures.save_figure(figure, out_path, overwrite)
