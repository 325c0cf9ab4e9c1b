"""Memory of one ``predict`` call against image size: what ``predict``'s pixel limit is based on.

For each model and square size, a fresh process loads the model, runs one warm-up prediction at 64 px,
then predicts one image of the size; the figure is the growth of the process's peak resident memory
(``ru_maxrss``) divided by the pixels. ``bidense_keras.predict.MAX_PREDICT_PIXELS`` and the memory
its message names come from these figures.

    python benchmarks/predict_memory.py            # writes results/predict_memory.json + .md
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from reports import write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CASES = {"bidense_upernet_demo_rooms_seg": (512, 1024, 1536), "bidense_upernet_demo_rooms_depth": (1024,),
         "bidense_dpt_demo_rooms_depth": (518, 1022)}
CHILD = """
import json, resource, sys
import numpy as np
import bidense_keras as bk
model = bk.load(sys.argv[1])
size = int(sys.argv[2])
model.predict(np.full((1, 64, 64, 3), 100, np.float32), verbose=0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
model.predict(np.full((1, size, size, 3), 100, np.float32), verbose=0)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_mb": before / 1024, "after_mb": after / 1024}))
"""


def measure(preset, size):
    """``{"before_mb", "after_mb", "bytes_per_pixel"}`` of one prediction at ``size`` x ``size`` in a new process."""
    done = subprocess.run([sys.executable, "-c", CHILD, preset, str(size)], capture_output=True, text=True,
                          check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", **os.environ})
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["bytes_per_pixel"] = round((figures["after_mb"] - figures["before_mb"]) * 2**20 / size**2)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "predict_memory.json")
    args = parser.parse_args(argv)
    from bidense_keras.backends import machine

    rows = [{"model": preset, "size": size, **measure(preset, size)} for preset, sizes in CASES.items()
            for size in sizes]
    report = {"date": datetime.date.today().isoformat(), "machine": machine(),
              "command": "python benchmarks/predict_memory.py", "rows": rows}
    table = "\n".join(["| model | image | peak before (MB) | peak after (MB) | bytes per pixel |",
                       "| --- | --- | --- | --- | --- |",
                       *(f"| {row['model']} | {row['size']}x{row['size']} | {row['before_mb']:.0f} | "
                         f"{row['after_mb']:.0f} | {row['bytes_per_pixel']} |" for row in rows)]) + "\n"
    return write_report(args.out, report, table)


if __name__ == "__main__":
    sys.exit(main())
