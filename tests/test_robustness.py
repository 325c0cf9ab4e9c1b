"""Bad input never crashes or lies: one test per row of docs/robustness.md not covered in another file."""

import json
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import bidense_keras as bk
from bidense_keras import cli
from bidense_keras.inputs import check_image_batch, check_image_values
from tests.conftest import SMALL


@pytest.fixture(scope="module")
def model():
    return bk.depth(**SMALL, max_depth=10.0)


def test_non_finite_pixels_are_refused_before_predicting(model):
    images = np.full((2, 64, 64, 3), 100.0, np.float32)
    images[1, 3, 4, 0] = np.nan
    images[0, 0, 0, 2] = np.inf
    with pytest.raises(ValueError, match=r"2 non-finite value\(s\) \(NaN or inf\)"):
        model.predict(images, verbose=0)
    with pytest.raises(ValueError, match="non-finite"):
        model.predict_on_batch(images)
    assert np.isnan(model.predict(images, verbose=0, check_inputs=False)).any()  # the check can be skipped


@pytest.mark.parametrize("call", ["predict", "predict_on_batch", "__call__"])
def test_an_empty_batch_is_named(model, call):
    with pytest.raises(ValueError, match="The batch is empty"):
        getattr(model, call)(np.zeros((0, 64, 64, 3), np.float32))


@pytest.mark.parametrize("height,width", [(16, 16), (31, 64), (64, 31), (0, 0)])
def test_images_below_the_minimum_size_name_it(model, height, width):
    assert model.min_input_size == 32
    with pytest.raises(ValueError, match=f"{height}x{width} pixels are too small.*at least 32x32"):
        model.predict(np.zeros((1, height, width, 3), np.float32), verbose=0)
    with pytest.raises(ValueError, match="too small"):
        model(np.zeros((1, height, width, 3), np.float32))


def test_the_minimum_size_itself_works(model):
    assert model.predict(np.full((1, 32, 33, 3), 90.0, np.float32), verbose=0).shape == (1, 32, 33, 1)


def test_images_scaled_to_0_1_warn(model):
    with pytest.warns(UserWarning, match=r"within \[0, 1\].*\[0, 255\]"):
        model.predict(np.full((1, 64, 64, 3), 0.5, np.float32), verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(np.full((1, 64, 64, 3), 120.0, np.float32), verbose=0)


def test_the_input_checks_agree_with_random_shapes_dtypes_and_values():
    """A bounded fuzz of check_image_values: every case is a named ValueError or passes, and passes only for a
    valid batch (independently decided here)."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        shape = tuple(int(n) for n in rng.integers(0, 40, size=int(rng.integers(1, 6))))
        dtype = rng.choice([np.uint8, np.float16, np.float32, np.float64, np.int32])
        values = rng.uniform(-1, 300, size=shape).astype(dtype)
        if values.size and np.issubdtype(dtype, np.floating) and rng.random() < 0.3:
            values.flat[int(rng.integers(values.size))] = rng.choice([np.nan, np.inf, -np.inf])
        valid = (len(shape) == 4 and shape[3] == 3 and shape[0] > 0 and min(shape[1:3]) >= 32
                 and np.isfinite(values.astype(np.float64)).all())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check_image_values(values, min_size=32)
        except ValueError as error:
            assert not valid, (shape, dtype, error)
            assert str(error)
        else:
            assert valid, (shape, dtype)


def test_symbolic_sizes_pass_the_shape_check():
    import keras

    check_image_batch(keras.Input(shape=(None, None, 3)), min_size=32)  # unknown sizes are checked at run time
    with pytest.raises(ValueError, match="3 colour channels"):
        check_image_batch(keras.Input(shape=(None, None, 4)), min_size=32)


def test_predict_refuses_a_named_file_that_is_not_an_image(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    out = tmp_path / "out"
    assert cli.main(["predict", str(notes), "--model", "bidense_upernet_demo_rooms_depth", "--out", str(out)]) == 2
    assert f"{notes} is not a readable image" in capsys.readouterr().err
    assert not out.exists()


def test_predict_opens_every_image_of_a_folder_before_writing(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.full((40, 48, 3), 120, np.uint8)).save(images / "a_good.png")
    (images / "b_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    out = tmp_path / "out"
    assert cli.main(["predict", str(images), "--model", "bidense_upernet_demo_rooms_depth", "--out", str(out)]) == 2
    assert "b_broken.jpg is not a readable image" in capsys.readouterr().err
    assert not out.exists()


def test_an_interrupted_prediction_leaves_no_partial_picture(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from bidense_keras.predict import predict_files

    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.full((40, 48, 3), 120, np.uint8)).save(images / "a.png")

    def killed(self, path, **kwargs):
        with open(path, "wb") as file:
            file.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", killed)
    with pytest.raises(KeyboardInterrupt):
        predict_files(bk.depth(**SMALL, max_depth=10.0), [images], tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_depth.png"]  # finished file only


def test_non_positive_sample_counts_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "m", "--dataset", "synthetic_rooms", "--data-dir", "d", "--val-samples", "0"])
    assert exit_info.value.code == 2 and "must be a positive integer, got 0" in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_killed_while_saving_its_backup_resumes(tmp_path, monkeypatch):
    """Training killed in the middle of writing epoch 2's backup resumes after epoch 1, and finishes."""
    from bidense_keras.train import recipe

    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices((rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32"),
                                               rng.uniform(1, 9, (4, 32, 32, 1)).astype("float32"))).batch(2)
    save = bk.UperNet.save_weights
    backups = []

    def killed_at_the_second_backup(self, filepath, *args, **kwargs):
        if "backup" in str(filepath):
            backups.append(filepath)
            if len(backups) == 2:
                with open(filepath, "wb") as file:
                    file.write(b"\x89HDF truncated")
                raise KeyboardInterrupt
        return save(self, filepath, *args, **kwargs)

    monkeypatch.setattr(bk.UperNet, "save_weights", killed_at_the_second_backup)
    with pytest.raises(KeyboardInterrupt):
        recipe.fit(bk.depth(**SMALL, max_depth=10.0), data, 3, tmp_path, 1e-3, 2, verbose=0, jit_compile=False)
    monkeypatch.setattr(bk.UperNet, "save_weights", save)
    backup = tmp_path / "backup"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1
    assert not [p.name for p in backup.iterdir() if "partial" in p.name]
    resumed = recipe.fit(bk.depth(**SMALL, max_depth=10.0), data, 3, tmp_path, 1e-3, 2, verbose=0, jit_compile=False)
    assert resumed.epoch == [1, 2]  # epoch 0 is not trained again


def test_random_command_lines_end_in_a_usage_error_or_a_parse():
    """A bounded fuzz of the CLI parser (400 argument lists from its own vocabulary and junk, seed 0): every
    one parses or ends in argparse's usage error (exit 2), never in a traceback."""
    import contextlib
    import io

    parser = cli.build_parser()
    words = ["demo", "predict", "export", "evaluate", "train", "convert", "download", "info", "presets",
             "lce-runtime", "--model", "--out", "--size", "--batch-size", "--val-samples", "--dataset", "--data-dir",
             "--task", "--dims", "--devices", "--precision", "--init", "--preset", "--kernel", "--threads", "-h",
             "0", "-1", "3", "2.5", "nan", "seg", "voc", "synthetic_rooms", "x.tflite", "", "--", "é", "--version"]
    rng = np.random.default_rng(0)
    outcomes = {"parsed": 0, "usage error": 0, "help or version": 0}
    for _ in range(400):
        argv = [str(rng.choice(words)) for _ in range(int(rng.integers(0, 8)))]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                parser.parse_args(argv)
                outcomes["parsed"] += 1
            except SystemExit as exit_info:
                if exit_info.code == 0:
                    outcomes["help or version"] += 1
                else:
                    assert exit_info.code == 2 and "error:" in err.getvalue(), argv
                    outcomes["usage error"] += 1
    assert outcomes["usage error"] > 100 and sum(outcomes.values()) == 400
