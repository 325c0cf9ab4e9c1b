"""Learning curves of a demo-training schedule, from each run's ``log.csv``.

    python benchmarks/learning_curves.py --schedule converged

Writes ``benchmarks/results/<report>_curves.json`` (per run, per column of the log: one value per
epoch, null where the epoch did not measure it) and ``<report>_curves.png``: per task, the training
and held-out metric against the epoch, one line per binarization. Training metrics are running
means over the epoch's augmented crops; held-out ones (``--validate``, ``val_*``) are measured
after the epoch on the held-out scenes at the training size.
"""

import argparse
import csv
import json
import math
import sys
from pathlib import Path

from demo_training import RESULTS, ROOT, SCHEDULES

# The metric plotted per task: (log column, axis label).
PLOTTED = {"segmentation": ("mean_iou", "mIoU"), "depth": ("abs_rel", "AbsRel")}


def read_log(path):
    """``{column: [value per epoch]}`` of a ``log.csv``; the last row of a re-trained epoch counts, NA is None."""
    with open(path, newline="") as file:
        rows = {int(row["epoch"]): row for row in csv.DictReader(file)}
    epochs = sorted(rows)
    columns = [column for column in rows[epochs[0]] if column != "epoch"] if epochs else []
    return {"epoch": [epoch + 1 for epoch in epochs],
            **{column: [_number(rows[epoch].get(column)) for epoch in epochs] for column in columns}}


def _number(text):
    return None if text in (None, "", "NA") else float(text)


def _plottable(values):
    return [math.nan if value is None else value for value in values]


def schedule_curves(schedule, work_dir):
    """``{run name: read_log(...)}`` of the runs of ``schedule`` that have a log in ``work_dir``."""
    logs = {f"{task}_{binarization}": Path(work_dir) / "runs" / f"{task}_{binarization}" / "log.csv"
            for task, binarization in schedule.runs}
    return {run: read_log(path) for run, path in logs.items() if path.is_file()}


def plot(curves, path):
    """One panel per task: the :data:`PLOTTED` metric, training (dashed) and held-out (solid) per run."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    tasks = [task for task in PLOTTED if any(run.startswith(task) for run in curves)]
    figure, axes = pyplot.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        column, label = PLOTTED[task]
        for run, log in curves.items():
            if not run.startswith(task):
                continue
            binarization = run.split("_", 1)[1]
            line, = axis.plot(log["epoch"], _plottable(log[column]), "--", label=f"{binarization} train")
            if f"val_{column}" in log:
                axis.plot(log["epoch"], _plottable(log[f"val_{column}"]), "o-", color=line.get_color(),
                          label=f"{binarization} held-out")
        axis.set(title=task, xlabel="epoch", ylabel=label)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def main(argv=None):
    """Runs the script with command-line arguments ``argv`` (default: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedule", choices=sorted(SCHEDULES), default="converged")
    parser.add_argument("--work-dir", type=Path, help="default: outputs/demo_training/<schedule>")
    args = parser.parse_args(argv)
    schedule = SCHEDULES[args.schedule]
    curves = schedule_curves(schedule, args.work_dir or ROOT / "outputs" / "demo_training" / args.schedule)
    if not curves:
        print(f"no run of the {args.schedule} schedule has a log yet", file=sys.stderr)
        return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"{schedule.report}_curves"
    stem.with_suffix(".json").write_text(json.dumps(
        {"command": f"python benchmarks/learning_curves.py --schedule {args.schedule}", "runs": curves}, indent=2) + "\n")
    plot(curves, stem.with_suffix(".png"))
    print(f"wrote {stem}.json and {stem}.png ({', '.join(curves)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
