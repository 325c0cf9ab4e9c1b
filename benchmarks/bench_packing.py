"""Model folder size and load time, float32 ``.weights.h5`` against packed ``model.bits.npz`` (issue: binary weights as bits).

For the demo presets (their published folders) and ConvNeXt-T UperNet (ADE20K head, untrained: sizes
do not depend on the values), writes each model packed into a temporary folder and reports: the
``.h5`` and ``.npz`` sizes and their ratio; the physical limit (binary kernels at 1 bit, every other
variable at 4 bytes, BatchNorm statistics included); the load time of each file into a built model
(median of ``--repeats``); and the LCE flatbuffer size measured by ``benchmarks/bench_deploy.py``.

    python benchmarks/bench_packing.py        # writes results/packing.json + .md
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from reports import write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODELS = {  # name: (how to get the model, configuration of results/deploy.json with its flatbuffer)
    "demo seg": ("bidense_upernet_demo_rooms_seg", "demo"),
    "demo depth": ("bidense_upernet_demo_rooms_depth", None),
    "ConvNeXt-T seg (ADE20K)": ("bidense_upernet_convnext_tiny_ade20k", "convnext_tiny_256"),
}


def _model(preset):
    import bidense_keras as bk
    from bidense_keras.registry import read_registry

    return bk.load(preset, pretrained=preset in read_registry())


def _load_seconds(folder, weights_file, repeats):
    """Median seconds to read ``weights_file`` into the folder's (already built) architecture."""
    from bidense_keras import compat, packing
    from bidense_keras.weights import model_config

    model_class, arguments = model_config(folder)
    model = model_class(**arguments)
    read = packing.load_packed if weights_file.suffix == ".npz" else compat.load_weights_strictly
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        read(model, weights_file)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(preset, repeats):
    """Sizes (bytes) and load times (s) of one model's two weight files."""
    from bidense_keras import packing
    from bidense_keras.weights import PACKED_FILE, WEIGHTS_FILE, save_pretrained

    model = _model(preset)
    kernels = packing.binary_kernels(model)
    binary = sum(int(np.prod(v.shape)) for v in model.weights if v.path in kernels)
    other = sum(int(np.prod(v.shape)) for v in model.weights if v.path not in kernels)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_pretrained(model, Path(tmp) / "model", packed=True)
        h5, bits = folder / WEIGHTS_FILE, folder / PACKED_FILE
        return {
            "preset": preset,
            "binary_weights": binary,
            "other_values": other,
            "h5_bytes": h5.stat().st_size,
            "packed_bytes": bits.stat().st_size,
            "limit_bytes": -(-binary // 8) + 4 * other + 4 * len(kernels),  # bits + floats + one scale per channel
            "h5_load_s": _load_seconds(folder, h5, repeats),
            "packed_load_s": _load_seconds(folder, bits, repeats),
        }


def _lce_bytes(configuration):
    deploy = json.loads((RESULTS / "deploy.json").read_text())["results"] if (RESULTS / "deploy.json").exists() else {}
    return deploy.get(configuration, {}).get("size_bytes", {}).get("lce") if configuration else None


def markdown_table(results):
    """The README table: sizes in MB, ratios to the h5, load times."""
    lines = ["| model | float32 .h5 | packed .npz | h5 / packed | 1-bit limit (h5 / limit) | LCE flatbuffer "
             "| load .h5 | load packed |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, row in results.items():
        lce = f"{row['lce_bytes'] / 1e6:.2f} MB" if row.get("lce_bytes") else "—"
        lines.append(
            f"| {name} | {row['h5_bytes'] / 1e6:.2f} MB | {row['packed_bytes'] / 1e6:.2f} MB "
            f"| {row['h5_bytes'] / row['packed_bytes']:.1f}× | {row['limit_bytes'] / 1e6:.2f} MB "
            f"({row['h5_bytes'] / row['limit_bytes']:.1f}×) | {lce} | {row['h5_load_s'] * 1e3:.0f} ms "
            f"| {row['packed_load_s'] * 1e3:.0f} ms |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Runs the benchmark with command-line arguments ``argv``; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "packing.json")
    args = parser.parse_args(argv)
    results = {}
    for name, (preset, configuration) in MODELS.items():
        results[name] = {**measure(preset, args.repeats), "lce_bytes": _lce_bytes(configuration)}
    from bidense_keras.backends import describe

    report = {"command": "python benchmarks/bench_packing.py", "environment": describe(), "results": results}
    return write_report(args.out, report, markdown_table(results))


if __name__ == "__main__":
    sys.exit(main())
