"""The binary ViT computes what the authors' DPT code computes (fixtures dpt_bidense_*_small).

Backend-neutral: runs under every Keras backend (tests/test_backends.py runs it under JAX and torch).
"""

import json

import keras
import numpy as np
import pytest

from bidense_keras.models import BinaryViTBackbone
from bidense_keras.convert.checkpoint_io import load_state_dict
from bidense_keras.convert.official import strip_prefix
from bidense_keras.convert import CheckpointError, from_official_checkpoint
from bidense_keras.convert.official_dpt import STEM, decoder_weight_map, from_state_dict, infer_architecture, vit_weight_map
from tests.conftest import nhwc

pytestmark = pytest.mark.backends

FIXTURES = ("dpt_bidense_seg_small", "dpt_bidense_depth_small")


def assert_close(actual, reference, label):
    tolerance = 1e-4 * max(1.0, float(np.abs(reference).max()))
    error = float(np.abs(actual - reference).max())
    print(f"{label}: max abs error {error:.2e} (bound {tolerance:.2e})")
    assert error <= tolerance, f"{label}: max abs error {error:.3g} > {tolerance:.3g}"


@pytest.fixture(scope="module", params=FIXTURES)
def backbone_case(request, reference_dir):
    name = request.param
    config = json.loads((reference_dir / f"{name}.json").read_text())["backbone"]
    io = np.load(reference_dir / f"{name}.io.npz")
    images = nhwc(io["input_nchw"])
    backbone = BinaryViTBackbone(config["embed_dim"], config["depth"], config["num_heads"])
    backbone.build(images.shape)
    state_dict = strip_prefix(load_state_dict(reference_dir / f"{name}.state_dict.npz"), STEM, "DPT")
    for key, (variable, layout) in vit_weight_map(backbone).items():
        variable.assign(layout(np.asarray(state_dict[key], np.float32)))
    return name, backbone, images, io


def test_positions_tokens_blocks_and_features(backbone_case):
    name, backbone, images, io = backbone_case
    tokens, grid = backbone.tokens(images)
    assert grid == tuple(io["reassembled2_nchw"].shape[2:])
    positions = keras.ops.convert_to_numpy(backbone.position.resampled_grid(grid))
    assert_close(positions, io["vit_pos_embed_interp"][0, 1:], f"{name} resampled positions")
    assert_close(keras.ops.convert_to_numpy(tokens), io["vit_tokens_in"], f"{name} tokens")
    x = tokens
    for index, block in enumerate(backbone.blocks):
        x = block(x)
        assert_close(keras.ops.convert_to_numpy(x), io[f"vit_block{index}_out"], f"{name} block {index}")
    for index, feature in enumerate(backbone(images)):
        reference = io[f"vit_out{index}_tokens"].reshape(-1, *grid, backbone.embed_dim)
        assert_close(keras.ops.convert_to_numpy(feature), reference, f"{name} feature {index}")


@pytest.fixture(scope="module", params=FIXTURES)
def model_case(request, reference_dir):
    """The whole DPT model converted from the authors' state dict (architecture inferred, heads given)."""
    name = request.param
    heads = json.loads((reference_dir / f"{name}.json").read_text())["backbone"]["num_heads"]
    model = from_official_checkpoint(reference_dir / f"{name}.state_dict.npz", include_preprocessing=False,
                                     num_heads=heads)
    return name, model, np.load(reference_dir / f"{name}.io.npz")


def test_the_converter_infers_the_architecture(reference_dir):
    for name in FIXTURES:
        config = json.loads((reference_dir / f"{name}.json").read_text())
        state_dict = strip_prefix(load_state_dict(reference_dir / f"{name}.state_dict.npz"), STEM, "DPT")
        vit = config["backbone"]
        head = {"num_classes": config["num_classes"]} if config["task"] == "segmentation" else {"max_depth": 10.0}
        assert infer_architecture(state_dict, num_heads=vit["num_heads"]) == {
            "task": config["task"], "embed_dim": vit["embed_dim"], "depth": vit["depth"],
            "num_heads": vit["num_heads"], "features": config["features"],
            "out_channels": tuple(config["out_channels"]), **head}
        with pytest.raises(CheckpointError, match="embed_dim 96 is not a multiple of DINOv2's head width 64"):
            infer_architecture(state_dict)


def test_a_dpt_checkpoint_that_does_not_fit_is_refused_by_name(reference_dir):
    state_dict = strip_prefix(load_state_dict(reference_dir / "dpt_bidense_seg_small.state_dict.npz"), STEM, "DPT")
    del state_dict["scratch.layer2_rn.norm.running_var"]
    state_dict["scratch.extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(CheckpointError, match=r"missing tensors: scratch\.layer2_rn\.norm\.running_var; "
                                              r"unexpected tensors: scratch\.extra\.weight"):
        from_state_dict(state_dict, num_heads=3)


INTERMEDIATES = {  # fixture key: layer whose output it is
    "reassembled0_nchw": "dpt_reassemble_up0_add", "reassembled1_nchw": "dpt_reassemble_up1_add",
    "reassembled2_nchw": "dpt_reassemble_project2", "reassembled3_nchw": "dpt_reassemble_down3_add",
    "refinenet4_out_nchw": "dpt_refinenet4_resize", "refinenet3_out_nchw": "dpt_refinenet3_resize",
    "output_conv1_nchw": "head_upsample_conv",
}


def test_dpt_output_and_intermediates(model_case):
    name, model, io = model_case
    images = nhwc(io["input_nchw"])
    probe = keras.Model(model.input, [model.get_layer(layer).output for layer in INTERMEDIATES.values()])
    for key, value in zip(INTERMEDIATES, probe(images)):
        assert_close(keras.ops.convert_to_numpy(value), nhwc(io[key]), f"{name} {key}")
    assert_close(keras.ops.convert_to_numpy(model(images)), nhwc(io["output_nchw"]), f"{name} output")


def test_dpt_input_and_parameter_gradients(model_case, reference_dir):
    from bidense_keras.backends import vjp

    name, model, io = model_case
    weight_map = {**vit_weight_map(model.backbone), **decoder_weight_map(model)}
    reference = np.load(reference_dir / f"{name}.grads.npz")
    names = [key for key in weight_map if f"module.{key}" in reference.files]
    assert len(names) == len(reference.files)  # every parameter the authors report a gradient for is mapped
    _, (input_grad,), grads = vjp(lambda x: model(x, training=False), [nhwc(io["input_nchw"])],
                                  nhwc(io["output_cotangent_nchw"]), variables=[weight_map[key][0] for key in names])
    assert_close(input_grad, nhwc(io["input_grad_nchw"]), f"{name} input gradient")
    errors = {}
    for key, grad in zip(names, grads):
        expected = weight_map[key][1](reference[f"module.{key}"])
        errors[key] = float(np.abs(grad - expected).max()) / max(float(np.abs(expected).max()), 1e-12)
    worst = max(errors, key=errors.get)
    print(f"{name}: {len(errors)} parameter gradients, worst {worst} rel {errors[worst]:.2e}")
    assert not {key: error for key, error in errors.items() if error > 1e-3}
