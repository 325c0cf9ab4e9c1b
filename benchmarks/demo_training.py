"""Trains the demo weights on synthetic_rooms and writes the comparison table.

The schedules share the paper's recipe (AdamW + one-cycle):

- ``ablation``: the demo UperNet, 5 epochs over 2,000 scenes (1,250 steps), every binarization: the ablation table.
- ``converged``: the demo UperNet, 10 epochs over 10,000 scenes (12,500 steps), bidense and fp32: the default presets.
- ``dpt``: the demo DPT (a 4-block ViT of width 192), the ``ablation`` recipe, bidense and fp32: the
  UperNet-vs-DPT comparison.

Runs of a schedule go one after the other with the same data, schedule and seed; a finished
run (``metrics.json`` present, or in the committed report) is skipped and an interrupted one
resumes from its backup, so the script can be restarted at will:

    nohup python benchmarks/demo_training.py --schedule converged > converged.log 2>&1 &

``--retrain --only RUN`` trains a run the committed report already has (e.g. to publish its
weights when the run folder is gone).

Results: ``<work-dir>/runs/<task>_<binarization>/`` (model folder, log.csv, metrics.json) and
``benchmarks/results/<report>.json`` + ``.md``.
"""

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEMO_RECIPE = {"epochs": 5, "batch_size": 8, "lr": 1e-3, "image_size": (192, 256), "seed": 0}
SYNTHETIC = {"train_samples": 2000, "val_samples": 200, "height": 240, "width": 320}


@dataclass(frozen=True)
class Schedule:
    """One training schedule: its recipe, data, runs (task, binarization), the presets they publish, the model."""

    report: str
    recipe: dict
    synthetic: dict
    runs: tuple
    presets: dict
    backbone: str = "demo"  # a row of presets.BACKBONES: the model family and its arguments
    validate: bool = False  # held-out loss and metrics after each epoch (learning curves in log.csv)

    @property
    def family(self):
        """The model family of every run ("upernet" or "dpt")."""
        from bidense_keras.presets import BACKBONES

        return BACKBONES[self.backbone][0]

    @property
    def model(self):
        """The model family's arguments of every run."""
        from bidense_keras.presets import BACKBONES

        return BACKBONES[self.backbone][1]


SCHEDULES = {
    # Training order: the published bidense models first, then the segmentation comparison (with the
    # exactly exportable variant of the deployment issue), then depth's.
    "ablation": Schedule(
        report="demo_training", recipe=DEMO_RECIPE, synthetic=SYNTHETIC,
        runs=(("segmentation", "bidense"), ("depth", "bidense"), ("segmentation", "bidense_deployable"),
              ("segmentation", "fp32"), ("segmentation", "bnn"), ("depth", "fp32"), ("depth", "bnn")),
        presets={
            "segmentation_bidense": "bidense_upernet_demo_rooms_seg_5ep",
            "depth_bidense": "bidense_upernet_demo_rooms_depth_5ep",
            "segmentation_bidense_deployable": "bidense_deployable_upernet_demo_rooms_seg",
            "segmentation_fp32": "fp32_upernet_demo_rooms_seg_5ep",
            "depth_fp32": "fp32_upernet_demo_rooms_depth_5ep",
        },
    ),
    "converged": Schedule(
        report="demo_training_converged", recipe={**DEMO_RECIPE, "epochs": 10},
        synthetic={**SYNTHETIC, "train_samples": 10000},
        runs=(("segmentation", "bidense"), ("depth", "bidense"), ("segmentation", "fp32"), ("depth", "fp32")),
        presets={
            "segmentation_bidense": "bidense_upernet_demo_rooms_seg",
            "depth_bidense": "bidense_upernet_demo_rooms_depth",
            "segmentation_fp32": "fp32_upernet_demo_rooms_seg",
            "depth_fp32": "fp32_upernet_demo_rooms_depth",
        },
        validate=True,
    ),
    "dpt": Schedule(
        report="demo_training_dpt", recipe=DEMO_RECIPE, synthetic=SYNTHETIC,
        runs=(("segmentation", "bidense"), ("depth", "bidense"), ("segmentation", "fp32"), ("depth", "fp32")),
        presets={
            "segmentation_bidense": "bidense_dpt_demo_rooms_seg",
            "depth_bidense": "bidense_dpt_demo_rooms_depth",
            "segmentation_fp32": "fp32_dpt_demo_rooms_seg",
            "depth_fp32": "fp32_dpt_demo_rooms_depth",
        },
        backbone="vit_demo",
    ),
}


def settings(schedule):
    """What a report of ``schedule`` records about how its runs were made (JSON types)."""
    family = {} if schedule.family == "upernet" else {"family": schedule.family}
    return json.loads(json.dumps({**family, "architecture": schedule.model, "recipe": schedule.recipe,
                                  "synthetic_rooms": schedule.synthetic}))


def reported_runs(schedule):
    """Runs of the committed report of ``schedule`` made with its current settings (run folders may be gone)."""
    path = RESULTS / f"{schedule.report}.json"
    if not path.exists():
        return {}
    report = json.loads(path.read_text())
    if any(report.get(key) != value for key, value in settings(schedule).items()):
        return {}
    return report.get("runs", {})


def run_all(schedule, work_dir, only=None, train=True, retrain=False):
    """Trains each missing run of ``schedule`` (of ``only``, default all, unless ``train`` is False).

    A run is finished when its ``metrics.json`` exists or the committed report already has it (with
    ``retrain``, the report's entries of the runs asked for are forgotten, so they train again unless
    their run folder already holds a ``metrics.json``: that of the new run, which resumes).

    Returns:
        ``{run name: metrics}`` of every finished run.
    """
    from bidense_keras import model_stats
    from bidense_keras.train import experiment
    from bidense_keras.weights import load_folder

    finished = {name: metrics for name, metrics in reported_runs(schedule).items()
                if not (retrain and (not only or name in only))}
    for task, binarization in schedule.runs:
        name = f"{task}_{binarization}"
        run_dir = Path(work_dir) / "runs" / name
        metrics_path = run_dir / "metrics.json"
        if train and name not in finished and not metrics_path.exists() and (not only or name in only):
            print(f"== training {name}", flush=True)
            metrics = experiment.train(
                task, "synthetic_rooms", Path(work_dir) / "data" / task, run_dir,
                binarization=binarization, synthetic=schedule.synthetic, verbose=2, **schedule.recipe,
                architecture=schedule.family, validate=schedule.validate, **schedule.model,
            )
            metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
        if metrics_path.exists():
            metrics = json.loads(metrics_path.read_text())
            if (run_dir / "model").is_dir():  # counted by the current model_stats, whatever counted them before
                stats = model_stats(load_folder(run_dir / "model"), input_size=schedule.recipe["image_size"])
                metrics.update({"binary_params": stats["binary_params"], "float_params": stats["float_params"]})
                metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
            finished[name] = metrics
    return finished


def recipe_line(schedule):
    """The recipe of ``schedule`` in one sentence, for the model cards."""
    recipe, data = schedule.recipe, schedule.synthetic
    steps = recipe["epochs"] * (data["train_samples"] // recipe["batch_size"])
    return (f"{recipe['epochs']} epochs ({steps} steps), AdamW + one-cycle (peak lr {recipe['lr']}), batch "
            f"{recipe['batch_size']}, crops {tuple(recipe['image_size'])}, {data['train_samples']} training scenes "
            f"at {data['height']}x{data['width']}, seed {recipe['seed']} (benchmarks/demo_training.py "
            f"--schedule {schedule_name(schedule)})")


def schedule_name(schedule):
    """The key of ``schedule`` in :data:`SCHEDULES`."""
    return next(name for name, known in SCHEDULES.items() if known is schedule)


def publish(schedule, work_dir, finished, only=None):
    """Copies each finished run of ``schedule`` (of ``only``, default all) that has a preset into ``weights/<preset>/``.

    The card and the registry entry are rewritten, and new weights get a new quick check. Runs known
    only from the committed report (no run folder) keep their published weights; their metadata, card
    and registry entry are refreshed, unless the card records another run (another training time):
    then the folder is left alone. A folder is replaced as a whole, never half-copied. A folder
    published packed stays packed: new weights are packed before they replace it, and its card's
    metrics are measured again (packing changes them); without new weights its measured metrics stay.
    """
    import shutil

    from bidense_keras.files import atomic_folder
    from bidense_keras.publish import (pack_folder, record_held_out_metrics, record_quick_check, update_registry,
                                       write_model_card)
    from bidense_keras.weights import FOLDER_FILES, METADATA_FILE, PACKED_FILE

    for run, preset in schedule.presets.items():
        trained, target = Path(work_dir) / "runs" / run / "model", ROOT / "weights" / preset
        if (only and run not in only) or run not in finished or not (trained.is_dir() or target.is_dir()):
            continue
        packed, copied = (target / PACKED_FILE).is_file(), trained.is_dir()
        if copied:
            with atomic_folder(target, FOLDER_FILES) as partial:
                shutil.copytree(trained, partial, dirs_exist_ok=True)
                if packed:
                    pack_folder(partial)
        task, binarization = run.split("_", 1)
        metadata_path = target / METADATA_FILE
        metadata = json.loads(metadata_path.read_text())
        recorded = metadata.get("metrics", {}).get("train_seconds")  # a run's training time fingerprints it
        if not copied and recorded not in (None, finished[run].get("train_seconds")):
            print(f"{preset}: kept as it is, its weights come from another run than the report's {run}", flush=True)
            continue
        metadata.update(
            description=f"Demo {task} model (binarization `{binarization}`) trained on procedural synthetic "
            f"rooms by bidense_keras: a small {FAMILY_WORDS[schedule.family]} that shows the pipeline end to end.",
            recipe=recipe_line(schedule),
            limits="Trained only on synthetic scenes (9 classes, depth 0.3-10 m): it does not transfer to "
            "real photographs. For real data, train on ADE20K/NYUv2 or convert an official checkpoint.",
        )
        if copied or not packed:  # a packed folder's metrics were measured after packing
            metadata["metrics"] = {k: v for k, v in finished[run].items() if isinstance(v, (int, float))}
        metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
        if copied:
            if packed:
                record_held_out_metrics(target, Path(work_dir) / "publish_check")
            record_quick_check(target, Path(work_dir) / "publish_check")
        write_model_card(target)
        update_registry(target)


FAMILY_WORDS = {"upernet": "ConvNeXt UperNet", "dpt": "binary-ViT DPT"}


def _cell(metrics, key, scale=1.0, digits=3):
    return f"{metrics[key] * scale:.{digits}f}" if metrics.get(key) is not None else "—"


BINARIZATION_ROWS = ("fp32", "bidense", "bidense_deployable", "bnn")


def markdown_table(finished, binarizations=BINARIZATION_ROWS):
    """The README table: segmentation and depth metrics, one row per binarization of ``binarizations``."""
    lines = [
        "| binarization | seg mIoU (%) | seg pixAcc (%) | depth δ1 | depth AbsRel | depth RMSE (m) "
        "| binary params | train time seg / depth (min) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for binarization in binarizations:
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


def family_table(reports):
    """The README's UperNet-vs-DPT table: ``reports`` is ``{family: {run name: metrics}}`` (same recipe and data)."""
    lines = ["| model | binarization | seg mIoU (%) | seg pixAcc (%) | depth δ1 | depth AbsRel | binary / float params "
             "| train time seg / depth (min) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for family, finished in reports.items():
        for binarization in ("bidense", "fp32"):
            seg = finished.get(f"segmentation_{binarization}", {})
            dep = finished.get(f"depth_{binarization}", {})
            counted = seg if "binary_params" in seg else dep
            params = (f"{counted['binary_params']:,} / {counted['float_params']:,}" if "binary_params" in counted
                      else "—")
            minutes = f"{_cell(seg, 'train_seconds', 1 / 60, 0)} / {_cell(dep, 'train_seconds', 1 / 60, 0)}"
            lines.append(f"| {FAMILY_WORDS[family]} | {binarization} | {_cell(seg, 'mIoU', 100, 2)} "
                         f"| {_cell(seg, 'pixAcc', 100, 2)} | {_cell(dep, 'd1')} | {_cell(dep, 'abs_rel')} | {params} "
                         f"| {minutes} |")
    return "\n".join(lines) + "\n"


def _write_family_table():
    """``results/demo_families.md`` from the ablation (UperNet) and dpt reports, when both exist."""
    paths = {"upernet": RESULTS / "demo_training.json", "dpt": RESULTS / "demo_training_dpt.json"}
    if all(path.exists() for path in paths.values()):
        reports = {family: json.loads(path.read_text())["runs"] for family, path in paths.items()}
        (RESULTS / "demo_families.md").write_text(family_table(reports))


def main(argv=None):
    """Runs the script with command-line arguments ``argv`` (default: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedule", choices=sorted(SCHEDULES), default="ablation")
    parser.add_argument("--work-dir", type=Path, help="default: outputs/demo_training/<schedule>")
    parser.add_argument("--only", nargs="*", help="run names to train (and publish), e.g. segmentation_bidense")
    parser.add_argument("--publish", action="store_true", help="copy finished runs to weights/ and pin them")
    parser.add_argument("--skip-training", action="store_true", help="only report (and publish) finished runs")
    parser.add_argument("--retrain", action="store_true",
                        help="train the runs of --only again even if the committed report has them")
    args = parser.parse_args(argv)
    if args.retrain and (args.skip_training or not args.only):
        parser.error("--retrain trains the runs named by --only again: give --only RUN ..., without --skip-training")
    schedule = SCHEDULES[args.schedule]
    work_dir = args.work_dir or ROOT / "outputs" / "demo_training" / args.schedule
    finished = run_all(schedule, work_dir, args.only, train=not args.skip_training, retrain=args.retrain)
    if args.publish:
        publish(schedule, work_dir, finished, args.only)
    report = {"command": f"python benchmarks/demo_training.py --schedule {args.schedule}", **settings(schedule),
              "runs": finished}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{schedule.report}.json").write_text(json.dumps(report, indent=2) + "\n")
    trained = {binarization for _, binarization in schedule.runs}
    table = markdown_table(finished, [binarization for binarization in BINARIZATION_ROWS if binarization in trained])
    (RESULTS / f"{schedule.report}.md").write_text(table)
    _write_family_table()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
