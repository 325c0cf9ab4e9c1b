"""Where a Keras model comes from: a preset, a model folder, ``hf://owner/repo[@revision]`` or a ``.keras`` file.

:func:`load_source` is what ``UperNet.from_preset`` / ``DPT.from_preset`` call and what
:func:`bidense_keras.load` builds on (adding ``.tflite`` files and the task-named entry points). It finds
the model class from the source itself (the preset's family, the folder's ``registered_name``), so it
imports no model code.
"""

import json
import zipfile
import zlib
from pathlib import Path

import keras

from bidense_keras import download, integrity
from bidense_keras.families import (
    check_arguments,
    family_class,
    get_family,
    model_classes,
)
from bidense_keras.folder_format import is_model_folder
from bidense_keras.presets import PRESETS, get_preset
from bidense_keras.transfer import with_overrides
from bidense_keras.weights import load_folder


def pretrained_folder(preset_name, weights_path=None):
    """The verified local folder of a preset's published weights (found or downloaded by
    :func:`bidense_keras.download.resolve_preset_folder`, the one place that knows where they are).

    Raises:
        ValueError: unknown preset, or no weights published for it.
        bidense_keras.errors.WeightsError: missing, corrupt or undownloadable files.
    """
    preset = get_preset(preset_name)
    if preset["weights"] is None:
        raise ValueError(
            f"No pretrained weights are published for preset {preset_name!r} (`bidense-keras presets` lists which "
            "have them). Load its architecture with pretrained=False and train it (bidense-keras train), or "
            "convert an official BiDense checkpoint with bidense_keras.convert.from_official_checkpoint(path)."
        )
    return download.resolve_preset_folder(preset_name, preset["weights"], path=weights_path)


def preset_architecture(preset, overrides):
    """The model arguments of a preset entry with ``overrides`` (``backbone`` names a size of its family)."""
    family = get_family(preset["family"])
    architecture = {"task": preset["task"], **preset["architecture"]}
    backbone = overrides.pop("backbone", None)
    if backbone is not None:
        if backbone not in family.backbone_sizes:
            raise ValueError(f"Unknown {family.name} backbone {backbone!r}; choose one of {sorted(family.backbone_sizes)}.")
        architecture.update(family.backbone_sizes[backbone])
    check_arguments(family.model_class, overrides, also=("backbone",))
    if overrides.get("num_classes", architecture.get("num_classes")) != architecture.get("num_classes"):
        architecture.update(class_names=None, palette=None)  # the preset's names and colours no longer fit
    return {**architecture, **overrides}


def _load_preset(name, pretrained, weights_path, overrides):
    preset = get_preset(name)
    if not pretrained:
        return family_class(preset["family"])(**preset_architecture(preset, dict(overrides)))
    return load_folder(pretrained_folder(name, weights_path), **overrides)


def _check_keras_archive(path):
    """Raises a ValueError unless ``path`` is a whole zip archive (a ``.keras`` file is one): empty,
    truncated and bit-flipped files are named here, not as Keras' "File not found" or a BadZipFile traceback."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # reads every member, checking its CRC
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, zlib.error) as error:
        raise ValueError(f"{path} is not a readable .keras file (empty, truncated or corrupt: {error}).") from error
    if damaged is not None:
        raise ValueError(f"{path} is corrupt: {damaged} in it fails its checksum (the file was damaged).")


def _load_keras_file(path, overrides):
    if not Path(path).is_file():
        raise FileNotFoundError(f"No .keras file at {path}.")
    _check_keras_archive(path)
    try:
        model = keras.saving.load_model(path, compile=False)
    except (ValueError, KeyError, TypeError, OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a .keras file of a bidense_keras model ({type(error).__name__}: "
                         f"{str(error)[:300]}).") from error
    if not isinstance(model, model_classes()):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a bidense_keras model "
                         f"({', '.join(cls.__name__ for cls in model_classes())}).")
    integrity.check_finite_weights(model, path)
    return with_overrides(model, **overrides)


def looks_like_path(source):
    """Whether the text ``source`` names a file or folder rather than a preset."""
    return any(separator in source for separator in ("/", "\\")) or source.startswith(".") or Path(source).exists()


def check_wanted(source, found, wanted, what):
    """Raises a ValueError when ``wanted`` (a task or family, or None for any) is not what ``source`` holds."""
    if wanted is not None and found != wanted:
        raise ValueError(f"{source} is a{'n' if found[0] in 'aeiou' else ''} {found} model, not {wanted} "
                         f"(the {what} it was asked for).")


def load_source(source, *, model_class=None, task=None, architecture=None, pretrained=True, weights_path=None,
                **overrides):
    """A Keras model from a preset name, a model folder, ``hf://owner/repo[@revision]`` or a ``.keras`` file.

    Args:
        source: see :func:`bidense_keras.load` (everything but ``.tflite``).
        model_class: refuse a model of another class (``UperNet.from_preset`` of a DPT preset); the base
            class :class:`~bidense_keras.models.DensePredictionModel` takes any.
        task: ``"segmentation"`` or ``"depth"`` to refuse a model of the other task.
        architecture: ``"upernet"`` or ``"dpt"`` to refuse a model of the other family.
        pretrained, weights_path, **overrides: as for :func:`bidense_keras.load`.

    Raises:
        ValueError, FileNotFoundError, TypeError, bidense_keras.errors.WeightsError: as :func:`bidense_keras.load`.
    """
    text = str(source)
    family = getattr(model_class, "family", None)
    if family is not None and architecture not in (None, family):
        raise TypeError(f"{model_class.__name__}.from_preset loads {family} models; architecture={architecture!r} "
                        f"names another family (use {family_class(architecture).__name__}.from_preset).")
    architecture = architecture or family
    if text.endswith(".tflite"):
        raise ValueError(f"{text} is a TFLite flatbuffer, not a Keras model: load it with bidense_keras.load.")
    if architecture is not None:
        get_family(architecture)  # an unknown family is named before anything is read
    if text in PRESETS:  # before building anything
        check_wanted(text, PRESETS[text]["task"], task, "task")
        check_wanted(text, PRESETS[text]["family"], architecture, "architecture")
    if text.startswith("hf://"):
        model = load_folder(download.resolve_uri(text), **overrides)
    elif text.endswith(".keras"):
        model = _load_keras_file(text, overrides)
    elif is_model_folder(text):
        model = load_folder(text, **overrides)
    elif text in PRESETS or not looks_like_path(text):
        model = _load_preset(text, pretrained, weights_path, overrides)
    elif Path(text).is_dir():
        raise FileNotFoundError(f"{text} is a folder but not a model folder (no config.json in it).")
    else:
        raise FileNotFoundError(f"No model folder at {text}.")
    check_wanted(text, model.task, task, "task")
    check_wanted(text, model.family, architecture, "architecture")
    return model
