"""Model folders in the Hugging Face Hub layout: ``config.json`` + ``model.weights.h5`` (+ ``README.md``).

``config.json`` holds ``format``, ``task``, ``dataset``, ``architecture`` (the
:class:`~bidense_keras.models.UperNet` keyword arguments), ``input_size``, and
``class_names`` + ``palette`` (segmentation) — everything needed to rebuild the
model and show its predictions.
"""

import json
import warnings
from pathlib import Path

from bidense_keras.files import atomic_path, write_text_atomic
from bidense_keras.models import UperNet

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
FORMAT = "bidense_keras/1"


def architecture_of(model):
    """The UperNet keyword arguments of ``model`` but ``task`` (its config without name and trainable)."""
    return {k: v for k, v in model.get_config().items() if k not in ("name", "trainable", "task")}


def save_pretrained(model, directory, **metadata):
    """Writes ``config.json`` and ``model.weights.h5`` of ``model`` into ``directory``.

    Args:
        model: a :class:`~bidense_keras.models.UperNet`.
        directory: the model folder (created if needed).
        **metadata: extra config entries, e.g. ``dataset``, ``input_size``,
            ``class_names``, ``palette``, ``metrics``.

    Each file is written under a temporary name and renamed, so an interrupted save
    leaves no half-written file behind.
    """
    directory = Path(directory)
    config = {"format": FORMAT, "task": model.task, "architecture": architecture_of(model), **metadata}
    if getattr(model, "optimizer", None) is not None:
        # save_weights would also store the optimizer's state (twice the model's size): save a clean copy.
        clean = UperNet.from_config(model.get_config())
        clean.set_weights(model.get_weights())
        model = clean
    with atomic_path(directory / WEIGHTS_FILE) as partial_weights:
        model.save_weights(partial_weights)
    write_text_atomic(directory / CONFIG_FILE, json.dumps(config, indent=2, default=list) + "\n")
    return directory


def read_config(directory):
    """The parsed ``config.json`` of a model folder, checked for the fields a model needs."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"No {CONFIG_FILE} in model folder {directory}.")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    missing = [key for key in ("format", "task", "architecture") if key not in config]
    if missing or config["format"] != FORMAT:
        raise ValueError(f"{path} is not a bidense_keras model config (missing {missing or 'format'}).")
    return config


WEIGHT_PRESERVING_OVERRIDES = ("input_shape", "zero_as_positive", "name", "binarization")


def load_pretrained(directory, **overrides):
    """Rebuilds the model of a folder written by :func:`save_pretrained` and loads its weights.

    Args:
        directory: the model folder.
        **overrides: UperNet arguments to change that keep the weights: ``input_shape``,
            ``zero_as_positive``, ``name``, ``binarization`` (among variants with the same
            weights, e.g. ``bidense`` -> ``bidense_deployable``).

    Raises:
        TypeError: an override that would change the architecture the weights were trained for.
        ValueError: when the weights file does not fit the architecture in the config.
    """
    fixed = sorted(set(overrides) - set(WEIGHT_PRESERVING_OVERRIDES))
    if fixed:
        raise TypeError(
            f"Pretrained weights fix the architecture, so {fixed} cannot be changed (allowed: "
            f"{list(WEIGHT_PRESERVING_OVERRIDES)}). To fine-tune for another head, build the model with "
            "pretrained=False and copy the backbone's weights, or train from the preset's architecture."
        )
    config = read_config(directory)
    model = UperNet(task=config["task"], **{**config["architecture"], **overrides})
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"No {WEIGHTS_FILE} in model folder {directory}.")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(weights)
    except (ValueError, OSError, KeyError) as error:
        raise ValueError(f"{weights} does not fit the architecture in {CONFIG_FILE}: {error}") from error
    # Keras only warns when parts of the file match no layer; a partial load is an error here.
    skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
    if skipped:
        raise ValueError(f"{weights} does not fit the architecture in {CONFIG_FILE}: {skipped[0]}")
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return model
