"""Train step, inference and peak memory of UperNet under each Keras backend (TensorFlow, JAX, torch).

For every backend and ``--binarizations`` (default bidense and fp32) one fresh process runs the
backend-neutral worker of benchmarks/bench_speed.py with ``KERAS_BACKEND`` set: a train step of
batch ``--batch`` at ``--size H [W]`` (forward + backward + AdamW; Keras' ``jit_compile="auto"``:
XLA on JAX always and on TensorFlow with a GPU, eager torch; ``tensorflow-xla`` is TensorFlow with
``jit_compile=True``), inference of one image at ``H``² (``predict_on_batch``), the peak resident
memory of the process and, on a GPU, the accelerator's peak. Each time is the median of ``--repeats`` runs after ``--warmup`` runs (compilation included
in the warm-up). On a CPU-only machine the defaults are batch 2 at 256², limited to ``--threads``
threads; with a GPU, pass e.g. ``--batch 8 --size 480``.

    python benchmarks/bench_backends.py                      # results/backends.json + backends.md
    python benchmarks/bench_backends.py --backends jax --batch 8 --size 480 --backbone convnext_tiny
    python benchmarks/bench_backends.py --backbone demo --batch 8 --size 192 256 \
        --backends tensorflow tensorflow-xla jax torch --out benchmarks/results/backends_demo.json
        # the fastest setting for the demo recipe's training (batch 8, 192x256 crops)
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_speed  # noqa: E402  (the worker that measures one variant in one process)
from reports import write_report  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BACKENDS = ("tensorflow", "jax", "torch")
SETTINGS = {**{backend: (backend, []) for backend in BACKENDS}, "tensorflow-xla": ("tensorflow", ["--jit"])}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")


def child_environment(backend, threads):
    """This process's environment with ``KERAS_BACKEND`` (a Keras backend name) and, when ``threads``, CPU thread caps."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if threads:  # JAX's CPU backend has no such cap: it uses every core (2 on the machine measured)
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    return env


def measure(args):
    """One result dict per (backend, binarization), each from its own process."""
    worker_args = ["--backbone", args.backbone, "--train-size", *map(str, args.size), "--sizes", str(args.size[0]),
                   "--batch", str(args.batch), "--warmup", str(args.warmup), "--repeats", str(args.repeats),
                   *(["--tiny"] if args.tiny else [])]
    results = []
    for setting in args.backends:
        backend, flags = SETTINGS[setting]
        env = child_environment(backend, args.threads)
        for binarization in args.binarizations:
            print(f"{setting} {binarization} ...", file=sys.stderr, flush=True)
            result = bench_speed.run_worker([*worker_args, *flags], binarization, env=env)
            results.append({"backend": setting, **result})
    return results


def markdown_table(report):
    """Median seconds and peak memory per backend and binarization, and bidense / fp32 per backend."""
    config = report["config"]
    (height, width), batch = bench_speed.train_size(config["size"]), config["batch"]
    rows = {(r["backend"], r["binarization"]): r for r in report["results"]}
    lines = [f"| backend | binarization | train step {batch}×{height}×{width} (s) | inference 1×{height}² (s) | "
             "peak RSS (MB) | peak accelerator (MB) | train step / own fp32 |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for (backend, binarization), r in rows.items():
        step = r["train_step"]["median_s"]
        fp32 = rows.get((backend, "fp32"))
        ratio = f"{step / fp32['train_step']['median_s']:.2f}" if fp32 else "—"
        accelerator = "—" if r.get("peak_accelerator_mb") is None else f"{r['peak_accelerator_mb']:.0f}"
        lines.append(f"| {backend} | {binarization} | {step:.3f} | {r['inference'][str(height)]['median_s']:.3f} | "
                     f"{r['peak_rss_mb']:.0f} | {accelerator} | {ratio} |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=SETTINGS,
                        help="Keras backends, and tensorflow-xla (TensorFlow with jit_compile=True)")
    parser.add_argument("--binarizations", nargs="+", default=["bidense", "fp32"], choices=bench_speed.VARIANTS)
    parser.add_argument("--backbone", default="convnext_tiny", choices=bench_speed.UPERNET_BACKBONES)
    parser.add_argument("--tiny", action="store_true", help="a small model instead of --backbone (a smoke run)")
    parser.add_argument("--size", type=int, nargs="+", default=[256], metavar="H [W]")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per process (0: the library default)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "backends.json")
    return parser.parse_args(argv)


def main(argv=None):
    """Runs the benchmark with command-line arguments ``argv`` (default: sys.argv)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    report = {
        "command": "python benchmarks/bench_backends.py " + " ".join(argv),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cpu_count": os.cpu_count()},
        "results": measure(args),  # each with its process's versions and devices ("environment")
    }
    return write_report(args.out, report, markdown_table(report))


if __name__ == "__main__":
    sys.exit(main())
