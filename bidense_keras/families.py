"""The model families of the zoo, as each family's package registers itself: UperNet and DPT.

Presets, model folders, the loader, the fine-tuning overrides and the command lines name a family
(``"upernet"``, ``"dpt"``); its :class:`Family` record says which class builds it, which backbone sizes
``backbone=`` may name, which binarizations it has and which presets are its defaults. This module imports
no model code: ``bidense_keras.models`` fills the table when it is imported (``import bidense_keras`` does),
without importing Keras; a record imports its model class when :attr:`Family.model_class` is first read.
"""

import dataclasses
import importlib
import inspect

TASKS = ("segmentation", "depth")


@dataclasses.dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
        name: ``"upernet"`` or ``"dpt"`` (the model class's ``family``).
        model_module: the module of the :class:`~bidense_keras.models.DensePredictionModel` subclass that
            builds it (imported on first use of :attr:`model_class`).
        class_name: that class's name.
        backbone_sizes: ``{backbone name: architecture arguments}`` that ``backbone=`` may name.
        binarizations: the variants of :data:`bidense_keras.variants.BINARIZATIONS` it has.
        default_presets: ``{task: preset}`` with published weights (``segmentation(architecture=...)``).
        base_presets: ``{task: preset}``: the paper's model, the base of models built by parts.
    """

    name: str
    model_module: str
    class_name: str
    backbone_sizes: dict
    binarizations: tuple
    default_presets: dict
    base_presets: dict

    @property
    def model_class(self):
        """The model class (its module imported, and with it Keras, on first use)."""
        return getattr(importlib.import_module(self.model_module), self.class_name)

    @property
    def registered_name(self):
        """The class's name in Keras' registry, as configs store it (``bidense_keras>UperNet``)."""
        return f"bidense_keras>{self.class_name}"


FAMILIES = {}  # name -> Family, filled by register_family


def register_family(family):
    """Adds ``family`` to :data:`FAMILIES` (each family's package calls it once, when imported)."""
    FAMILIES[family.name] = family
    return family


def get_family(name):
    """The :class:`Family` named ``name``; a ValueError names the choices."""
    if name not in FAMILIES:
        raise ValueError(f"Unknown architecture {name!r}; choose one of {sorted(FAMILIES)}.")
    return FAMILIES[name]


def family_class(name):
    """The model class of family ``name`` (``"upernet"`` or ``"dpt"``); a ValueError names the choices."""
    return get_family(name).model_class


def model_classes():
    """The model classes of every registered family."""
    return tuple(family.model_class for family in FAMILIES.values())


def family_of(model_class):
    """The family name of a model class (or of a model's class)."""
    model_class = model_class if isinstance(model_class, type) else type(model_class)
    for family in FAMILIES.values():
        if issubclass(model_class, family.model_class):
            return family.name
    raise ValueError(f"{model_class.__name__} is not a bidense_keras model "
                     f"({', '.join(cls.__name__ for cls in model_classes())}).")


def class_of_registered_name(registered_name):
    """The model class a Keras config names (``bidense_keras>UperNet``, ``bidense_keras>DPT``), or None."""
    for family in FAMILIES.values():
        if registered_name == family.registered_name:
            return family.model_class
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
