"""The deployment picture of the docs: flatbuffer size and x86 latency per format, from ``results/deploy.json``.

Draws what ``benchmarks/bench_deploy.py`` measured (nothing is measured here): the LCE, float TFLite and
int8 TFLite sizes, and the fastest one- and two-thread latency of each format.

    python benchmarks/deploy_figure.py         # writes docs/images/deploy.png
"""

import argparse
import json
import sys
from pathlib import Path

from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[1]
FORMATS = {"lce": "LCE (bitpacked)", "float": "float TFLite", "int8": "int8 TFLite"}
LATENCY_KEYS = {"lce": "lce-indirect_bgemm/{threads}t", "float": "float/{threads}t", "int8": "int8/{threads}t"}


def deploy_figure(report):
    """A two-panel figure: size in MB and latency in ms (1 and 2 threads) per configuration and format."""
    results = report["results"]
    names = list(results)
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    size_axes, latency_axes = figure.subplots(1, 2)
    width = 0.8 / len(FORMATS)
    for index, (key, label) in enumerate(FORMATS.items()):
        positions = [n + (index - 1) * width for n in range(len(names))]
        size_axes.bar(positions, [results[name]["size_bytes"][key] / 1e6 for name in names], width, label=label)
        latency = [1e3 * min(results[name]["latency_s"][LATENCY_KEYS[key].format(threads=t)]["median_s"]
                             for t in (1, 2)) for name in names]
        latency_axes.bar(positions, latency, width, label=label)
    for axes, title in ((size_axes, "flatbuffer size (MB, log scale)"), (latency_axes,
                        "x86 latency, best of 1-2 threads (ms, log scale)")):
        axes.set_xticks(range(len(names)), names)
        axes.set_yscale("log")
        axes.set_title(title)
        axes.legend()
    figure.suptitle(f"{report['command']} on {report['machine'].get('cpu_count')} CPU cores "
                    f"({report['machine'].get('processor')}, TensorFlow {report['machine'].get('tensorflow')})")
    return figure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=ROOT / "benchmarks" / "results" / "deploy.json")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "deploy.png")
    args = parser.parse_args(argv)
    from bidense_keras.pictures import save_figure

    save_figure(deploy_figure(json.loads(args.report.read_text())), args.out, overwrite=True, dpi=100)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
