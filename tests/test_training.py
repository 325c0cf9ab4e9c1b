"""Two-step training runs of each task through the CLI, then evaluation of the saved model."""

import json

import pytest

from bidense_keras import backends, cli
from bidense_keras.weights import read_metadata
from tests.held_out import decode_jpeg, held_out_metric


pytestmark = pytest.mark.slow  # training runs end to end

TINY = ["--dims", "16", "32", "64", "128", "--depths", "1", "1", "1", "1", "--features", "32"]
HELD_OUT = ["--val-samples", "2", "--render-size", "60", "80", "--batch-size", "4"]


@pytest.mark.backends
@pytest.mark.parametrize("task,metric", [("seg", "mIoU"), ("depth", "abs_rel")])
def test_train_then_evaluate(tmp_path, task, metric, capsys):
    data, run = tmp_path / "data", tmp_path / "run"
    status = cli.main(["train", "--task", task, "--dataset", "synthetic_rooms", "--data-dir", str(data),
                       "--output", str(run), "--epochs", "1", "--image-size", "48", "64", "--train-samples", "8", *TINY, *HELD_OUT])
    assert status == 0
    log = (run / "log.csv").read_text().splitlines()
    assert len(log) == 2 and "loss" in log[0]  # header + one epoch of 8 // 4 = 2 steps
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train_seconds"] > 0
    assert read_metadata(run / "model")["dataset"] == "synthetic_rooms"
    assert read_metadata(run / "model")["trained_on"] == backends.machine()  # the model card's "training" line
    import bidense_keras as bk

    # the metric recomputed in numpy from the saved model's predictions and the held-out files
    assert metrics[metric] == pytest.approx(held_out_metric(bk.load(run / "model"), data), rel=1e-4, abs=1e-6)

    out = tmp_path / "eval.json"
    status = cli.main(["evaluate", str(run / "model"), "--dataset", "synthetic_rooms", "--data-dir", str(data),
                       "--out", str(out), *HELD_OUT])
    assert status == 0
    evaluated = json.loads(out.read_text())
    assert evaluated[metric] == pytest.approx(metrics[metric], rel=1e-5)  # same held-out split, same model
    assert metric in capsys.readouterr().out


TINY_VIT = ["--architecture", "dpt", "--embed-dim", "24", "--blocks", "4", "--heads", "2", "--features", "16",
            "--out-channels", "8", "8", "16", "16"]


@pytest.mark.backends
def test_train_a_tiny_dpt_then_evaluate(tmp_path):
    """`train --architecture dpt`: two steps of a 4-block ViT of width 24, saved, reloaded and evaluated
    (the fp32 twin trains through the same code: benchmarks/demo_training.py --schedule dpt)."""
    import bidense_keras as bk
    from bidense_keras.models import DPT

    data, run = tmp_path / "data", tmp_path / "run"
    status = cli.main(["train", "--task", "seg", "--dataset", "synthetic_rooms", "--data-dir", str(data),
                       "--output", str(run), "--epochs", "1", "--image-size", "56", "84", "--train-samples", "8",
                       "--validate", *TINY_VIT, *HELD_OUT])
    assert status == 0
    import csv

    with open(run / "log.csv", newline="") as log:
        rows = list(csv.DictReader(log))
    assert len(rows) == 1  # one epoch of 2 steps, validated on the held-out split (--validate)
    assert float(rows[0]["val_loss"]) > 0 and 0 <= float(rows[0]["val_pixel_accuracy"]) <= 1
    model = bk.load(run / "model")
    assert isinstance(model, DPT)
    assert (model.embed_dim, model.depth, model.num_heads, model.binarization) == (24, 4, 2, "bidense")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["mIoU"] == pytest.approx(held_out_metric(model, data), rel=1e-4, abs=1e-6)


def test_train_refuses_options_of_the_other_family(tmp_path, capsys):
    base = ["train", "--task", "seg", "--dataset", "synthetic_rooms", "--data-dir", str(tmp_path / "data"),
            "--output", str(tmp_path / "run"), "--train-samples", "8", *HELD_OUT]
    assert cli.main([*base, "--architecture", "dpt", "--dims", "8", "8", "8", "8"]) == 2
    assert "--dims is an option of the upernet family: add --architecture upernet" in capsys.readouterr().err
    assert cli.main([*base, "--blocks", "6", "--heads", "2"]) == 2  # ViT options for the default (UperNet) family
    assert "--blocks, --heads are options of the dpt family: add --architecture dpt" in capsys.readouterr().err
    assert cli.main([*base, "--architecture", "upernet", "--backbone", "vit_small"]) == 2
    assert "Unknown upernet backbone 'vit_small'" in capsys.readouterr().err
    assert cli.main([*base, "--architecture", "dpt", "--binarization", "bnn"]) == 2  # an ablation of UperNet only
    assert "The dpt family has binarization bidense, bidense_deployable, fp32; got bnn." in capsys.readouterr().err
    assert not (tmp_path / "run" / "model").exists()


def test_evaluate_rejects_a_dataset_of_the_other_task(tmp_path):
    from bidense_keras.train.experiment import loader_name

    with pytest.raises(ValueError, match="nyu is a depth dataset, not segmentation"):
        loader_name("nyu", "segmentation")
    with pytest.raises(ValueError, match="Unknown dataset 'coco'"):
        loader_name("coco", "segmentation")
    assert loader_name("synthetic_rooms", "depth") == "nyu"  # synthetic depth scenes use the NYU layout


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
    # the same scores from each image predicted alone at its own size; every pixel is class 1 (annotation 2)
    predicted = np.concatenate([
        np.argmax(model.predict(decode_jpeg(path)[None], verbose=0)[0], -1).ravel()
        for path in sorted((base / "images" / "validation").glob("*.jpg"))])
    assert predicted.size == 40 * 56 + 48 * 40
    pixel_accuracy = np.mean(predicted == 1)
    assert metrics["pixAcc"] == pytest.approx(pixel_accuracy, abs=1e-9)
    # IoU: class 1 is everywhere, so its IoU is the accuracy; a class predicted somewhere has IoU 0; others none
    expected_iou = [pixel_accuracy if c == 1 else 0.0 if np.any(predicted == c) else None for c in range(150)]
    assert [None if np.isnan(v) else pytest.approx(v, abs=1e-9) for v in metrics["IoU"]] == expected_iou


class _StopAfterFirstEpoch(Exception):
    pass


def test_interrupted_training_resumes_and_counts_every_epochs_time(tmp_path, monkeypatch):
    import keras
    import numpy as np
    import tensorflow as tf

    import bidense_keras as bk
    from bidense_keras.train import recipe

    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    labels = np.random.default_rng(1).integers(0, 3, (4, 32, 32)).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)

    def build():
        return bk.segmentation(dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), features=16, num_classes=3)

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise _StopAfterFirstEpoch

    callbacks = recipe.training_callbacks
    monkeypatch.setattr(recipe, "training_callbacks", lambda output_dir: [*callbacks(output_dir), Interrupt()])
    with pytest.raises(_StopAfterFirstEpoch):
        recipe.fit(build(), data, epochs=3, output_dir=tmp_path, lr=1e-3, steps_per_epoch=2, verbose=0)
    monkeypatch.setattr(recipe, "training_callbacks", callbacks)
    history = recipe.fit(build(), data, epochs=3, output_dir=tmp_path, lr=1e-3, steps_per_epoch=2, verbose=0)

    assert history.epoch == [1, 2]  # the backup of epoch 0 was restored
    log = (tmp_path / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log[1:]] == ["0", "1", "2"] and "epoch_seconds" in log[0]
    column = log[0].split(",").index("epoch_seconds")
    logged = sum(float(row.split(",")[column]) for row in log[1:])
    assert recipe.training_seconds(tmp_path, 3) == pytest.approx(logged, abs=0.2) and logged > 0


def test_training_seconds_counts_a_retrained_epoch_once_and_names_missing_ones(tmp_path):
    from bidense_keras.train import recipe

    (tmp_path / "log.csv").write_text("epoch,epoch_seconds,loss\n0,10.0,2.0\n1,7.5,1.5\n1,8.0,1.4\n2,NA,1.3\n")
    assert recipe.training_seconds(tmp_path, 2) == 18.0
    with pytest.raises(ValueError, match=r"no epoch_seconds for epochs \[2, 3\]"):
        recipe.training_seconds(tmp_path, 4)


def test_evaluate_as_exported_measures_the_deployable_twin(tmp_path):
    """--as-exported evaluates the deployable twin: exact for bidense_deployable, an approximation of bidense."""
    import keras

    import bidense_keras as bk
    from bidense_keras.export import deployable_model
    from bidense_keras.weights import save_pretrained

    data = tmp_path / "data"
    results = {}
    for binarization in ("bidense_deployable", "bidense"):
        keras.utils.set_random_seed(3)
        model = bk.depth(dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), features=32, binarization=binarization)
        folder = save_pretrained(model, tmp_path / binarization)
        for flags in ([], ["--as-exported"]):
            out = tmp_path / f"{binarization}{len(flags)}.json"
            assert cli.main(["evaluate", str(folder), "--dataset", "synthetic_rooms", "--data-dir", str(data),
                             "--out", str(out), *HELD_OUT, *flags]) == 0
            results[binarization, bool(flags)] = json.loads(out.read_text())["abs_rel"]
        if binarization == "bidense":  # --as-exported's AbsRel, recomputed in numpy from the twin's predictions
            assert results[binarization, True] == pytest.approx(held_out_metric(deployable_model(model), data),
                                                                rel=1e-5)
    # same seed, same weights: the twin of the bidense model is the bidense_deployable model
    assert results["bidense_deployable", True] == pytest.approx(results["bidense_deployable", False], rel=1e-6)
    assert results["bidense", True] == pytest.approx(results["bidense_deployable", False], rel=1e-6)
    assert results["bidense", False] != results["bidense_deployable", False]


def test_evaluate_takes_a_preset_name(tmp_path, capsys):
    import bidense_keras as bk

    out = tmp_path / "eval.json"
    assert cli.main(["evaluate", "bidense_upernet_demo_rooms_depth", "--dataset", "synthetic_rooms",
                     "--data-dir", str(tmp_path / "data"), "--out", str(out), *HELD_OUT]) == 0
    expected = held_out_metric(bk.load("bidense_upernet_demo_rooms_depth"), tmp_path / "data")
    assert json.loads(out.read_text())["abs_rel"] == pytest.approx(expected, rel=1e-5)
    assert expected < 1.0  # the trained preset: measured 0.3 on the 200 held-out rooms
    assert cli.main(["evaluate", "runs/not_a_model", "--dataset", "synthetic_rooms", "--data-dir",
                     str(tmp_path / "data"), *HELD_OUT]) == 2
    assert "No model folder at runs/not_a_model" in capsys.readouterr().err
    assert cli.main(["evaluate", "not_a_preset", "--dataset", "synthetic_rooms", "--data-dir",
                     str(tmp_path / "data"), *HELD_OUT]) == 2
    assert "Unknown preset 'not_a_preset'" in capsys.readouterr().err


def test_train_from_a_preset_with_init(tmp_path):
    """--init starts from the preset's trained weights (a few small steps move them only a little)."""
    import numpy as np

    import bidense_keras as bk

    preset = "bidense_upernet_demo_rooms_seg"
    run = tmp_path / "run"
    assert cli.main(["train", "--task", "seg", "--dataset", "synthetic_rooms", "--data-dir", str(tmp_path / "data"),
                     "--output", str(run), "--epochs", "1", "--image-size", "48", "64", "--train-samples", "8",
                     "--init", preset, *HELD_OUT]) == 0
    assert read_metadata(run / "model")["base_model"] == preset
    trained, pretrained = bk.load(run / "model"), bk.load(preset)
    changes = [np.abs(a.numpy() - b.numpy()).max() for a, b in zip(trained.weights, pretrained.weights)
               if a.path.endswith("kernel")]
    assert 0 < max(changes) < 0.02  # trained, from the preset's weights (independent inits differ by ~0.1)
    assert cli.main(["train", "--task", "seg", "--dataset", "synthetic_rooms", "--data-dir", str(tmp_path / "data"),
                     "--output", str(run), "--init", preset, "--features", "32"]) == 2


def test_the_epoch_log_widens_for_new_columns_and_keeps_earlier_rows(tmp_path):
    import csv

    import numpy as np
    from bidense_keras.train.recipe import EpochLog

    # a run before validation was on, and a row a former logger appended with more values than the header
    (tmp_path / "log.csv").write_text("epoch,epoch_seconds,loss\n0,10.0,2.0\n0,11.0,2.1,0.5\n")
    log = EpochLog(tmp_path / "log.csv")
    log.on_epoch_end(1, {"loss": 1.5, "epoch_seconds": 9.0, "val_loss": np.float32(1.75)})
    log.on_epoch_end(2, {"loss": 1.25, "epoch_seconds": 8.0, "val_loss": 1.5})
    with open(tmp_path / "log.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows == [{"epoch": "0", "epoch_seconds": "10.0", "loss": "2.0", "val_loss": "NA"},
                    {"epoch": "0", "epoch_seconds": "11.0", "loss": "2.1", "val_loss": "NA"},
                    {"epoch": "1", "epoch_seconds": "9.0", "loss": "1.5", "val_loss": "1.75"},
                    {"epoch": "2", "epoch_seconds": "8.0", "loss": "1.25", "val_loss": "1.5"}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]  # no temporary file left
