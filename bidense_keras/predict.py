"""Predict on image files and write pictures: coloured maps and a side-by-side figure per image.

Every input is opened and its size checked before anything is written; output names cannot
collide (two inputs, or a segmentation and a depth model, never write the same file); the output
folder is locked while in use, and a file there that the package did not write is never replaced
without ``overwrite``.
"""

from pathlib import Path

import numpy as np
from tqdm import tqdm

from bidense_keras import pictures, visualize
from bidense_keras.files import check_replaceable, folder_lock
from bidense_keras.inputs import MAX_PREDICT_PIXELS
from bidense_keras.pictures import read_image  # where it was before pictures.py: examples import it from here

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def image_sizes(inputs):
    """``{path: (height, width)}`` of the image files named by ``inputs`` (files and/or folders, folders listed
    sorted), each once, each decoded once to prove it whole.

    Raises:
        FileNotFoundError: a path that does not exist, or no images at all.
        ValueError: a named file or an image in a folder that is not a readable image, or too large to decode.
    """
    paths = []
    for entry in map(Path, inputs):
        if entry.is_dir():
            paths += sorted(p for p in entry.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif entry.is_file():
            paths.append(entry)
        else:
            raise FileNotFoundError(f"No image or folder at {entry}.")
    unique = {}
    for path in paths:  # a file named twice is predicted once
        unique.setdefault(path.resolve(), path)
    if not unique:
        raise FileNotFoundError(f"No images ({', '.join(IMAGE_SUFFIXES)}) in {list(map(str, inputs))}.")
    return {path: pictures.image_size(path) for path in unique.values()}  # all open before anything is written


def image_paths(inputs):
    """The image files of :func:`image_sizes`, in order (the same checks)."""
    return list(image_sizes(inputs))


def output_stems(paths):
    """``{path: stem}`` of distinct output names: the file's stem, plus its suffix and then its folders
    where two inputs would share one (``x.bmp``, ``x.webp`` -> ``x_bmp``, ``x_webp``)."""
    def stem(path, level):
        name = path.stem if level == 0 else f"{path.stem}_{path.suffix.lstrip('.')}"
        folders = path.resolve().parent.parts[1:][-(level - 1):] if level > 1 else ()
        return "_".join([*folders, name])

    level_of = {path: 0 for path in paths}
    while True:  # ends: the paths are distinct files, so enough of their folders tell them apart
        stems = {path: stem(path, level) for path, level in level_of.items()}
        clashing = {path for path in paths if list(stems.values()).count(stems[path]) > 1}
        if not clashing:
            return stems
        for path in clashing:
            level_of[path] += 1


def check_sizes(model, sizes, max_pixels=MAX_PREDICT_PIXELS):
    """Raises a ValueError naming the first image of ``sizes`` (``{path: (height, width)}``, as :func:`image_sizes`
    gives) below ``model.min_input_size`` or above ``max_pixels`` pixels."""
    for path, (height, width) in sizes.items():
        min_size = getattr(model, "min_input_size", 1)  # a flatbuffer resizes to its own input size
        if min(height, width) < min_size:
            raise ValueError(f"{path} is {height}x{width} pixels, smaller than the {min_size}x{min_size} this model "
                             "needs; nothing was written. Resize or pad it.")
        if height * width > max_pixels:
            raise ValueError(f"{path} is {height}x{width} pixels ({height * width / 1e6:.1f} Mpx): predicting it at "
                             f"full size needs about {height * width * 800 / 1e9:.0f} GB of memory, over the "
                             f"{max_pixels / 1e6:.1f} Mpx limit; nothing was written. Resize it, or raise the limit "
                             "(max_pixels, --max-pixels) on a machine with that memory.")


def _outputs(model, out_dir, stem):
    """The map and panel files of one image: named by the task, so two models can share a folder."""
    kind = "segmentation" if model.task == "segmentation" else "depth"
    return out_dir / f"{stem}_{kind}.png", out_dir / f"{stem}_{kind}_panel.png"


def predict_files(model, inputs, out_dir, class_names=None, palette=None, overwrite=False,
                  max_pixels=MAX_PREDICT_PIXELS):
    """Runs ``model`` on each image and writes ``<stem>_segmentation.png`` or ``<stem>_depth.png``
    (colour-coded at the image's size) and ``<stem>_<task>_panel.png`` (input | prediction with legend or scale bar).

    Args:
        model: a UperNet or DPT (or any callable with ``task``, ``min_input_size``,
            ``num_classes``/``max_depth`` attributes and a ``predict`` method).
        inputs: image files and/or folders.
        out_dir: output folder (created, and locked while predicting).
        class_names, palette: for segmentation legends (defaults: the model's ``class_names`` and
            ``palette``, else ``class i`` and tab20).
        overwrite: replace files in ``out_dir`` that the package did not write.
        max_pixels: refuse larger images (memory grows with the pixels, see :func:`check_sizes`).

    Returns:
        List of the written panel paths.

    Raises:
        ValueError: an unreadable, too small or too large image (before anything is written).
        bidense_keras.files.OutputExistsError: an output name taken by a file the package did not write.
        bidense_keras.files.FolderInUseError: another process predicts into ``out_dir``.
    """
    class_names = class_names or getattr(model, "class_names", None)
    palette = palette if palette is not None else getattr(model, "palette", None)
    sizes = image_sizes(inputs)  # every input opens before the output folder is made
    check_sizes(model, sizes, max_pixels)
    paths = list(sizes)
    out_dir = Path(out_dir)
    stems = output_stems(paths)
    for path in paths:
        for output in _outputs(model, out_dir, stems[path]):
            check_replaceable(output, overwrite, pictures.written_by_package)
    written = []
    with folder_lock(out_dir, "predictions"):
        for path in tqdm(paths, desc="predict", unit="image", disable=None):
            image = read_image(path)
            output = model.predict(image[None].astype(np.float32), verbose=0)[0]
            picture, panel = _outputs(model, out_dir, stems[path])
            if model.task == "segmentation":
                labels = np.argmax(output, axis=-1)
                palette = visualize.default_palette(model.num_classes) if palette is None else palette
                pictures.save_png(visualize.colorize_segmentation(labels, palette), picture, overwrite)
                figure = visualize.prediction_figure(image, labels=labels, class_names=class_names, palette=palette)
            else:
                depth = output[..., 0]
                pictures.save_png(visualize.colorize_depth(depth, model.max_depth), picture, overwrite)
                figure = visualize.prediction_figure(image, depth=depth, max_depth=model.max_depth)
            written.append(pictures.save_figure(figure, panel, overwrite))
    return written
