"""What must happen before Keras is imported: the backend's name checked, TensorFlow's start-up lines quieted.

``import bidense_keras`` imports this module first (and the command line without Keras);
:mod:`bidense_keras.backends` then imports Keras through :func:`import_keras_quietly`.
"""

import importlib
import os
import sys
import tempfile

BACKENDS = ("tensorflow", "jax", "torch")


def check_backend_name(name):
    """Returns ``name``, raising a ValueError unless it is one of :data:`BACKENDS`."""
    if name not in BACKENDS:
        raise ValueError(
            f"Keras backend {name!r} cannot run bidense_keras models; set KERAS_BACKEND to one of "
            f"{', '.join(BACKENDS)}."
        )
    return name


# Checked before Keras is imported: Keras fails on an unknown name with a less direct message, and on
# its inference-only backends (numpy, openvino) our quantizers' custom gradients do not exist.
if os.environ.get("KERAS_BACKEND"):
    check_backend_name(os.environ["KERAS_BACKEND"])
# TensorFlow's C++ INFO and WARNING lines (oneDNN notice, CPU features) would open every command's output;
# errors still show, and TF_CPP_MIN_LOG_LEVEL=0 brings them all back. Set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow 2.20+ logs its oneDNN notice before absl reads that level ("WARNING: All log messages before
# absl::InitializeLog() is called are written to STDERR", then "I0000 ... port.cc ... oneDNN custom
# operations are on"): no environment variable stops it. Those lines are dropped from the import's
# native stderr; every other line it writes is passed on.
_ABSL_PREAMBLE = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", "I0000 ")


def import_keras_quietly():
    """``import keras`` with TensorFlow's early absl INFO lines removed from the process's stderr (file
    descriptor 2), unless ``TF_CPP_MIN_LOG_LEVEL`` asks for INFO lines (0). Returns the keras module."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return importlib.import_module("keras")
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to clean (a windowless process)
        return importlib.import_module("keras")
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            return importlib.import_module("keras")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not line.startswith(_ABSL_PREAMBLE))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()
