"""The backend matrix: backend-neutral tests under JAX and torch, data-parallel tests on two devices.

Each entry of ``tests.conftest.MATRIX`` is a child ``pytest -m MARKER`` process with its own
``KERAS_BACKEND`` (and ``BIDENSE_TEST_DEVICES``); they start after collection and run beside the
rest of the suite (tests/conftest.py). These tests, moved last, wait for each and fail with its output.
"""

import re

import pytest

from tests.conftest import MATRIX, MATRIX_OUTPUT, matrix_result


pytestmark = pytest.mark.slow  # the backend matrix: JAX, torch and two-device children


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_matrix_entry_passes(name):
    returncode, output = matrix_result(name)
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    print(f"{name}: {summary}")
    passed = re.search(r"(\d+) passed", summary)
    assert returncode == 0 and passed and int(passed.group(1)) > 0, f"{name} failed:\n{output[-8000:]}"
    assert "failed" not in summary and "error" not in summary, f"{name}:\n{output[-8000:]}"


def test_folder_trained_on_two_jax_devices_scores_the_same_under_tensorflow():
    import json

    import keras

    from bidense_keras.train import experiment
    from tests.test_training import HELD_OUT

    assert keras.backend.backend() == "tensorflow"
    returncode, output = matrix_result("jax-2-devices")
    run = MATRIX_OUTPUT / "jax-2-devices"
    assert (run / "metrics.json").is_file(), f"the JAX data-parallel run wrote no metrics:\n{output[-4000:]}"
    trained = json.loads((run / "metrics.json").read_text())
    synthetic = {"val_samples": int(HELD_OUT[1]), "height": int(HELD_OUT[3]), "width": int(HELD_OUT[4])}
    scored = experiment.evaluate(str(run / "model"), "synthetic_rooms", run / "data", int(HELD_OUT[6]),
                                 synthetic=synthetic)
    print(f"mIoU under JAX {trained['mIoU']:.6f}, under TensorFlow {scored['mIoU']:.6f}")
    assert abs(scored["mIoU"] - trained["mIoU"]) <= 1e-3 and abs(scored["pixAcc"] - trained["pixAcc"]) <= 1e-3
