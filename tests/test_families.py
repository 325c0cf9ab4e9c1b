"""The family table: names to classes, classes to names, and the arguments each class takes."""

import pytest

from bidense_keras import DPT, UperNet
from bidense_keras.families import (
    arguments, check_arguments, class_of_registered_name, family_class, family_of,
)


def test_family_names_and_classes_map_both_ways():
    assert (family_class("upernet"), family_class("dpt")) == (UperNet, DPT)
    assert (family_of(UperNet), family_of(DPT)) == ("upernet", "dpt") == (UperNet.family, DPT.family)
    with pytest.raises(ValueError, match=r"Unknown architecture 'vit'; choose one of \['dpt', 'upernet'\]"):
        family_class("vit")
    with pytest.raises(ValueError, match="int is not a bidense_keras model"):
        family_of(int)


def test_a_keras_config_name_gives_its_class():
    assert class_of_registered_name("bidense_keras>DPT") is DPT
    assert class_of_registered_name("bidense_keras>UperNet") is UperNet
    assert class_of_registered_name("keras>Functional") is None


def test_arguments_are_the_constructor_signature():
    assert arguments(UperNet)[:1] == ("task",) and "dims" in arguments(UperNet) and "embed_dim" not in arguments(UperNet)
    assert "embed_dim" in arguments(DPT) and "self" not in arguments(DPT)


def test_check_arguments_names_each_unknown_one():
    check_arguments(DPT, ["embed_dim", "name"])
    check_arguments(UperNet, ["backbone"], also=("backbone",))
    with pytest.raises(TypeError, match=r"Unknown argument\(s\) \['colour', 'dims'\]; DPT arguments are \["):
        check_arguments(DPT, ["dims", "colour", "depth"])


def test_from_preset_goes_through_the_loader():
    import bidense_keras as bk
    from bidense_keras.models import CheckedImageModel

    assert CheckedImageModel.preset_loader is bk.load  # installed by bidense_keras.loader
    with pytest.raises(ValueError, match="bidense_dpt_demo_rooms_seg is a dpt model, not upernet"):
        UperNet.from_preset("bidense_dpt_demo_rooms_seg")  # refused by the preset table, before anything is built
