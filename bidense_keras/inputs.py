"""Checks of the images given to a model: shape, size, values. A bad batch is named, not traced through layers.

Models take ``(batch, height, width, 3)`` RGB in [0, 255]. :func:`check_image_batch` checks what
the shape says (also while Keras traces a graph); :func:`check_image_values` checks concrete
arrays before ``predict``: an empty batch, an image smaller than the architecture can reduce,
non-finite pixels, and images that look scaled to [0, 1].
"""

import warnings

import numpy as np


def check_image_batch(images, min_size=None):
    """Raises a ValueError unless ``images`` is ``(batch, height, width, 3)`` with known sizes >= ``min_size``.

    Args:
        images: an array or tensor (symbolic dimensions may be None).
        min_size: the smallest height and width the model takes (``model.min_input_size``), or None.
    """
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4:
        hint = " Add a batch axis, e.g. images[None]." if len(shape) == 3 else ""
        raise ValueError(
            f"Expected a batch of RGB images of shape (batch, height, width, 3); got an input "
            f"of rank {len(shape)} with shape {shape}.{hint}"
        )
    if shape[-1] not in (None, 3):
        raise ValueError(
            f"Expected 3 colour channels (RGB, channels last); got {shape[-1]} channels in an "
            f"input of shape {shape}."
        )
    if shape[0] == 0:
        raise ValueError(f"The batch is empty (shape {shape}): give at least one image.")
    too_small = [size for size in shape[1:3] if size is not None and min_size is not None and size < min_size]
    if too_small:
        raise ValueError(
            f"Images of {shape[1]}x{shape[2]} pixels are too small: this architecture needs at least "
            f"{min_size}x{min_size} (model.min_input_size: the stride of a UperNet's deepest stage, two patches of "
            f"a DPT). Resize or pad them."
        )


def check_image_values(images, min_size=None):
    """:func:`check_image_batch` plus the values of a concrete ``(B, H, W, 3)`` array.

    Raises:
        ValueError: a bad shape, an empty batch, too small images, or NaN/inf pixels (named by count).

    Warns:
        UserWarning: when every value is within [0, 1]: the models take [0, 255].
    """
    check_image_batch(images, min_size)
    values = np.asarray(images)
    finite = np.isfinite(values)
    if not finite.all():
        raise ValueError(
            f"The images hold {values.size - int(finite.sum())} non-finite value(s) (NaN or inf); every output "
            "would be NaN. Clean the input, or pass check_inputs=False to skip this check."
        )
    if values.size and values.min() >= 0.0 and values.max() <= 1.0:
        warnings.warn(
            "Every pixel is within [0, 1], but the models take RGB values in [0, 255] (they normalise "
            "internally): multiply by 255, or predictions will be poor.",
            stacklevel=3,
        )
