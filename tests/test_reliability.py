"""Nothing lost, nothing silent: one test per class of fault in docs/robustness.md (issue 30).

Files a user names are never deleted or replaced without ``--overwrite``; folders in use are locked;
output names cannot collide; bad pixels, labels, arguments, weights and losses stop with a named
error; untrusted files and Hub addresses cannot ask for unbounded memory, time or paths.
"""

import struct
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

import bidense_keras as bk
from bidense_keras import cli, files, integrity, pictures
from bidense_keras.convert.checkpoint_io import CheckpointError, load_state_dict
from bidense_keras.files import FolderInUseError, OutputExistsError
from bidense_keras.predict import output_stems, predict_files
from bidense_keras.weights import METADATA_FILE, WEIGHTS_FILE, load_folder, save_pretrained
from tests.conftest import SMALL


@pytest.fixture(scope="module")
def depth_model():
    return bk.depth(**SMALL, max_depth=10.0)


@pytest.fixture(scope="module")
def seg_model():
    return bk.segmentation(**SMALL, num_classes=3)


def _image(path, size=(48, 40), value=120):
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return path


# --- Data lost: every write is atomic and non-destructive ------------------------------------------------------


def test_a_folder_holding_other_files_is_never_replaced(tmp_path, depth_model):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputExistsError, match="thesis.tex"):
        save_pretrained(depth_model, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.tex"]
    save_pretrained(depth_model, folder, overwrite=True)  # beside it, never instead of it
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert load_folder(folder).count_params() == depth_model.count_params()
    save_pretrained(depth_model, tmp_path / "model")
    save_pretrained(depth_model, tmp_path / "model")  # a model folder is replaced by a model folder


def test_convert_refuses_a_user_folder_and_a_file(reference_dir, tmp_path, capsys):
    checkpoint = str(reference_dir / "upernet_bidense_depth_small.state_dict.npz")
    folder, file = tmp_path / "photos", tmp_path / "notes.txt"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"my photo")
    file.write_text("my notes")
    assert cli.main(["convert", checkpoint, str(folder)]) == 2
    assert "a.jpg" in capsys.readouterr().err
    assert cli.main(["convert", checkpoint, str(file)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["a.jpg"] and file.read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "photos"]  # no partial left
    weights = tmp_path / "mine.weights.h5"
    weights.write_bytes(b"user weights")
    assert cli.main(["convert", checkpoint, str(weights)]) == 2
    assert weights.read_bytes() == b"user weights"


def test_a_single_file_is_replaced_only_when_the_package_wrote_it(tmp_path):
    picture = tmp_path / "demo.png"
    _image(picture)  # the user's own PNG
    with pytest.raises(OutputExistsError, match="not written by bidense_keras"):
        pictures.save_png(np.zeros((4, 4, 3), np.uint8), picture)
    assert not pictures.written_by_package(picture)
    pictures.save_png(np.zeros((4, 4, 3), np.uint8), picture, overwrite=True)
    assert pictures.written_by_package(picture)
    pictures.save_png(np.ones((4, 4, 3), np.uint8), picture)  # ours now: replaced freely
    assert np.asarray(Image.open(picture)).max() == 1
    with pytest.raises(IsADirectoryError):
        files.check_replaceable(tmp_path)


def test_demo_refuses_a_folder_and_a_user_picture_before_loading_models(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path)]) == 2
    assert ".png" in capsys.readouterr().err
    assert cli.main(["demo", "--out", str(tmp_path / "demo")]) == 2
    mine = _image(tmp_path / "mine.png")
    before = mine.read_bytes()
    assert cli.main(["demo", "--out", str(mine)]) == 2
    assert "--overwrite" in capsys.readouterr().err and mine.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.png"]


def test_an_interrupted_writer_leaves_nothing_that_the_next_one_keeps(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has ended
    (tmp_path / f".model.{pid}.partial").mkdir()
    (tmp_path / f".{pid}.partial.log.csv").write_text("half a row")
    with files.atomic_folder(tmp_path / "model") as partial:
        (partial / "config.json").write_text("{}")
    files.write_text_atomic(tmp_path / "log.csv", "epoch\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv", "model"]


def test_export_refuses_to_replace_a_file_it_did_not_write(tmp_path, depth_model):
    from bidense_keras.export import to_tflite

    mine = tmp_path / "model.tflite"
    mine.write_bytes(b"someone's flatbuffer")
    with pytest.raises(OutputExistsError):
        to_tflite(depth_model, mine, (64, 64))  # refused before converting
    assert mine.read_bytes() == b"someone's flatbuffer"


# --- Locks: one process at a time in a folder ------------------------------------------------------------------


def test_a_folder_in_use_is_refused_to_another_process_and_freed_after(tmp_path):
    script = ("import sys; from bidense_keras.files import folder_lock, FolderInUseError\n"
              "try:\n    with folder_lock(sys.argv[1]): print('got it')\n"
              "except FolderInUseError as error: print('refused', error)")
    with files.folder_lock(tmp_path, "training run"):
        other = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
        assert other.stdout.startswith("refused") and "training run" in other.stdout, other.stderr[-2000:]
        with pytest.raises(FolderInUseError, match=r"in use .*pid \d+: training run"):  # in this process too
            with files.folder_lock(tmp_path):
                pass
    assert list(tmp_path.iterdir()) == []  # the lock file goes with the lock
    again = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert again.stdout.startswith("got it"), again.stderr[-2000:]


def test_a_training_run_into_a_folder_in_use_or_a_user_folder_is_refused(tmp_path):
    from bidense_keras.train import experiment

    arguments = ("depth", "synthetic_rooms", tmp_path / "data", tmp_path / "run", 1, 2, 1e-3, (64, 64))
    with files.folder_lock(tmp_path / "run"):
        with pytest.raises(FolderInUseError):
            experiment.train(*arguments)
    (tmp_path / "run" / "paper.pdf").write_bytes(b"%PDF")
    with pytest.raises(OutputExistsError, match="paper.pdf"):
        experiment.train(*arguments)
    assert not (tmp_path / "data").exists()  # refused before any data was made


@pytest.mark.slow
def test_a_kill_while_saving_the_trained_model_resumes_instead_of_retraining(tmp_path, monkeypatch):
    from bidense_keras.train import experiment, recipe

    arguments = dict(task="depth", dataset="synthetic_rooms", data_dir=tmp_path / "data", output_dir=tmp_path / "run",
                     epochs=2, batch_size=2, lr=1e-3, image_size=(64, 64), verbose=0, dims=SMALL["dims"],
                     depths=SMALL["depths"], features=SMALL["features"],
                     synthetic={"train_samples": 4, "val_samples": 2, "height": 64, "width": 64})

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "save_pretrained", killed)
    with pytest.raises(KeyboardInterrupt):
        experiment.train(**arguments)
    assert (tmp_path / "run" / "backup").is_dir()  # the resume state outlives the failed save
    monkeypatch.undo()
    fits = []
    original_fit = recipe.fit
    monkeypatch.setattr(recipe, "fit", lambda *a, **k: fits.append(original_fit(*a, **k)) or fits[-1])
    metrics = experiment.train(**arguments)
    assert fits[0].epoch == []  # resumed after the last epoch: nothing trained again
    assert np.isfinite(metrics["abs_rel"])
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["last.weights.h5", "log.csv", "metrics.json",
                                                                     "model"]


# --- Output names cannot collide --------------------------------------------------------------------------------


def test_every_image_is_measured_once_before_anything_is_written(tmp_path):
    from bidense_keras.predict import image_sizes

    _image(tmp_path / "a.png", size=(48, 40))
    _image(tmp_path / "b.png", size=(64, 33))
    sizes = image_sizes([tmp_path, tmp_path / "a.png"])  # a file named twice counts once
    assert sizes == {tmp_path / "a.png": (40, 48), tmp_path / "b.png": (33, 64)}
    (tmp_path / "c.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="c.png is not a readable image"):
        image_sizes([tmp_path])


def test_output_names_are_distinct_for_any_inputs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    paths = [tmp_path / "x.bmp", tmp_path / "x.webp", tmp_path / "a" / "y.png", tmp_path / "b" / "y.png",
             tmp_path / "z.png"]
    stems = output_stems(paths)
    assert stems[tmp_path / "x.bmp"] == "x_bmp" and stems[tmp_path / "x.webp"] == "x_webp"
    assert stems[tmp_path / "z.png"] == "z"
    assert len(set(stems.values())) == len(paths)
    assert stems[tmp_path / "a" / "y.png"].endswith("a_y_png")


def test_two_images_and_two_models_never_write_the_same_file(tmp_path, depth_model, seg_model):
    images = tmp_path / "images"
    images.mkdir()
    _image(images / "x.bmp", value=10)
    _image(images / "x.webp", value=200)
    out = tmp_path / "out"
    predict_files(depth_model, [images], out)
    predict_files(seg_model, [images], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"x_{ext}_{kind}{panel}.png" for ext in ("bmp", "webp") for kind in ("depth", "segmentation")
        for panel in ("", "_panel"))
    assert not np.array_equal(np.asarray(Image.open(out / "x_bmp_depth.png")),
                              np.asarray(Image.open(out / "x_webp_depth.png")))
    mine = _image(out / "x_bmp_depth.png")  # a user's file under an output name is kept
    with pytest.raises(OutputExistsError):
        predict_files(depth_model, [images], out)
    assert pictures.written_by_package(out / "x_webp_depth.png") and not pictures.written_by_package(mine)


def test_a_too_small_image_in_a_folder_stops_before_anything_is_written(tmp_path, depth_model):
    images = tmp_path / "images"
    images.mkdir()
    _image(images / "a_big.png")
    _image(images / "b_small.png", size=(20, 20))
    with pytest.raises(ValueError, match="b_small.png is 20x20 pixels"):
        predict_files(depth_model, [images], tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- Silent wrong results: pixels, labels, arguments ----------------------------------------------------------


@pytest.mark.parametrize("images,message", [
    (np.full((1, 64, 64, 3), 40000, np.uint16), r"\[40000, 40000\].*divide by 257"),
    (np.full((1, 64, 64, 3), -3.0, np.float32), r"\[-3, -3\]"),
    (None, "got None"),
    ([np.zeros((64, 64, 3)), np.zeros((32, 48, 3))], "different shapes"),
    (np.array([[["a"] * 3] * 64] * 64)[None], "numeric pixel values"),
    (np.empty((1, 64, 64, 3), object), "numeric pixel values"),
])
def test_bad_pixels_are_named_before_predicting(depth_model, images, message):
    with pytest.raises(ValueError, match=message) as caught:
        depth_model.predict(images, verbose=0)
    assert len(str(caught.value)) < 400


def test_a_list_of_same_size_images_is_one_batch(depth_model):
    images = [np.full((64, 64, 3), 90.0, np.float32), np.full((64, 64, 3), 150.0, np.float32)]
    np.testing.assert_allclose(depth_model.predict(images, verbose=0), depth_model.predict(np.stack(images), verbose=0))


def test_a_model_without_preprocessing_takes_normalised_values():
    model = bk.depth(**SMALL, max_depth=10.0, include_preprocessing=False)
    assert np.isfinite(model.predict(np.full((1, 64, 64, 3), -1.5, np.float32), verbose=0)).all()


def test_16_bit_images_are_scaled_not_clipped(tmp_path):
    grey = np.array([[0, 32896, 65535, 257]], np.uint16).repeat(8, 0)
    Image.fromarray(grey).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    np.testing.assert_array_equal(pictures.read_image(tmp_path / "deep.png")[0, :, 0], [0, 128, 255, 1])


def test_fit_refuses_nan_pixels_and_labels_outside_the_classes(seg_model):
    images = np.full((2, 64, 64, 3), 100.0, np.float32)
    labels = np.zeros((2, 64, 64), np.int32)
    seg_model.compile(optimizer="adam", loss=bk.train.losses.SegmentationCrossEntropy())
    wrong = labels.copy()
    wrong[0, 5], wrong[1, 9] = 3, 7
    with pytest.raises(ValueError, match=r"Labels \[3, 7\] are outside the model's 3 classes"):
        seg_model.fit(images, wrong, verbose=0)
    bad = images.copy()
    bad[0, 1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        seg_model.fit(bad, labels, verbose=0)
    labels[0, 0, 0] = 255  # the ignore label is a label
    seg_model.fit(images, labels, epochs=1, verbose=0)


def test_a_non_finite_loss_stops_training_before_any_checkpoint(tmp_path):
    import tensorflow as tf

    from bidense_keras.train import recipe

    images = np.full((2, 64, 64, 3), 100.0, np.float32)
    images[1, 0, 0, 0] = np.nan  # tf.data passes unchecked: the loss check is the guard
    data = tf.data.Dataset.from_tensor_slices((images, np.ones((2, 64, 64, 1), np.float32))).batch(1)
    with pytest.raises(integrity.NonFiniteLossError, match="batch 1 of epoch 0"):
        recipe.fit(bk.depth(**SMALL, max_depth=10.0), data, 2, tmp_path, 1e-3, 2, verbose=0, jit_compile=False)
    assert not (tmp_path / "last.weights.h5").exists() and not (tmp_path / "log.csv").exists()


@pytest.mark.parametrize("value", ["nan", "-1e-3", "0", "inf"])
def test_a_learning_rate_that_cannot_train_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["train", "--task", "depth", "--dataset", "synthetic_rooms", "--data-dir", "d", "--output", "o",
                  f"--lr={value}"])
    assert caught.value.code == 2 and "finite number > 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="lr"):
        bk.train.recipe.compile_for_training(bk.depth(**SMALL, max_depth=10.0), 10, float(value))


@pytest.mark.parametrize("arguments", [
    {"task": "depth", "max_depth": float("nan")}, {"task": "depth", "max_depth": float("inf")},
    {"task": "depth", "max_depth": True}, {"task": "segmentation", "num_classes": True},
    {"task": "segmentation", "num_classes": 2.5}, {"task": "depth", "max_depth": 10.0, "depths": (-1, 1, 2, 1)},
    {"task": "depth", "max_depth": 10.0, "dims": (32, 0, 128, 256)},
])
def test_model_arguments_that_cannot_build_a_model_are_refused(arguments):
    with pytest.raises(ValueError):
        bk.UperNet(**{**SMALL, **arguments})


def test_export_samples_must_be_positive(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["export", "bidense_upernet_demo_rooms_depth", "out.tflite", "--samples", "0"])
    assert caught.value.code == 2 and "positive integer" in capsys.readouterr().err


# --- Weights that cannot be right -----------------------------------------------------------------------------


def test_a_model_folder_with_edited_weights_is_refused_by_checksum(tmp_path, depth_model):
    folder = save_pretrained(depth_model, tmp_path / "model")
    weights = folder / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_folder(folder)


def test_nan_weights_are_never_saved_nor_loaded(tmp_path, depth_model):
    import json

    folder = save_pretrained(depth_model, tmp_path / "model")
    broken = bk.depth(**SMALL, max_depth=10.0)
    broken.set_weights(depth_model.get_weights())
    variable = broken.get_layer("head_depth").kernel
    variable.assign(np.full(variable.shape, np.nan, np.float32))
    with pytest.raises(integrity.NonFiniteWeightsError, match="head_depth"):
        save_pretrained(broken, tmp_path / "nan")
    assert not (tmp_path / "nan").exists()
    broken.save_weights(folder / WEIGHTS_FILE)  # an older folder, saved before weights were pinned
    metadata = json.loads((folder / METADATA_FILE).read_text())
    del metadata["weights"]
    (folder / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(integrity.NonFiniteWeightsError, match="NaN/inf"):
        load_folder(folder)


@pytest.mark.parametrize("name,edit,message", [
    ("module.PPN.bottleneck.1.bias", lambda value: value * np.nan, "NaN/inf"),
    ("module.backbone.downsample_layers.0.1.running_var", lambda value: -value - 1, "negative"),
    ("module.FPN.conv1x1.0.conv.weight", lambda value: value[..., 0, 0], r"FPN.conv1x1.0.conv.weight has shape"),
])
def test_a_converted_checkpoint_with_impossible_values_is_named(reference_dir, tmp_path, name, edit, message):
    from bidense_keras.convert import from_official_checkpoint

    state = load_state_dict(reference_dir / "upernet_bidense_depth_small.state_dict.npz")
    state[name] = edit(state[name])
    np.savez(tmp_path / "edited.npz", **state)
    with pytest.raises(CheckpointError, match=message):
        from_official_checkpoint(tmp_path / "edited.npz")


# --- Resources: untrusted files ask for bounded memory and time -----------------------------------------------


def test_a_checkpoint_view_that_would_allocate_terabytes_is_refused(tmp_path):
    from tests.test_checkpoint_io import FLOAT, Rebuild, Storage, write_checkpoint

    zeros = np.zeros(6, np.float32).tobytes()
    bomb = {"w": Rebuild(Storage(("storage", FLOAT, "0", "cpu", 6)), 0, (1 << 20, 1 << 20), (0, 0), False, {})}
    path = write_checkpoint(tmp_path / "bomb.ckpt", bomb, {"0": zeros})
    assert path.stat().st_size < 2000
    with pytest.raises(CheckpointError, match="overlapping strides"):
        load_state_dict(path)
    fine = {"w": Rebuild(Storage(("storage", FLOAT, "0", "cpu", 6)), 0, (2, 3), (3, 1), False, {})}
    assert load_state_dict(write_checkpoint(tmp_path / "fine.ckpt", fine, {"0": zeros}))["w"].shape == (2, 3)


def _png_header_only(path, width, height):
    """A PNG that declares ``width x height`` grey pixels and holds a few bytes of data (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("width,height", [(15000, 15000), (9000, 9000)])
def test_a_small_file_declaring_a_huge_image_is_refused_unread(tmp_path, capsys, width, height):
    bomb = _png_header_only(tmp_path / "bomb.png", width, height)
    assert cli.main(["predict", str(bomb), "--model", "bidense_upernet_demo_rooms_depth",
                     "--out", str(tmp_path / "out")]) == 2
    assert "Resize it first" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_image_too_large_to_predict_names_the_memory_it_would_need(tmp_path, depth_model):
    Image.fromarray(np.zeros((4000, 4000), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(ValueError, match=r"big.png is 4000x4000 pixels \(16.0 Mpx\).*about 13 GB"):
        predict_files(depth_model, [tmp_path / "big.png"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- Hub addresses and a Hub that never answers ---------------------------------------------------------------


@pytest.mark.parametrize("uri", ["hf://owner/repo@../../../../x", "hf://owner/repo@refs/../../x",
                                 "hf://../repo", "hf://owner/re po", "hf://owner/repo@.hidden"])
def test_hub_addresses_that_could_leave_the_cache_are_refused(uri, tmp_path):
    with pytest.raises(ValueError, match="not a Hub"):
        bk.load(uri)


def test_a_hub_that_never_answers_fails_within_the_timeout(tmp_path, monkeypatch):
    from bidense_keras.download import WeightsError, download_file
    from tests.hub_server import HubServer

    server = HubServer({("owner/repo", "a" * 40): {"config.json": b"{}"}}).start()
    server.hang = True
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.perf_counter()
    try:
        with pytest.raises(WeightsError, match="did not answer within 2 s"):
            download_file("owner/repo", "config.json", "main", None, cache_dir=tmp_path / "cache")
    finally:
        server.stop()
    assert time.perf_counter() - start < 20


# --- Misleading errors: damaged .keras files -----------------------------------------------------------------


def test_damaged_keras_files_are_named_as_damaged(tmp_path, depth_model):
    path = tmp_path / "model.keras"
    depth_model.save(path)
    data = path.read_bytes()
    cases = {"empty.keras": b"", "truncated.keras": data[: len(data) // 2]}
    flipped = bytearray(data)
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("model.weights.h5")
    flipped[member.header_offset + 30 + len(member.filename) + member.compress_size // 2] ^= 0x10
    cases["flipped.keras"] = bytes(flipped)
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match="not a readable .keras file|is corrupt") as caught:
            bk.load(tmp_path / name)
        assert "File not found" not in str(caught.value), name


def test_every_test_named_in_the_robustness_table_exists():
    """docs/robustness.md names a test for each guarantee; a renamed or removed test fails here."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    named, current = [], None
    for cell in re.findall(r"`([^`]*::[^`]*|tests?_\w+\.py[^`]*)`", (root / "docs" / "robustness.md").read_text()):
        file, _, test = cell.partition("::")
        current = Path(file).name if file else current
        if test:
            named.append((current, test.split("[")[0]))
    assert len(named) > 30
    defined = {}
    for file in {file for file, _ in named}:
        tree = ast.parse((root / "tests" / file).read_text())
        defined[file] = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    missing = [f"{file}::{test}" for file, test in named  # a name ending in * stands for the tests it begins
               if not any(name == test or (test.endswith("*") and name.startswith(test[:-1])) for name in defined[file])]
    assert not missing, missing
