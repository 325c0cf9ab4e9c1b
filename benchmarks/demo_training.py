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
# Training order: the published bidense models first, then the segmentation comparison (with the
# exactly exportable variant of the deployment issue), then depth's.
RUNS = [
    ("segmentation", "bidense"), ("depth", "bidense"), ("segmentation", "bidense_deployable"),
    ("segmentation", "fp32"), ("segmentation", "bnn"), ("depth", "fp32"), ("depth", "bnn"),
]


def reported_runs():
    """Runs of the committed report made with the current settings (their run folders may be gone)."""
    path = RESULTS / "demo_training.json"
    if not path.exists():
        return {}
    report = json.loads(path.read_text())
    settings = json.loads(json.dumps({"architecture": DEMO_ARCHITECTURE, "recipe": DEMO_RECIPE,
                                      "synthetic_rooms": SYNTHETIC}))
    if any(report.get(key) != value for key, value in settings.items()):
        return {}
    return report.get("runs", {})


def run_all(work_dir, only=None, train=True):
    """Trains each missing run (of ``only``, default all, unless ``train`` is False).

    A run is finished when its ``metrics.json`` exists or the committed report already has it.

    Returns:
        ``{run name: metrics}`` of every finished run.
    """
    from bidense_keras import model_stats
    from bidense_keras.train import experiment
    from bidense_keras.weights import load_folder

    finished = reported_runs()
    for task, binarization in RUNS:
        name = f"{task}_{binarization}"
        run_dir = Path(work_dir) / "runs" / name
        metrics_path = run_dir / "metrics.json"
        if train and name not in finished and not metrics_path.exists() and (not only or name in only):
            print(f"== training {name}", flush=True)
            metrics = experiment.train(
                task, "synthetic_rooms", Path(work_dir) / "data" / task, run_dir,
                binarization=binarization, synthetic=SYNTHETIC, verbose=2, **DEMO_RECIPE, **DEMO_ARCHITECTURE,
            )
            stats = model_stats(load_folder(run_dir / "model"), input_size=DEMO_RECIPE["image_size"])
            metrics.update({"binary_params": stats["binary_params"], "float_params": stats["float_params"]})
            metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
        if metrics_path.exists():
            finished[name] = json.loads(metrics_path.read_text())
    return finished


PRESET_OF_RUN = {
    "segmentation_bidense": "bidense_upernet_demo_rooms_seg",
    "depth_bidense": "bidense_upernet_demo_rooms_depth",
    "segmentation_bidense_deployable": "bidense_deployable_upernet_demo_rooms_seg",
    "segmentation_fp32": "fp32_upernet_demo_rooms_seg",
    "depth_fp32": "fp32_upernet_demo_rooms_depth",
}


def publish(work_dir, finished):
    """Copies each finished run that has a preset into ``weights/<preset>/`` with card and registry entry.

    Runs known only from the committed report (no run folder) keep their published weights; their
    metadata, card and registry entry are refreshed. A folder is replaced as a whole, never half-copied.
    """
    import shutil

    from bidense_keras.files import atomic_folder
    from bidense_keras.publish import update_registry, write_model_card
    from bidense_keras.weights import METADATA_FILE

    for run, preset in PRESET_OF_RUN.items():
        trained, target = Path(work_dir) / "runs" / run / "model", ROOT / "weights" / preset
        if run not in finished or not (trained.is_dir() or target.is_dir()):
            continue
        if trained.is_dir():
            with atomic_folder(target) as partial:
                shutil.copytree(trained, partial, dirs_exist_ok=True)
        task, binarization = run.split("_", 1)
        metadata_path = target / METADATA_FILE
        metadata = json.loads(metadata_path.read_text())
        metadata.update(
            description=f"Demo {task} model (binarization `{binarization}`) trained on procedural synthetic "
            "rooms by bidense_keras: a small ConvNeXt UperNet that shows the pipeline end to end.",
            recipe=f"{DEMO_RECIPE['epochs']} epochs, AdamW + one-cycle (peak lr {DEMO_RECIPE['lr']}), batch "
            f"{DEMO_RECIPE['batch_size']}, crops {DEMO_RECIPE['image_size']}, {SYNTHETIC['train_samples']} "
            "training scenes at 240x320, seed 0 (benchmarks/demo_training.py)",
            metrics={k: v for k, v in finished[run].items() if isinstance(v, (int, float))},
            limits="Trained only on synthetic scenes (9 classes, depth 0.3-10 m): it does not transfer to "
            "real photographs. For real data, train on ADE20K/NYUv2 or convert an official checkpoint.",
        )
        metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
        write_model_card(target)
        update_registry(target)


def _cell(metrics, key, scale=1.0, digits=3):
    return f"{metrics[key] * scale:.{digits}f}" if metrics.get(key) is not None else "—"


def markdown_table(finished):
    """The README table: segmentation and depth metrics per binarization."""
    lines = [
        "| binarization | seg mIoU (%) | seg pixAcc (%) | depth δ1 | depth AbsRel | depth RMSE (m) "
        "| binary params | train time seg / depth (min) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for binarization in ("fp32", "bidense", "bidense_deployable", "bnn"):
        seg = finished.get(f"segmentation_{binarization}", {})
        dep = finished.get(f"depth_{binarization}", {})
        minutes = f"{_cell(seg, 'train_seconds', 1 / 60, 0)} / {_cell(dep, 'train_seconds', 1 / 60, 0)}"
        params = seg.get("binary_params", dep.get("binary_params"))
        params = "—" if params is None else f"{params:,}"
        lines.append(
            f"| {binarization} | {_cell(seg, 'mIoU', 100, 2)} | {_cell(seg, 'pixAcc', 100, 2)} "
            f"| {_cell(dep, 'd1')} | {_cell(dep, 'abs_rel')} | {_cell(dep, 'rmse')} | {params} | {minutes} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Runs the script with command-line arguments ``argv`` (default: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=ROOT / "outputs" / "demo_training")
    parser.add_argument("--only", nargs="*", help="run names, e.g. segmentation_bidense")
    parser.add_argument("--publish", action="store_true", help="copy finished runs to weights/ and pin them")
    parser.add_argument("--skip-training", action="store_true", help="only report (and publish) finished runs")
    args = parser.parse_args(argv)
    finished = run_all(args.work_dir, args.only, train=not args.skip_training)
    if args.publish:
        publish(args.work_dir, finished)
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
