"""Every example runs in its small mode."""

import importlib.util
from pathlib import Path

import numpy as np

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
    """The demo preset fine-tuned to 3 merged classes beats the same model from scratch after the same 20 steps
    (measured: 0.382/0.344/0.298 against 0.226/0.063/0.097 held-out mIoU with seeds 0/1/2; the margin asked
    here is a third of the smallest gap)."""
    results = load("finetune_new_classes").main([])
    assert results["fine_tuned"] > results["from_scratch"] + 0.05
