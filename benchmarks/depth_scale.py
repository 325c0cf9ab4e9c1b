"""How much of a depth model's error is the room's unknown scale: metric against median-scaled errors.

One image of a synthetic room leaves its scale partly open (rooms 3-10 m deep and 2.4-3.2 m high,
the camera 1.0-1.8 m above the floor, no object of a fixed size). Multiplying each prediction by
median(true) / median(predicted) over its valid pixels, the "median scaling" of monocular depth
evaluation, removes that one number per image; what stays is the error of the room's shape. A
model whose δ1 rises far under median scaling is limited by the scale the image does not show,
which more training of the same network on the same data does little for.

    python benchmarks/depth_scale.py     # results/depth_scale.json + .md (the cards' 200 held-out rooms)
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reports import write_report  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = ("bidense_upernet_demo_rooms_depth", "bidense_upernet_demo_rooms_depth_5ep", "fp32_upernet_demo_rooms_depth_5ep")
METRICS = ("d1", "abs_rel", "rmse")


def median_scaled(gt, pred, min_depth, max_depth):
    """``(pred * scale, scale)`` with scale = median(gt) / median(pred) over the valid pixels of ``gt`` (H, W).

    Valid pixels and the clipped prediction are the evaluation's (``metrics.valid_pixels``, no crop).
    Scale is NaN (and ``pred`` unchanged) without a valid pixel.
    """
    from bidense_keras.train.metrics import valid_pixels

    pred = np.asarray(pred, np.float64)
    gt_valid, pred_valid = valid_pixels(gt, pred, min_depth, max_depth, crop=None)
    if not gt_valid.size:
        return pred, float("nan")
    scale = float(np.median(gt_valid) / np.median(pred_valid))
    return pred * scale, scale


def measure(preset, scenes, data_dir, height=240, width=320):
    """Metric and median-scaled errors of a depth preset on the first ``scenes`` held-out rooms, and the scales.

    The rooms are the cards' split as ``bidense-keras evaluate`` reads it (written to ``data_dir`` when
    missing, JPEG images), so the metric columns equal the card's.
    """
    from bidense_keras.loader import load
    from bidense_keras.train import experiment
    from bidense_keras.train.metrics import DepthMetrics

    model = load(preset, task="depth")
    synthetic = {"val_samples": scenes, "height": height, "width": width}
    metric, scaled = (DepthMetrics(min_depth=1e-3, max_depth=model.max_depth) for _ in range(2))
    scales = []
    for images, depths in experiment.held_out_batches("depth", "synthetic_rooms", data_dir, 8, synthetic=synthetic)\
            .as_numpy_iterator():
        preds = np.asarray(model.predict_on_batch(images))
        metric.update(depths, preds)
        for depth, pred in zip(depths, preds, strict=True):
            rescaled, scale = median_scaled(depth, pred, 1e-3, model.max_depth)
            scaled.update(depth[None], rescaled[None])
            scales.append(scale)
    return {
        "preset": preset, "scenes": scenes, "size": [height, width],
        "metric": {name: metric.result()[name] for name in METRICS},
        "median_scaled": {name: scaled.result()[name] for name in METRICS},
        "scale_percentiles": dict(zip(("p10", "p50", "p90"), np.nanpercentile(scales, [10, 50, 90]).tolist())),
    }


def markdown_table(report):
    """One row per preset: δ1 and AbsRel as predicted and median-scaled, and the scales it took."""
    lines = ["| preset | δ1 | δ1 median-scaled | AbsRel | AbsRel median-scaled | scale p10 / p50 / p90 |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in report["results"]:
        m, s, p = r["metric"], r["median_scaled"], r["scale_percentiles"]
        lines.append(f"| {r['preset']} | {m['d1']:.3f} | {s['d1']:.3f} | {m['abs_rel']:.3f} | {s['abs_rel']:.3f} "
                     f"| {p['p10']:.2f} / {p['p50']:.2f} / {p['p90']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Runs the measurement with command-line arguments ``argv`` (default: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), help="depth presets or model folders")
    parser.add_argument("--scenes", type=int, default=200, help="held-out rooms (the cards' split, at 240x320)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the held-out rooms are written (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=RESULTS / "depth_scale.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="depth-scale-") as temporary:
        data_dir = args.data_dir or Path(temporary) / "rooms"
        report = {"command": "python benchmarks/depth_scale.py " + " ".join(sys.argv[1:] if argv is None else argv),
                  "results": [measure(preset, args.scenes, data_dir) for preset in args.presets]}
    return write_report(args.out, report, markdown_table(report))


if __name__ == "__main__":
    sys.exit(main())
