"""Shared test fixtures: paths to the authors' reference outputs and a small model config."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
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
# background thread, so they run beside the suite. The process that schedules the session starts them
# once the selected tests include the matrix: the only process, or pytest-xdist's controller (whose
# workers share MATRIX_OUTPUT through the environment). Each child leaves its exit code and output in
# MATRIX_OUTPUT/<name>.result.json, where the matrix tests, moved last, wait for it.
# JAX children compile with XLA's CPU backend optimisation off: the same computation, compiled in about
# 60 % of the time (the tests' tiny models spend more time compiling than running).
FAST_XLA_COMPILE = {"XLA_FLAGS": "--xla_backend_optimization_level=0"}
MATRIX = {
    "jax": ({"KERAS_BACKEND": "jax", **FAST_XLA_COMPILE}, "backends"),
    "torch": ({"KERAS_BACKEND": "torch"}, "backends"),
    "jax-2-devices": ({"KERAS_BACKEND": "jax", "BIDENSE_TEST_DEVICES": "2", **FAST_XLA_COMPILE}, "devices"),
    "tensorflow-2-devices": ({"KERAS_BACKEND": "tensorflow", "BIDENSE_TEST_DEVICES": "2"}, "devices"),
}
if "BIDENSE_MATRIX_OUTPUT" not in os.environ:  # set by the first process: workers and children inherit it
    os.environ["BIDENSE_MATRIX_OUTPUT"] = tempfile.mkdtemp(prefix="bidense-matrix-")
MATRIX_OUTPUT = Path(os.environ["BIDENSE_MATRIX_OUTPUT"])
MATRIX_STARTED = MATRIX_OUTPUT / "started"
# The children's time together, from the first start: they run one after the other beside the suite, so a
# machine half as fast as usual (seen on CI) stretches them all; a hung child is reported before CI's own
# limit (90 min, the install included) stops everything without a word.
MATRIX_BUDGET_S = 75 * 60


def matrix_result(name, timeout_s=MATRIX_BUDGET_S + 60):
    """Waits for the child ``name`` of :data:`MATRIX` to finish; returns ``(exit code, output)``."""
    assert MATRIX_STARTED.exists(), "the matrix processes start only in a session that selects tests/test_backends.py"
    path = MATRIX_OUTPUT / f"{name}.result.json"
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"the matrix child {name} gave no result in {timeout_s} s"
        time.sleep(1)
    result = json.loads(path.read_text())
    return result["returncode"], result["output"]


def _run_children():
    deadline = time.monotonic() + MATRIX_BUDGET_S
    for name, (environment, marker) in MATRIX.items():
        env = {**os.environ, **environment, "BIDENSE_MATRIX_CHILD": name}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", marker, "--durations=5"]
        started = time.monotonic()
        try:
            done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                  timeout=max(deadline - started, 1))
            result = {"returncode": done.returncode, "output": done.stdout + done.stderr}
        except (OSError, subprocess.SubprocessError) as error:  # a timeout among them: the tests report it
            result = {"returncode": -1, "output": f"the child process did not finish within the matrix's "
                                                  f"{MATRIX_BUDGET_S} s ({time.monotonic() - started:.0f} s "
                                                  f"of them its own): {error}"}
        partial = MATRIX_OUTPUT / f".{name}.result.json"
        partial.write_text(json.dumps(result))
        partial.replace(MATRIX_OUTPUT / f"{name}.result.json")


def _start_matrix():
    if not MATRIX_STARTED.exists():
        MATRIX_STARTED.touch()
        threading.Thread(target=_run_children).start()  # the session's end waits for it, as for the tests


# Test tiers. The fast tier (the default, the README's command) checks every area in minutes; the slow
# tier (tests marked `slow`: the backend matrix, training runs, the LCE and larq side environments, the
# wheel, the benchmarks' own runs) completes it. `--tier all` runs both, as CI does in two steps.
TIERS = {"fast": lambda item: "slow" not in item.keywords, "slow": lambda item: "slow" in item.keywords,
         "all": lambda item: True}


def pytest_addoption(parser):
    """``--tier fast|slow|all`` (default fast)."""
    parser.addoption("--tier", choices=sorted(TIERS), default="fast",
                     help="fast: the quick tier of every area (default); slow: the rest (tests marked slow); all: both")


def _select_tier(config, items):
    """Deselects the items outside ``--tier`` (a matrix child runs every test of its marker)."""
    tier = "all" if os.environ.get("BIDENSE_MATRIX_CHILD") else config.getoption("--tier")
    kept = [item for item in items if TIERS[tier](item)]
    deselected = [item for item in items if not TIERS[tier](item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_collection_modifyitems(session, config, items):
    """Keeps the items of the ``--tier``; moves the matrix tests last; without pytest-xdist, starts the matrix
    when any is selected."""
    _select_tier(config, items)
    matrix_items = [item for item in items if item.module.__name__.endswith("test_backends")]
    if not matrix_items or os.environ.get("BIDENSE_MATRIX_CHILD"):
        return
    items[:] = [item for item in items if item not in matrix_items] + matrix_items
    if not hasattr(config, "workerinput"):  # the only process (a pytest-xdist worker leaves it to the controller)
        _start_matrix()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """pytest-xdist's controller: starts the matrix when a worker collected any of its tests."""
    if any(test_id.startswith("tests/test_backends.py") for test_id in ids):
        _start_matrix()


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
