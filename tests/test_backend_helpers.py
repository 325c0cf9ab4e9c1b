"""bidense_keras.backends: the backend check, devices, and what ``bidense-keras info`` prints."""

import os
import subprocess
import sys

import keras
import pytest

from bidense_keras import backends, cli


@pytest.mark.backends
def test_running_backend_and_its_devices_are_described(capsys):
    described = backends.describe()
    assert described["backend"] == keras.backend.backend() == backends.check_backend()
    assert described["devices"] == backends.devices()
    peak = backends.peak_accelerator_memory_mb()
    assert peak is None if described["devices"][0].startswith("cpu") else peak >= 0
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"backend {described['backend']}" in out and f"devices: {described['devices'][0]}" in out
    if described["devices"][0].startswith("cpu"):  # what a model card says trained it
        cores = len(os.sched_getaffinity(0))
        assert backends.machine().startswith(f"{cores} CPU cores (")
    assert backends.machine().endswith(f"; {described['backend']} {described['backend_version']}, Keras {keras.__version__}")


@pytest.mark.backends
def test_an_unknown_backend_name_is_refused():
    with pytest.raises(ValueError, match="Keras backend 'numpy' cannot run bidense_keras models"):
        backends.check_backend("numpy")


def test_an_unknown_keras_backend_variable_fails_the_import_with_its_name():
    env = {**os.environ, "KERAS_BACKEND": "thenao"}
    done = subprocess.run([sys.executable, "-c", "import bidense_keras"], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "Keras backend 'thenao' cannot run bidense_keras models; set KERAS_BACKEND to one of" in done.stderr
