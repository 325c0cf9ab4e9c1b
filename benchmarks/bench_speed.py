"""Speed of the binary simulation against its full-precision twin (issue: fast binary simulation).

Measures, for UperNet with ``binarization="bidense"`` and ``"fp32"`` in the same process:
inference latency (batch 1) at each ``--sizes`` and the training-step time (batch
``--batch`` at ``--train-size``: forward + backward + AdamW update), each as the median
and spread of ``--repeats`` runs after ``--warmup`` runs, plus the peak resident memory
of a process that only runs the train steps (one subprocess per variant).

    python benchmarks/bench_speed.py                      # ConvNeXt-T, writes results/speed.json + .md
    python benchmarks/bench_speed.py --tiny --out /tmp/s.json --max-ratio 3   # a regression guard
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TINY = {"dims": (32, 64, 128, 256), "depths": (1, 1, 1, 1), "features": 64}


def _timings(run, warmup, repeats):
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "runs": repeats,
    }


def _build(args, binarization):
    import bidense_keras as bk

    architecture = TINY if args.tiny else {"backbone": args.backbone}
    return bk.segmentation(binarization=binarization, num_classes=151, **architecture)


def measure_variant(args, binarization):
    """Inference and train-step timings of one variant in this process."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = _build(args, binarization)
    result = {"binarization": binarization, "inference": {}}
    infer = tf.function(lambda x: model(x, training=False), jit_compile=args.jit)
    for size in args.sizes:
        images = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)), tf.float32)
        result["inference"][str(size)] = _timings(lambda: infer(images).numpy(), args.warmup, args.repeats)
    size = args.train_size
    images = np.random.default_rng(1).uniform(0, 255, (args.batch, size, size, 3)).astype("float32")
    labels = np.random.default_rng(2).integers(0, 151, (args.batch, size, size))
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=args.jit,
    )
    result["train_step"] = _timings(lambda: model.train_on_batch(images, labels), args.warmup, args.repeats)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run_worker(argv, binarization):
    """Runs one variant in a fresh process (for a clean peak-memory figure) and returns its dict."""
    command = [sys.executable, __file__, "--worker", binarization, *argv]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def markdown_table(report):
    """The README table of a report."""
    variants = {r["binarization"]: r for r in report["results"]}
    bidense, fp32 = variants["bidense"], variants["fp32"]
    lines = [
        "| measurement | bidense (s) | fp32 (s) | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for size in bidense["inference"]:
        b, f = bidense["inference"][size]["median_s"], fp32["inference"][size]["median_s"]
        lines.append(f"| inference 1×{size}×{size} | {b:.3f} | {f:.3f} | {b / f:.2f} |")
    b, f = bidense["train_step"]["median_s"], fp32["train_step"]["median_s"]
    size, batch = report["config"]["train_size"], report["config"]["batch"]
    lines.append(f"| train step {batch}×{size}×{size} | {b:.3f} | {f:.3f} | {b / f:.2f} |")
    lines.append(
        f"| peak memory of the train process (MB) | {bidense['peak_rss_mb']:.0f} | {fp32['peak_rss_mb']:.0f} | "
        f"{bidense['peak_rss_mb'] / fp32['peak_rss_mb']:.2f} |"
    )
    return "\n".join(lines) + "\n"


def ratios(report):
    """bidense / fp32 median-time ratios by measurement."""
    variants = {r["binarization"]: r for r in report["results"]}
    out = {
        f"inference_{size}": variants["bidense"]["inference"][size]["median_s"]
        / variants["fp32"]["inference"][size]["median_s"]
        for size in variants["bidense"]["inference"]
    }
    out["train_step"] = variants["bidense"]["train_step"]["median_s"] / variants["fp32"]["train_step"]["median_s"]
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="convnext_tiny")
    parser.add_argument("--tiny", action="store_true", help="a small model (for the CI regression guard)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[480, 256])
    parser.add_argument("--train-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--jit", action="store_true", help="compile with XLA")
    parser.add_argument("--out", type=Path, default=RESULTS / "speed.json")
    parser.add_argument("--max-ratio", type=float, help="exit 1 if any bidense/fp32 ratio exceeds this")
    parser.add_argument("--worker", choices=("bidense", "fp32"), help=argparse.SUPPRESS)
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
        "results": [run_worker(argv, variant) for variant in ("bidense", "fp32")],
    }
    report["ratios"] = ratios(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    table = markdown_table(report)
    args.out.with_suffix(".md").write_text(table)
    print(table)
    if args.max_ratio and max(report["ratios"].values()) > args.max_ratio:
        print(f"bidense/fp32 ratio above {args.max_ratio}: {report['ratios']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
