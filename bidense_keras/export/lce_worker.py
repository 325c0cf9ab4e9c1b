"""Runs a TFLite flatbuffer in Larq Compute Engine's interpreter, one image at a time.

A standalone script for a Python with numpy 1 (LCE 0.16's compiled interpreter is built
against it): it imports only the standard library and numpy, and loads the interpreter's
extension module directly, since ``import larq_compute_engine`` imports TensorFlow.

    python lce_worker.py MODEL.tflite IMAGES.npy OUTPUTS.npy [--threads 1] [--kernel reference]
        [--xnnpack] [--warmup 0] [--repeats 0]
    python lce_worker.py --check      # only load the interpreter

IMAGES.npy is ``(N, H, W, C)`` float32 with ``(1, H, W, C)`` the flatbuffer's input; OUTPUTS.npy
gets ``(N, ...)`` float32. Prints one JSON line: the timings of ``repeats`` runs of the first
image (after ``warmup`` runs) or null. Exits 3 when the inputs don't fit the flatbuffer; prints
``LOADED`` on stderr once the interpreter has read the flatbuffer (a corrupt one can crash it).
"""

import argparse
import importlib.util
import json
import pathlib
import statistics
import sys
import time

import numpy as np

# kernel name -> (use_reference_bconv, use_indirect_bgemm)
KERNELS = {"reference": (True, False), "optimized": (False, False), "indirect_bgemm": (False, True)}
BAD_INPUT = 3  # argparse uses 2
LOADED = "lce_worker: flatbuffer loaded"  # on stderr: a later crash is not the file's fault


def load_lite_interpreter():
    """LCE's ``LiteInterpreter`` class, loaded without importing ``larq_compute_engine``."""
    package = importlib.util.find_spec("larq_compute_engine")
    if package is None:
        sys.exit(f"larq_compute_engine is not installed for {sys.executable}.")
    folder = pathlib.Path(package.submodule_search_locations[0]) / "tflite" / "python"
    library = next(folder.glob("interpreter_wrapper_lite*.so"), None)
    if library is None:
        sys.exit(f"No interpreter_wrapper_lite*.so in {folder}.")
    spec = importlib.util.spec_from_file_location("interpreter_wrapper_lite", library)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LiteInterpreter


def refuse(message):
    """Prints ``message`` on stderr and exits with ``BAD_INPUT`` (a ValueError for the caller)."""
    print(message, file=sys.stderr)
    sys.exit(BAD_INPUT)


def run(args):
    """Writes the outputs of every image and returns the timings (or None)."""
    reference_bconv, indirect_bgemm = KERNELS[args.kernel]
    images = np.load(args.images).astype(np.float32)
    try:
        interpreter = load_lite_interpreter()(
            pathlib.Path(args.model).read_bytes(), args.threads, reference_bconv, indirect_bgemm, args.xnnpack
        )
    except (RuntimeError, ValueError) as error:
        refuse(f"{args.model} is not a valid TFLite flatbuffer: {error}")
    print(LOADED, file=sys.stderr, flush=True)
    if len(interpreter.input_shapes) != 1 or len(interpreter.output_shapes) != 1:
        refuse(f"{args.model} has {len(interpreter.input_shapes)} inputs and {len(interpreter.output_shapes)} "
               "outputs; only single-input, single-output models are supported.")
    expected = tuple(interpreter.input_shapes[0])
    if images.ndim != 4 or (1, *images.shape[1:]) != expected or not len(images):
        refuse(f"images of shape {images.shape} do not fit {args.model}, whose input is {expected} "
               f"(expected (N, {', '.join(map(str, expected[1:]))}) with N >= 1).")
    outputs = [interpreter.predict([image[None]])[0][0] for image in images]
    np.save(args.outputs, np.stack(outputs).astype(np.float32))
    if not args.repeats:
        return None
    return time_runs(lambda: interpreter.predict([images[:1]]), args.warmup, args.repeats)


def time_runs(run, warmup, repeats):
    """Calls ``run()`` ``warmup`` times, then times ``repeats`` calls: ``{median_s, min_s, max_s, runs}``.

    Here because this script may import nothing of the package; the benchmarks use it too.
    """
    for _ in range(warmup):
        run()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds), "runs": repeats}


def main(argv=None):
    """The worker's command line (see the module docstring): run a flatbuffer, or ``--check`` the interpreter."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?")
    parser.add_argument("images", nargs="?")
    parser.add_argument("outputs", nargs="?")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kernel", choices=KERNELS, default="reference")
    parser.add_argument("--xnnpack", action="store_true")
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="only load the interpreter and exit")
    args = parser.parse_args(argv)
    if args.check:
        load_lite_interpreter()
        return
    if None in (args.model, args.images, args.outputs):
        parser.error("MODEL, IMAGES and OUTPUTS are required")
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
