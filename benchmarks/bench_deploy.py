"""Size and x86 latency of a BiDense model deployed as LCE, float and int8 TFLite, against Keras.

For each configuration (the demo preset at 240x320, ConvNeXt-T UperNet at 256x256 and
480x480, 151 classes), the deployable twin is converted three ways: LCE (bitpacked
LceBconv2d), float TFLite and int8 post-training-quantized TFLite (TensorFlow's converter,
calibrated on synthetic rooms). Latency is batch 1, median of ``--repeats`` runs after
``--warmup``, in LCE's interpreter (LCE: optimized and indirect-BGEMM bconv kernels, float
ops with XNNPACK, and indirect BGEMM without it; float and int8: XNNPACK) with 1 and 2 threads, and the Keras model in TensorFlow. This is an x86
CPU: LCE's kernels are tuned for ARM, whose latency is not measured here.

    python benchmarks/bench_deploy.py                       # writes results/deploy.json + .md
    python benchmarks/bench_deploy.py --configs demo --repeats 3
"""

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CONFIGS = {
    "demo": {"preset": "bidense_upernet_demo_rooms_seg", "size": (240, 320)},
    "convnext_tiny_256": {"preset": "bidense_upernet_convnext_tiny_ade20k", "size": (256, 256)},
    "convnext_tiny_480": {"preset": "bidense_upernet_convnext_tiny_ade20k", "size": (480, 480)},
}
# (format, LceBconv2d kernel or None, XNNPACK for the float/int8 ops): XNNPACK also runs the float
# parts of an LCE flatbuffer (depthwise convs, DAB thresholds, bypasses), which matters most on x86.
RUNTIMES = [("lce", "optimized", True), ("lce", "indirect_bgemm", True), ("lce", "indirect_bgemm", False),
            ("float", None, True), ("int8", None, True)]


def _model(preset):
    import bidense_keras as bk
    from bidense_keras.presets import get_preset

    return bk.load(preset, pretrained=get_preset(preset)["weights"] is not None)


def _keras_latency(model, image, warmup, repeats):
    import tensorflow as tf

    from bidense_keras.export.lce_worker import time_runs

    infer = tf.function(lambda x: model(x, training=False))
    batch = tf.constant(image[None])
    return time_runs(lambda: infer(batch).numpy(), warmup, repeats)


def measure(name, args, work_dir):
    """Sizes and latencies of one configuration."""
    import numpy as np

    from bidense_keras.datasets import synthetic_rooms
    from bidense_keras.export import to_tflite
    from bidense_keras.export.baselines import to_float_tflite
    from bidense_keras.export.runtime import run_flatbuffer

    config = CONFIGS[name]
    size = config["size"]
    model = _model(config["preset"])
    images = np.stack([synthetic_rooms.render(seed, *size)["image"] for seed in range(args.calibration)])
    images = images.astype(np.float32)
    files = {
        "lce": to_tflite(model, work_dir / f"{name}_lce.tflite", input_size=size),
        "float": to_float_tflite(model, work_dir / f"{name}_float.tflite", size),
        "int8": to_float_tflite(model, work_dir / f"{name}_int8.tflite", size, calibration_images=images),
    }
    result = {"preset": config["preset"], "input_size": list(size),
              "size_bytes": {fmt: report["size_bytes"] for fmt, report in files.items()}, "latency_s": {}}
    for fmt, kernel, xnnpack in RUNTIMES:
        for threads in (1, 2):
            label = f"{fmt}{'-' + kernel if kernel else ''}{'' if xnnpack or not kernel else ' no-XNNPACK'}/{threads}t"
            _, timings = run_flatbuffer(files[fmt]["path"], images[:1], num_threads=threads, kernel=kernel or "reference",
                                        xnnpack=xnnpack, warmup=args.warmup, repeats=args.repeats)
            result["latency_s"][label] = timings
            print(f"{name} {label}: {timings['median_s']:.3f} s", flush=True)
    result["latency_s"]["keras/2t"] = _keras_latency(model, images[0], args.warmup, args.repeats)
    return result


def markdown_table(report):
    """README tables: file sizes, then median latency per runtime."""
    results = report["results"]
    lines = ["| configuration | LCE | float TFLite | int8 TFLite | float / LCE |", "| --- | --- | --- | --- | --- |"]
    for name, result in results.items():
        sizes = result["size_bytes"]
        lines.append(f"| {name} | {sizes['lce'] / 1e6:.2f} MB | {sizes['float'] / 1e6:.2f} MB | "
                     f"{sizes['int8'] / 1e6:.2f} MB | {sizes['float'] / sizes['lce']:.1f}× |")
    labels = list(next(iter(results.values()))["latency_s"])
    lines += ["", "| configuration | " + " | ".join(labels) + " |", "| --- |" + " --- |" * len(labels)]
    for name, result in results.items():
        cells = [f"{result['latency_s'][label]['median_s'] * 1000:.0f} ms" for label in labels]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Runs the script with command-line arguments ``argv`` (default: sys.argv)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calibration", type=int, default=8, help="synthetic images for int8 calibration")
    parser.add_argument("--out", type=Path, default=RESULTS / "deploy.json")
    args = parser.parse_args(argv)
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as work_dir:
        results = {name: measure(name, args, Path(work_dir)) for name in args.configs}
    report = {
        "command": "python benchmarks/bench_deploy.py " + " ".join(argv),
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "tensorflow": tf.__version__, "note": "x86-64; LCE's kernels target ARM, not measured here"},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown_table(report))
    print(markdown_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
