"""Run TFLite flatbuffers through Larq Compute Engine's interpreter.

LCE 0.16's interpreter extension is compiled against numpy 1 and returns empty outputs under
numpy 2, which TensorFlow 2.21 needs. So flatbuffers run in a subprocess
(:mod:`bidense_keras.export.lce_worker`) of an *LCE runtime*: a small virtualenv with
``numpy<2`` and ``larq-compute-engine`` (without its dependencies), made once by
:func:`create_runtime` (``bidense-keras lce-runtime DIR``) and named by ``$BIDENSE_KERAS_LCE_PYTHON``.
Only its ``bin/python`` is used; it is not meant to be activated.
"""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bidense_keras.errors import LCERuntimeError
from bidense_keras.export import lce_worker
from bidense_keras.export.agreement import output_agreement

LCE_PYTHON_ENV = "BIDENSE_KERAS_LCE_PYTHON"
DEFAULT_RUNTIME = "~/.cache/bidense-keras/lce-runtime"
KERNELS = tuple(lce_worker.KERNELS)
TFLITE_IDENTIFIER = b"TFL3"  # bytes 4-8 of every TFLite flatbuffer


def runtime_python():
    """Path of the Python that runs LCE's interpreter.

    ``$BIDENSE_KERAS_LCE_PYTHON`` if set, else this Python if its numpy is 1.x.

    Raises:
        LCERuntimeError: the variable names a missing file, or this Python has numpy 2 and
            no runtime is configured (the message gives the commands that make one).
    """
    configured = os.environ.get(LCE_PYTHON_ENV)
    if configured:
        python = Path(configured).expanduser()
        if not python.is_file():
            raise LCERuntimeError(
                f"${LCE_PYTHON_ENV} is {configured}, which does not exist. Make the runtime with "
                f"`bidense-keras lce-runtime DIR` and set ${LCE_PYTHON_ENV} to DIR/bin/python."
            )
        return python
    if int(np.__version__.split(".")[0]) < 2:
        return Path(sys.executable)
    raise LCERuntimeError(
        f"Running a TFLite flatbuffer needs Larq Compute Engine's interpreter, which LCE 0.16 builds "
        f"against numpy 1, but this Python has numpy {np.__version__} (TensorFlow 2.18+ needs numpy 2). "
        f"Make a separate numpy-1 runtime once and point ${LCE_PYTHON_ENV} at it:\n"
        f"    bidense-keras lce-runtime {DEFAULT_RUNTIME}\n"
        f"    export {LCE_PYTHON_ENV}={DEFAULT_RUNTIME}/bin/python"
    )


def create_runtime(directory):
    """Makes the LCE runtime: a virtualenv at ``directory`` with ``numpy<2`` and this env's LCE version.

    Idempotent: an existing runtime that loads the interpreter is returned as it is. The
    virtualenv is built beside ``directory`` under a temporary name and renamed into place,
    so a failed install leaves nothing behind.

    Returns:
        Path of the runtime's Python (``directory/bin/python``), for ``$BIDENSE_KERAS_LCE_PYTHON``.
    """
    directory = Path(directory).expanduser().absolute()
    python = directory / "bin" / "python"
    if python.is_file() and _loads_interpreter(python):
        return python
    if directory.exists():
        raise FileExistsError(f"{directory} exists but is not a working LCE runtime; remove it or choose another.")
    try:
        version = importlib.metadata.version("larq-compute-engine")
    except importlib.metadata.PackageNotFoundError as error:
        raise LCERuntimeError("larq-compute-engine is not installed here: pip install -e '.[export]'") from error
    partial = directory.with_name(f".{os.getpid()}.partial.{directory.name}")
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run([sys.executable, "-m", "venv", str(partial)])
        partial_python = partial / "bin" / "python"
        # numpy has no dependencies and LCE's (TensorFlow among them) are not needed to interpret
        _run([str(partial_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
              "numpy<2", f"larq-compute-engine=={version}"])
        _run([str(partial_python), lce_worker.__file__, "--check"])
        os.replace(partial, directory)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return python


def _loads_interpreter(python):
    return subprocess.run([str(python), lce_worker.__file__, "--check"], capture_output=True).returncode == 0


def _run(command):
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as error:
        raise LCERuntimeError(
            f"`{' '.join(command)}` failed with exit code {error.returncode}:\n{_tail(error.stdout + error.stderr)}"
        ) from None


def _tail(text, lines=20):
    return "\n".join(text.strip().splitlines()[-lines:])


def check_flatbuffer(path):
    """``path`` as a Path, after checking that it is a file with a TFLite flatbuffer header.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a TFLite flatbuffer.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No TFLite flatbuffer at {path}.")
    with path.open("rb") as file:
        header = file.read(8)
    if header[4:8] != TFLITE_IDENTIFIER:
        raise ValueError(f"{path} is not a TFLite flatbuffer (its header lacks the {TFLITE_IDENTIFIER.decode()} "
                         "identifier); export it again with bidense-keras export.")
    return path


def run_flatbuffer(path, images, num_threads=1, kernel="reference", xnnpack=False, warmup=0, repeats=0):
    """Runs a flatbuffer in LCE's interpreter on each image, one by one.

    Args:
        path: a ``.tflite`` with one input ``(1, H, W, 3)`` and one output.
        images: ``(N, H, W, 3)`` float32.
        num_threads: interpreter threads.
        kernel: LceBconv2d implementation, one of ``KERNELS``: ``"reference"`` (exact),
            ``"optimized"`` or ``"indirect_bgemm"`` (on x86 both are wrong for 3x3 convs on
            maps smaller than 3x3).
        xnnpack: use TFLite's XNNPACK delegate for the float ops.
        warmup, repeats: untimed then timed runs of the first image, after the outputs.

    Returns:
        ``(outputs, timings)``: ``(N, ...)`` float32 outputs, and ``{"median_s", "min_s",
        "max_s", "runs"}`` of the timed runs, or None when ``repeats`` is 0.

    Raises:
        FileNotFoundError, ValueError: no flatbuffer at ``path``, a corrupt one, images that
            don't fit its input, or an unknown kernel.
        LCERuntimeError: no LCE runtime, or the interpreter crashed.
    """
    path = check_flatbuffer(path)
    if kernel not in KERNELS:
        raise ValueError(f"Unknown LCE kernel {kernel!r}; choose one of {KERNELS}.")
    python = runtime_python()
    with tempfile.TemporaryDirectory(prefix="bidense-lce-") as work:
        inputs, outputs = Path(work) / "images.npy", Path(work) / "outputs.npy"
        np.save(inputs, np.asarray(images, np.float32))
        command = [str(python), lce_worker.__file__, str(path), str(inputs), str(outputs), "--threads",
                   str(num_threads), "--kernel", kernel, "--warmup", str(warmup), "--repeats", str(repeats)]
        result = subprocess.run(command + ["--xnnpack"] * xnnpack, capture_output=True, text=True)
        if result.returncode == lce_worker.BAD_INPUT:
            raise ValueError(_tail(result.stderr, lines=1))
        if result.returncode < 0 and lce_worker.LOADED not in result.stderr:
            raise ValueError(f"{path} is corrupt or truncated: LCE's interpreter crashed reading it "
                             f"(signal {-result.returncode}); export it again with bidense-keras export.")
        if result.returncode != 0:
            raise LCERuntimeError(f"LCE's interpreter ({python}) failed on {path} with exit code "
                                  f"{result.returncode}:\n{_tail(result.stderr)}")
        return np.load(outputs), json.loads(result.stdout.strip().splitlines()[-1])


def flatbuffer_error(model, path, images, kernel="reference", num_threads=1):
    """How far the flatbuffer's outputs are from a Keras model's on ``images``.

    Args:
        model: the deployable twin (to check the conversion and runtime) or the original
            model (to measure the whole deployment error).
        path: the ``.tflite``.
        images: ``(N, H, W, 3)`` at the flatbuffer's input size.
        kernel, num_threads: as in :func:`run_flatbuffer`.

    Returns:
        dict with ``tflite_max_abs_error``, ``tflite_mean_abs_error`` and (segmentation)
        ``tflite_argmax_agreement`` or (depth) ``tflite_abs_rel``.
    """
    reference = model.predict(images, verbose=0)
    outputs, _ = run_flatbuffer(path, images, num_threads=num_threads, kernel=kernel)
    return output_agreement(reference, outputs, model.task, prefix="tflite_")
