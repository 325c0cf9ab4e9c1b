"""``load(source)``: the one way to get a model, from a preset, a folder, the Hub, a ``.keras`` or ``.tflite`` file.

``segmentation()`` and ``depth()`` are the same loader with the task fixed, plus building by
parts (``segmentation(backbone="convnext_small", num_classes=21)``) in either family
(``segmentation(architecture="dpt")``).
"""

import json
import zipfile
import zlib
from pathlib import Path

import keras

from bidense_keras import download, integrity
from bidense_keras.families import BACKBONE_SIZES, MODEL_CLASSES, check_arguments, family_class
from bidense_keras.models import CheckedImageModel
from bidense_keras.presets import FAMILY_DEFAULT_PRESETS, PAPER_BASE_PRESETS, PRESETS, get_preset
from bidense_keras.transfer import with_overrides
from bidense_keras.weights import is_model_folder, load_folder

TFLITE_OPTIONS = ("num_threads", "kernel", "xnnpack")


def pretrained_folder(preset_name, weights_path=None):
    """The verified local folder of a preset's published weights (downloaded if needed).

    Raises:
        ValueError: unknown preset, or no weights published for it.
        bidense_keras.download.WeightsError: missing, corrupt or undownloadable files.
    """
    preset = get_preset(preset_name)
    if preset["weights"] is None:
        raise ValueError(
            f"No pretrained weights are published for preset {preset_name!r} (`bidense-keras presets` lists which "
            "have them). Load its architecture with pretrained=False and train it (bidense-keras train), or "
            "convert an official BiDense checkpoint with bidense_keras.convert.from_official_checkpoint(path)."
        )
    return download.resolve_preset_folder(preset_name, preset["weights"], path=weights_path)


def _architecture(preset, overrides):
    """The model arguments of a preset with ``overrides`` (``backbone`` names a size of the preset's family)."""
    family = preset["family"]
    architecture = {"task": preset["task"], **preset["architecture"]}
    backbone = overrides.pop("backbone", None)
    if backbone is not None:
        sizes = BACKBONE_SIZES[family]
        if backbone not in sizes:
            raise ValueError(f"Unknown {family} backbone {backbone!r}; choose one of {sorted(sizes)}.")
        architecture.update(sizes[backbone])
    check_arguments(family_class(family), overrides, also=("backbone",))
    if overrides.get("num_classes", architecture.get("num_classes")) != architecture.get("num_classes"):
        architecture.update(class_names=None, palette=None)  # the preset's names and colours no longer fit
    return {**architecture, **overrides}


def _load_preset(name, pretrained, weights_path, overrides):
    preset = get_preset(name)
    if not pretrained:
        return family_class(preset["family"])(**_architecture(preset, dict(overrides)))
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
    if not isinstance(model, MODEL_CLASSES):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a bidense_keras model "
                         f"({', '.join(cls.__name__ for cls in MODEL_CLASSES)}).")
    integrity.check_finite_weights(model, path)
    return with_overrides(model, **overrides)


def _load_flatbuffer(path, overrides):
    from bidense_keras.export.tflite_model import TFLiteModel  # imports the LCE runtime helpers: only here

    unknown = sorted(set(overrides) - set(TFLITE_OPTIONS))
    if unknown:
        raise TypeError(f"A .tflite model takes only {list(TFLITE_OPTIONS)}; got {unknown}.")
    return TFLiteModel.load(path, **overrides)


def _looks_like_path(source):
    return any(separator in source for separator in ("/", "\\")) or source.startswith(".") or Path(source).exists()


def _check_wanted(source, found, wanted, what):
    if wanted is not None and found != wanted:
        raise ValueError(f"{source} is a{'n' if found[0] in 'aeiou' else ''} {found} model, not {wanted} "
                         f"(the {what} it was asked for).")


def load(source, *, pretrained=True, task=None, architecture=None, weights_path=None, **overrides):
    """A model from a preset name, a model folder, ``hf://owner/repo[@revision]``, a ``.keras`` or a ``.tflite`` file.

    Args:
        source: a preset (``bidense_keras.list_presets()``), a model folder written by
            :func:`~bidense_keras.weights.save_pretrained`, a Hub address, ``MODEL.keras``,
            or ``OUT.tflite`` from ``bidense-keras export`` (returns a
            :class:`~bidense_keras.export.TFLiteModel`).
        pretrained: for a preset: load its published weights (default, verified by sha256), or
            build its architecture untrained (False), when every architecture argument may change.
            Other sources are trained models and ignore it.
        task: ``"segmentation"`` or ``"depth"`` to refuse a model of the other task.
        architecture: ``"upernet"`` or ``"dpt"`` to refuse a model of the other family.
        weights_path: for a preset: a folder holding its files (else ``$BIDENSE_KERAS_WEIGHTS``,
            the repository's ``weights/`` or the Hub).
        **overrides: for a trained model, ``num_classes`` / ``max_depth`` (fine-tuning: a new
            head, every other weight kept) and ``input_shape``, ``binarization``,
            ``zero_as_positive``, ``class_names``, ``palette``, ``name``; see
            :func:`bidense_keras.transfer.with_overrides`. For ``.tflite``: ``num_threads``,
            ``kernel``, ``xnnpack``.

    Returns:
        A :class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.dpt.DPT` (or a ``TFLiteModel``).

    Raises:
        ValueError: an unknown preset, a preset without weights, a file that is not a model,
            or a model of the other task or family.
        FileNotFoundError: a path that does not exist.
        TypeError: an override the source cannot take.
        bidense_keras.download.WeightsError: weights that are missing, corrupt or undownloadable.
    """
    text = str(source)
    if architecture is not None:
        family_class(architecture)  # an unknown family is named before anything is read
    if text in PRESETS:  # before building anything
        _check_wanted(text, PRESETS[text]["task"], task, "task")
        _check_wanted(text, PRESETS[text]["family"], architecture, "architecture")
    if text.startswith("hf://"):
        model = load_folder(download.resolve_uri(text), **overrides)
    elif text.endswith(".tflite"):
        model = _load_flatbuffer(text, overrides)
    elif text.endswith(".keras"):
        model = _load_keras_file(text, overrides)
    elif is_model_folder(text):
        model = load_folder(text, **overrides)
    elif text in PRESETS or not _looks_like_path(text):
        model = _load_preset(text, pretrained, weights_path, overrides)
    elif Path(text).is_dir():
        raise FileNotFoundError(f"{text} is a folder but not a model folder (no config.json in it).")
    else:
        raise FileNotFoundError(f"No model folder at {text}.")
    _check_wanted(text, model.task, task, "task")
    if architecture is not None:  # a TFLiteModel names the family it was exported from
        _check_wanted(text, model.family, architecture, "architecture")
    return model


def _by_task(task, preset, pretrained, weights_path, architecture, overrides):
    if preset is None:  # the demo model, or, built by parts, the paper's model as the base
        family = architecture or "upernet"
        family_class(family)
        preset = (PAPER_BASE_PRESETS if overrides and not pretrained else FAMILY_DEFAULT_PRESETS)[family][task]
    return load(preset, pretrained=pretrained, task=task, architecture=architecture, weights_path=weights_path,
                **overrides)


def segmentation(preset=None, *, pretrained=False, architecture=None, weights_path=None, **overrides):
    """A segmentation model (:class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.dpt.DPT`):
    :func:`load` with the task fixed.

    Args:
        preset: a preset name (or any :func:`load` source). Default: the family's demo model
            (``bidense_upernet_demo_rooms_seg``, ``bidense_dpt_demo_rooms_seg``), or, when
            architecture arguments are given without ``pretrained``, the paper's model as the base they
            change (``bidense_upernet_convnext_tiny_ade20k``, ``bidense_dpt_vits14_ade20k``).
        pretrained: load the preset's published weights (default False: the architecture only).
        architecture: ``"upernet"`` (default) or ``"dpt"``.
        weights_path: a folder holding the preset's files.
        **overrides: ``backbone`` (``"convnext_tiny"``/``"convnext_small"``/``"convnext_base"``, or
            ``"vit_small"``/``"vit_base"`` for DPT), the family's arguments (UperNet ``dims``, ``depths``;
            DPT ``embed_dim``, ``depth``, ``num_heads``, ``out_channels``), ``features``,
            ``num_classes``, ``binarization``, ``class_names``, ``palette``, ``include_preprocessing``,
            ``zero_as_positive``, ``input_shape``, ``name``; with ``pretrained=True`` only those of :func:`load`.

    Returns:
        A ``keras.Model`` mapping ``(B, H, W, 3)`` images to ``(B, H, W, num_classes)`` logits.
    """
    return _by_task("segmentation", preset, pretrained, weights_path, architecture, overrides)


def depth(preset=None, *, pretrained=False, architecture=None, weights_path=None, **overrides):
    """A monocular depth model (UperNet or DPT): :func:`load` with the task fixed.

    Args:
        preset: as for :func:`segmentation`; defaults ``bidense_upernet_demo_rooms_depth`` /
            ``bidense_dpt_demo_rooms_depth`` and, built by parts, ``bidense_upernet_convnext_tiny_nyu`` /
            ``bidense_dpt_vits14_nyu``.
        pretrained: load the preset's published weights.
        architecture: ``"upernet"`` (default) or ``"dpt"``.
        weights_path: a folder holding the preset's files.
        **overrides: as for :func:`segmentation`, with ``max_depth`` instead of ``num_classes``.

    Returns:
        A ``keras.Model`` mapping ``(B, H, W, 3)`` images to ``(B, H, W, 1)`` depth in metres.
    """
    return _by_task("depth", preset, pretrained, weights_path, architecture, overrides)


CheckedImageModel.preset_loader = staticmethod(load)  # UperNet.from_preset and DPT.from_preset
