"""What the LCE export of a BiDense DPT makes binary, what stays float, and its size against float TFLite.

For each model (architecture only: sizes and ops do not depend on the weights' values) the deployable
twin is converted twice from the same SavedModel: by LCE (``bidense_keras.export.to_tflite``) and by
TensorFlow's own converter (``to_float_tflite``, the binary layers as float ops). The report counts
the flatbuffer's ops by kind (binary: ``LceBconv2d``; float: every other compute op) and which model
layers they come from.

    python benchmarks/bench_dpt_export.py            # writes results/dpt_export.json + .md
"""

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from reports import write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODELS = {"ViT-S/14 DPT seg (ADE20K)": "bidense_dpt_vits14_ade20k", "demo DPT seg": "bidense_dpt_demo_rooms_seg"}
INPUT_SIZE = (448, 448)  # 32 x 32 patches
# Where the float ops of an exported DPT come from (TFLite op -> model part).
FLOAT_OPS = {
    "CONV_2D": "patch embedding (14x14/14) and the 1x1 classifier: full precision in the paper",
    "TRANSPOSE_CONV": "reassemble x4 and x2 up: binary in the paper, but scaled per input channel (LCE bitpacks "
                      "one magnitude per output channel), so exported as float convs of the ±1 signs, exactly",
    "FULLY_CONNECTED": "attention products q kᵀ and A v (signs and 0/1 maps, two per head and block) and the "
                       "decoder's align-corners resizes (two per resize); the position resampling is folded into "
                       "one constant at the fixed size",
    "BATCH_MATMUL": "attention products (when not unrolled into FULLY_CONNECTED)",
    "SOFTMAX": "attention softmax (its map is then thresholded at max/4)",
    "GELU": "MLP activation",
}


def measure(preset, input_size=INPUT_SIZE):
    """LCE and float TFLite sizes and op counts of ``preset``'s deployable twin at ``input_size``."""
    import bidense_keras as bk
    from bidense_keras.export import to_tflite
    from bidense_keras.export.baselines import to_float_tflite

    model = bk.load(preset, pretrained=False)
    stats = bk.model_stats(model, input_size)
    with tempfile.TemporaryDirectory() as scratch:
        lce = to_tflite(model, Path(scratch) / "lce.tflite", input_size)
        float_tflite = to_float_tflite(model, Path(scratch) / "float.tflite", input_size)
    ops = lce["ops"]
    return {
        "preset": preset, "input_size": list(input_size), "binary_params": stats["binary_params"],
        "float_params": stats["float_params"], "binary_macs": stats["binary_macs"], "float_macs": stats["float_macs"],
        "lce_bytes": lce["size_bytes"], "float_tflite_bytes": float_tflite["size_bytes"], "ops": ops,
        "binary_convs": ops.get("LceBconv2d", 0),
        "float_ops_kept": {op: ops[op] for op in FLOAT_OPS if op in ops},
    }


def markdown_table(rows):
    """Sizes, binary op counts and the float ops that stay, one row per model."""
    lines = ["| model | binary weights | LceBconv2d | LCE flatbuffer | float TFLite | float/LCE | float ops kept |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, row in rows.items():
        kept = ", ".join(f"{op} {count}" for op, count in row["float_ops_kept"].items())
        lines.append(f"| {name} | {row['binary_params']:,} | {row['binary_convs']} | {row['lce_bytes'] / 1e6:.2f} MB "
                     f"| {row['float_tflite_bytes'] / 1e6:.2f} MB | {row['float_tflite_bytes'] / row['lce_bytes']:.1f}× "
                     f"| {kept} |")
    lines += ["", "Float ops kept, and why:", ""] + [f"- `{op}`: {why}" for op, why in FLOAT_OPS.items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Measures every model of :data:`MODELS` and writes ``results/dpt_export.json`` and ``.md``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(MODELS), nargs="*", help="default: every model")
    args = parser.parse_args(argv)
    rows = {name: measure(preset) for name, preset in MODELS.items() if not args.only or name in args.only}
    report = {"command": "python benchmarks/bench_dpt_export.py", "input_size": list(INPUT_SIZE), "models": rows}
    return write_report(RESULTS / "dpt_export.json", report, markdown_table(rows))


if __name__ == "__main__":
    sys.exit(main())
