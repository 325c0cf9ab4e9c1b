"""Publishing model folders: model cards, the pinned registry of published files, Hub uploads.

The registry (``published_weights.json`` in the package) is written by
:func:`update_registry` from the folders themselves, never by hand: for each preset
it pins the Hub repository, the revision and the sha256 and size of every file.
"""

import json
import os
from pathlib import Path

from bidense_keras.download import sha256_of
from bidense_keras.files import write_text_atomic
from bidense_keras.weights import read_config

REGISTRY_PATH = Path(__file__).resolve().parent / "published_weights.json"
CARD_FILE = "README.md"
HUB_ORGANISATION = "bidense-keras"


def file_records(folder):
    """``{file name: {"sha256", "size"}}`` of every file in a model folder (sorted, hidden files skipped)."""
    return {
        path.name: {"sha256": sha256_of(path), "size": path.stat().st_size}
        for path in sorted(Path(folder).iterdir())
        if path.is_file() and not path.name.startswith(".")
    }


def read_registry(path=None):
    """The published-weights registry: ``{preset: {"repo_id", "revision", "files"}}`` ({} if absent)."""
    path = Path(path or REGISTRY_PATH)
    return json.loads(path.read_text()) if path.exists() else {}


def update_registry(folder, revision="main", repo_id=None, path=None):
    """Records (or refreshes) the files of one preset folder in the registry; returns its entry.

    Args:
        folder: ``weights/<preset>/``; the folder name is the preset name.
        revision: the Hub commit the files were pushed as (``main`` until pushed).
        repo_id: default ``bidense-keras/<preset>``.
        path: the registry JSON (default: the package's ``published_weights.json``).
    """
    folder = Path(folder)
    path = Path(path or REGISTRY_PATH)
    entry = {
        "repo_id": repo_id or f"{HUB_ORGANISATION}/{folder.name}",
        "revision": revision,
        "files": file_records(folder),
    }
    registry = read_registry(path)
    registry[folder.name] = entry
    write_text_atomic(path, json.dumps(dict(sorted(registry.items())), indent=2) + "\n")
    return entry


def _metric_cell(value):
    """Counts with thousands separators, large values to 0.1, scores to 4 decimals."""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4f}"


def _metrics_table(metrics):
    rows = [f"| {key} | {_metric_cell(value)} |" for key, value in metrics.items() if isinstance(value, (int, float))]
    return "\n".join(["| metric | value |", "| --- | --- |", *rows])


def write_model_card(folder):
    """Writes ``README.md`` (Hub model card) of a model folder from its ``config.json``.

    The config's ``description``, ``dataset``, ``recipe``, ``metrics`` and ``limits``
    entries fill the card; the architecture and task come from the config itself.
    """
    folder = Path(folder)
    config = read_config(folder)
    architecture = config["architecture"]
    task = config["task"]
    tag = "image-segmentation" if task == "segmentation" else "depth-estimation"
    head = (f"{architecture['num_classes']} classes" if task == "segmentation"
            else f"depth up to {architecture['max_depth']} m")
    lines = [
        "---",
        "library_name: keras",
        f"pipeline_tag: {tag}",
        "tags: [binary-neural-network, bidense, keras, upernet, convnext]",
        "---",
        f"# {folder.name}",
        "",
        config.get("description", f"BiDense UperNet for {task}."),
        "",
        "## Model",
        f"- binarization: `{architecture['binarization']}`; ConvNeXt dims {architecture['dims']}, "
        f"depths {architecture['depths']}, decoder width {architecture['features']}; {head}.",
        f"- input: RGB in [0, 255], any size (trained at {config.get('input_size')}); ImageNet "
        "normalization inside the model.",
        "",
        "## Use",
        "```python",
        "import bidense_keras as bk",
        f'model = bk.{"segmentation" if task == "segmentation" else "depth"}("{folder.name}", pretrained=True)',
        "```",
        "",
        "## Data and recipe",
        f"- dataset: {config.get('dataset', 'unknown')}",
        f"- recipe: {config.get('recipe', 'see the bidense_keras README')}",
        "",
        "## Metrics (held-out split)",
        _metrics_table(config.get("metrics", {})),
        "",
        "## Limits",
        config.get("limits", "Trained for demonstration; not a substitute for the paper's models."),
        "",
        "## Citation",
        "Rui Yin et al., BiDense: Binarization for Dense Prediction, arXiv:2411.10346, 2024.",
        "",
    ]
    return write_text_atomic(folder / CARD_FILE, "\n".join(lines))


def push(folder, repo_id=None, token=None):
    """Uploads a model folder to the Hub and records the new commit in the registry.

    Returns:
        The commit hash of the upload.
    """
    from huggingface_hub import HfApi

    folder = Path(folder)
    repo_id = repo_id or f"{HUB_ORGANISATION}/{folder.name}"
    api = HfApi(token=token or os.environ.get("HF_TOKEN"))
    api.create_repo(repo_id, exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=f"Upload {folder.name}")
    update_registry(folder, revision=commit.oid, repo_id=repo_id)
    return commit.oid


