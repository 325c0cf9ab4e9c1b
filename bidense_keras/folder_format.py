"""The model folder format: its file names, the metadata that pins the weights, and reading its JSON.

Storage code (saving and loading folders, downloads, publishing) imports this module, which imports no
model code. A folder (the Hugging Face Hub layout, and the unzipped ``.keras`` layout that
``keras.saving.load_model(folder)`` reads once ``bidense_keras`` is imported) holds:

* ``config.json``: the model's Keras serialization (``registered_name`` ``bidense_keras>UperNet`` or
  ``bidense_keras>DPT`` and all its arguments, class names and palette included);
* ``metadata.json``: ``format``, ``task``, ``keras_version``, ``bidense_keras_version``, ``date_saved``,
  ``parameter_count``, the sha256 pins of the weights files, and what describes the weights (``dataset``,
  ``input_size``, ``metrics``, ``recipe``, ``description``, ``limits``, ``source``, ``base_model``);
* ``model.weights.h5``: the Keras weights file;
* ``model.bits.npz`` (packed folders): the same weights with every binary kernel as sign bits
  (:mod:`bidense_keras.packing`); read in preference to the ``.h5``, and the only weights file
  ``bidense_keras`` needs. Folders without the ``.h5`` (the defaults shipped in the wheel, Hub downloads of
  packed presets) load with ``bidense_keras`` but not with ``keras.saving.load_model``, which needs the
  full published folder;
* ``README.md``: the model card, written by :mod:`bidense_keras.publish`.

Folders of the first format (``bidense_keras/1``: one ``config.json`` holding ``format``, ``task``,
``architecture`` and the metadata) still load: they are UperNet models.
"""

import json
from pathlib import Path

CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "model.weights.h5"
PACKED_FILE = "model.bits.npz"
PACKED_PIN = "packed_weights"  # metadata.json entry: {"sha256", "size"} of PACKED_FILE
WEIGHTS_PIN = "weights"  # metadata.json entry: {"sha256", "size"} of WEIGHTS_FILE (folders saved since 0.2.1)
CARD_FILE = "README.md"
FORMAT = "bidense_keras/2"
LEGACY_FORMAT = "bidense_keras/1"
LEGACY_REGISTERED_NAME = "bidense_keras>UperNet"  # the only family of the first format
REQUIRED_FILES = (CONFIG_FILE, METADATA_FILE)
WEIGHT_FILES = (PACKED_FILE, WEIGHTS_FILE)  # either makes a folder complete; the first found is loaded
FOLDER_FILES = (*REQUIRED_FILES, *WEIGHT_FILES, CARD_FILE)  # what save_pretrained may replace without overwrite


def read_json(path):
    """The JSON object in the file at ``path``; FileNotFoundError / ValueError name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No {path.name} in model folder {path.parent}.")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def is_legacy(config):
    """Whether a ``config.json`` is of the first format (``bidense_keras/1``)."""
    return config.get("format") == LEGACY_FORMAT


def registered_config(directory):
    """``(registered_name, keyword arguments with task)`` of a model folder's ``config.json``.

    The registered name (``bidense_keras>UperNet``) names the model class in Keras' registry.

    Raises:
        ValueError: a config that is not the Keras serialization of a bidense_keras model.
    """
    path = Path(directory) / CONFIG_FILE
    config = read_json(path)
    if is_legacy(config) and "architecture" in config and "task" in config:
        head = {key: config[key] for key in ("class_names", "palette") if key in config}
        return LEGACY_REGISTERED_NAME, {"task": config["task"], **config["architecture"], **head}
    name = config.get("registered_name")
    if isinstance(name, str) and name.startswith("bidense_keras>") and isinstance(config.get("config"), dict):
        return name, {key: value for key, value in config["config"].items() if key != "trainable"}
    raise ValueError(f"{path} is not the config of a bidense_keras model (no registered_name bidense_keras>... in it).")


def read_metadata(directory):
    """``metadata.json`` of a model folder (for a first-format folder: its config.json minus the architecture)."""
    directory = Path(directory)
    config = read_json(directory / CONFIG_FILE)
    if is_legacy(config):
        return {key: value for key, value in config.items() if key != "architecture"}
    return read_json(directory / METADATA_FILE)


def weights_file(directory):
    """The weights file a load reads: ``model.bits.npz`` if there, else ``model.weights.h5``.

    Raises:
        FileNotFoundError: the folder has neither.
    """
    for name in WEIGHT_FILES:
        if (Path(directory) / name).is_file():
            return Path(directory) / name
    raise FileNotFoundError(f"No weights file ({' or '.join(WEIGHT_FILES)}) in model folder {directory}.")


def weights_pin(directory, key):
    """The ``metadata.json`` pin ``key`` (:data:`WEIGHTS_PIN` or :data:`PACKED_PIN`) of a folder, or None: folders
    saved before 0.2.1, first-format folders and Hub repositories without ``metadata.json`` pin no ``.h5``."""
    directory = Path(directory)
    if is_legacy(read_json(directory / CONFIG_FILE)) or not (directory / METADATA_FILE).is_file():
        return None
    return read_metadata(directory).get(key)


def is_model_folder(path):
    """Whether ``path`` is a folder holding a ``config.json`` (a model folder, or a broken one to report)."""
    return Path(path).is_dir() and (Path(path) / CONFIG_FILE).is_file()
