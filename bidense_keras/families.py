"""The model families of the zoo: UperNet (ConvNeXt + UperNet) and DPT (binary ViT + DPT).

Presets, model folders, the loader, the fine-tuning overrides and the training CLI name a family
(``"upernet"``, ``"dpt"``); this table says which class builds it, which backbone sizes
``backbone=`` may name for it, and which arguments its class takes.
"""

import inspect

from bidense_keras.backbones import CONVNEXT_SIZES, VIT_SIZES
from bidense_keras.dpt import DPT
from bidense_keras.models import UperNet

FAMILIES = {cls.family: cls for cls in (UperNet, DPT)}
BACKBONE_SIZES = {"upernet": CONVNEXT_SIZES, "dpt": VIT_SIZES}
MODEL_CLASSES = tuple(FAMILIES.values())


def family_class(family):
    """The model class of ``family`` (``"upernet"`` or ``"dpt"``); a ValueError names the choices."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown architecture {family!r}; choose one of {sorted(FAMILIES)}.")
    return FAMILIES[family]


def family_of(model_class):
    """The family name of a model class (or of a model's class)."""
    model_class = model_class if isinstance(model_class, type) else type(model_class)
    if issubclass(model_class, MODEL_CLASSES):
        return model_class.family
    raise ValueError(f"{model_class.__name__} is not a bidense_keras model ({', '.join(c.__name__ for c in MODEL_CLASSES)}).")


def class_of_registered_name(registered_name):
    """The model class a Keras config names (``bidense_keras>UperNet``, ``bidense_keras>DPT``), or None."""
    for cls in MODEL_CLASSES:
        if registered_name == f"bidense_keras>{cls.__name__}":
            return cls
    return None


def arguments(model_class):
    """The constructor arguments of a model class, in order (``name`` excluded)."""
    return tuple(name for name in inspect.signature(model_class.__init__).parameters
                 if name not in ("self", "kwargs"))


def check_arguments(model_class, names, also=()):
    """Raises a TypeError naming each of ``names`` that ``model_class`` does not take (``also``: more accepted)."""
    known = (*also, *arguments(model_class))
    unknown = sorted(set(names) - set(known) - {"name"})
    if unknown:
        raise TypeError(f"Unknown argument(s) {unknown}; {model_class.__name__} arguments are {list(known)}.")
