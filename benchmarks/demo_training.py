"""Trains the demo weights on synthetic_rooms and writes the comparison table.

Runs every (task, binarization) of ``RUNS`` with the same data, schedule and seed,
one after the other; a finished run (``metrics.json`` present) is skipped and an
interrupted one resumes from its backup, so the script can be restarted at will:

    nohup python benchmarks/demo_training.py > demo_training.log 2>&1 &

Results: ``runs/<task>_<binarization>/`` (model folder, log.csv, metrics.json) and
``benchmarks/results/demo_training.json`` + ``.md``.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEMO_ARCHITECTURE = {"dims": (32, 64, 128, 256), "depths": (1, 1, 3, 1), "features": 64}
DEMO_RECIPE = {"epochs": 5, "batch_size": 8, "lr": 1e-3, "image_size": (192, 256), "seed": 0}
SYNTHETIC = {"train_samples": 2000, "val_samples": 200, "height": 240, "width": 320}
RUNS = [(task, binarization) for binarization in ("bidense", "fp32", "bnn") for task in ("segmentation", "depth")]


def run_all(work_dir, only=None):
    """Trains each missing run; returns ``{run name: metrics}`` of the finished ones."""
    from bidense_keras import model_stats
    from bidense_keras.train import experiment
    from bidense_keras.weights import load_pretrained

    finished = {}
    for task, binarization in RUNS:
        name = f"{task}_{binarization}"
        if only and name not in only:
            continue
        run_dir = Path(work_dir) / "runs" / name
        metrics_path = run_dir / "metrics.json"
        if not metrics_path.exists():
            print(f"== training {name}", flush=True)
            metrics = experiment.train(
                task, "synthetic_rooms", Path(work_dir) / "data" / task, run_dir,
                binarization=binarization, synthetic=SYNTHETIC, verbose=2, **DEMO_RECIPE, **DEMO_ARCHITECTURE,
            )
            stats = model_stats(load_pretrained(run_dir / "model"), input_size=DEMO_RECIPE["image_size"])
            metrics.update({"binary_params": stats["binary_params"], "float_params": stats["float_params"]})
            metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
        finished[name] = json.loads(metrics_path.read_text())
    return finished


def _cell(metrics, key, scale=1.0, digits=3):
    return f"{metrics[key] * scale:.{digits}f}" if key in metrics else "—"


def markdown_table(finished):
    """The README table: segmentation and depth metrics per binarization."""
    lines = [
        "| binarization | seg mIoU (%) | seg pixAcc (%) | depth δ1 | depth AbsRel | depth RMSE (m) "
        "| binary params | train time (seg + depth) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for binarization in ("fp32", "bidense", "bnn"):
        seg = finished.get(f"segmentation_{binarization}", {})
        dep = finished.get(f"depth_{binarization}", {})
        minutes = sum(m.get("train_seconds", 0) for m in (seg, dep)) / 60
        params = seg.get("binary_params", dep.get("binary_params"))
        params = "—" if params is None else f"{params:,}"
        lines.append(
            f"| {binarization} | {_cell(seg, 'mIoU', 100, 2)} | {_cell(seg, 'pixAcc', 100, 2)} "
            f"| {_cell(dep, 'd1')} | {_cell(dep, 'abs_rel')} | {_cell(dep, 'rmse')} | {params} | {minutes:.0f} min |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=ROOT / "outputs" / "demo_training")
    parser.add_argument("--only", nargs="*", help="run names, e.g. segmentation_bidense")
    args = parser.parse_args(argv)
    finished = run_all(args.work_dir, args.only)
    report = {
        "command": "python benchmarks/demo_training.py",
        "architecture": DEMO_ARCHITECTURE,
        "recipe": DEMO_RECIPE,
        "synthetic_rooms": SYNTHETIC,
        "runs": finished,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "demo_training.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "demo_training.md").write_text(markdown_table(finished))
    print(markdown_table(finished))
    return 0


if __name__ == "__main__":
    sys.exit(main())
