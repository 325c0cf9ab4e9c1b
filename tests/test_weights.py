import json

import numpy as np
import pytest

import bidense_keras as bk
import keras

from bidense_keras.weights import load_folder, model_arguments, read_metadata, save_pretrained
from tests.conftest import SMALL

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def depth_model():
    model = bk.depth(**SMALL, max_depth=10.0)
    for weight in model.weights:
        weight.assign(np.random.default_rng(len(weight.path)).normal(size=weight.shape).astype("float32") * 0.05
                      + (1.0 if "variance" in weight.path else 0.0))
    return model


def test_save_and_load_round_trip(depth_model, tmp_path):
    save_pretrained(depth_model, tmp_path / "model", dataset="synthetic_rooms", input_size=(48, 64))
    metadata = read_metadata(tmp_path / "model")
    assert metadata["task"] == "depth" and metadata["dataset"] == "synthetic_rooms"
    assert metadata["parameter_count"] == depth_model.count_params()
    assert model_arguments(tmp_path / "model")["dims"] == list(SMALL["dims"])
    images = np.random.default_rng(0).uniform(0, 255, (1, 48, 64, 3)).astype("float32")
    expected = depth_model.predict(images, verbose=0)
    np.testing.assert_array_equal(load_folder(tmp_path / "model").predict(images, verbose=0), expected)
    # A Keras-native folder: plain keras.saving reads it too.
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "model").predict(images, verbose=0), expected)
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "metadata.json", "model.weights.h5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no partial or old folder left beside it


@pytest.mark.parametrize("key,value", [("features", 32), ("depths", [1, 1, 3, 1]), ("depths", [1, 1, 1, 1])])
def test_weights_that_do_not_fit_the_config(depth_model, tmp_path, key, value):
    save_pretrained(depth_model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["config"][key] = value
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="does not fit the architecture"):
        load_folder(tmp_path)


def test_missing_or_foreign_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="No config.json"):
        load_folder(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match="not the config of a bidense_keras model"):
        load_folder(tmp_path)
    (tmp_path / "config.json").write_text('{"class_name": ')
    with pytest.raises(ValueError, match="not valid JSON"):
        load_folder(tmp_path)


def test_first_format_folders_still_load(depth_model, tmp_path):
    """A folder of format bidense_keras/1 (one config.json with the architecture and metadata) loads as before."""
    save_pretrained(depth_model, tmp_path / "new")
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "model.weights.h5").write_bytes((tmp_path / "new" / "model.weights.h5").read_bytes())
    architecture = {"dims": list(SMALL["dims"]), "depths": list(SMALL["depths"]), "features": SMALL["features"],
                    "num_classes": None, "max_depth": 10.0, "binarization": "bidense", "include_preprocessing": True,
                    "zero_as_positive": False, "input_shape": [None, None, 3]}
    (legacy / "config.json").write_text(json.dumps({"format": "bidense_keras/1", "task": "depth",
                                                    "architecture": architecture, "dataset": "synthetic_rooms"}))
    assert read_metadata(legacy)["dataset"] == "synthetic_rooms"
    images = np.random.default_rng(1).uniform(0, 255, (1, 48, 64, 3)).astype("float32")
    np.testing.assert_array_equal(load_folder(legacy).predict(images, verbose=0), depth_model.predict(images, verbose=0))


def test_an_interrupted_save_keeps_the_old_folder(depth_model, tmp_path, monkeypatch):
    save_pretrained(depth_model, tmp_path / "model", dataset="first")
    before = {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()}

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(depth_model), "save_weights", fail)
    with pytest.raises(KeyboardInterrupt):
        save_pretrained(depth_model, tmp_path / "model", dataset="second")
    assert {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.slow
def test_a_trained_model_is_saved_without_its_optimizer_state(tmp_path):
    import h5py

    model = bk.depth(**SMALL, max_depth=10.0)
    model.compile(optimizer="adam", loss="mae")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    model.fit(images, np.ones((2, 32, 32, 1), "float32"), epochs=1, verbose=0)
    save_pretrained(model, tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as weights:
        assert "optimizer" not in weights
    np.testing.assert_array_equal(load_folder(tmp_path).predict(images, verbose=0), model.predict(images, verbose=0))


def test_overrides_that_change_the_architecture_are_refused(depth_model, tmp_path):
    save_pretrained(depth_model, tmp_path)
    with pytest.raises(TypeError, match=r"\['dims', 'features'\] cannot change for a depth model"):
        load_folder(tmp_path, dims=(8, 16, 32, 64), features=32)
    with pytest.raises(TypeError, match=r"\['num_classes'\] cannot change for a depth model"):
        load_folder(tmp_path, num_classes=3)
    with pytest.raises(ValueError, match="'fp32' has other weights than 'bidense'"):
        load_folder(tmp_path, binarization="fp32")
    deployable = load_folder(tmp_path, binarization="bidense_deployable", input_shape=(48, 64, 3))
    assert deployable.binarization == "bidense_deployable" and deployable.image_shape == (48, 64, 3)
    kernels = [w for w in deployable.weights if w.path.endswith("kernel")]
    np.testing.assert_array_equal(kernels[3].numpy(), [w for w in depth_model.weights if w.path.endswith("kernel")][3].numpy())
