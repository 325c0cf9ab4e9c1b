"""``bk.load``: every kind of source, fine-tuning heads, and the errors that name what is wrong."""

import logging
import socket

import keras
import numpy as np
import pytest

import bidense_keras as bk
from bidense_keras import download
from bidense_keras.weights import load_folder, save_pretrained
from tests.conftest import SMALL, WEIGHTS_DIR

pytestmark = pytest.mark.backends

SEG = "bidense_upernet_demo_rooms_seg"
DEPTH = "bidense_upernet_demo_rooms_depth"
IMAGES = np.random.default_rng(0).uniform(0, 255, (1, 64, 96, 3)).astype("float32")


@pytest.fixture(scope="module")
def seg_preset():
    return bk.load(SEG)


def test_a_preset_loads_its_published_weights(seg_preset):
    mirror = load_folder(WEIGHTS_DIR / SEG)
    np.testing.assert_array_equal(seg_preset.predict(IMAGES, verbose=0), mirror.predict(IMAGES, verbose=0))
    assert seg_preset.class_names[:3] == ["wall", "floor", "ceiling"] and len(seg_preset.palette) == 9
    np.testing.assert_array_equal(bk.UperNet.from_preset(SEG).get_weights()[0], seg_preset.get_weights()[0])
    np.testing.assert_array_equal(bk.segmentation(SEG, pretrained=True).get_weights()[-1], seg_preset.get_weights()[-1])


def test_a_committed_folder_loads_with_plain_keras(seg_preset):
    native = keras.saving.load_model(WEIGHTS_DIR / SEG)
    assert isinstance(native, bk.UperNet) and native.class_names == seg_preset.class_names
    np.testing.assert_array_equal(native.predict(IMAGES, verbose=0), seg_preset.predict(IMAGES, verbose=0))


def test_a_keras_file_round_trip_is_exact(seg_preset, tmp_path):
    seg_preset.save(tmp_path / "model.keras")
    loaded = bk.load(tmp_path / "model.keras")
    assert loaded.get_config() == seg_preset.get_config()
    np.testing.assert_array_equal(loaded.predict(IMAGES, verbose=0), seg_preset.predict(IMAGES, verbose=0))
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "model.keras").predict(IMAGES, verbose=0),
                                  seg_preset.predict(IMAGES, verbose=0))


def test_a_hub_address_loads_through_a_local_hub(seg_preset, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from tests.hub_server import HubServer

    files = {name: (WEIGHTS_DIR / SEG / name).read_bytes() for name in ("config.json", "model.weights.h5")}
    server = HubServer({("someone/rooms", "2" * 40): files}).start()  # no metadata.json: optional for users
    lookup = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: lookup(host, *a, **k)
                        if host in ("127.0.0.1", "localhost") else pytest.fail(f"lookup of {host}"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    try:
        loaded = bk.load("hf://someone/rooms@main")
        with pytest.raises(download.WeightsError, match="not found"):
            bk.load("hf://someone/nothing")
    finally:
        server.stop()
    np.testing.assert_array_equal(loaded.predict(IMAGES, verbose=0), seg_preset.predict(IMAGES, verbose=0))
    with pytest.raises(ValueError, match="not a Hub address"):
        bk.load("hf://just-a-name")


def test_fine_tuning_to_new_classes_keeps_all_but_the_logits(seg_preset, caplog):
    with caplog.at_level(logging.WARNING, logger="bidense_keras"):
        tuned = bk.load(SEG, num_classes=3, class_names=("a", "b", "c"))
    assert "head_logits/kernel, head_logits/bias" in caplog.text and "9 -> 3" in caplog.text
    assert tuned.num_classes == 3 and tuned.class_names == ["a", "b", "c"] and tuned.palette is None
    kept = [(a.path, np.array_equal(a.numpy(), b.numpy())) for a, b in zip(tuned.weights, seg_preset.weights)
            if not a.path.startswith("head_logits/")]
    assert len(kept) == len(seg_preset.weights) - 2 and all(equal for _, equal in kept)
    assert tuned.predict(IMAGES, verbose=0).shape == (1, 64, 96, 3)


def test_a_new_depth_range_keeps_every_weight(caplog):
    base = bk.load(DEPTH)
    with caplog.at_level(logging.WARNING, logger="bidense_keras"):
        wider = bk.load(DEPTH, max_depth=20.0)
    assert "max_depth 10.0 -> 20.0" in caplog.text
    np.testing.assert_allclose(wider.predict(IMAGES, verbose=0), 2 * base.predict(IMAGES, verbose=0), rtol=1e-6)


def test_a_preset_without_weights_says_so_and_builds_with_pretrained_false():
    name = "bidense_deployable_upernet_demo_rooms_depth"
    with pytest.raises(ValueError, match=f"No pretrained weights are published for preset '{name}'"):
        bk.load(name)
    model = bk.load(name, pretrained=False, features=32)
    assert model.binarization == "bidense_deployable" and model.features == 32


@pytest.mark.parametrize("source,error,message", [
    ("bidense_upernet_demo_rooms_sek", ValueError, "Did you mean bidense_upernet_demo_rooms_seg"),
    ("/no/such/folder", FileNotFoundError, "No model folder at /no/such/folder"),
    ("missing.keras", FileNotFoundError, "No .keras file at missing.keras"),
])
def test_bad_sources_name_the_problem(source, error, message):
    with pytest.raises(error, match=message):
        bk.load(source)


def test_the_task_and_the_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="is a segmentation model, not depth"):
        bk.depth(SEG, pretrained=True)
    with pytest.raises(TypeError, match=r"\['dims'\] cannot change for a segmentation model"):
        bk.load(SEG, dims=(8, 16, 32, 64))
    with pytest.raises(TypeError, match=r"Unknown argument\(s\) \['colour'\]"):
        bk.load(SEG, colour="red")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        bk.load(tmp_path / "empty")
    save_pretrained(bk.depth(**SMALL, max_depth=5.0), tmp_path / "depth")
    with pytest.raises(ValueError, match="is a depth model, not segmentation"):
        bk.segmentation(tmp_path / "depth")


def test_models_carry_a_valid_head_description():
    with pytest.raises(ValueError, match="class_names has 2 names for num_classes=3"):
        bk.segmentation(**SMALL, num_classes=3, class_names=("a", "b"))
    with pytest.raises(ValueError, match="palette must be"):
        bk.segmentation(**SMALL, num_classes=2, palette=[[0, 0, 0], [0, 0, 300]])
    with pytest.raises(ValueError, match="max_depth > 0"):
        bk.depth(**SMALL, max_depth=-1.0)
    with pytest.raises(ValueError, match="features"):
        bk.segmentation(dims=SMALL["dims"], depths=SMALL["depths"], features=1, num_classes=2)
