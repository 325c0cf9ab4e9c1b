import json
from types import SimpleNamespace

import pytest

from bidense_keras import cli, publish
from bidense_keras.download import sha256_of
from bidense_keras.weights import FORMAT


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "bidense_upernet_demo_rooms_seg"
    folder.mkdir()
    config = {"format": FORMAT, "task": "segmentation", "dataset": "synthetic_rooms", "input_size": [240, 320],
              "architecture": {"dims": [32, 64, 128, 256], "depths": [1, 1, 3, 1], "features": 64,
                               "num_classes": 9, "binarization": "bidense"},
              "metrics": {"mIoU": 0.5, "pixAcc": 0.75, "train_seconds": 1741.63, "binary_params": 2490592}}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.weights.h5").write_bytes(b"\x89HDF fake weights")
    return folder


def test_registry_pins_every_file(folder, tmp_path):
    registry = tmp_path / "registry.json"
    entry = publish.update_registry(folder, path=registry)
    assert entry["repo_id"] == "bidense-keras/bidense_upernet_demo_rooms_seg" and entry["revision"] == "main"
    assert entry["files"]["model.weights.h5"] == {"sha256": sha256_of(folder / "model.weights.h5"), "size": 17}
    assert publish.read_registry(registry) == {folder.name: entry}
    (folder / "model.weights.h5").write_bytes(b"retrained")
    publish.update_registry(folder, revision="a" * 40, path=registry)
    refreshed = publish.read_registry(registry)[folder.name]
    assert refreshed["revision"] == "a" * 40 and refreshed["files"]["model.weights.h5"]["size"] == 9


def test_model_card_has_metadata_usage_and_metrics(folder):
    card = publish.write_model_card(folder).read_text()
    assert card.startswith("---\nlibrary_name: keras\npipeline_tag: image-segmentation")
    assert 'bk.segmentation("bidense_upernet_demo_rooms_seg", pretrained=True)' in card
    assert "| mIoU | 0.5000 |" in card and "synthetic_rooms" in card and "9 classes" in card
    assert "| train_seconds | 1,741.6 |" in card and "| binary_params | 2,490,592 |" in card


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
    monkeypatch.setattr(publish, "REGISTRY_PATH", tmp_path / "registry.json")
    assert cli.main(["push", str(folder), "--repo-id", "me/demo"]) == 0
    assert ("upload", "me/demo", str(folder)) in calls
    assert publish.read_registry(tmp_path / "registry.json")[folder.name]["revision"] == "c" * 40
