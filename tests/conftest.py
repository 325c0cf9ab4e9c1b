"""Shared test fixtures: paths to the authors' reference outputs and a small model config."""

import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# BIDENSE_TEST_DEVICES=N: N CPU devices for the data-parallel tests (set before JAX or TF starts).
TEST_DEVICES = int(os.environ.get("BIDENSE_TEST_DEVICES", "1"))
if TEST_DEVICES > 1:
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={TEST_DEVICES} " + os.environ.get("XLA_FLAGS", "")
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import tensorflow as tf

        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * TEST_DEVICES
        )

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "reference"
WEIGHTS_DIR = REPO_ROOT / "weights"  # the committed model folders of the published presets
SMALL = {"dims": (32, 64, 128, 256), "depths": (1, 1, 2, 1), "features": 64}


@pytest.fixture(scope="session")
def reference_dir():
    """The authors' PyTorch reference fixtures; their absence is a failure, not a skip."""
    assert REFERENCE_DIR.is_dir(), f"reference fixtures not found at {REFERENCE_DIR}"
    return REFERENCE_DIR


def nhwc(array):
    """NCHW -> NHWC."""
    return np.transpose(array, (0, 2, 3, 1))


# The backend matrix (tests/test_backends.py): child pytest processes, one after the other in a
# background thread that starts once the main session has collected, so they run beside the suite.
# JAX children compile with XLA's CPU backend optimisation off: the same computation, compiled in about
# 60 % of the time (the tests' tiny models spend more time compiling than running).
FAST_XLA_COMPILE = {"XLA_FLAGS": "--xla_backend_optimization_level=0"}
MATRIX = {
    "jax": ({"KERAS_BACKEND": "jax", **FAST_XLA_COMPILE}, "backends"),
    "torch": ({"KERAS_BACKEND": "torch"}, "backends"),
    "jax-2-devices": ({"KERAS_BACKEND": "jax", "BIDENSE_TEST_DEVICES": "2", **FAST_XLA_COMPILE}, "devices"),
    "tensorflow-2-devices": ({"KERAS_BACKEND": "tensorflow", "BIDENSE_TEST_DEVICES": "2"}, "devices"),
}
MATRIX_RESULTS = {}  # name -> concurrent.futures.Future of (exit code, output)
MATRIX_OUTPUT = Path(tempfile.mkdtemp(prefix="bidense-matrix-"))  # files the children leave for the main run


def _run_child(name):
    environment, marker = MATRIX[name]
    env = {**os.environ, **environment, "BIDENSE_MATRIX_CHILD": name, "BIDENSE_MATRIX_OUTPUT": str(MATRIX_OUTPUT)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", marker, "--durations=5"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    return done.returncode, done.stdout + done.stderr


def pytest_collection_modifyitems(session, config, items):
    """Moves the matrix tests last and starts their child processes when any is selected."""
    matrix_items = [item for item in items if item.module.__name__.endswith("test_backends")]
    if not matrix_items or os.environ.get("BIDENSE_MATRIX_CHILD"):
        return
    items[:] = [item for item in items if item not in matrix_items] + matrix_items
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    for name in MATRIX:
        MATRIX_RESULTS[name] = pool.submit(_run_child, name)
    pool.shutdown(wait=False)


def write_model_folder(folder, binarization="bidense", weights=b"\x89HDF fake weights", **metadata):
    """A model folder in the current layout with a placeholder weights file (for publishing tests)."""
    folder.mkdir(parents=True)
    arguments = {"task": "segmentation", "dims": [32, 64, 128, 256], "depths": [1, 1, 3, 1], "features": 64,
                 "num_classes": 9, "binarization": binarization}
    config = {"module": "bidense_keras.models", "class_name": "UperNet", "registered_name": "bidense_keras>UperNet",
              "config": arguments}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metadata.json").write_text(json.dumps({"format": "bidense_keras/2", "task": "segmentation", **metadata}))
    (folder / "model.weights.h5").write_bytes(weights)
    return folder
