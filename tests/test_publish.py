import json
from types import SimpleNamespace

import pytest
import yaml

from bidense_keras import publish, registry
from bidense_keras.files import sha256_of
from tests.conftest import write_model_folder


@pytest.fixture
def folder(tmp_path):
    return write_model_folder(
        tmp_path / "bidense_upernet_demo_rooms_seg", dataset="synthetic_rooms", input_size=[240, 320],
        metrics={"mIoU": 0.5, "pixAcc": 0.75, "train_seconds": 1741.63, "binary_params": 2490592},
    )


def test_registry_pins_every_file(folder, tmp_path):
    path = tmp_path / "registry.json"
    entry = publish.update_registry(folder, path=path)
    assert entry["repo_id"] == "bidense-keras/bidense_upernet_demo_rooms_seg" and entry["revision"] == "main"
    assert entry["files"]["model.weights.h5"] == {"sha256": sha256_of(folder / "model.weights.h5"), "size": 17}
    assert registry.read_registry(path) == {folder.name: entry}
    (folder / "model.weights.h5").write_bytes(b"retrained")
    publish.update_registry(folder, revision="a" * 40, path=path)
    refreshed = registry.read_registry(path)[folder.name]
    assert refreshed["revision"] == "a" * 40 and refreshed["files"]["model.weights.h5"]["size"] == 9


def test_model_card_has_metadata_usage_and_metrics(folder):
    card = publish.write_model_card(folder).read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["library_name"] == "keras" and header["license"] == "apache-2.0"
    assert header["pipeline_tag"] == "image-segmentation" and header["datasets"] == ["synthetic_rooms"]
    assert "binary-neural-network" in header["tags"] and "base_model" not in header
    results = header["model-index"][0]["results"][0]
    assert {(m["name"], m["value"]) for m in results["metrics"]} == {("mIoU", 0.5), ("pixAcc", 0.75)}
    assert 'model = bk.load("bidense_upernet_demo_rooms_seg")' in card
    assert "| mIoU | 0.5000 |" in card and "9 classes" in card
    assert "| train_seconds | 1,741.6 |" in card and "| binary_params | 2,490,592 |" in card
    assert "- training:" not in card  # a folder that does not say where it was trained


def test_model_card_says_how_long_and_on_what_the_model_trained(folder):
    metadata = json.loads((folder / "metadata.json").read_text())
    (folder / "metadata.json").write_text(json.dumps({**metadata, "trained_on": "2 CPU cores (x86_64); tensorflow 2.21.0"}))
    card = publish.write_model_card(folder).read_text()
    assert "- training: 29 min (wall clock) on 2 CPU cores (x86_64); tensorflow 2.21.0" in card


def test_a_fine_tune_card_names_its_base_model_and_hub_repository(tmp_path):
    folder = write_model_folder(tmp_path / "my_rooms_3_classes", dataset="my_rooms",
                                base_model="bidense-keras/bidense_upernet_demo_rooms_seg")
    card = publish.write_model_card(folder, repo_id="me/my_rooms_3_classes").read_text()
    assert yaml.safe_load(card.split("---")[1])["base_model"] == "bidense-keras/bidense_upernet_demo_rooms_seg"
    assert 'bk.load("hf://me/my_rooms_3_classes")' in card and "fine-tuned from" in card


@pytest.mark.parametrize("preset", sorted(registry.read_registry()))
def test_the_usage_snippet_of_each_published_card_runs(preset):
    """The code block of every committed card loads that preset (from the repository's weights/ mirror)."""
    from pathlib import Path

    card = (Path(__file__).resolve().parents[1] / "weights" / preset / "README.md").read_text()
    snippet = card.split("```python\n")[1].split("```")[0]
    namespace = {}
    exec(compile(snippet, f"{preset}/README.md", "exec"), namespace)
    assert namespace["model"].name and namespace["model"].count_params() > 1_000_000


def test_push_uploads_and_pins_the_commit(folder, tmp_path, monkeypatch):
    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, exist_ok):
            calls.append(("create", repo_id))

        def upload_folder(self, repo_id, folder_path, commit_message):
            calls.append(("upload", repo_id, folder_path))
            return SimpleNamespace(oid="c" * 40)

    monkeypatch.setattr("huggingface_hub.HfApi", FakeApi)
    monkeypatch.setattr(registry, "REGISTRY_PATH", tmp_path / "registry.json")
    assert publish.main(["push", str(folder), "--repo-id", "me/demo"]) == 0
    assert ("upload", "me/demo", str(folder)) in calls
    assert registry.read_registry(tmp_path / "registry.json")[folder.name]["revision"] == "c" * 40


@pytest.fixture
def trained_folder(tmp_path):
    import keras

    import bidense_keras as bk
    from bidense_keras.weights import save_pretrained
    from tests.conftest import SMALL

    keras.utils.set_random_seed(0)
    return save_pretrained(bk.segmentation(**SMALL, num_classes=4), tmp_path / "mirror" / "small_preset",
                           dataset="synthetic_rooms", metrics={"mIoU": 0.5, "train_seconds": 12.0})


def test_pack_keeps_the_metadata_and_bundle_copies_only_the_packed_model_files(trained_folder, tmp_path):
    from bidense_keras.weights import PACKED_FILE, load_folder, read_metadata

    before = read_metadata(trained_folder)
    size = publish.pack_folder(trained_folder)
    after = read_metadata(trained_folder)
    assert after["packed_weights"]["size"] == size == (trained_folder / PACKED_FILE).stat().st_size
    assert {key: after[key] for key in ("dataset", "metrics")} == {key: before[key] for key in ("dataset", "metrics")}
    assert f"`model.bits.npz` ({size / 1e6:.2f} MB)" in (trained_folder / "README.md").read_text()

    sizes = publish.bundle(["small_preset"], mirror=trained_folder.parent, target=tmp_path / "bundled")
    bundled = tmp_path / "bundled" / "small_preset"
    assert sorted(path.name for path in bundled.iterdir()) == ["config.json", "metadata.json", "model.bits.npz"]
    assert sizes == {"small_preset": sum(path.stat().st_size for path in bundled.iterdir())}
    assert all((bundled / path.name).read_bytes() == path.read_bytes() for path in bundled.iterdir())
    assert load_folder(bundled).count_params() == load_folder(trained_folder).count_params()


def test_bundle_refuses_a_folder_that_is_not_packed(trained_folder, tmp_path):
    with pytest.raises(ValueError, match="is not packed: run `python -m bidense_keras.publish pack` first"):
        publish.bundle(["small_preset"], mirror=trained_folder.parent, target=tmp_path / "bundled")
    assert not (tmp_path / "bundled").exists()
