import json

import numpy as np
import pytest

import bidense_keras as bk
from bidense_keras.weights import load_pretrained, read_config, save_pretrained
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
    save_pretrained(depth_model, tmp_path, dataset="synthetic_rooms", input_size=(48, 64))
    config = read_config(tmp_path)
    assert config["task"] == "depth" and config["dataset"] == "synthetic_rooms"
    assert config["architecture"]["dims"] == list(SMALL["dims"])
    restored = load_pretrained(tmp_path)
    images = np.random.default_rng(0).uniform(0, 255, (1, 48, 64, 3)).astype("float32")
    np.testing.assert_array_equal(restored.predict(images, verbose=0), depth_model.predict(images, verbose=0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.weights.h5"]


@pytest.mark.parametrize("key,value", [("features", 32), ("depths", [1, 1, 3, 1]), ("depths", [1, 1, 1, 1])])
def test_weights_that_do_not_fit_the_config(depth_model, tmp_path, key, value):
    save_pretrained(depth_model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["architecture"][key] = value
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="does not fit the architecture"):
        load_pretrained(tmp_path)


def test_missing_or_foreign_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="No config.json"):
        read_config(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match="not a bidense_keras model config"):
        read_config(tmp_path)


def test_a_trained_model_is_saved_without_its_optimizer_state(tmp_path):
    import h5py

    model = bk.depth(**SMALL, max_depth=10.0)
    model.compile(optimizer="adam", loss="mae")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    model.fit(images, np.ones((2, 32, 32, 1), "float32"), epochs=1, verbose=0)
    save_pretrained(model, tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as weights:
        assert "optimizer" not in weights
    np.testing.assert_array_equal(load_pretrained(tmp_path).predict(images, verbose=0), model.predict(images, verbose=0))


def test_overrides_that_change_the_architecture_are_refused(depth_model, tmp_path):
    save_pretrained(depth_model, tmp_path)
    with pytest.raises(TypeError, match=r"cannot be changed.*\['features', 'max_depth'\]|\['features', 'max_depth'\] cannot"):
        load_pretrained(tmp_path, max_depth=5.0, features=32)
    deployable = load_pretrained(tmp_path, binarization="bidense_deployable", input_shape=(48, 64, 3))
    assert deployable.binarization == "bidense_deployable" and deployable.image_shape == (48, 64, 3)
