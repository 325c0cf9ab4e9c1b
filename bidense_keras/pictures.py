"""Image files in and out: read any photo as 8-bit RGB, write PNGs that say the package wrote them.

Reading: 8-bit, 16-bit (scaled, not clipped) and float images become ``(H, W, 3)`` uint8 RGB;
an image larger than :data:`MAX_IMAGE_PIXELS` is refused by its header, before it is decoded
(a small PNG can hold a huge image).
Writing: every PNG carries ``Software: bidense_keras`` in a text chunk, which is how
:func:`written_by_package` lets a later run replace it without ``overwrite`` while a user's own
file of the same name is kept (:func:`bidense_keras.files.check_replaceable`).
"""

import warnings

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from bidense_keras.errors import ImageFileError
from bidense_keras.files import atomic_path

SOFTWARE = "bidense_keras"
MAX_IMAGE_PIXELS = 64_000_000  # 8000 x 8000: larger files are refused before decoding
_FULL_SCALE = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I;16N": 65535.0}


def image_size(path, max_pixels=MAX_IMAGE_PIXELS):
    """``(height, width)`` of the image at ``path``, its pixels decoded once to prove the file whole.

    Raises:
        ImageFileError: not an image, truncated or corrupt, or more than ``max_pixels`` pixels.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageFileError(f"{path} is {width}x{height} pixels ({width * height / 1e6:.0f} Mpx), more than "
                                         f"the {max_pixels / 1e6:.0f} Mpx this package decodes; nothing was written. "
                                         "Resize it first.")
                image.load()
    except ImageFileError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageFileError(f"{path} is too large to decode safely ({error}); nothing was written. "
                             "Resize it first.") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageFileError(f"{path} is not a readable image ({error}); nothing was written.") from error
    return height, width


def read_image(path):
    """``(H, W, 3)`` uint8 RGB of an image file: grey, RGBA and palette converted, 16-bit and 32-bit
    grey scaled to 0..255 by their full range (Pillow's own conversion would clip them at 255)."""
    with Image.open(path) as image:
        if image.mode in _FULL_SCALE or image.mode in ("I", "F"):
            values = np.asarray(image, dtype=np.float64)
            scale = _FULL_SCALE.get(image.mode) or (65535.0 if values.max() > 255 else 255.0)
            if image.mode == "F" and values.max() <= 1.0:
                scale = 1.0
            grey = np.clip(np.round(values / scale * 255.0), 0, 255).astype(np.uint8)
            return np.repeat(grey[..., None], 3, axis=-1)
        return np.asarray(image.convert("RGB"))


def written_by_package(path):
    """Whether ``path`` is a PNG this package wrote (its ``Software`` text chunk names it)."""
    try:
        with Image.open(path) as image:
            return image.format == "PNG" and str(image.info.get("Software", "")).startswith(SOFTWARE)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False


def save_png(pixels, path, overwrite=False):
    """Writes ``(H, W, 3)`` uint8 ``pixels`` to ``path`` atomically, marked as the package's.

    Raises:
        bidense_keras.files.OutputExistsError: ``path`` is a file the package did not write, without ``overwrite``.
    """
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", SOFTWARE)
    with atomic_path(path, overwrite=overwrite, ours=written_by_package) as partial:
        Image.fromarray(pixels).save(partial, format="PNG", pnginfo=info)
    return path


def save_figure(figure, path, overwrite=False, **options):
    """Writes a matplotlib ``figure`` to ``path`` as a PNG atomically, marked as the package's (``options``: savefig's)."""
    with atomic_path(path, overwrite=overwrite, ours=written_by_package) as partial:
        figure.savefig(partial, format="png", metadata={"Software": SOFTWARE}, **options)
    return path
