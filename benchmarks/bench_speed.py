"""Speed of the binary simulation against its full-precision twin (issue: fast binary simulation).

Measures, for UperNet with ``binarization="fp32"`` and each of ``--variants`` (default
``bidense``), one fresh subprocess per variant: the training-step time (batch ``--batch``
at ``--train-size``: forward + backward + AdamW update) and the process's peak resident
memory after it (and the accelerator's peak, on a GPU), then inference latency (batch 1,
``predict_on_batch``: tf.function / jax.jit / eager torch) at each ``--sizes``; each time is the
median and spread of ``--repeats`` runs after ``--warmup`` runs. Ratios are to fp32. The worker
is backend-neutral: benchmarks/bench_backends.py runs it under each ``KERAS_BACKEND``.

    python benchmarks/bench_speed.py                      # ConvNeXt-T, writes results/speed.json + .md
    python benchmarks/bench_speed.py --variants bidense bnn dab cfb   # where the cost goes (ablation)
    python benchmarks/bench_speed.py --tiny --out /tmp/s.json --max-ratio 3   # a regression guard
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = ("fp32", "bidense", "bnn", "dab", "cfb", "bidense_deployable")
TINY = {"dims": (32, 64, 128, 256), "depths": (1, 1, 1, 1), "features": 64}
UPERNET_BACKBONES = ("convnext_tiny", "convnext_small", "convnext_base", "demo")  # tests check presets has them


def _build(args, binarization):
    import bidense_keras as bk
    from bidense_keras.presets import BACKBONES

    architecture = TINY if args.tiny else BACKBONES[args.backbone][1]
    return bk.segmentation(binarization=binarization, num_classes=151, **architecture)


def train_size(sizes):
    """``(height, width)`` of ``--train-size H [W]`` (one number: a square)."""
    return sizes[0], sizes[-1]


def measure_variant(args, binarization):
    """Inference and train-step timings of one variant in this process."""
    import keras
    import numpy as np

    from bidense_keras.backends import describe, peak_accelerator_memory_mb
    from bidense_keras.export.lce_worker import time_runs

    keras.utils.set_random_seed(0)
    model = _build(args, binarization)
    result = {"binarization": binarization, "environment": describe(), "inference": {}}
    height, width = train_size(args.train_size)
    images = np.random.default_rng(1).uniform(0, 255, (args.batch, height, width, 3)).astype("float32")
    labels = np.random.default_rng(2).integers(0, 151, (args.batch, height, width))
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True if args.jit else "auto",  # auto: XLA on JAX and on a TF GPU, eager torch
    )
    result["train_step"] = time_runs(lambda: model.train_on_batch(images, labels), args.warmup, args.repeats)
    result["jit_compile"] = bool(model.jit_compile)  # "auto" as the backend resolved it
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before inference runs
    result["peak_accelerator_mb"] = peak_accelerator_memory_mb()
    for size in args.sizes:
        images = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype("float32")
        result["inference"][str(size)] = time_runs(lambda: model.predict_on_batch(images), args.warmup, args.repeats)
    return result


def run_worker(argv, binarization, env=None):
    """Runs one variant in a fresh process (for a clean peak-memory figure) and returns its dict.

    ``env``: the child's environment (e.g. another ``KERAS_BACKEND``); default this process's.
    """
    command = [sys.executable, __file__, "--worker", binarization, *argv]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(result, measurement):
    """Median seconds of ``measurement`` ("train_step" or an inference size) in one variant's result."""
    timing = result["train_step"] if measurement == "train_step" else result["inference"][measurement]
    return timing["median_s"]


def _measurements(report):
    sizes = list(report["results"][0]["inference"])
    return [*sizes, "train_step"]


def markdown_table(report):
    """The README table of a report: median seconds per variant and each variant's ratio to fp32."""
    variants = {r["binarization"]: r for r in report["results"]}
    others = [name for name in variants if name != "fp32"]
    (height, width), batch = train_size(report["config"]["train_size"]), report["config"]["batch"]
    lines = [
        "| measurement | fp32 (s) | " + " | ".join(f"{name} (s) | {name}/fp32" for name in others) + " |",
        "| --- | --- | " + " | ".join("--- | ---" for _ in others) + " |",
    ]
    for measurement in _measurements(report):
        label = (f"train step {batch}×{height}×{width}" if measurement == "train_step"
                 else f"inference 1×{measurement}×{measurement}")
        reference = _median(variants["fp32"], measurement)
        cells = [f"{_median(variants[name], measurement):.3f} | {_median(variants[name], measurement) / reference:.2f}"
                 for name in others]
        lines.append(f"| {label} | {reference:.3f} | " + " | ".join(cells) + " |")
    memory = [f"{variants[name]['peak_rss_mb']:.0f} | {variants[name]['peak_rss_mb'] / variants['fp32']['peak_rss_mb']:.2f}"
              for name in others]
    lines.append(f"| peak memory of the train process (MB) | {variants['fp32']['peak_rss_mb']:.0f} | "
                 + " | ".join(memory) + " |")
    return "\n".join(lines) + "\n"


def ratios(report, variant="bidense"):
    """``variant`` / fp32 median-time ratios by measurement."""
    variants = {r["binarization"]: r for r in report["results"]}
    names = {measurement: measurement if measurement == "train_step" else f"inference_{measurement}"
             for measurement in _measurements(report)}
    return {names[m]: _median(variants[variant], m) / _median(variants["fp32"], m) for m in names}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="convnext_tiny", choices=UPERNET_BACKBONES,
                        help="a UperNet row of presets.BACKBONES (demo: the demo models' architecture)")
    parser.add_argument("--tiny", action="store_true", help="a small model (for the CI regression guard)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[480, 256])
    parser.add_argument("--train-size", type=int, nargs="+", default=[256], metavar="H [W]")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--jit", action="store_true", help="compile with XLA")
    parser.add_argument("--out", type=Path, default=RESULTS / "speed.json")
    parser.add_argument("--max-ratio", type=float, help="exit 1 if any bidense/fp32 ratio exceeds this")
    parser.add_argument("--variants", nargs="+", default=["bidense", "fp32"], choices=VARIANTS,
                        help="binarizations to time (fp32 is always added as the reference)")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    """Runs the script with command-line arguments ``argv`` (default: sys.argv)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(measure_variant(args, args.worker)))
        return 0
    import tensorflow as tf

    report = {
        "command": "python benchmarks/bench_speed.py " + " ".join(argv),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "worker"},
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "tensorflow": tf.__version__,
            "threads": "TensorFlow defaults (intra/inter-op = all cores)",
        },
        "results": [run_worker(argv, variant) for variant in dict.fromkeys(["fp32", *args.variants])],
    }
    report["ratios"] = {r["binarization"]: ratios(report, r["binarization"]) for r in report["results"]
                        if r["binarization"] != "fp32"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    table = markdown_table(report)
    args.out.with_suffix(".md").write_text(table)
    print(table)
    if args.max_ratio and max(report["ratios"]["bidense"].values()) > args.max_ratio:
        print(f"bidense/fp32 ratio above {args.max_ratio}: {report['ratios']['bidense']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
