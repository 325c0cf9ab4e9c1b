"""The two numpy-1 environments some tests run code in, made on first use under ``.side-envs/``.

- the LCE runtime (LCE 0.16's interpreter is built against numpy 1), named by
  ``$BIDENSE_KERAS_LCE_PYTHON``, made by :func:`bidense_keras.export.create_runtime`;
- the larq environment (larq pins numpy<2 and needs legacy Keras), named by
  ``$BIDENSE_KERAS_LARQ_PYTHON``: this checkout plus larq and tf_keras.

A variable that is already set wins; otherwise the environment is made once in the
repository's ``.side-envs/`` (from PyPI, about 1-2 minutes each) and the variable is set,
so ``python -m pytest`` works on a fresh checkout. A file lock makes each environment once when
pytest-xdist's workers ask for it together.
"""

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys

from bidense_keras.export.runtime import LCE_PYTHON_ENV, create_runtime
from tests.conftest import REPO_ROOT

SIDE_ENVS = REPO_ROOT / ".side-envs"
LARQ_PYTHON_ENV = "BIDENSE_KERAS_LARQ_PYTHON"
REPOSITORY_BUILD = "repository-build"  # the lock of pip builds of this checkout (they write build/, *.egg-info)


def lce_python():
    """Path of the LCE runtime's Python (made on first use); sets ``$BIDENSE_KERAS_LCE_PYTHON``."""
    if not os.environ.get(LCE_PYTHON_ENV):
        with exclusive("lce-runtime"):
            os.environ[LCE_PYTHON_ENV] = str(create_runtime(SIDE_ENVS / "lce-runtime"))
    return os.environ[LCE_PYTHON_ENV]


def larq_python():
    """Path of the larq environment's Python (made on first use); sets ``$BIDENSE_KERAS_LARQ_PYTHON``."""
    if not os.environ.get(LARQ_PYTHON_ENV):
        with exclusive("larq"):
            os.environ[LARQ_PYTHON_ENV] = str(_make_larq_env(SIDE_ENVS / "larq"))
    return os.environ[LARQ_PYTHON_ENV]


@contextlib.contextmanager
def exclusive(name):
    """Holds the lock ``.side-envs/.<name>.lock`` (blocks while another process holds it)."""
    SIDE_ENVS.mkdir(exist_ok=True)
    with open(SIDE_ENVS / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _make_larq_env(directory):
    """A virtualenv with this checkout, ``larq`` and ``tf_keras`` (built aside, then renamed into place)."""
    python = directory / "bin" / "python"
    if python.is_file():
        return python
    partial = directory.with_name(f".{os.getpid()}.partial.{directory.name}")
    pip = [str(partial / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    try:
        _run([sys.executable, "-m", "venv", str(partial)])
        with exclusive(REPOSITORY_BUILD):
            _run([*pip, "-e", str(REPO_ROOT), "larq>=0.14"])  # larq's numpy<2 pin picks numpy 1.26
        version = _run([str(partial / "bin" / "python"), "-c", "import tensorflow as tf; print(tf.__version__)"])
        # Without dependencies: tf_keras requires the `tensorflow` distribution, a second 570 MB
        # TensorFlow beside tensorflow-cpu.
        major_minor = ".".join(version.strip().splitlines()[-1].split(".")[:2])
        _run([*pip, "--no-deps", f"tf_keras=={major_minor}.*"])
        os.replace(partial, directory)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return python


def _run(command):
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise RuntimeError(f"`{' '.join(command)}` failed with exit code {result.returncode}:\n{tail}")
    return result.stdout
