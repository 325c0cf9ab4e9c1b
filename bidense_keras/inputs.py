"""Checks of the images given to a model: type, shape, size, values. A bad batch is named, not traced through layers.

Models take ``(batch, height, width, 3)`` RGB in [0, 255]. :func:`as_image_array` turns what a
user passes (an array, a tensor, a list of same-size images) into one array or names why it cannot;
:func:`check_image_batch` checks what the shape says (also while Keras traces a graph);
:func:`check_image_values` checks concrete arrays before ``predict`` and ``fit``: an empty batch,
an image smaller than the architecture can reduce, non-finite pixels, values outside [0, 255]
(16-bit photos, negative values), and images that look scaled to [0, 1];
:func:`check_labels` checks segmentation targets against the classes.
"""

import warnings

import numpy as np

PIXEL_RANGE = (0.0, 255.0)
IGNORE_INDEX = 255  # the segmentation label of pixels without a class: the loss and metrics skip them
# One predicted pixel needs about 0.8 kB of memory (0.71-1.03 kB for the demo models at 512-1536 px:
# benchmarks/predict_memory.py): 4 Mpx is about 3.5 GB. ``predict`` refuses larger images by default.
MAX_PREDICT_PIXELS = 2048 * 2048


def as_image_array(images):
    """``images`` as a numpy array: an array or tensor as it is, a list/tuple of same-size images stacked.

    Raises:
        ValueError: None, a list of images of different sizes, or values that are not numbers
            (object, string or bool arrays), each named with what to pass instead.
    """
    if images is None:
        raise ValueError("Expected a batch of RGB images of shape (batch, height, width, 3); got None.")
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("The batch is empty (an empty list): give at least one image.")
        shapes = {tuple(np.shape(image)) for image in images}
        if len(shapes) > 1:
            listed = ", ".join(map(str, sorted(shapes)[:4]))
            raise ValueError(f"A list of {len(images)} images of different shapes ({listed}) is not one batch: "
                             "predict them one at a time, or resize them to one size.")
        images = np.stack([np.asarray(image) for image in images])
    values = np.asarray(images)
    if values.dtype == object or not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise ValueError(f"Expected numeric pixel values (uint8 or float); got an array of dtype {values.dtype} "
                         f"and shape {values.shape}.")
    return values


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


def check_image_values(images, min_size=None, value_range=PIXEL_RANGE):
    """:func:`check_image_batch` plus the values of a concrete ``(B, H, W, 3)`` array.

    Args:
        images: the batch (anything :func:`as_image_array` takes).
        min_size: as for :func:`check_image_batch`.
        value_range: ``(low, high)`` the pixels must lie in (default [0, 255]); None for models
            without built-in preprocessing, which take normalised values.

    Returns:
        The batch as a numpy array.

    Raises:
        ValueError: a bad type, a bad shape, an empty batch, too small images, NaN/inf pixels (named
            by count), or values outside ``value_range`` (named with the range found and the dtype).

    Warns:
        UserWarning: when every value is within [0, 1]: the models take [0, 255].
    """
    values = as_image_array(images)
    check_image_batch(values, min_size)
    finite = np.isfinite(values)
    if not finite.all():
        raise ValueError(
            f"The images hold {values.size - int(finite.sum())} non-finite value(s) (NaN or inf); every output "
            "would be NaN. Clean the input, or pass check_inputs=False to skip this check."
        )
    if value_range is None:
        return values
    low, high = float(values.min()), float(values.max())
    if low < value_range[0] or high > value_range[1]:
        hint = (" 16-bit images (0..65535): divide by 257." if high > 255 and high <= 65535 else
                " Clip or rescale them.")
        raise ValueError(
            f"Pixel values range over [{low:g}, {high:g}] (dtype {values.dtype}), outside the "
            f"[{value_range[0]:g}, {value_range[1]:g}] RGB range the models take; the outputs would be "
            f"meaningless or NaN.{hint}"
        )
    if values.size and low >= 0.0 and high <= 1.0:
        warnings.warn(
            "Every pixel is within [0, 1], but the models take RGB values in [0, 255] (they normalise "
            "internally): multiply by 255, or predictions will be poor.",
            stacklevel=3,
        )
    return values


def check_labels(labels, num_classes, ignore_index=IGNORE_INDEX):
    """Raises a ValueError unless every segmentation label is a class id in ``[0, num_classes)`` or ``ignore_index``.

    Args:
        labels: integer class ids, ``(B, H, W)`` or ``(B, H, W, 1)``.
        num_classes: the model's classes.
        ignore_index: the label of pixels without a class (skipped by the loss).
    """
    values = np.asarray(labels)
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise ValueError(f"Segmentation labels must be integer class ids; got dtype {values.dtype}.")
    if np.issubdtype(values.dtype, np.floating) and not np.all(np.isfinite(values) & (values == np.round(values))):
        raise ValueError("Segmentation labels must be integer class ids; got fractional, NaN or inf values.")
    wrong = np.unique(values[((values < 0) | (values >= num_classes)) & (values != ignore_index)])
    if wrong.size:
        raise ValueError(f"Labels {wrong[:10].astype(np.int64).tolist()} are outside the model's {num_classes} "
                         f"classes (0..{num_classes - 1}, and {ignore_index} for pixels to ignore).")
