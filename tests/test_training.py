"""Two-step training runs of each task through the CLI, then evaluation of the saved model."""

import json

import pytest

from bidense_keras import cli
from bidense_keras.weights import read_config

TINY = ["--dims", "16", "32", "64", "128", "--depths", "1", "1", "1", "1", "--features", "32"]
HELD_OUT = ["--val-samples", "2", "--render-size", "60", "80", "--batch-size", "4"]


@pytest.mark.parametrize("task,metric", [("seg", "mIoU"), ("depth", "abs_rel")])
def test_train_then_evaluate(tmp_path, task, metric, capsys):
    data, run = tmp_path / "data", tmp_path / "run"
    status = cli.main(["train", "--task", task, "--dataset", "synthetic_rooms", "--data-dir", str(data),
                       "--output", str(run), "--epochs", "1", "--image-size", "48", "64", "--train-samples", "8", *TINY, *HELD_OUT])
    assert status == 0
    log = (run / "log.csv").read_text().splitlines()
    assert len(log) == 2 and "loss" in log[0]  # header + one epoch of 8 // 4 = 2 steps
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics[metric] and metrics["train_seconds"] > 0
    assert read_config(run / "model")["dataset"] == "synthetic_rooms"

    out = tmp_path / "eval.json"
    status = cli.main(["evaluate", str(run / "model"), "--dataset", "synthetic_rooms", "--data-dir", str(data),
                       "--out", str(out), *HELD_OUT])
    assert status == 0
    evaluated = json.loads(out.read_text())
    assert evaluated[metric] == pytest.approx(metrics[metric], rel=1e-5)  # same held-out split, same model
    assert metric in capsys.readouterr().out


def test_evaluate_rejects_a_dataset_of_the_other_task(tmp_path):
    from bidense_keras.train.experiment import dataset_info

    with pytest.raises(ValueError, match="nyu is a depth dataset, not segmentation"):
        dataset_info("nyu", "segmentation")
    with pytest.raises(ValueError, match="Unknown dataset 'coco'"):
        dataset_info("coco", "segmentation")


def test_native_size_evaluation_of_images_of_different_sizes(tmp_path):
    import numpy as np
    from PIL import Image

    import bidense_keras as bk
    from bidense_keras.train import experiment

    base = tmp_path / "ADEChallengeData2016"
    for index, (height, width) in enumerate(((40, 56), (48, 40))):
        for kind, array in (("images", np.full((height, width, 3), 100, np.uint8)),
                            ("annotations", np.full((height, width), 2, np.uint8))):
            folder = base / kind / "validation"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(folder / f"ADE_val_{index:08d}.{'jpg' if kind == 'images' else 'png'}")
    model = bk.segmentation(dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), features=32, num_classes=150)
    metrics = experiment.evaluate(model, "ade20k", tmp_path, batch_size=8)
    assert 0.0 <= metrics["pixAcc"] <= 1.0 and len(metrics["IoU"]) == 150
