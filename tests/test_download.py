"""Verified weight downloads against a local Hub server (127.0.0.1): cache, offline, faults, sources."""

import hashlib
import json
import re
import socket
import time

import pytest
from huggingface_hub import constants

from bidense_keras import download
from bidense_keras.download import WeightsError, resolve_preset_folder, resolve_uri
from bidense_keras.files import sha256_of
from tests.hub_server import HubServer

PRESET = "tiny_preset"
REPO = "bidense-keras/tiny_preset"
COMMIT = hashlib.sha1(b"first commit").hexdigest()
FINETUNE_REPO = "someone/finetune"
FINETUNE_COMMIT = hashlib.sha1(b"finetune commit").hexdigest()
FILES = {
    "config.json": json.dumps({"format": "bidense_keras/1", "task": "depth", "architecture": {}}).encode(),
    "model.weights.h5": bytes(range(256)) * 16,
    "README.md": b"# tiny preset\n",
}
NEEDED = ("config.json", "model.weights.h5")  # what a local copy needs: README.md is not fetched
PACKED_REPO = "bidense-keras/packed_preset"
PACKED_FILES = {  # published with both weight files: only the bits are fetched
    **FILES, "metadata.json": b'{"packed_weights": {}}', "model.bits.npz": bytes(range(64)) * 4,
}
FINETUNE_FILES = {"config.json": b'{"finetuned": true}', "model.weights.h5": bytes(range(255, -1, -1)) * 8}
PACKED_FINETUNE_REPO = "someone/packed-finetune"
SAVED_REPO = "someone/saved"  # what save_pretrained(packed=False) uploads: metadata, no bits
SAVED_FILES = {**FINETUNE_FILES, "metadata.json": b'{"task": "depth"}'}


def entry(files=FILES, repo_id=REPO, revision=COMMIT):
    """A registry ``weights`` entry pinning ``files``."""
    pins = {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in files.items()}
    return {"repo_id": repo_id, "revision": revision, "files": pins}


WEIGHTS = entry()


@pytest.fixture
def hub(monkeypatch):
    """A running local Hub with the preset and a fine-tune; HF_ENDPOINT points to it.

    Nothing may leave 127.0.0.1: host lookups other than local ones are refused and
    recorded, and huggingface_hub's telemetry (a daily ``GET {ENDPOINT}/api/agent-harnesses``,
    its endpoint fixed at import time) is off.
    """
    server = HubServer({(REPO, COMMIT): FILES, (PACKED_REPO, COMMIT): PACKED_FILES,
                        (FINETUNE_REPO, FINETUNE_COMMIT): FINETUNE_FILES,
                        (PACKED_FINETUNE_REPO, FINETUNE_COMMIT): PACKED_FILES,
                        (SAVED_REPO, FINETUNE_COMMIT): SAVED_FILES}).start()
    blocked = []
    lookup = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            blocked.append(host)
            raise OSError(f"test blocked a lookup of {host}")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    for name in ("HF_HUB_OFFLINE", "HF_TOKEN", "BIDENSE_KERAS_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    yield server
    server.stop()
    assert not blocked
    assert all("/resolve/" in path for _, path, _ in server.requests), server.requests


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "hf-cache"


@pytest.fixture
def mirror(tmp_path):
    """An empty repository mirror, so the package's own ``weights/`` folder is never used."""
    return tmp_path / "mirror"


@pytest.fixture
def no_backoff(monkeypatch):
    """huggingface_hub sleeps 1-8 s between retries; skip the waits, record them."""
    sleeps = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    return sleeps


def write_folder(folder, files=FILES):
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def assert_preset_files(folder):
    for name in NEEDED:
        assert (folder / name).read_bytes() == FILES[name]


def assert_not_cached(cache, mirror, monkeypatch):
    """Nothing in the cache is accepted without downloading: offline, the preset is not found."""
    assert not list(cache.rglob("*.incomplete"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="offline and not in the cache"):
        resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache)
    monkeypatch.delenv("HF_HUB_OFFLINE")


def assert_downloads_again(hub, cache, mirror):
    """With the fault cleared, the next call downloads (GETs) and returns verified files."""
    gets = hub.count("GET")
    assert_preset_files(resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache))
    assert hub.count("GET") - gets == len(NEEDED)


def test_first_download_lands_in_cache(hub, cache, mirror):
    folder = resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache)
    assert folder.is_relative_to(cache) and folder.name == COMMIT
    assert_preset_files(folder)
    assert hub.count("GET") == len(NEEDED)
    blobs = list((cache / "models--bidense-keras--tiny_preset" / "blobs").iterdir())
    assert sorted(sha256_of(blob) for blob in blobs) == sorted(WEIGHTS["files"][name]["sha256"] for name in NEEDED)


def test_a_packed_preset_fetches_its_bits_not_the_h5(hub, cache, mirror):
    folder = resolve_preset_folder("packed_preset", entry(PACKED_FILES, repo_id=PACKED_REPO), mirror=mirror,
                                   cache_dir=cache)
    fetched = sorted(path.rsplit("/", 1)[1] for method, path, _ in hub.requests if method == "GET")
    assert fetched == ["config.json", "metadata.json", "model.bits.npz"]
    assert (folder / "model.bits.npz").read_bytes() == PACKED_FILES["model.bits.npz"]


def test_cached_load_makes_no_request_and_works_with_server_stopped(hub, cache, mirror):
    first = resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache)
    requests = hub.count()
    assert resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache) == first
    assert hub.count() == requests
    hub.stop()
    assert_preset_files(resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache))


def test_offline_mode_uses_cache_and_fails_clearly_without_it(hub, cache, mirror, tmp_path, monkeypatch):
    resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache)
    requests = hub.count()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert_preset_files(resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache))
    with pytest.raises(WeightsError, match=rf"{PRESET}: config\.json .*offline and not in the cache.*BIDENSE_KERAS"):
        resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=tmp_path / "empty-cache")
    assert hub.count() == requests


def test_unknown_file_or_repo_is_named(hub, cache, mirror):
    missing_file = entry({**FILES, "metadata.json": b"{}"})
    with pytest.raises(WeightsError, match=rf"{PRESET}: metadata\.json not found in {REPO}"):
        resolve_preset_folder(PRESET, missing_file, mirror=mirror, cache_dir=cache)
    with pytest.raises(WeightsError, match=r"repository bidense-keras/nope not found .*config\.json"):
        resolve_preset_folder(PRESET, entry(repo_id="bidense-keras/nope"), mirror=mirror, cache_dir=cache)


def test_server_error_leaves_nothing_cached(hub, cache, mirror, monkeypatch, no_backoff):
    hub.fail_with_status = 500
    with pytest.raises(WeightsError, match=rf"{PRESET}: could not get config\.json .*500"):
        resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache)
    assert no_backoff, "huggingface_hub retries 5xx with backoff"
    assert_not_cached(cache, mirror, monkeypatch)
    hub.fail_with_status = None
    assert_downloads_again(hub, cache, mirror)


def test_truncated_body_fails_and_leaves_nothing_cached(hub, cache, mirror, monkeypatch, no_backoff):
    # Small chunks so huggingface_hub keeps part of the body and resumes with Range requests
    # (with its default 10 MB chunks, a partial chunk is dropped and the GET restarts from 0).
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16)
    hub.truncate = True
    with pytest.raises(WeightsError, match=rf"{PRESET}: downloading config\.json of {REPO}@{COMMIT} failed"):
        resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache)
    assert ("GET", f"/{REPO}/resolve/{COMMIT}/config.json", "bytes=32-") in hub.requests
    assert_not_cached(cache, mirror, monkeypatch)
    hub.truncate = False
    assert_downloads_again(hub, cache, mirror)


def test_wrong_bytes_fail_checksum_and_are_removed_from_cache(hub, cache, mirror, monkeypatch):
    hub.corrupt = True
    with pytest.raises(WeightsError, match=rf"{PRESET}: checksum mismatch for config\.json"):
        resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache)
    storage = cache / "models--bidense-keras--tiny_preset"
    assert not list((storage / "blobs").iterdir())
    assert not (storage / "snapshots" / COMMIT / "config.json").exists()
    assert_not_cached(cache, mirror, monkeypatch)
    hub.corrupt = False
    assert_downloads_again(hub, cache, mirror)


def test_cache_corrupted_on_disk_is_detected_and_replaced(hub, cache, mirror):
    folder = resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache)
    weights_file = (folder / "model.weights.h5").resolve()
    weights_file.write_bytes(weights_file.read_bytes()[:100])
    with pytest.raises(WeightsError, match=rf"{PRESET}: model\.weights\.h5 is truncated \(100 of 4096 bytes\)"):
        resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache)
    assert not weights_file.exists()
    gets = hub.count("GET")
    assert_preset_files(resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache))
    assert hub.count("GET") == gets + 1


def test_wrong_revision_is_named(hub, cache, mirror):
    revision = "f" * 40
    with pytest.raises(WeightsError, match=f"revision {revision} not found in {REPO}"):
        resolve_preset_folder(PRESET, entry(revision=revision), mirror=mirror, cache_dir=cache)


def test_resolution_order_and_local_verification(hub, cache, mirror, tmp_path, monkeypatch):
    explicit = write_folder(tmp_path / "explicit")
    env_root = tmp_path / "env"
    write_folder(env_root / PRESET)
    write_folder(mirror / PRESET)
    monkeypatch.setenv("BIDENSE_KERAS_WEIGHTS", str(env_root))

    assert resolve_preset_folder(PRESET, WEIGHTS, path=explicit, mirror=mirror, cache_dir=cache) == explicit
    assert resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache) == env_root / PRESET
    monkeypatch.delenv("BIDENSE_KERAS_WEIGHTS")
    monkeypatch.setattr(download, "bundled_presets", lambda: tmp_path / "bundled")
    write_folder(tmp_path / "bundled" / PRESET, {name: FILES[name] for name in NEEDED})  # as in the wheel
    assert resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache) == mirror / PRESET
    assert resolve_preset_folder(PRESET, WEIGHTS, mirror=tmp_path / "none", cache_dir=cache) == tmp_path / "bundled" / PRESET
    (tmp_path / "bundled" / PRESET / "config.json").unlink()
    assert hub.count() == 0
    assert resolve_preset_folder(PRESET, WEIGHTS, mirror=tmp_path / "none", cache_dir=cache).is_relative_to(cache)

    # A preset published with both weight files: a local folder holding either one is a candidate.
    both = entry({**FILES, "model.bits.npz": b"bits"})
    assert resolve_preset_folder(PRESET, both, path=explicit, mirror=mirror, cache_dir=cache) == explicit

    # A folder without the weights file is not a candidate; one with a wrong file raises.
    monkeypatch.setenv("BIDENSE_KERAS_WEIGHTS", str(env_root))
    (env_root / PRESET / "model.weights.h5").unlink()
    assert resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache) == mirror / PRESET
    (mirror / PRESET / "model.weights.h5").write_bytes(b"\0" * len(FILES["model.weights.h5"]))
    mismatch = rf"{PRESET}: checksum mismatch for model\.weights\.h5 at {re.escape(str(mirror))}"
    with pytest.raises(WeightsError, match=mismatch):
        resolve_preset_folder(PRESET, WEIGHTS, mirror=mirror, cache_dir=cache)
    (explicit / "README.md").write_bytes(b"# edited preset readme\n")
    with pytest.raises(WeightsError, match=rf"{PRESET}: README\.md has 23 bytes, expected 14"):
        resolve_preset_folder(PRESET, WEIGHTS, path=explicit, mirror=mirror, cache_dir=cache)
    with pytest.raises(WeightsError, match="does not hold the model files config.json and model.weights.h5"):
        resolve_preset_folder(PRESET, WEIGHTS, path=tmp_path / "none", mirror=mirror, cache_dir=cache)


def test_resolve_uri_fetches_a_hub_repository(hub, cache, tmp_path):
    """config.json and a weights file are required (the bits when the repository has them and metadata.json)."""
    with pytest.raises(ValueError, match="not a Hub address"):
        resolve_uri("hf://owner/repo/extra")
    folder = resolve_uri(f"hf://{FINETUNE_REPO}@{FINETUNE_COMMIT}", cache_dir=cache)
    assert folder.name == FINETUNE_COMMIT
    for name, data in FINETUNE_FILES.items():
        assert (folder / name).read_bytes() == data
    assert resolve_uri(f"hf://{FINETUNE_REPO}", cache_dir=cache) == folder
    packed = resolve_uri(f"hf://{PACKED_FINETUNE_REPO}@{FINETUNE_COMMIT}", cache_dir=cache)
    assert sorted(path.name for path in packed.iterdir()) == ["config.json", "metadata.json", "model.bits.npz"]
    saved = resolve_uri(f"hf://{SAVED_REPO}@{FINETUNE_COMMIT}", cache_dir=cache)  # metadata pins no bits: the h5
    assert sorted(path.name for path in saved.iterdir()) == ["config.json", "metadata.json", "model.weights.h5"]
    with pytest.raises(WeightsError, match=f"revision v9 not found in {FINETUNE_REPO}"):
        resolve_uri(f"hf://{FINETUNE_REPO}@v9", cache_dir=cache)


def test_a_cached_hub_repository_loads_offline_packed_or_not(hub, cache, monkeypatch):
    for repo in (FINETUNE_REPO, SAVED_REPO, PACKED_FINETUNE_REPO):
        online = resolve_uri(f"hf://{repo}@{FINETUNE_COMMIT}", cache_dir=cache)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        requests = hub.count()
        assert resolve_uri(f"hf://{repo}@{FINETUNE_COMMIT}", cache_dir=cache) == online
        assert hub.count() == requests
        monkeypatch.delenv("HF_HUB_OFFLINE")
