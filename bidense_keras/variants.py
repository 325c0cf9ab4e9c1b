"""Binarization variants: which binarizers and bypasses a model's convolutions use.

``bidense`` is the paper's method; ``bidense_deployable`` is the same with DAB's scale
applied after each convolution, so that Larq Compute Engine runs it as a bitpacked binary
conv exactly (train with it to deploy without approximation); ``bnn``, ``dab`` and ``cfb`` are its ablations
(plain sign / DAB activations, identity / CFB bypasses); ``fp32`` is the
full-precision counterpart trained from scratch ("fp32_0"). A model of any variant trains in one of
the :data:`PRECISIONS` (Keras dtype policies).
"""

BINARIZATIONS = {
    "bidense": {"activation_binarizer": "dab", "kernel_binarizer": "scaled_sign", "bypass": "cfb"},
    "bidense_deployable": {"activation_binarizer": "dab_deployable", "kernel_binarizer": "scaled_sign", "bypass": "cfb"},
    "dab": {"activation_binarizer": "dab", "kernel_binarizer": "scaled_sign", "bypass": "identity"},
    "cfb": {"activation_binarizer": "approx_sign", "kernel_binarizer": "scaled_sign", "bypass": "cfb"},
    "bnn": {"activation_binarizer": "approx_sign", "kernel_binarizer": "scaled_sign", "bypass": "identity"},
    "fp32": {"activation_binarizer": None, "kernel_binarizer": None, "bypass": None},
}
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def binarization_options(binarization):
    """``{"activation_binarizer", "kernel_binarizer", "bypass"}`` of a variant; a ValueError names the choices."""
    if binarization not in BINARIZATIONS:
        raise ValueError(f"Unknown binarization {binarization!r}; choose one of {sorted(BINARIZATIONS)}.")
    return dict(BINARIZATIONS[binarization])
