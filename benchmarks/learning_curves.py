"""Learning curves of a demo-training schedule, from each run's ``log.csv``.

    python benchmarks/learning_curves.py --schedule converged

Writes ``benchmarks/results/<report>_curves.json`` (per run, per column of the log: one value per
epoch, null where the epoch did not measure it; a run without a log in the work directory keeps
its curves of the committed report) and ``<report>_curves.png``: per task, the training
and held-out metric against the epoch, one line per binarization. Training metrics are running
means over the epoch's augmented crops; held-out ones (``--validate``, ``val_*``) are measured
after the epoch on the held-out scenes at the training size.
"""

import argparse
import json
import math
import sys
from pathlib import Path

from demo_training import RESULTS, ROOT, SCHEDULES

from bidense_keras.files import atomic_path, write_text_atomic
from bidense_keras.train.recipe import epoch_rows

# The metric plotted per task: (log column, axis label).
PLOTTED = {"segmentation": ("mean_iou", "mIoU"), "depth": ("abs_rel", "AbsRel")}


def read_log(path):
    """``{"epoch": [1, 2, ...], column: [value per epoch]}`` of a ``log.csv`` (which counts epochs from 0).

    The last row of a re-trained epoch counts; NA and NaN are None; a column without any value is left out.
    """
    rows = epoch_rows(path)
    epochs = sorted(rows)
    columns = {column: [_number(rows[epoch].get(column)) for epoch in epochs]
               for column in dict.fromkeys(name for row in rows.values() for name in row) if column != "epoch"}
    return {"epoch": [epoch + 1 for epoch in epochs],
            **{column: values for column, values in columns.items() if any(v is not None for v in values)}}


def _number(text):
    value = None if text in (None, "", "NA") else float(text)
    return None if value is None or math.isnan(value) else value


def _plottable(values):
    return [math.nan if value is None else value for value in values]


def schedule_curves(schedule, work_dir):
    """``{run name: read_log(...)}`` of the runs of ``schedule`` whose log in ``work_dir`` has an epoch."""
    logs = {f"{task}_{binarization}": Path(work_dir) / "runs" / f"{task}_{binarization}" / "log.csv"
            for task, binarization in schedule.runs}
    curves = {run: read_log(path) for run, path in logs.items() if path.is_file()}
    return {run: log for run, log in curves.items() if log["epoch"]}


def reported_curves(path):
    """``{run name: curves}`` of a committed ``<report>_curves.json`` (empty when there is none)."""
    return json.loads(Path(path).read_text())["runs"] if Path(path).is_file() else {}


def plot(curves, path):
    """One panel per task: the :data:`PLOTTED` metric, training (dashed) and held-out (solid) per run."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    tasks = [task for task in PLOTTED if any(run.startswith(task) for run in curves)]
    figure, axes = pyplot.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        column, label = PLOTTED[task]
        runs = [(run, log) for run, log in curves.items() if run.startswith(task)]
        for index, (run, log) in enumerate(runs):
            binarization = run.split("_", 1)[1]
            for key, style, kind in ((column, "--", "train"), (f"val_{column}", "o-", "held-out")):
                if key in log:
                    axis.plot(log["epoch"], _plottable(log[key]), style, color=f"C{index}",
                              label=f"{binarization} {kind}")
        axis.set(title=task, xlabel="epoch", ylabel=label)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    with atomic_path(path) as partial:
        figure.savefig(partial, dpi=100, format="png")
    pyplot.close(figure)


def main(argv=None):
    """Runs the script with command-line arguments ``argv`` (default: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedule", choices=sorted(SCHEDULES), default="converged")
    parser.add_argument("--work-dir", type=Path, help="default: outputs/demo_training/<schedule>")
    args = parser.parse_args(argv)
    schedule = SCHEDULES[args.schedule]
    stem = RESULTS / f"{schedule.report}_curves"
    logged = schedule_curves(schedule, args.work_dir or ROOT / "outputs" / "demo_training" / args.schedule)
    curves = {**reported_curves(stem.with_suffix(".json")), **logged}  # a run's new log replaces its old curves
    if not curves:
        print(f"no run of the {args.schedule} schedule has a log yet", file=sys.stderr)
        return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_text_atomic(stem.with_suffix(".json"), json.dumps(
        {"command": f"python benchmarks/learning_curves.py --schedule {args.schedule}", "runs": curves}, indent=2) + "\n")
    plot(curves, stem.with_suffix(".png"))
    print(f"wrote {stem}.json and {stem}.png ({', '.join(curves)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
