"""``load(source)``: the one way to get a model, from a preset, a folder, the Hub, a ``.keras`` or ``.tflite`` file.

``segmentation()`` and ``depth()`` are the same loader with the task fixed, plus building by
parts (``segmentation(backbone="convnext_small", num_classes=21)``).
"""

from pathlib import Path

import keras

from bidense_keras import download
from bidense_keras.backbones import CONVNEXT_SIZES
from bidense_keras.models import UperNet
from bidense_keras.presets import DEFAULT_PRESETS, PAPER_BASE_PRESETS, PRESETS, get_preset
from bidense_keras.transfer import ARGUMENTS, with_overrides
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
    """The UperNet arguments of a preset with ``overrides`` (``backbone`` names a ConvNeXt size)."""
    architecture = {"task": preset["task"], **preset["architecture"]}
    backbone = overrides.pop("backbone", None)
    if backbone is not None:
        if backbone not in CONVNEXT_SIZES:
            raise ValueError(f"Unknown backbone {backbone!r}; choose one of {sorted(CONVNEXT_SIZES)}.")
        architecture.update(CONVNEXT_SIZES[backbone])
    unknown = sorted(set(overrides) - set(ARGUMENTS) - {"name"})
    if unknown:
        raise TypeError(f"Unknown argument(s) {unknown}; model arguments are {['backbone', *ARGUMENTS]}.")
    if overrides.get("num_classes", architecture.get("num_classes")) != architecture.get("num_classes"):
        architecture.update(class_names=None, palette=None)  # the preset's names and colours no longer fit
    return {**architecture, **overrides}


def _load_preset(name, pretrained, weights_path, overrides):
    preset = get_preset(name)
    if not pretrained:
        return UperNet(**_architecture(preset, dict(overrides)))
    return load_folder(pretrained_folder(name, weights_path), **overrides)


def _load_keras_file(path, overrides):
    if not Path(path).is_file():
        raise FileNotFoundError(f"No .keras file at {path}.")
    model = keras.saving.load_model(path, compile=False)
    if not isinstance(model, UperNet):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a bidense_keras UperNet.")
    return with_overrides(model, **overrides)


def _load_flatbuffer(path, overrides):
    from bidense_keras.export.tflite_model import TFLiteModel  # imports the LCE runtime helpers: only here

    unknown = sorted(set(overrides) - set(TFLITE_OPTIONS))
    if unknown:
        raise TypeError(f"A .tflite model takes only {list(TFLITE_OPTIONS)}; got {unknown}.")
    return TFLiteModel.load(path, **overrides)


def _looks_like_path(source):
    return any(separator in source for separator in ("/", "\\")) or source.startswith(".") or Path(source).exists()


def load(source, *, pretrained=True, task=None, weights_path=None, **overrides):
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
        weights_path: for a preset: a folder holding its files (else ``$BIDENSE_KERAS_WEIGHTS``,
            the repository's ``weights/`` or the Hub).
        **overrides: for a trained model, ``num_classes`` / ``max_depth`` (fine-tuning: a new
            head, every other weight kept) and ``input_shape``, ``binarization``,
            ``zero_as_positive``, ``class_names``, ``palette``, ``name``; see
            :func:`bidense_keras.transfer.with_overrides`. For ``.tflite``: ``num_threads``,
            ``kernel``, ``xnnpack``.

    Returns:
        A :class:`~bidense_keras.models.UperNet` (or a ``TFLiteModel``).

    Raises:
        ValueError: an unknown preset, a preset without weights, a file that is not a model,
            or a model of the other task.
        FileNotFoundError: a path that does not exist.
        TypeError: an override the source cannot take.
        bidense_keras.download.WeightsError: weights that are missing, corrupt or undownloadable.
    """
    text = str(source)
    if task is not None and text in PRESETS and PRESETS[text]["task"] != task:  # before building anything
        raise ValueError(f"{text} is a {PRESETS[text]['task']} model, not {task}.")
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
    if task is not None and model.task != task:
        raise ValueError(f"{text} is a {model.task} model, not {task}.")
    return model


def _by_task(task, preset, pretrained, weights_path, overrides):
    if preset is None:  # the demo model, or, built by parts, the paper's ConvNeXt-T model as the base
        preset = (PAPER_BASE_PRESETS if overrides and not pretrained else DEFAULT_PRESETS)[task]
    return load(preset, pretrained=pretrained, task=task, weights_path=weights_path, **overrides)


def segmentation(preset=None, *, pretrained=False, weights_path=None, **overrides):
    """A segmentation :class:`~bidense_keras.models.UperNet`: :func:`load` with the task fixed.

    Args:
        preset: a preset name (or any :func:`load` source). Default: ``bidense_upernet_demo_rooms_seg``,
            or, when architecture arguments are given without ``pretrained``,
            ``bidense_upernet_convnext_tiny_ade20k`` as the base they change.
        pretrained: load the preset's published weights (default False: the architecture only).
        weights_path: a folder holding the preset's files.
        **overrides: ``backbone`` (``"convnext_tiny"``/``"convnext_small"``/``"convnext_base"``),
            ``dims``, ``depths``, ``features``, ``num_classes``, ``binarization``, ``class_names``,
            ``palette``, ``include_preprocessing``, ``zero_as_positive``, ``input_shape``, ``name``;
            with ``pretrained=True`` only those of :func:`load`.

    Returns:
        A ``keras.Model`` mapping ``(B, H, W, 3)`` images to ``(B, H, W, num_classes)`` logits.
    """
    return _by_task("segmentation", preset, pretrained, weights_path, overrides)


def depth(preset=None, *, pretrained=False, weights_path=None, **overrides):
    """A monocular depth :class:`~bidense_keras.models.UperNet`: :func:`load` with the task fixed.

    Args:
        preset: as for :func:`segmentation`; defaults ``bidense_upernet_demo_rooms_depth`` and,
            built by parts, ``bidense_upernet_convnext_tiny_nyu``.
        pretrained: load the preset's published weights.
        weights_path: a folder holding the preset's files.
        **overrides: as for :func:`segmentation`, with ``max_depth`` instead of ``num_classes``.

    Returns:
        A ``keras.Model`` mapping ``(B, H, W, 3)`` images to ``(B, H, W, 1)`` depth in metres.
    """
    return _by_task("depth", preset, pretrained, weights_path, overrides)
