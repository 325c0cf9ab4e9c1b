"""The DPT family in the zoo: presets, the loader, model folders, fine-tuning overrides, the fp32 twin, stats."""

import json
import math

import keras
import numpy as np
import pytest

import bidense_keras as bk
from bidense_keras import presets
from bidense_keras.models import BinaryViTBackbone
from bidense_keras.models import DPT
from bidense_keras.layers import BinaryDense
from bidense_keras.models.dpt.vit_layers import BinaryAttention
from bidense_keras.compat import walk_layers
from bidense_keras.stats import vit_macs
from bidense_keras.weights import save_pretrained

TINY = {"embed_dim": 48, "depth": 4, "num_heads": 3, "features": 16, "out_channels": (8, 16, 24, 32)}


def images(seed=0, size=(56, 84)):
    return np.random.default_rng(seed).uniform(0, 255, (2, *size, 3)).astype("float32")


def tiny_dpt(task="segmentation", **overrides):
    head = {"num_classes": 5} if task == "segmentation" else {"max_depth": 10.0}
    return DPT(task=task, **{**TINY, **head, **overrides})


def randomized(model, seed=1):
    """``model`` with every weight drawn at random (DAB, BatchNorm and scales included), so outputs depend on all."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        value = rng.normal(0.0, 0.1, weight.shape)
        if "variance" in weight.path or weight.path.endswith("gamma") or "scale" in weight.path:
            value = 1.0 + np.abs(value)
        weight.assign(value.astype("float32"))
    return model


def test_the_dpt_presets_are_listed_with_the_family_and_the_authors_sizes():
    names = bk.list_presets("*_dpt_*")
    for dataset in ("ade20k", "voc", "nyu", "kitti"):
        assert f"bidense_dpt_vits14_{dataset}" in names and f"fp32_dpt_vits14_{dataset}" in names
    entry = presets.get_preset("bidense_dpt_vits14_ade20k")
    assert entry["family"] == "dpt"
    assert {k: entry["architecture"][k] for k in ("embed_dim", "depth", "num_heads", "features", "num_classes")} == {
        "embed_dim": 384, "depth": 12, "num_heads": 6, "features": 256, "num_classes": 151}
    assert tuple(entry["architecture"]["out_channels"]) == (48, 96, 192, 384)
    assert presets.get_preset("bidense_upernet_convnext_tiny_ade20k")["family"] == "upernet"


def test_architecture_picks_the_family_of_the_task_helpers():
    model = bk.segmentation(architecture="dpt")
    assert isinstance(model, DPT) and model.task == "segmentation"
    assert model.embed_dim == presets.get_preset("bidense_dpt_demo_rooms_seg")["architecture"]["embed_dim"]
    built = bk.depth(architecture="dpt", max_depth=20.0, backbone="vit_small", features=32)
    assert (built.embed_dim, built.depth, built.num_heads, built.features, built.max_depth) == (384, 12, 6, 32, 20.0)
    assert isinstance(bk.segmentation(), bk.UperNet)  # the default family stays UperNet


def test_a_preset_or_model_of_the_other_family_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is a dpt model, not upernet"):
        bk.load("bidense_dpt_vits14_ade20k", pretrained=False, architecture="upernet")
    with pytest.raises(ValueError, match="Unknown architecture 'vit'"):
        bk.segmentation(architecture="vit")
    with pytest.raises(ValueError, match="is a dpt model, not upernet"):  # refused before anything is read
        bk.UperNet.from_preset("bidense_dpt_demo_rooms_seg")
    assert isinstance(DPT.from_preset("bidense_dpt_demo_rooms_depth", pretrained=False), DPT)
    folder = save_pretrained(tiny_dpt(), tmp_path / "dpt")
    with pytest.raises(ValueError, match="is a dpt model, not upernet"):
        bk.load(folder, architecture="upernet")


def test_unknown_backbones_and_arguments_are_named():
    with pytest.raises(ValueError, match="Unknown dpt backbone 'convnext_tiny'"):
        bk.segmentation(architecture="dpt", backbone="convnext_tiny")
    with pytest.raises(TypeError, match=r"Unknown argument\(s\) \['dims'\]; DPT arguments"):
        bk.segmentation(architecture="dpt", dims=(1, 2, 3, 4))
    with pytest.raises(ValueError, match="does not split into 5 heads"):
        bk.segmentation(architecture="dpt", embed_dim=48, num_heads=5, num_classes=3)


@pytest.mark.backends
@pytest.mark.parametrize("packed", [False, True])
def test_model_folder_round_trip_is_exact(tmp_path, packed):
    model = randomized(tiny_dpt())
    folder = save_pretrained(model, tmp_path / "dpt", packed=packed)
    assert json.loads((folder / "config.json").read_text())["registered_name"] == "bidense_keras>DPT"
    loaded = bk.load(folder)
    assert isinstance(loaded, DPT)
    if packed:  # canonical kernels: every binarized sign kept, every other variable exact
        from bidense_keras import packing

        conv_kernels, linear_kernels = packing.binary_kernels(model), packing.centered_kernels(model)
        assert len(linear_kernels) == 4 * TINY["depth"] and conv_kernels
        for old, new in zip(model.weights, loaded.weights):
            before, after = keras.ops.convert_to_numpy(old), keras.ops.convert_to_numpy(new)
            if old.path in linear_kernels:
                before, after = before - before.mean(axis=0), after - after.mean(axis=0)
            if old.path in conv_kernels or old.path in linear_kernels:
                np.testing.assert_array_equal(np.sign(after), np.sign(before), err_msg=old.path)
            else:
                np.testing.assert_array_equal(after, before, err_msg=old.path)
        return
    np.testing.assert_array_equal(loaded.predict(images(), verbose=0), model.predict(images(), verbose=0))
    reloaded = keras.saving.load_model(folder)
    np.testing.assert_array_equal(reloaded.predict(images(), verbose=0), model.predict(images(), verbose=0))


@pytest.mark.backends
def test_keras_file_round_trip_is_exact(tmp_path):
    model = randomized(tiny_dpt("depth"))
    model.save(tmp_path / "dpt.keras")
    loaded = bk.load(tmp_path / "dpt.keras")
    np.testing.assert_array_equal(loaded.predict(images(), verbose=0), model.predict(images(), verbose=0))


def test_new_classes_keep_every_weight_but_the_logits(tmp_path):
    model = randomized(tiny_dpt())
    folder = save_pretrained(model, tmp_path / "dpt")
    tuned = bk.load(folder, num_classes=3)
    assert isinstance(tuned, DPT) and tuned.num_classes == 3 and tuned.class_names is None
    for old, new in zip(model.weights, tuned.weights):
        if new.path.startswith("head_logits/"):
            assert tuple(new.shape) != tuple(old.shape)
        else:
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(new), keras.ops.convert_to_numpy(old))
    with pytest.raises(TypeError, match="cannot change"):
        bk.load(folder, embed_dim=96)
    with pytest.raises(ValueError, match="other weights"):
        bk.load(folder, binarization="fp32")


def test_fp32_twin_has_float_linear_layers_and_softmax_attention():
    model = tiny_dpt(binarization="fp32")
    layers = walk_layers(model)
    assert not any(isinstance(layer, BinaryDense) for layer in layers)
    assert sum(isinstance(layer, keras.layers.Dense) for layer in layers) == 4 * TINY["depth"]
    assert bk.model_stats(model, (56, 84))["binary_params"] == 0
    assert model.predict(images(), verbose=0).shape == (2, 56, 84, 5)
    with pytest.raises(ValueError, match="binarization"):
        tiny_dpt(binarization="bnn")


def test_float_attention_is_softmax_attention():
    x = np.random.default_rng(3).normal(size=(2, 5, 12)).astype("float32")
    layer = BinaryAttention(num_heads=3, binary=False)
    out = keras.ops.convert_to_numpy(layer(x))
    qkv = x @ keras.ops.convert_to_numpy(layer.qkv.kernel) + keras.ops.convert_to_numpy(layer.qkv.bias)
    q, k, v = (qkv[..., i * 12:(i + 1) * 12].reshape(2, 5, 3, 4).transpose(0, 2, 1, 3) for i in range(3))
    logits = q @ k.transpose(0, 1, 3, 2) / 2.0
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    heads = (weights @ v).transpose(0, 2, 1, 3).reshape(2, 5, 12)
    expected = heads @ keras.ops.convert_to_numpy(layer.proj.kernel) + keras.ops.convert_to_numpy(layer.proj.bias)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["dpt_bidense_seg_small", "dpt_bidense_depth_small"])
def test_stats_match_the_authors_counts(reference_dir, name):
    facts = json.loads((reference_dir / f"{name}.json").read_text())
    vit = facts["backbone"]
    head = {"num_classes": facts["num_classes"]} if facts["task"] == "segmentation" else {"max_depth": facts["max_depth"]}
    model = DPT(task=facts["task"], embed_dim=vit["embed_dim"], depth=vit["depth"], num_heads=vit["num_heads"],
                features=facts["features"], out_channels=facts["out_channels"], **head)
    stats = bk.model_stats(model, tuple(facts["input_shape_nchw"][2:]))
    assert stats["binary_params"] == facts["binary_weight_params"]
    assert stats["float_params"] == facts["float_params"]


def test_stats_of_the_paper_size_match_the_spec():
    """SPEC_DPT §9: ViT-S, F 256, 151 classes: 33,269,760 binary weights, 903,671 float parameters."""
    stats = bk.model_stats(bk.load("bidense_dpt_vits14_ade20k", pretrained=False), (518, 518))
    assert (stats["binary_params"], stats["float_params"]) == (33_269_760, 903_671)
    stats = bk.model_stats(bk.load("bidense_dpt_vits14_nyu", pretrained=False), (518, 518))
    assert (stats["binary_params"], stats["float_params"]) == (33_159_168, 884_033)


def test_vit_macs_count_linear_layers_attention_and_patches():
    backbone = BinaryViTBackbone(embed_dim=96, depth=4, num_heads=3)
    tokens = 1 + 8 * 10  # a 112 x 140 image: 8 x 10 patches and the class token
    qkv, proj, fc1, fc2 = tokens * 96 * 288, tokens * 96 * 96, tokens * 96 * 384, tokens * 384 * 96
    attention = 2 * 3 * tokens * tokens * 32  # q kᵀ and A v, 3 heads of width 32
    assert vit_macs(backbone, (112, 140)) == {"binary": 4 * (qkv + proj + fc1 + fc2 + attention),
                                              "float": 80 * 96 * 14 * 14 * 3}
    float_backbone = BinaryViTBackbone(embed_dim=96, depth=4, num_heads=3, binarization="fp32")
    assert vit_macs(float_backbone, (112, 140))["binary"] == 0
    assert math.isclose(sum(vit_macs(float_backbone, (112, 140)).values()), sum(vit_macs(backbone, (112, 140)).values()))


def test_stats_count_a_transposed_conv_by_its_input_channels():
    from bidense_keras.layers import BiDenseConvTranspose2D

    from bidense_keras.stats import _conv_macs

    layer = BiDenseConvTranspose2D(4, 2)
    layer.build((None, 5, 7, 6))
    assert _conv_macs(layer, (None, 10, 14, 4)) == (10 * 14 * 4) * 6  # each output value: one input pixel's 6 channels


def test_images_of_many_sizes_predict_like_single_calls():
    """Keras' TensorFlow predict retraces for any size after a few sizes: the ViT then works from runtime sizes."""
    model = randomized(tiny_dpt())
    rng = np.random.default_rng(4)
    for size in [(56, 56), (84, 56), (56, 112), (112, 84), (70, 98)]:  # 70 x 98: resized down to 56 x 84 inside
        batch = rng.uniform(0, 255, (1, *size, 3)).astype("float32")
        expected = keras.ops.convert_to_numpy(model(batch))
        np.testing.assert_allclose(model.predict_on_batch(batch), expected, rtol=1e-4, atol=1e-4, err_msg=str(size))


def test_images_under_two_patches_are_refused_with_the_minimum():
    model = tiny_dpt()
    assert model.min_input_size == 28
    with pytest.raises(ValueError, match="27x40 pixels are too small.*at least 28x28"):
        model.predict(np.zeros((1, 27, 40, 3), "float32") + 100, verbose=0)
    assert model.predict(np.zeros((1, 28, 28, 3), "float32") + 100, verbose=0).shape == (1, 28, 28, 5)
