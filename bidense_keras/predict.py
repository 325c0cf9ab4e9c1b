"""Predict on image files and write pictures: coloured maps and a side-by-side figure per image."""

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from bidense_keras import visualize
from bidense_keras.files import atomic_path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def image_paths(inputs):
    """Image files named by ``inputs`` (files and/or folders, folders listed sorted), each checked to open.

    Raises:
        FileNotFoundError: a path that does not exist, or no images at all.
        ValueError: a named file or an image in a folder that is not a readable image.
    """
    paths = []
    for entry in map(Path, inputs):
        if entry.is_dir():
            paths += sorted(p for p in entry.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif entry.is_file():
            paths.append(entry)
        else:
            raise FileNotFoundError(f"No image or folder at {entry}.")
    if not paths:
        raise FileNotFoundError(f"No images ({', '.join(IMAGE_SUFFIXES)}) in {list(map(str, inputs))}.")
    for path in paths:  # every input opens before anything is written
        _check_readable(path)
    return paths


def _check_readable(path):
    """Raises a ValueError naming ``path`` unless Pillow can decode it."""
    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{path} is not a readable image ({error}); nothing was written.") from error


def read_image(path):
    """``(H, W, 3)`` uint8 RGB of an image file (grey and RGBA are converted)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _save_png(pixels, path):
    """Writes ``(H, W, 3)`` uint8 ``pixels`` to ``path`` through a temporary file."""
    with atomic_path(path) as partial:
        Image.fromarray(pixels).save(partial, format="PNG")


def predict_files(model, inputs, out_dir, class_names=None, palette=None):
    """Runs ``model`` on each image and writes ``<stem>_segmentation.png`` or ``<stem>_depth.png``
    (colour-coded at the image's size) and ``<stem>_panel.png`` (input | prediction with legend or scale bar).

    Args:
        model: a UperNet or DPT (or any callable with ``task``,
            ``num_classes``/``max_depth`` attributes and a ``predict`` method).
        inputs: image files and/or folders.
        out_dir: output folder (created).
        class_names, palette: for segmentation legends (defaults: the model's ``class_names`` and
            ``palette``, else ``class i`` and tab20).

    Returns:
        List of the written panel paths.
    """
    class_names = class_names or getattr(model, "class_names", None)
    palette = palette if palette is not None else getattr(model, "palette", None)
    paths = image_paths(inputs)  # every input opens before the output folder is made
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in tqdm(paths, desc="predict", unit="image"):
        image = read_image(path)
        output = model.predict(image[None].astype(np.float32), verbose=0)[0]
        if model.task == "segmentation":
            labels = np.argmax(output, axis=-1)
            palette = visualize.default_palette(model.num_classes) if palette is None else palette
            _save_png(visualize.colorize_segmentation(labels, palette), out_dir / f"{path.stem}_segmentation.png")
            figure = visualize.prediction_figure(image, labels=labels, class_names=class_names, palette=palette)
        else:
            depth = output[..., 0]
            _save_png(visualize.colorize_depth(depth, model.max_depth), out_dir / f"{path.stem}_depth.png")
            figure = visualize.prediction_figure(image, depth=depth, max_depth=model.max_depth)
        panel = out_dir / f"{path.stem}_panel.png"
        with atomic_path(panel) as partial:
            figure.savefig(partial, format="png")
        written.append(panel)
    return written
