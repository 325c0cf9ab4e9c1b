"""Held-out accuracy of the binary demo presets in Keras, as exported, and as LCE flatbuffers.

For each preset: the published Keras model, its deployable twin in Keras (what ``export``
converts: DAB's scale after each conv, sign(0) = +1; ``bidense-keras evaluate --as-exported``)
and the LCE flatbuffer at 240x320 run by LCE's interpreter (``bidense-keras evaluate
OUT.tflite``), all on the same 200 held-out synthetic rooms as the demo-training table.
Needs the LCE runtime (``bidense-keras lce-runtime DIR``, ``$BIDENSE_KERAS_LCE_PYTHON``).

The flatbuffer's held-out metrics use the kernel ``predict --tflite`` picks (``bconv_kernel``:
indirect BGEMM with XNNPACK at 240x320). Also on 4 sample rooms, with LCE's reference kernels as the
export check runs them: the flatbuffer's outputs against the twin's (``tflite_*``), and, as the
yardstick for them, the twin's outputs against its own on the same images plus uniform noise of
±``NOISE`` grey levels (``rounding_*``): a trained binary network flips some signs near its
thresholds under any change of float rounding, and each flip propagates.

    python benchmarks/deploy_accuracy.py     # writes results/deploy_accuracy.json + .md
"""

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PRESETS = ("bidense_upernet_demo_rooms_seg_5ep", "bidense_deployable_upernet_demo_rooms_seg",
           "bidense_upernet_demo_rooms_depth_5ep")
EXPORT_SIZE = (240, 320)  # the held-out scenes' size: the flatbuffer sees them unresized
METRICS = {"segmentation": ("mIoU", "pixAcc"), "depth": ("d1", "abs_rel", "rmse")}
NOISE = 1e-3


def measure(preset, work_dir):
    """``{"keras", "as_exported", "flatbuffer"}`` held-out metrics of one preset (plus the export report)."""
    import numpy as np

    from bidense_keras.datasets import synthetic_rooms
    from bidense_keras.export import TFLiteModel, deployable_model, to_tflite
    from bidense_keras.export.agreement import output_agreement
    from bidense_keras.loader import load
    from bidense_keras.train import experiment
    model = load(preset)
    config = {"task": model.task}
    data_dir = Path(work_dir) / config["task"]
    flatbuffer = Path(work_dir) / f"{preset}.tflite"
    images = np.stack([synthetic_rooms.render(seed, *EXPORT_SIZE)["image"] for seed in range(4)]).astype("float32")
    report = to_tflite(model, flatbuffer, EXPORT_SIZE, sample_images=images, metadata={"source": preset})
    twin = deployable_model(model)
    noisy = images + np.random.default_rng(0).uniform(-NOISE, NOISE, images.shape).astype("float32")
    rounding = output_agreement(twin.predict(images, verbose=0), twin.predict(noisy, verbose=0), config["task"],
                                prefix="rounding_")

    def evaluate(source):
        metrics = experiment.evaluate(source, "synthetic_rooms", data_dir, batch_size=8, synthetic={})
        return {key: metrics[key] for key in METRICS[config["task"]]}

    return {
        "task": config["task"],
        "keras": evaluate(model),
        "as_exported": evaluate(twin),
        "flatbuffer": evaluate(str(flatbuffer)),
        "flatbuffer_bytes": report["size_bytes"],
        "bconv_kernel": TFLiteModel.fastest_exact_kernel({"export": report}),
        **{key: value for key, value in report.items() if key.startswith(("twin_", "tflite_"))},
        **rounding,
    }


def markdown_table(results):
    """One row per preset and metric: Keras, as exported (Keras twin), LCE flatbuffer."""
    lines = ["| preset | metric | Keras | as exported (Keras twin) | LCE flatbuffer |", "| --- | --- | --- | --- | --- |"]
    for preset, result in results.items():
        for metric in METRICS[result["task"]]:
            scale, digits = (100, 2) if metric in ("mIoU", "pixAcc") else (1, 3)
            cells = [f"{result[kind][metric] * scale:.{digits}f}" for kind in ("keras", "as_exported", "flatbuffer")]
            lines.append(f"| {preset} | {metric}{' (%)' if scale == 100 else ''} | " + " | ".join(cells) + " |")
    lines += ["", "| preset | flatbuffer vs twin: max / mean abs | agreement or AbsRel | twin vs twin on "
              f"±{NOISE:g}-noisy input: max / mean abs | agreement or AbsRel |", "| --- | --- | --- | --- | --- |"]
    for preset, result in results.items():
        third = "argmax_agreement" if result["task"] == "segmentation" else "abs_rel"
        cells = [f"{result[p + 'max_abs_error']:.3g} / {result[p + 'mean_abs_error']:.3g} | {result[p + third]:.4f}"
                 for p in ("tflite_", "rounding_")]
        lines.append(f"| {preset} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Runs the script with command-line arguments ``argv`` (default: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=ROOT / "outputs" / "deploy_accuracy")
    parser.add_argument("--presets", nargs="+", default=PRESETS)
    args = parser.parse_args(argv)
    from bidense_keras.export.runtime import runtime_python

    runtime_python()  # fails now, with how to make one, rather than after the Keras evaluations
    results = {preset: measure(preset, args.work_dir) for preset in args.presets}
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"command": "python benchmarks/deploy_accuracy.py", "export_size": EXPORT_SIZE,
              "held_out": "200 synthetic rooms at 240x320, seed 0 (as benchmarks/demo_training.py)", "results": results}
    (RESULTS / "deploy_accuracy.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "deploy_accuracy.md").write_text(markdown_table(results))
    print(markdown_table(results))


if __name__ == "__main__":
    main()
