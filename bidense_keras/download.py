"""Verified weight downloads: preset folders from a local path, a mirror or the Hugging Face Hub.

A preset's ``weights`` entry pins a Hub repository, a commit and the sha256 and size of
every file::

    {"repo_id": "bidense-keras/<preset>", "revision": "<40-hex commit>",
     "files": {"config.json": {"sha256": "...", "size": 1234},
               "model.weights.h5": {"sha256": "...", "size": 56789}, ...}}

Whatever the source, every file is checked against that entry before it is used.

Environment variables are read at call time (``huggingface_hub`` reads its own at
import time): ``HF_ENDPOINT`` (Hub address), ``HF_HUB_OFFLINE`` (cache only),
``HF_TOKEN`` and ``BIDENSE_KERAS_WEIGHTS`` (a folder holding ``<preset>/`` folders).
"""

import json
import os
import re
from pathlib import Path

import httpx2
import huggingface_hub
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from bidense_keras.errors import WeightsError
from bidense_keras.files import sha256_of
from bidense_keras.folder_format import (
    CONFIG_FILE,
    METADATA_FILE,
    PACKED_FILE,
    PACKED_PIN,
    REQUIRED_FILES,
    WEIGHT_FILES,
    WEIGHTS_FILE,
)

WEIGHTS_ENV = "BIDENSE_KERAS_WEIGHTS"
LOCAL_HINT = (f"or fetch the folder elsewhere (bidense-keras download PRESET DIR) and set {WEIGHTS_ENV} to a "
              "folder holding <preset>/ folders")


def source_checkout_mirror():
    """``weights/`` of the repository when the package runs from a source checkout, else None.

    An installed wheel has no mirror: its presets come from ``$BIDENSE_KERAS_WEIGHTS``, the
    bundled defaults (:func:`bundled_presets`) or the Hub.
    """
    root = Path(__file__).resolve().parents[1]
    is_checkout = (root / "setup.cfg").is_file() and (root / "bidense_keras" / "__init__.py").is_file()
    return root / "weights" if is_checkout else None


def bundled_presets():
    """The package's ``bundled/`` folder: packed folders of the default presets, shipped in the wheel."""
    return Path(__file__).resolve().parent / "bundled"


def _pinned(names, weights):
    """Those of ``names`` that the registry entry ``weights`` pins, in order."""
    return [name for name in names if name in weights["files"]]


def model_files(weights):
    """The files fetched for a preset: ``config.json``, ``metadata.json`` (current format) and one weights
    file, ``model.bits.npz`` when published packed, else ``model.weights.h5``.

    Raises:
        WeightsError: the entry pins no weights file.
    """
    weights_files = _pinned(WEIGHT_FILES, weights)
    if not weights_files:
        raise WeightsError(f"The registry entry of {weights.get('repo_id')} pins no weights file ({', '.join(WEIGHT_FILES)}).")
    return _pinned(REQUIRED_FILES, weights) + weights_files[:1]


def _holds_model(folder, weights):
    """Whether ``folder`` has the required files and one of the weights files the entry pins."""
    return all((folder / name).is_file() for name in _pinned(REQUIRED_FILES, weights)) and any(
        (folder / name).is_file() for name in _pinned(WEIGHT_FILES, weights))


def verify_file(path, expected, label):
    """Checks the file at ``path`` against ``expected`` (``{"sha256": ..., "size": ...}``).

    Args:
        path: the file.
        expected: its pinned sha256 and size in bytes.
        label: the preset or repository named in error messages.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        WeightsError: when the size or the sha256 differs.
    """
    path = Path(path)
    size = path.stat().st_size
    if size < expected["size"]:
        raise WeightsError(f"{label}: {path.name} is truncated ({size} of {expected['size']} bytes) at {path}.")
    if size != expected["size"]:
        raise WeightsError(f"{label}: {path.name} has {size} bytes, expected {expected['size']}, at {path}.")
    digest = sha256_of(path)
    if digest != expected["sha256"]:
        raise WeightsError(
            f"{label}: checksum mismatch for {path.name} at {path}: sha256 {digest}, expected {expected['sha256']}."
        )
    return path


# A git ref or commit: letters, digits and ._/- in components that neither start with "." nor are empty
# (git check-ref-format), so a revision can never name a path outside the cache's refs/ folder.
_REVISION = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9._\-]*(/[A-Za-z0-9_\-][A-Za-z0-9._\-]*)*")


def check_hub_address(repo_id, revision):
    """Raises a ValueError unless ``repo_id`` is a Hub repository id (``owner/name``, as ``huggingface_hub``
    validates it) and ``revision`` a branch, tag or commit name that cannot leave the cache (no ``..``)."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(f"{repo_id!r} is not a Hub repository id: {error}") from error
    if not isinstance(revision, str) or not _REVISION.fullmatch(revision) or revision.endswith(".lock"):
        raise ValueError(f"{revision!r} is not a Hub revision (a branch, tag or commit: letters, digits and ._/-, "
                         "no component starting with '.').")


def _hub_timeout():
    """Seconds to wait for the Hub's first answer (``HF_HUB_ETAG_TIMEOUT``, default 10), read at call time."""
    try:
        return float(os.environ.get("HF_HUB_ETAG_TIMEOUT", 10))
    except ValueError:
        return 10.0


def _probe(repo_id, filename, revision, endpoint, cache_dir):
    """Asks the Hub once for the file's metadata, within :func:`_hub_timeout` and without retries, unless the
    cache has it: a Hub that never answers fails here in seconds (``hf_hub_download`` alone retries with
    longer timeouts for minutes when nothing is cached)."""
    if _offline() or huggingface_hub.try_to_load_from_cache(repo_id, filename, cache_dir, revision) is not None:
        return
    url = huggingface_hub.hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    try:
        huggingface_hub.get_hf_file_metadata(url, token=os.environ.get("HF_TOKEN") or None, timeout=_hub_timeout(),
                                             endpoint=endpoint, retry_on_errors=False)
    except httpx2.TimeoutException:
        raise
    except (HfHubHTTPError, httpx2.TransportError, OSError):
        return  # an answer, even an error: hf_hub_download reports it as usual


def _offline():
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def _remove_cached(path):
    """Deletes a cache snapshot entry and the blob its symlink points to."""
    blob = path.resolve()
    path.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)


def download_file(repo_id, filename, revision, expected, cache_dir=None, label=None):
    """Fetches ``filename`` of ``repo_id`` at ``revision`` through the Hugging Face cache and verifies it.

    A cached file is used without any request when ``revision`` is a commit hash.

    Args:
        repo_id: Hub repository, e.g. ``"bidense-keras/<preset>"``.
        filename: file inside the repository.
        revision: commit hash (pinned presets), branch or tag.
        expected: ``{"sha256": ..., "size": ...}``, or None to skip the check (user uploads).
        cache_dir: Hugging Face cache folder (default: ``huggingface_hub``'s).
        label: name used in error messages (default ``repo_id``).

    Returns:
        The :class:`~pathlib.Path` of the file in the cache's snapshot folder.

    Raises:
        WeightsError: when the file cannot be fetched or fails verification; a file that
            fails verification is removed from the cache, so the next call downloads it again.
    """
    label = label or repo_id
    check_hub_address(repo_id, revision)
    endpoint = os.environ.get("HF_ENDPOINT") or None
    where = f"{filename} of {repo_id}@{revision}"
    try:
        _probe(repo_id, filename, revision, endpoint, cache_dir)
        path = Path(
            huggingface_hub.hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                cache_dir=cache_dir,
                endpoint=endpoint,
                local_files_only=_offline(),
                token=os.environ.get("HF_TOKEN") or None,
            )
        )
    except RepositoryNotFoundError as error:
        raise WeightsError(
            f"{label}: repository {repo_id} not found on {endpoint or 'the Hub'} while fetching {filename} "
            "(if it is private or gated, set HF_TOKEN)."
        ) from error
    except RevisionNotFoundError as error:
        raise WeightsError(f"{label}: revision {revision} not found in {repo_id} while fetching {filename}.") from error
    except RemoteEntryNotFoundError as error:
        raise WeightsError(f"{label}: {filename} not found in {repo_id}@{revision}.") from error
    except LocalEntryNotFoundError as error:
        if _offline():
            raise WeightsError(
                f"{label}: {where} is offline and not in the cache (HF_HUB_OFFLINE is set): "
                f"run once online, {LOCAL_HINT}."
            ) from error
        raise WeightsError(
            f"{label}: could not get {where} from {endpoint or 'the Hub'} ({error.__cause__ or error}) and it is "
            f"not in the cache: check the connection or HF_ENDPOINT and retry, {LOCAL_HINT}."
        ) from error
    except httpx2.TimeoutException as error:
        raise WeightsError(f"{label}: {endpoint or 'the Hub'} did not answer within {_hub_timeout():g} s while fetching "
                           f"{where} ({error}); check the connection, HF_ENDPOINT or HF_HUB_ETAG_TIMEOUT and retry, "
                           f"{LOCAL_HINT}.") from error
    except (HfHubHTTPError, httpx2.TransportError, OSError) as error:
        raise WeightsError(f"{label}: downloading {where} failed ({error}); retry, {LOCAL_HINT}.") from error
    if expected is not None:
        try:
            verify_file(path, expected, label)
        except WeightsError:
            _remove_cached(path)
            raise
    return path


def _local_folder(folder, weights, label):
    """``folder`` with every file of ``weights`` it holds verified, or None if it lacks a model file."""
    if not _holds_model(folder, weights):
        return None
    for name, expected in weights["files"].items():
        if (folder / name).is_file():
            verify_file(folder / name, expected, label)
    return folder


def resolve_preset_folder(preset, weights, path=None, mirror=None, cache_dir=None):
    """The folder holding the verified files of ``preset``.

    Sources, first match wins:

    1. ``path`` (it must hold the model files);
    2. ``$BIDENSE_KERAS_WEIGHTS/<preset>/``;
    3. the repository mirror ``mirror/<preset>/`` (default: ``weights/`` of a source checkout);
    4. the packed defaults bundled in the package (:func:`bundled_presets`);
    5. the Hub: the :func:`model_files` at the pinned revision (the cache's snapshot folder).

    A local folder is a candidate when it holds ``config.json``, ``metadata.json`` and either pinned
    weights file; its files listed in ``weights["files"]`` are verified, and a wrong one raises (the
    folder is not skipped). Other files (``README.md``, the second weights file) may be absent.

    Args:
        preset: preset name, used for the folder name and in messages.
        weights: the preset's ``weights`` registry entry.
        path: explicit model folder.
        mirror: folder holding ``<preset>/`` folders.
        cache_dir: Hugging Face cache folder.

    Raises:
        WeightsError: when a file is wrong, or cannot be found or downloaded.
    """
    if path is not None:
        folder = _local_folder(Path(path), weights, preset)
        if folder is None:
            required, options = ", ".join(_pinned(REQUIRED_FILES, weights)), " or ".join(_pinned(WEIGHT_FILES, weights))
            raise WeightsError(f"{preset}: {path} does not hold the model files {required} and {options}.")
        return folder
    environment, mirror = os.environ.get(WEIGHTS_ENV), mirror or source_checkout_mirror()
    for root in filter(None, (environment, mirror, bundled_presets())):
        folder = _local_folder(Path(root) / preset, weights, preset)
        if folder is not None:
            return folder
    try:
        files = [
            download_file(weights["repo_id"], name, weights["revision"], weights["files"][name], cache_dir, label=preset)
            for name in model_files(weights)
        ]
    except WeightsError as error:
        searched = (f"${WEIGHTS_ENV}/{preset} " + ("(not there)" if environment else "(unset)") + ", "
                    + (f"mirror {mirror}/{preset} (not there)" if mirror else "no repository mirror (installed package)")
                    + ", the package's bundled presets (not this one)")
        raise WeightsError(f"{error} Searched before the Hub: {searched}.") from error
    return files[0].parent


def _optional_file(repo_id, name, revision, cache_dir):
    """``name`` of ``repo_id`` fetched into the cache, or None when the repository has no such file."""
    try:
        return download_file(repo_id, name, revision, None, cache_dir)
    except WeightsError as error:
        absent = isinstance(error.__cause__, RemoteEntryNotFoundError)
        if not (absent or (_offline() and isinstance(error.__cause__, LocalEntryNotFoundError))):
            raise
        return None  # offline, a file the cache does not have counts as absent


def resolve_uri(uri, cache_dir=None):
    """The local folder of ``hf://owner/repo[@revision]`` (revision ``main`` by default).

    ``config.json``, ``metadata.json`` when the repository has one (Keras-saved repositories do
    too) and one weights file are fetched into the Hugging Face cache: ``model.bits.npz`` when the
    metadata pins one (loading checks its sha256), else ``model.weights.h5``. No checksum is pinned
    for user repositories by the registry: loading checks the weights against the config.

    Raises:
        ValueError: an address whose repository id or revision is malformed (``@../..`` included).
        WeightsError: when a required file cannot be downloaded.
    """
    repo_id, _, revision = str(uri).removeprefix("hf://").partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"{uri!r} is not a Hub address; write hf://owner/repo or hf://owner/repo@revision.")
    revision = revision or "main"
    check_hub_address(repo_id, revision)
    config = download_file(repo_id, CONFIG_FILE, revision, None, cache_dir)
    metadata = _optional_file(repo_id, METADATA_FILE, revision, cache_dir)
    packed = metadata is not None and PACKED_PIN in json.loads(metadata.read_text())
    download_file(repo_id, PACKED_FILE if packed else WEIGHTS_FILE, revision, None, cache_dir)
    return config.parent
