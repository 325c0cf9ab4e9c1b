"""Publishing model folders (maintainers): model cards, the pinned registry, Hub uploads.

``python -m bidense_keras.publish pack|check|card|registry|push FOLDER`` and ``bundle``. The registry
(``published_weights.json``, read by :mod:`bidense_keras.registry`) is written by
:func:`update_registry` from the folders themselves, never by hand: for each preset it pins
the Hub repository, the revision and the sha256 and size of every file.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from bidense_keras import registry
from bidense_keras.download import bundled_presets, source_checkout_mirror
from bidense_keras.exits import run_command
from bidense_keras.families import family_of
from bidense_keras.files import atomic_folder, sha256_of, write_text_atomic
from bidense_keras.presets import DEFAULT_PRESETS, PRESETS
from bidense_keras.folder_format import (
    CARD_FILE,
    FOLDER_FILES,
    METADATA_FILE,
    PACKED_FILE,
    PACKED_PIN,
    REQUIRED_FILES,
    read_metadata,
)
from bidense_keras.weights import load_folder, model_config, save_pretrained

HUB_ORGANISATION = "bidense-keras"
LICENSE = "apache-2.0"
PIPELINE_TAGS = {"segmentation": "image-segmentation", "depth": "depth-estimation"}
# Entries of a card's metrics that are counts or timings, not evaluation results.
COUNTS = ("train_seconds", "binary_params", "float_params")
CITATION = "Rui Yin et al., BiDense: Binarization for Dense Prediction, arXiv:2411.10346, 2024."


def file_records(folder):
    """``{file name: {"sha256", "size"}}`` of every file in a model folder (sorted, hidden files skipped)."""
    return {
        path.name: {"sha256": sha256_of(path), "size": path.stat().st_size}
        for path in sorted(Path(folder).iterdir())
        if path.is_file() and not path.name.startswith(".")
    }


def update_registry(folder, revision="main", repo_id=None, path=None):
    """Records (or refreshes) the files of one preset folder in the registry; returns its entry.

    Args:
        folder: ``weights/<preset>/``; the folder name is the preset name.
        revision: the Hub commit the files were pushed as (``main`` until pushed).
        repo_id: default ``bidense-keras/<preset>``.
        path: the registry JSON (default: the package's ``published_weights.json``).
    """
    folder = Path(folder)
    path = Path(path or registry.REGISTRY_PATH)
    entry = {
        "repo_id": repo_id or f"{HUB_ORGANISATION}/{folder.name}",
        "revision": revision,
        "files": file_records(folder),
    }
    entries = registry.read_registry(path)
    entries[folder.name] = entry
    write_text_atomic(path, json.dumps(dict(sorted(entries.items())), indent=2) + "\n")
    return entry


def _metric_cell(value):
    """Counts with thousands separators, large values to 0.1, scores to 4 decimals."""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4f}"


def _metrics_table(metrics):
    rows = [f"| {key} | {_metric_cell(value)} |" for key, value in metrics.items() if isinstance(value, (int, float))]
    return "\n".join(["| metric | value |", "| --- | --- |", *rows])


def _quick_check_line(check):
    values = ", ".join(f"{key} {value:.4f}" for key, value in check["metrics"].items())
    return f"{values} on the first {check['held_out_scenes']} held-out scenes at {check['size'][0]}x{check['size'][1]}"


def _eval_results(task, dataset, metrics):
    """One model-index entry per measured metric (counts and timings are not evaluation results)."""
    return [
        EvalResult(task_type=PIPELINE_TAGS[task], dataset_type=dataset, dataset_name=dataset, dataset_split="validation",
                   metric_type=key.lower(), metric_name=key, metric_value=value)
        for key, value in metrics.items()
        if isinstance(value, (int, float)) and key not in COUNTS
    ]


def usage_snippet(name, repo_id=None):
    """The Python lines that load this folder's model: by preset name, else from its Hub repository."""
    source = name if name in PRESETS else f"hf://{repo_id or f'{HUB_ORGANISATION}/{name}'}"
    return f'import bidense_keras as bk\n\nmodel = bk.load("{source}")'


FAMILY_TAGS = {"upernet": ("upernet", "convnext"), "dpt": ("dpt", "vit")}


def _architecture_line(family, arguments):
    """The backbone of a model folder's arguments in words."""
    if family == "dpt":
        return (f"ViT width {arguments['embed_dim']}, {arguments['depth']} blocks, {arguments['num_heads']} "
                f"heads, reassemble widths {list(arguments['out_channels'])}")
    return f"ConvNeXt dims {list(arguments['dims'])}, depths {list(arguments['depths'])}"


def _training_line(seconds, machine):
    """How long training took and on what, e.g. ``"59 min (wall clock) on 2 CPU cores (x86_64); ..."``."""
    duration = f"{seconds / 60:,.0f} min (wall clock)" if seconds else "time not recorded"
    return f"{duration} on {machine}"


def model_card(folder, repo_id=None):
    """The :class:`huggingface_hub.ModelCard` of a model folder, from its config and metadata.

    The card data holds license, library_name, tags, pipeline_tag, datasets, base_model
    (for fine-tunes) and the model-index of measured metrics; the text gives the model, the
    usage snippet, data and recipe, the metrics table, limits and the citation.
    """
    folder = Path(folder)
    (model_class, arguments), metadata = model_config(folder), read_metadata(folder)
    family = family_of(model_class)
    task, dataset, metrics = arguments["task"], metadata.get("dataset", "unknown"), metadata.get("metrics", {})
    data = ModelCardData(
        license=LICENSE, library_name="keras", pipeline_tag=PIPELINE_TAGS[task], model_name=folder.name,
        tags=["binary-neural-network", "bidense", "bidense_keras", *FAMILY_TAGS[family], arguments["binarization"]],
        datasets=[dataset], base_model=metadata.get("base_model"),
        eval_results=_eval_results(task, dataset, metrics) or None,
    )
    head = (f"{arguments['num_classes']} classes" if task == "segmentation"
            else f"depth up to {arguments['max_depth']} m")
    body = [
        f"# {folder.name}", "",
        metadata.get("description", f"BiDense {model_class.__name__} for {task}."), "",
        "## Model",
        f"- binarization: `{arguments['binarization']}`; {_architecture_line(family, arguments)}, "
        f"decoder width {arguments['features']}; {head}.",
        f"- input: RGB in [0, 255], any size (trained at {metadata.get('input_size')}); ImageNet "
        "normalization inside the model.",
        "- a Keras model folder: `keras.saving.load_model(folder)` loads it once `bidense_keras` is imported.",
        *([f"- `model.bits.npz` ({metadata[PACKED_PIN]['size'] / 1e6:.2f} MB): the same weights with every binary "
           "kernel as sign bits and one scale per channel, what `bk.load` reads; `model.weights.h5` holds them "
           "as float32 for Keras."] if metadata.get(PACKED_PIN) else []), "",
        "## Use", "```python", usage_snippet(folder.name, repo_id), "```", "",
        "## Data and recipe",
        f"- dataset: {dataset}",
        *([f"- fine-tuned from: {metadata['base_model']}"] if metadata.get("base_model") else []),
        f"- recipe: {metadata.get('recipe', 'see the bidense_keras README')}",
        *([f"- training: {_training_line(metrics.get('train_seconds'), metadata['trained_on'])}"]
          if metadata.get("trained_on") else []), "",
        "## Metrics (held-out split)", _metrics_table(metrics), "",
        *([f"Quick check (re-measured by the tests): {_quick_check_line(metadata['quick_check'])}.", ""]
          if metadata.get("quick_check") else []),
        "## Limits", metadata.get("limits", "Trained for demonstration; not a substitute for the paper's models."), "",
        "## Citation", CITATION, "",
    ]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n" + "\n".join(body))


def write_model_card(folder, repo_id=None):
    """Writes ``README.md`` (the Hub model card, see :func:`model_card`) into a model folder; returns its path."""
    return write_text_atomic(Path(folder) / CARD_FILE, str(model_card(folder, repo_id)))


QUICK_CHECK = {"held_out_scenes": 16, "size": [240, 320], "seed": 0}
QUICK_CHECK_METRICS = {"segmentation": ("mIoU", "pixAcc"), "depth": ("d1", "abs_rel")}


def _held_out_metrics(folder, data_dir, scenes):
    """Every metric of a synthetic-rooms model folder on the first ``scenes`` held-out scenes (model, metrics)."""
    from bidense_keras.train import experiment  # training code: only for this maintainer step

    model = load_folder(folder)
    synthetic = {"val_samples": scenes, "height": QUICK_CHECK["size"][0], "width": QUICK_CHECK["size"][1],
                 "seed": QUICK_CHECK["seed"]}
    scenes_dir = Path(data_dir) / f"held_out_{scenes}"  # one split per size: a split is never rewritten
    return model, experiment.evaluate(model, "synthetic_rooms", scenes_dir, batch_size=8, synthetic=synthetic)


def measure_quick_check(folder, data_dir):
    """Metrics of a synthetic-rooms model folder on the first :data:`QUICK_CHECK` held-out scenes.

    Stored as ``quick_check`` in ``metadata.json`` by ``python -m bidense_keras.publish check``, so a test
    can re-measure every published preset in seconds (the card's full metrics take 200 scenes).
    Returns ``{**QUICK_CHECK, "metrics": {...}}``.
    """
    model, metrics = _held_out_metrics(folder, data_dir, QUICK_CHECK["held_out_scenes"])
    return {**QUICK_CHECK, "metrics": {key: metrics[key] for key in QUICK_CHECK_METRICS[model.task]}}


def _update_metadata(folder, **entries):
    metadata = {**read_metadata(folder), **entries}
    write_text_atomic(Path(folder) / METADATA_FILE, json.dumps(metadata, indent=2) + "\n")


def record_quick_check(folder, data_dir):
    """Measures :func:`measure_quick_check` and writes it into the folder's ``metadata.json``; returns it."""
    check = measure_quick_check(folder, data_dir)
    _update_metadata(folder, quick_check=check)
    return check


def record_held_out_metrics(folder, data_dir, scenes=200):
    """Measures the card's metrics again on ``scenes`` held-out scenes (the split training evaluates on).

    The numbers replace those in ``metadata.json``'s ``metrics``; counts and timings stay. Returns the metrics.
    """
    _, measured = _held_out_metrics(folder, data_dir, scenes)
    measured = {key: value for key, value in measured.items() if isinstance(value, (int, float))}
    _update_metadata(folder, metrics={**read_metadata(folder).get("metrics", {}), **measured})
    return measured


# metadata.json entries that save_pretrained writes itself.
SAVED_ENTRIES = ("format", "task", "keras_version", "bidense_keras_version", "date_saved", "parameter_count", PACKED_PIN)


def pack_folder(folder):
    """Rewrites a model folder packed (``model.bits.npz`` beside the canonical ``.h5``), keeping its metadata.

    The binary kernels become canonical (:mod:`bidense_keras.packing`), so metrics measured before
    should be measured again (``check``, and ``bidense-keras evaluate``); the card is rewritten.

    Returns:
        The size in bytes of the packed weights file.
    """
    metadata = {key: value for key, value in read_metadata(folder).items() if key not in SAVED_ENTRIES}
    save_pretrained(load_folder(folder), folder, packed=True, **metadata)
    write_model_card(folder)
    return read_metadata(folder)[PACKED_PIN]["size"]


def bundle(presets=None, mirror=None, target=None):
    """Copies the model files of packed presets (default: the defaults) into the package's ``bundled/``.

    Args:
        presets: preset names (their folders must be published packed).
        mirror: folder of published ``<preset>/`` folders (default: the checkout's ``weights/``).
        target: default :func:`bidense_keras.download.bundled_presets`.

    Returns:
        ``{preset: bytes bundled}``.
    """
    presets = sorted(presets or set(DEFAULT_PRESETS.values()))
    mirror, target = Path(mirror or source_checkout_mirror()), Path(target or bundled_presets())
    sizes = {}
    names = (*REQUIRED_FILES, PACKED_FILE)
    for preset in presets:
        if not (mirror / preset / PACKED_FILE).is_file():
            raise ValueError(f"{mirror / preset} is not packed: run `python -m bidense_keras.publish pack` first.")
        with atomic_folder(target / preset, FOLDER_FILES) as partial:
            for name in names:
                (partial / name).write_bytes((mirror / preset / name).read_bytes())
        sizes[preset] = sum((target / preset / name).stat().st_size for name in names)
    return sizes


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


README_FILE = Path(__file__).resolve().parents[1] / "README.md"
TABLE_MARKERS = ("<!-- preset table: python -m bidense_keras.publish readme -->", "<!-- end of preset table -->")
SCORES = {"segmentation": (("mIoU", "mIoU"), ("pixAcc", "pixel acc.")), "depth": (("d1", "δ1"), ("abs_rel", "AbsRel"))}


def preset_table(mirror=None):
    """The markdown table of the presets with published weights and their held-out scores (from each
    folder's ``metadata.json`` in ``mirror``, default the repository's ``weights/``): never typed by hand."""
    mirror = Path(mirror or source_checkout_mirror())
    rows = ["| preset | family | task | binarization | parameters | held-out scores (200 synthetic rooms) |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name in sorted(registry.read_registry()):
        preset, metadata = PRESETS[name], read_metadata(mirror / name)
        metrics = metadata.get("metrics", {})
        scores = ", ".join(f"{label} {metrics[key]:.3f}" for key, label in SCORES[preset["task"]] if key in metrics)
        rows.append(f"| `{name}` | {preset['family']} | {preset['task']} | {preset['architecture']['binarization']} | "
                    f"{metadata['parameter_count'] / 1e6:.2f} M | {scores or 'not measured'} |")
    return "\n".join(rows) + "\n"


def readme_with_table(text, table):
    """``text`` (the README) with the part between :data:`TABLE_MARKERS` replaced by ``table``."""
    start, end = TABLE_MARKERS
    if start not in text or end not in text:
        raise ValueError(f"The README has no preset table markers ({start} ... {end}).")
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{table}{end}{rest.split(end, 1)[1]}"


def build_parser():
    """The parser of ``python -m bidense_keras.publish``."""
    parser = argparse.ArgumentParser(prog="python -m bidense_keras.publish", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    pack = commands.add_parser("pack", help="rewrite a model folder with its binary kernels also stored as bits")
    pack.add_argument("folder", help="weights/<preset> or any model folder")
    packed = commands.add_parser("bundle", help="copy the packed default presets into the package (bundled/)")
    packed.add_argument("presets", nargs="*", help="default: the default presets")
    card = commands.add_parser("card", help="write a model folder's README.md from its config and metadata")
    card.add_argument("folder", help="weights/<preset> or any model folder")
    card.add_argument("--repo-id", help="Hub repository named in the usage snippet of a non-preset folder")
    check = commands.add_parser("check", help="measure a synthetic-rooms folder on 16 held-out scenes into metadata.json")
    check.add_argument("folder", help="weights/<preset>")
    check.add_argument("--data-dir", required=True, help="where the held-out scenes are rendered (or already are)")
    check.add_argument("--full", action="store_true",
                       help="also measure the card's metrics again on the 200 held-out scenes training used")
    pin = commands.add_parser("registry", help="pin a model folder's files (sha256, size) in the registry")
    pin.add_argument("folder", help="weights/<preset>")
    pin.add_argument("--revision", default="main", help="Hub commit of the files")
    commands.add_parser("readme", help="write the preset table of README.md from the registry and the folders")
    upload = commands.add_parser("push", help="upload a model folder to the Hub and pin its commit (needs HF_TOKEN)")
    upload.add_argument("folder", help="weights/<preset>")
    upload.add_argument("--repo-id", help="default bidense-keras/<preset>")
    return parser


def _run(args):
    if args.command == "pack":
        print(f"packed {args.folder}: {pack_folder(args.folder):,} bytes of weights; measure it again (check)")
    elif args.command == "bundle":
        for preset, size in bundle(args.presets).items():
            print(f"bundled {preset}: {size:,} bytes")
    elif args.command == "card":
        print(f"wrote {write_model_card(args.folder, args.repo_id)}")
    elif args.command == "check":
        print(f"{args.folder}: {record_quick_check(args.folder, args.data_dir)}")
        if args.full:
            print(f"{args.folder}: {record_held_out_metrics(args.folder, args.data_dir)}")
    elif args.command == "registry":
        entry = update_registry(args.folder, revision=args.revision)
        print(f"recorded {len(entry['files'])} files of {Path(args.folder).name} in {registry.REGISTRY_PATH}")
    elif args.command == "readme":
        write_text_atomic(README_FILE, readme_with_table(README_FILE.read_text(), preset_table()))
        print(f"wrote the preset table of {README_FILE}")
    else:
        print(f"pushed {args.folder} as commit {push(args.folder, args.repo_id)}; registry updated")


def main(argv=None):
    """Entry point of ``python -m bidense_keras.publish``; returns the exit code (:mod:`bidense_keras.exits`)."""
    return run_command(_run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
