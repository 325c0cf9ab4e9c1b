"""The binary ViT computes what the authors' DPT code computes (fixtures dpt_bidense_*_small).

Backend-neutral: runs under every Keras backend (tests/test_backends.py runs it under JAX and torch).
"""

import json

import keras
import numpy as np
import pytest

from bidense_keras.backbones.vit import BinaryViTBackbone
from bidense_keras.convert.checkpoint_io import load_state_dict
from bidense_keras.convert.official import strip_prefix
from bidense_keras.convert.official_dpt import STEM, vit_weight_map
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
