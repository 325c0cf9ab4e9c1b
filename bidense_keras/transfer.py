"""Changing the arguments of a trained model: which changes keep its weights, and new heads for fine-tuning.

``with_overrides(model, num_classes=3)`` is what ``bidense_keras.load(preset, num_classes=3)``
does after loading: every backbone and decoder weight is kept and only the layer whose shape
changed (the 1x1 logits conv) starts from a fresh initialisation, with a logged message naming it.
"""

import logging

from bidense_keras.families import check_arguments

logger = logging.getLogger("bidense_keras")

# Arguments that leave every weight in place (binarization: among variants with the same weights).
KEEP_WEIGHTS = ("input_shape", "binarization", "zero_as_positive", "class_names", "palette", "name")
# Arguments that give the model a new head (segmentation classes, depth range) for fine-tuning.
HEAD_LOGITS = "head_logits"  # the only layer whose shape depends on num_classes


def check_overrides(overrides, task, model_class):
    """Raises a TypeError for an argument a trained ``task`` model of ``model_class`` cannot change (or lacks)."""
    check_arguments(model_class, overrides)
    head = {"segmentation": "num_classes", "depth": "max_depth"}[task]
    fixed = sorted(set(overrides) - set(KEEP_WEIGHTS) - {head})
    if fixed:
        raise TypeError(
            f"Trained weights fix the architecture, so {fixed} cannot change for a {task} model (allowed: "
            f"{[*KEEP_WEIGHTS, head]}; {head} gives a new head for fine-tuning). For another architecture, "
            "build it with pretrained=False."
        )


def with_overrides(model, **overrides):
    """``model`` rebuilt with ``overrides``, keeping every weight whose shape is unchanged.

    Args:
        model: a trained :class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.models.DPT`.
        **overrides: arguments of :data:`KEEP_WEIGHTS`, plus ``num_classes`` (segmentation) or
            ``max_depth`` (depth). A new ``num_classes`` re-initialises the logits conv and drops the
            old class names and palette unless new ones are given; a new ``max_depth`` keeps the
            depth head, which then predicts the same fraction of the new range.

    Returns:
        ``model`` itself when nothing changes, else a new model.

    Raises:
        TypeError: an argument that would change the trained architecture.
        ValueError: a binarization whose weights differ from the model's.
    """
    config = model.get_config()
    check_overrides(overrides, config["task"], type(model))
    changed = {key: value for key, value in overrides.items() if config.get(key) != value}
    if not changed:
        return model
    if "num_classes" in changed:
        config.update(class_names=None, palette=None)
    config = {key: value for key, value in {**config, **changed}.items() if key != "trainable"}
    rebuilt = type(model)(**config)
    mismatch = ValueError(
        f"binarization {config['binarization']!r} has other weights than {model.binarization!r}; "
        "the trained weights cannot be reused."
    )
    if len(rebuilt.weights) != len(model.weights):
        raise mismatch
    reinitialised = []
    for old, new in zip(model.weights, rebuilt.weights):
        if tuple(old.shape) == tuple(new.shape):
            new.assign(old)
        elif new.path.startswith(f"{HEAD_LOGITS}/"):
            reinitialised.append(new.path)
        else:
            raise mismatch
    if reinitialised:
        logger.warning(
            "%s: num_classes %s -> %s: re-initialised %s (untrained: fine-tune before use); every other weight kept.",
            model.name, model.num_classes, rebuilt.num_classes, ", ".join(reinitialised),
        )
    if "max_depth" in changed:
        logger.warning(
            "%s: max_depth %s -> %s: every weight kept; the depth head predicts the same fraction of the new range.",
            model.name, model.max_depth, rebuilt.max_depth,
        )
    return rebuilt
