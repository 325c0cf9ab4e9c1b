"""What bfloat16 compute (``mixed_bfloat16``) does to a trained binary network's decisions and accuracy.

Evaluates each preset twice on the same held-out synthetic rooms, once under the float32 dtype
policy and once under ``mixed_bfloat16`` (float32 weights, bfloat16 compute, so DAB's thresholds
``k * mean + b`` and the signs around them are taken in bfloat16), and reports both metric sets
and how often the two predictions differ per pixel.

    python benchmarks/precision.py              # results/precision.json + precision.md
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reports import write_report  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = ("bidense_upernet_demo_rooms_seg_5ep", "bidense_upernet_demo_rooms_depth_5ep")


def predictions(folder, images, precision):
    """``(model, outputs)`` of the model folder under ``precision``, one image at a time."""
    from bidense_keras.train.devices import dtype_policy
    from bidense_keras.weights import load_folder

    with dtype_policy(precision):
        model = load_folder(folder)
        outputs = np.concatenate([np.asarray(model.predict_on_batch(image[None]), "float32") for image in images])
    return model, outputs


def compare(preset, samples):
    """Metrics under both policies and the per-pixel disagreement of their predictions."""
    from bidense_keras.datasets import synthetic_rooms
    from bidense_keras.sources import pretrained_folder
    from bidense_keras.train.metrics import ConfusionMatrix, DepthMetrics

    folder = pretrained_folder(preset)
    scenes = [synthetic_rooms.render(100_000 + seed, 240, 320) for seed in range(samples)]
    images = np.stack([scene["image"] for scene in scenes]).astype("float32")
    result = {"preset": preset, "samples": samples}
    outputs = {}
    for precision in ("float32", "mixed_bfloat16"):
        model, outputs[precision] = predictions(folder, images, precision)
        if model.task == "segmentation":
            metrics = ConfusionMatrix(model.num_classes)
            metrics.update(np.stack([s["label"] for s in scenes]), outputs[precision].argmax(-1))
        else:
            metrics = DepthMetrics(min_depth=1e-3, max_depth=model.max_depth)
            metrics.update(np.stack([s["depth"] for s in scenes])[..., None], outputs[precision])
        values = metrics.result()
        result[precision] = {k: float(v) for k, v in values.items() if np.ndim(v) == 0}
    full, half = outputs["float32"], outputs["mixed_bfloat16"]
    if full.shape[-1] > 1:
        result["pixels_with_another_class"] = float(np.mean(full.argmax(-1) != half.argmax(-1)))
    else:
        result["mean_relative_depth_change"] = float(np.mean(np.abs(half - full) / full))
    return result


def markdown_table(report):
    """One row per preset and metric: float32, mixed_bfloat16 and their difference."""
    lines = ["| preset | metric | float32 | mixed_bfloat16 |", "| --- | --- | --- | --- |"]
    for r in report["results"]:
        for metric in ("mIoU", "pixAcc", "d1", "abs_rel", "rmse"):
            if metric in r["float32"]:
                lines.append(f"| {r['preset']} | {metric} | {r['float32'][metric]:.4f} | "
                             f"{r['mixed_bfloat16'][metric]:.4f} |")
        for key in ("pixels_with_another_class", "mean_relative_depth_change"):
            if key in r:
                lines.append(f"| {r['preset']} | {key.replace('_', ' ')} | — | {r[key]:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Runs the comparison with command-line arguments ``argv`` (default: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--samples", type=int, default=50, help="held-out synthetic rooms (seeds from 100000)")
    parser.add_argument("--out", type=Path, default=RESULTS / "precision.json")
    args = parser.parse_args(argv)
    import keras

    report = {"command": "python benchmarks/precision.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "backend": keras.backend.backend(),
              "results": [compare(preset, args.samples) for preset in args.presets]}
    return write_report(args.out, report, markdown_table(report))


if __name__ == "__main__":
    sys.exit(main())
