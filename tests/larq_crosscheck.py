"""Cross-check of bidense_keras's sign quantizers against larq's, forward values and gradients.

A standalone script for the separate environment of the ``larq`` extra, where larq (legacy
Keras: ``TF_USE_LEGACY_KERAS=1`` makes ``tf.keras`` the tf_keras package) and bidense_keras
(Keras 3, ``import keras``) import in the same process::

    python3 -m venv larq-env && larq-env/bin/pip install -e ".[larq]"
    larq-env/bin/python tests/larq_crosscheck.py [--output differences.json]

It runs both implementations on the same fixed inputs (exact zeros of both signs, values on
and just beyond the clip range, a 4-D convolution kernel and a dense kernel for
``magnitude_aware_sign``), takes gradients of ``sum(q(x) * upstream)`` with
``tf.GradientTape`` for a fixed random ``upstream``, and prints the maximum absolute
differences as JSON. Like with like: larq binarizes 0 to +1, so ours run with
``zero_as_positive=True``; larq's ``metrics`` argument only adds a flip-ratio training metric
and is left unset.

Exit status: 0 when every difference is within ``--tolerance``, 1 on a mismatch (the JSON is
still printed), 2 when the environment cannot run the comparison.
"""

import argparse
import json
import os
import sys

import numpy as np

QUANTIZERS = ("ste_sign", "approx_sign", "magnitude_aware_sign")
DEFAULT_TOLERANCE = 1e-6
SETUP_HINT = (
    'create the environment with: python3 -m venv larq-env && larq-env/bin/pip install -e ".[larq]" '
    "(from the repository root), then run this script with larq-env/bin/python"
)


def _edge_values():
    """1-D float32: signed zeros, tiny values and values on and around both clip values (1 and 0.5)."""
    boundaries = []
    for clip in (1.0, 0.5):
        clip = np.float32(clip)
        boundaries += [clip, np.nextafter(clip, np.float32(0)), np.nextafter(clip, np.float32(2))]
    magnitudes = np.array(boundaries + [1e-45, 1e-7, 0.25, 0.75, 1.5, 3.0, 1000.0], np.float32)
    return np.concatenate([[0.0, -0.0], magnitudes, -magnitudes]).astype(np.float32)


def _with_edges(array, rng):
    """``array`` (float32) with about one element in eight set to 0, -0, +-1 or +-1.75 (beyond the clip)."""
    array = array.astype(np.float32)
    picked = rng.random(array.shape) < 0.125
    array[picked] = rng.choice(np.float32([0.0, -0.0, 1.0, -1.0, 1.75, -1.75]), size=int(picked.sum()))
    return array


def make_inputs(seed=0):
    """The fixed inputs by name: ``edges`` (1-D), ``activations`` (NHWC), ``conv_kernel``, ``dense_kernel``."""
    rng = np.random.default_rng(seed)
    return {
        "edges": _edge_values(),
        "activations": _with_edges(rng.normal(scale=1.2, size=(2, 5, 5, 8)), rng),
        "conv_kernel": _with_edges(rng.normal(scale=0.8, size=(3, 3, 8, 16)), rng),
        "dense_kernel": _with_edges(rng.normal(scale=0.8, size=(24, 10)), rng),
    }


def _environment_error(message):
    """Prints ``message`` with the set-up hint to stderr and exits with status 2."""
    print(f"larq_crosscheck: {message}; {SETUP_HINT}", file=sys.stderr)
    sys.exit(2)


def load_libraries():
    """Imports TensorFlow, larq (on tf_keras) and bidense_keras (on Keras 3) in this process.

    Returns:
        ``(tf, larq, versions)``; ``versions`` gives each library's version (and the
        folder bidense_keras was imported from).
    """
    # Before TensorFlow is imported: larq needs tf.keras to be tf_keras.
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ["KERAS_BACKEND"] = "tensorflow"
    try:
        import tensorflow as tf
        import tf_keras
        import larq
    except Exception as error:  # larq fails with AttributeError, not ImportError, on Keras 3
        _environment_error(f"cannot import larq on legacy Keras ({type(error).__name__}: {error})")
    try:
        import keras
        import bidense_keras
    except Exception as error:
        _environment_error(f"cannot import bidense_keras ({type(error).__name__}: {error})")
    versions = {
        "tensorflow": tf.__version__,
        "tf_keras": tf_keras.__version__,
        "larq": larq.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "bidense_keras": f"{bidense_keras.__version__} ({os.path.dirname(bidense_keras.__file__)})",
    }
    return tf, larq, versions


def value_and_gradient(tf, quantizer, x, upstream):
    """``q(x)`` and the gradient of ``sum(q(x) * upstream)`` with respect to ``x``, as numpy arrays."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = quantizer(x)
        loss = tf.reduce_sum(y * upstream)
    return np.asarray(y), tape.gradient(loss, x).numpy()


def _cases(larq):
    """``(quantizer name, input name, clip value, larq's quantizer, ours)`` for every comparison."""
    from bidense_keras import quantizers as ours

    lq = larq.quantizers
    for name in ("edges", "activations"):
        for clip in (1.0, 0.5):
            yield (
                "ste_sign", name, clip, lq.SteSign(clip_value=clip),
                lambda x, clip=clip: ours.ste_sign(x, clip_value=clip, zero_as_positive=True),
            )
        yield (
            "approx_sign", name, 1.0, lq.ApproxSign(),
            lambda x: ours.approx_sign(x, zero_as_positive=True),
        )
    for name in ("conv_kernel", "dense_kernel"):
        for clip in (1.0, 0.5):
            yield (
                "magnitude_aware_sign", name, clip, lq.MagnitudeAwareSign(clip_value=clip),
                lambda x, clip=clip: ours.magnitude_aware_sign(x, clip_value=clip, zero_as_positive=True),
            )


def _max_abs_difference(a, b):
    """max |a - b| as a float; infinite when the shapes differ, NaN when either side has NaN."""
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def compare(tf, larq, seed=0):
    """Runs every case on both implementations.

    Returns:
        ``{quantizer: {"forward": max |diff|, "gradient": max |diff|, "cases": [...]}}``,
        each case with its input, clip value, counts of exact zeros and of elements
        beyond the clip, and its two differences.
    """
    inputs = make_inputs(seed)
    rng = np.random.default_rng(seed + 1)
    upstreams = {name: rng.normal(size=x.shape).astype(np.float32) for name, x in inputs.items()}
    cases = {name: [] for name in QUANTIZERS}
    for quantizer, input_name, clip, reference, candidate in _cases(larq):
        x, upstream = inputs[input_name], upstreams[input_name]
        expected = value_and_gradient(tf, reference, x, upstream)
        actual = value_and_gradient(tf, candidate, x, upstream)
        case = {
            "input": input_name,
            "shape": list(x.shape),
            "clip_value": clip,
            "zeros": int(np.sum(x == 0)),
            "beyond_clip": int(np.sum(np.abs(x) > clip)),
            "forward": _max_abs_difference(actual[0], expected[0]),
            "gradient": _max_abs_difference(actual[1], expected[1]),
        }
        cases[quantizer].append(case)
    # np.max, not max(): a NaN difference must stay visible.
    return {
        name: {
            "forward": float(np.max([case["forward"] for case in runs])),
            "gradient": float(np.max([case["gradient"] for case in runs])),
            "cases": runs,
        }
        for name, runs in cases.items()
    }


def mismatches(results, tolerance):
    """Readable lines for every case whose forward or gradient difference exceeds ``tolerance``."""
    lines = []
    for quantizer, result in results.items():
        for case in result["cases"]:
            for key, what in (("forward", "forward values"), ("gradient", "gradients")):
                if not case[key] <= tolerance:
                    lines.append(
                        f"{quantizer} differs from larq in its {what} on {case['input']} "
                        f"{tuple(case['shape'])}, clip_value={case['clip_value']}: "
                        f"max |difference| {case[key]:.3g} > {tolerance:g}"
                    )
    return lines


def main(argv=None):
    """Runs the cross-check, prints the JSON report and returns the exit status (0, 1 or 2)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", help="also write the JSON report to this file")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help=f"largest accepted absolute difference (default {DEFAULT_TOLERANCE:g})")
    args = parser.parse_args(argv)

    tf, larq, versions = load_libraries()
    results = compare(tf, larq)
    failures = mismatches(results, args.tolerance)
    report = {
        "versions": versions,
        "tolerance": args.tolerance,
        "ok": not failures,
        "quantizers": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(text + "\n")
    for line in failures:
        print(f"larq_crosscheck: MISMATCH: {line}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
