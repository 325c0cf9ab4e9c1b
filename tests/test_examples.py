"""Every example runs in its small mode."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # the examples, each a short training or export run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_finetune_folder(tmp_path):
    history = load("finetune_folder").main(["--small", "--out", str(tmp_path)])
    assert np.isfinite(history.history["loss"][-1])
    assert (tmp_path / "model" / "model.weights.h5").is_file()


def test_convert_official(tmp_path, reference_dir):
    output = load("convert_official").main([str(reference_dir / "upernet_bidense_seg_small.ckpt"),
                                            "--out", str(tmp_path)])
    assert output.shape == (96, 128, 21)


def test_export_tflite(tmp_path):
    report = load("export_tflite").main(["--small", "--out", str(tmp_path / "m.tflite")])
    assert report["ops"]["LceBconv2d"] > 0 and (tmp_path / "m.tflite").is_file()


def test_quickstart(tmp_path, capsys):
    labels, depth = load("quickstart").main(["--out", str(tmp_path / "q.png")])
    assert labels.shape == depth.shape == (240, 320)
    assert (tmp_path / "q.png").stat().st_size > 10_000
    assert "pixel accuracy" in capsys.readouterr().out


def test_finetune_new_classes_beats_training_from_scratch():
    """The 5-epoch demo preset fine-tuned to 3 merged classes beats the same model from scratch after the same 20 steps.

    Measured from the packed preset (seeds 0/1/2/3, held-out cross-entropy fine-tuned / from scratch):
    0.515/1.007, 0.421/2.388, 0.634/2.021, 0.490/1.031 (ratios 0.51, 0.18, 0.31, 0.48; mIoU 0.359/0.180,
    0.329/0.050, 0.293/0.132, 0.312/0.132). Runs of one seed differ between processes (a few signs flip with the
    float summation order), so the bounds keep a margin: a ratio under 0.9 and a higher mIoU. Seed 0 measured
    again on 2026-12-07 (same initial weights in every run, checked): 0.453/0.712, 0.505/0.722 and, beside the
    rest of the slow tier, 0.500/0.620 (ratios 0.64, 0.70, 0.81). (Packed kernels without the magnitude spread of
    bidense_keras.packing gave 0.960/0.936 for seed 0: this test caught it.)
    """
    results = load("finetune_new_classes").main([])
    tuned, scratch = results["fine_tuned"], results["from_scratch"]
    assert tuned["loss"] < 0.9 * scratch["loss"]
    assert tuned["mIoU"] > scratch["mIoU"]
