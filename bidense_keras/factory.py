"""``segmentation()``, ``depth()`` and ``list_presets()``: build models by preset name or by parts."""

import difflib
import fnmatch

from bidense_keras import download
from bidense_keras.backbones import CONVNEXT_SIZES
from bidense_keras.models import UperNet
from bidense_keras.presets import DEFAULT_PRESETS, PAPER_BASE_PRESETS, PRESETS
from bidense_keras.weights import load_pretrained

ARCHITECTURE_KEYS = (
    "dims",
    "depths",
    "features",
    "num_classes",
    "max_depth",
    "binarization",
    "include_preprocessing",
    "zero_as_positive",
    "input_shape",
    "name",
)


def list_presets(pattern="*"):
    """Names of the presets matching a shell-style ``pattern`` (e.g. ``"*convnext_tiny*"``), sorted."""
    return sorted(name for name in PRESETS if fnmatch.fnmatch(name, pattern))


def get_preset(name):
    """The registry entry of preset ``name``; a ValueError suggests close names if unknown."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown preset {name!r}.{hint} See bidense_keras.list_presets() for all names."
        )
    return PRESETS[name]


def _architecture(preset, overrides):
    architecture = dict(preset["architecture"])
    backbone = overrides.pop("backbone", None)
    if backbone is not None:
        if backbone not in CONVNEXT_SIZES:
            raise ValueError(
                f"Unknown backbone {backbone!r}; choose one of {sorted(CONVNEXT_SIZES)}."
            )
        architecture.update(CONVNEXT_SIZES[backbone])
    unknown = sorted(set(overrides) - set(ARCHITECTURE_KEYS))
    if unknown:
        raise TypeError(f"Unknown argument(s) {unknown}; architecture arguments are {ARCHITECTURE_KEYS}.")
    architecture.update(overrides)
    return architecture


def _build(task, preset_name, pretrained, weights_path, overrides):
    # No preset: the demo model, or, when built by parts, the paper's ConvNeXt-T model as the base.
    preset_name = preset_name or (PAPER_BASE_PRESETS if overrides else DEFAULT_PRESETS)[task]
    preset = get_preset(preset_name)
    if preset["task"] != task:
        raise ValueError(f"Preset {preset_name!r} is a {preset['task']} model, not {task}.")
    if not pretrained:
        return UperNet(task=task, **_architecture(preset, dict(overrides)))
    return load_pretrained(pretrained_folder(preset_name, weights_path), **overrides)


def pretrained_folder(preset_name, weights_path=None):
    """The verified folder (config.json + model.weights.h5) of a preset's published weights.

    Raises:
        ValueError: unknown preset, or no weights published for it.
        bidense_keras.download.WeightsError: missing, corrupt or undownloadable files.
    """
    preset = get_preset(preset_name)
    if preset["weights"] is None:
        raise ValueError(
            f"No pretrained weights are published for preset {preset_name!r} yet. Build it with "
            "pretrained=False and train it (bidense-keras train), or convert an official BiDense "
            "checkpoint with bidense_keras.convert.from_official_checkpoint(path)."
        )
    return download.resolve_preset_folder(preset_name, preset["weights"], path=weights_path)


def from_pretrained(uri, **overrides):
    """A model from a model folder, ``hf://owner/repo`` or ``hf://owner/repo@revision``.

    For fine-tunes published in this package's layout (``config.json`` +
    ``model.weights.h5``, see :func:`bidense_keras.weights.save_pretrained`); the config
    is checked against the weights while loading.

    Args:
        uri: local folder or Hub address.
        **overrides: UperNet arguments that don't change the weights (``input_shape``,
            ``zero_as_positive``).
    """
    return load_pretrained(download.resolve_uri(uri), **overrides)


def segmentation(preset=None, *, pretrained=False, weights_path=None, **overrides):
    """A segmentation :class:`~bidense_keras.models.UperNet` by preset name and/or architecture.

    Args:
        preset: preset name. Default: ``bidense_upernet_demo_rooms_seg``, or, when
            architecture arguments are given, ``bidense_upernet_convnext_tiny_ade20k``
            as the base they change.
        pretrained: load the preset's published weights, verified by sha256, from
            ``weights_path``, ``$BIDENSE_KERAS_WEIGHTS``, the repository's ``weights/``
            mirror, or the Hugging Face Hub (in that order).
        weights_path: a folder holding the preset's files (config.json + model.weights.h5).
        **overrides: ``backbone`` (``"convnext_tiny"``/``"convnext_small"``/
            ``"convnext_base"``), ``dims``, ``depths``, ``features``, ``num_classes``,
            ``binarization`` (``"bidense"``/``"fp32"``/...), ``include_preprocessing``,
            ``zero_as_positive``, ``input_shape``, ``name``.

    Returns:
        A ``keras.Model`` mapping ``(B, H, W, 3)`` images to ``(B, H, W, num_classes)`` logits.
    """
    return _build("segmentation", preset, pretrained, weights_path, overrides)


def depth(preset=None, *, pretrained=False, weights_path=None, **overrides):
    """A monocular depth :class:`~bidense_keras.models.UperNet` by preset name and/or architecture.

    Args:
        preset: preset name. Default: ``bidense_upernet_demo_rooms_depth``, or, when
            architecture arguments are given, ``bidense_upernet_convnext_tiny_nyu``.
        pretrained: load the preset's published weights.
        **overrides: as for :func:`segmentation`, with ``max_depth`` instead of ``num_classes``.

    Returns:
        A ``keras.Model`` mapping ``(B, H, W, 3)`` images to ``(B, H, W, 1)`` depth in metres.
    """
    return _build("depth", preset, pretrained, weights_path, overrides)
