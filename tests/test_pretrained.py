"""``load(preset)`` / ``segmentation(pretrained=True)``: verified loading of published model folders."""

import numpy as np
import pytest

import bidense_keras as bk
from bidense_keras import download, presets, registry
from bidense_keras.files import sha256_of
from bidense_keras.weights import save_pretrained
from tests.conftest import SMALL

PRESET = "test_upernet_small_seg"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A trained-looking small model saved as a mirror folder, and its registry entry."""
    mirror = tmp_path_factory.mktemp("mirror")
    model = bk.segmentation(**SMALL, num_classes=4)
    for weight in model.weights:
        weight.assign(np.random.default_rng(len(weight.path)).normal(size=weight.shape).astype("float32") * 0.05
                      + (1.0 if "variance" in weight.path else 0.0))
    folder = save_pretrained(model, mirror / PRESET)
    files = {p.name: {"sha256": sha256_of(p), "size": p.stat().st_size} for p in folder.iterdir()}
    entry = {"task": "segmentation", "family": "upernet", "dataset": "test", "backbone": None, "input_size": (64, 64),
             "architecture": {**SMALL, "num_classes": 4},
             "weights": {"repo_id": f"bidense-keras/{PRESET}", "revision": "0" * 40, "files": files}}
    return model, folder, entry


def test_pretrained_preset_loads_verified_weights(published, monkeypatch):
    model, folder, entry = published
    monkeypatch.setitem(presets.PRESETS, PRESET, entry)
    loaded = bk.segmentation(PRESET, pretrained=True, weights_path=folder)
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), model.predict(images, verbose=0))


def test_pretrained_preset_with_a_corrupt_file_is_refused(published, monkeypatch, tmp_path):
    _, folder, entry = published
    monkeypatch.setitem(presets.PRESETS, PRESET, entry)
    corrupt = tmp_path / PRESET
    corrupt.mkdir()
    for path in folder.iterdir():
        data = bytearray(path.read_bytes())
        if path.name == "model.weights.h5":
            data[len(data) // 2] ^= 0xFF
        (corrupt / path.name).write_bytes(bytes(data))
    monkeypatch.setenv("BIDENSE_KERAS_WEIGHTS", str(tmp_path))
    with pytest.raises(download.WeightsError, match=f"{PRESET}.*model.weights.h5|model.weights.h5.*{PRESET}"):
        bk.segmentation(PRESET, pretrained=True)


def test_load_reads_a_local_folder(published):
    model, folder, _ = published
    loaded = bk.load(folder)
    assert loaded.get_config()["num_classes"] == 4
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_published_preset_downloads_from_a_local_hub_then_works_offline(tmp_path, monkeypatch):
    """segmentation(pretrained=True) with the weights/ mirror and the bundled copy hidden: download, verify,
    cache, offline."""
    import socket
    from pathlib import Path

    from huggingface_hub import constants

    from tests.hub_server import HubServer

    preset = presets.DEFAULT_PRESETS["segmentation"]
    weights = presets.PRESETS[preset]["weights"]
    assert weights is not None, "the default segmentation preset has published weights"
    folder = Path(__file__).resolve().parents[1] / "weights" / preset
    files = {name: (folder / name).read_bytes() for name in weights["files"]}
    server = HubServer({(weights["repo_id"], "1" * 40): files}).start()
    lookup = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        assert host in ("127.0.0.1", "localhost"), f"lookup of {host}"
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(download, "source_checkout_mirror", lambda: None)
    monkeypatch.setattr(download, "bundled_presets", lambda: tmp_path / "no-bundled-presets")
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("BIDENSE_KERAS_WEIGHTS", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    try:
        downloaded = bk.segmentation(pretrained=True)
        assert server.count("GET") == len(download.model_files(weights))
    finally:
        server.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cached = bk.segmentation(pretrained=True)
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 96, 3)).astype("float32")
    np.testing.assert_array_equal(cached.predict(images, verbose=0), downloaded.predict(images, verbose=0))


def test_the_registry_lists_the_default_presets():
    assert set(presets.DEFAULT_PRESETS.values()) <= set(registry.read_registry())


@pytest.mark.parametrize("preset", sorted(registry.read_registry()))
def test_every_published_preset_loads_from_the_mirror(preset):
    """Registry, weights/ mirror and preset table agree: the verified weights load into the preset's model."""
    entry = presets.PRESETS[preset]
    model = bk.load(preset, task=entry["task"])
    assert model.get_config()["binarization"] == entry["architecture"]["binarization"]
    outputs = model.predict(np.full((1, 64, 96, 3), 128.0, np.float32), verbose=0)
    assert outputs.shape[:3] == (1, 64, 96) and np.isfinite(outputs).all()


@pytest.fixture(scope="module")
def held_out_dirs(tmp_path_factory):
    return {task: tmp_path_factory.mktemp(f"held_out_{task}") for task in ("segmentation", "depth")}


@pytest.mark.parametrize("preset", sorted(registry.read_registry()))
def test_every_published_preset_reproduces_its_quick_check(preset, held_out_dirs):
    """The weights, loader and model code of today give the metrics recorded when the preset was published
    (first 16 held-out scenes; within 2 points, for other CPUs' float kernels)."""
    from bidense_keras.publish import measure_quick_check
    from bidense_keras.weights import read_metadata
    from tests.conftest import WEIGHTS_DIR

    recorded = read_metadata(WEIGHTS_DIR / preset)["quick_check"]
    measured = measure_quick_check(WEIGHTS_DIR / preset, held_out_dirs[presets.PRESETS[preset]["task"]])
    assert measured["held_out_scenes"] == recorded["held_out_scenes"] == 16
    for key, value in recorded["metrics"].items():
        assert measured["metrics"][key] == pytest.approx(value, abs=0.02), key


def test_the_bundled_defaults_are_the_published_packed_files(tmp_path):
    """bidense_keras/bundled (shipped in the wheel) holds the mirror's config, metadata and bits, nothing else."""
    from tests.conftest import WEIGHTS_DIR

    bundled = download.bundled_presets()
    assert sorted(path.name for path in bundled.iterdir()) == sorted(set(presets.DEFAULT_PRESETS.values()))
    for preset in presets.DEFAULT_PRESETS.values():
        names = sorted(path.name for path in (bundled / preset).iterdir())
        assert names == ["config.json", "metadata.json", "model.bits.npz"]
        for name in names:
            assert (bundled / preset / name).read_bytes() == (WEIGHTS_DIR / preset / name).read_bytes(), name
        weights = presets.PRESETS[preset]["weights"]  # an installed package: no mirror, the bundled copy
        assert download.resolve_preset_folder(preset, weights, mirror=tmp_path / "no-mirror") == bundled / preset
