"""The family table: names to classes, classes to names, and the arguments each class takes."""

import subprocess
import sys

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


def test_from_preset_refuses_a_preset_of_another_family():
    with pytest.raises(ValueError, match="bidense_dpt_demo_rooms_seg is a dpt model, not upernet"):
        UperNet.from_preset("bidense_dpt_demo_rooms_seg")  # refused by the preset table, before anything is built


def test_from_preset_needs_no_loader(tmp_path):
    """``from_preset`` is a method of the model classes that loads through the modules below them: in a fresh
    process where ``bidense_keras.loader`` cannot be imported at all, it still loads a trained model."""
    script = (
        "import sys\n"
        "sys.modules['bidense_keras.loader'] = None  # importing it now raises ImportError\n"
        "import numpy as np\n"
        "from bidense_keras.models.upernet import UperNet\n"
        "from bidense_keras.models import DensePredictionModel\n"
        "model = UperNet.from_preset('bidense_upernet_demo_rooms_seg')\n"
        "same = DensePredictionModel.from_preset('bidense_upernet_demo_rooms_seg')\n"
        "assert type(model) is type(same) is UperNet and model.num_classes == 9\n"
        "images = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype('float32')\n"
        "assert np.array_equal(model.predict(images, verbose=0), same.predict(images, verbose=0))\n"
        "print('loaded', type(model).__name__, 'loader imported:', sys.modules['bidense_keras.loader'] is not None)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded UperNet loader imported: False" in done.stdout


def test_from_preset_refuses_another_family_by_argument_and_a_flatbuffer(tmp_path):
    with pytest.raises(TypeError, match="UperNet.from_preset loads upernet models; architecture='dpt'"):
        UperNet.from_preset("bidense_dpt_demo_rooms_seg", architecture="dpt")
    flatbuffer = tmp_path / "model.tflite"
    flatbuffer.write_bytes(b"TFL3")
    with pytest.raises(ValueError, match="is a TFLite flatbuffer, not a Keras model: load it with bidense_keras.load"):
        DPT.from_preset(str(flatbuffer))


def test_both_backbones_take_a_binarization():
    from bidense_keras import BinaryViTBackbone, ConvNeXtBackbone

    assert BinaryViTBackbone(48, 4, 2, binarization="fp32").binarization == "fp32"
    assert BinaryViTBackbone(48, 4, 2, binary=False).binarization == "fp32"  # 0.2's flag
    assert ConvNeXtBackbone((8, 8, 8, 8), (1, 1, 1, 1), binarization="bnn").binarization == "bnn"
    with pytest.raises(ValueError, match="The binary ViT has binarization"):
        BinaryViTBackbone(48, 4, 2, binarization="bnn")
