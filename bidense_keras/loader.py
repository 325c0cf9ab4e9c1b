"""``load(source)``: the one way to get a model, from a preset, a folder, the Hub, a ``.keras`` or ``.tflite`` file.

``segmentation()`` and ``depth()`` are the same loader with the task fixed, plus building by
parts (``segmentation(backbone="convnext_small", num_classes=21)``) in either family
(``segmentation(architecture="dpt")``).
"""

from bidense_keras.families import get_family
from bidense_keras.presets import DEFAULT_FAMILY
from bidense_keras.sources import check_wanted, load_source

TFLITE_OPTIONS = ("num_threads", "kernel", "xnnpack")


def _load_flatbuffer(path, overrides):
    from bidense_keras.export.tflite_model import TFLiteModel  # imports the LCE runtime helpers: only here

    unknown = sorted(set(overrides) - set(TFLITE_OPTIONS))
    if unknown:
        raise TypeError(f"A .tflite model takes only {list(TFLITE_OPTIONS)}; got {unknown}.")
    return TFLiteModel.load(path, **overrides)


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
        A :class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.models.DPT` (or a ``TFLiteModel``).

    Raises:
        ValueError: an unknown preset, a preset without weights, a file that is not a model,
            or a model of the other task or family.
        FileNotFoundError: a path that does not exist.
        TypeError: an override the source cannot take.
        bidense_keras.errors.WeightsError: weights that are missing, corrupt or undownloadable.

    Example::

        model = bidense_keras.load("bidense_upernet_demo_rooms_seg")  # verified by sha256
        tuned = bidense_keras.load("bidense_upernet_demo_rooms_seg", num_classes=3)  # a new head to fine-tune
        logits = tuned.predict(np.full((1, 64, 64, 3), 128.0, "float32"), verbose=0)  # (1, 64, 64, 3)
    """
    text = str(source)
    if not text.endswith(".tflite"):
        return load_source(text, task=task, architecture=architecture, pretrained=pretrained,
                           weights_path=weights_path, **overrides)
    if architecture is not None:
        get_family(architecture)  # an unknown family is named before anything is read
    model = _load_flatbuffer(text, overrides)
    check_wanted(text, model.task, task, "task")
    check_wanted(text, model.family, architecture, "architecture")  # it names the family it was exported from
    return model


def _by_task(task, preset, pretrained, weights_path, architecture, overrides):
    if preset is None:  # the demo model, or, built by parts, the paper's model as the base
        family = get_family(architecture or DEFAULT_FAMILY)
        preset = (family.base_presets if overrides and not pretrained else family.default_presets)[task]
    return load(preset, pretrained=pretrained, task=task, architecture=architecture, weights_path=weights_path,
                **overrides)


def segmentation(preset=None, *, pretrained=False, architecture=None, weights_path=None, **overrides):
    """A segmentation model (:class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.models.DPT`):
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

    Example::

        model = bidense_keras.segmentation(pretrained=True)  # the demo model, 9 classes
        labels = model.predict(np.full((1, 64, 64, 3), 128.0, "float32"), verbose=0).argmax(-1)  # (1, 64, 64)
        paper = bidense_keras.segmentation(backbone="convnext_small", num_classes=21)  # untrained, by parts
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

    Example::

        model = bidense_keras.depth(pretrained=True, architecture="dpt")  # the DPT demo model
        metres = model.predict(np.full((1, 56, 56, 3), 128.0, "float32"), verbose=0)  # (1, 56, 56, 1)
    """
    return _by_task("depth", preset, pretrained, weights_path, architecture, overrides)


