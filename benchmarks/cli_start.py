"""How fast the ``bidense-keras`` command answers: help, a usage error, the presets, a command that needs Keras.

Each command runs ``--runs`` times in a fresh process (wall time, median and fastest). Help and usage
errors answer before Keras is imported (the entry point, ``bidense_keras_command``, asks the package
to leave the models out while the arguments parse), and so do ``presets`` and ``lce-runtime``, which
need no model; the rows that import Keras show what that saves.

    python benchmarks/cli_start.py            # writes results/cli_start.json + .md
"""

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from reports import write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
COMMAND = shutil.which("bidense-keras") or str(Path(sys.executable).with_name("bidense-keras"))
CASES = {  # what is timed: {label: (argv, exit code it must give)}
    "bidense-keras --help": ([COMMAND, "--help"], 0),
    "bidense-keras train --help": ([COMMAND, "train", "--help"], 0),
    "bidense-keras train --task seg (usage error)": ([COMMAND, "train", "--task", "seg"], 2),
    "bidense-keras presets": ([COMMAND, "presets"], 0),
    "bidense-keras info (imports Keras: versions and devices)": ([COMMAND, "info"], 0),
    "python -m bidense_keras.cli --help (package imported first: Keras)": (
        [sys.executable, "-m", "bidense_keras.cli", "--help"], 0),
    "python -c 'import bidense_keras' (the library)": ([sys.executable, "-c", "import bidense_keras"], 0),
}


def wall_times(argv, code, runs):
    """Seconds of ``runs`` fresh runs of ``argv``; a RuntimeError if one does not exit with ``code``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env={"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ})
        times.append(time.perf_counter() - start)
        if done.returncode != code:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}, not {code}: {done.stderr[-500:]}")
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per command")
    parser.add_argument("--out", type=Path, default=RESULTS / "cli_start.json")
    args = parser.parse_args(argv)
    rows = []
    for label, (command, code) in CASES.items():
        times = wall_times(command, code, args.runs)
        rows.append({"command": label, "median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3)})
    from bidense_keras.backends import machine

    report = {"date": datetime.date.today().isoformat(), "machine": machine(), "runs": args.runs,
              "command": "python benchmarks/cli_start.py", "rows": rows}
    table = "\n".join([f"Wall time of a fresh process, {args.runs} runs ({report['date']}, {report['machine']}).", "",
                       "| command | median (s) | fastest (s) |", "| --- | --- | --- |",
                       *(f"| `{row['command']}` | {row['median_s']:.2f} | {row['min_s']:.2f} |" for row in rows)]) + "\n"
    return write_report(args.out, report, table)


if __name__ == "__main__":
    sys.exit(main())
