"""How far one model's outputs are from another's: the numbers every export report gives."""

import numpy as np


def output_agreement(reference, other, task, prefix=""):
    """How far ``other`` is from ``reference``, both ``(N, H, W, C)`` outputs of a ``task`` model.

    Returns:
        dict with ``max_abs_error``, ``mean_abs_error`` and (segmentation) ``argmax_agreement``
        (fraction of pixels with the same class) or (depth) ``abs_rel`` (mean |d - d_ref| / d_ref),
        each key preceded by ``prefix``.
    """
    difference = np.abs(reference - other)
    errors = {"max_abs_error": float(difference.max()), "mean_abs_error": float(difference.mean())}
    if task == "segmentation":
        errors["argmax_agreement"] = float(np.mean(np.argmax(reference, -1) == np.argmax(other, -1)))
    else:
        errors["abs_rel"] = float(np.mean(difference / np.maximum(reference, 1e-6)))
    return {prefix + key: value for key, value in errors.items()}
