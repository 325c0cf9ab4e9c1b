"""Bad input gets a clear error that names the problem."""

import shutil

import numpy as np
import pytest

import bidense_keras as bk
from bidense_keras.convert import CheckpointError, from_official_checkpoint, load_state_dict
from tests.conftest import SMALL


@pytest.fixture(scope="module")
def model():
    return bk.segmentation(**SMALL, num_classes=3)


def test_wrong_channel_count(model):
    with pytest.raises(ValueError, match="Expected 3 colour channels.*got 4 channels"):
        model.predict(np.zeros((1, 32, 32, 4), np.float32), verbose=0)


def test_rank_3_input(model):
    with pytest.raises(ValueError, match=r"rank 3 .*Add a batch axis"):
        model(np.zeros((32, 32, 3), np.float32))


def test_unknown_preset_suggests_names():
    with pytest.raises(ValueError, match="Unknown preset 'bidense_upernet_convnext_tiny_ade'.*Did you mean"):
        bk.segmentation("bidense_upernet_convnext_tiny_ade")


def test_preset_of_the_other_task():
    with pytest.raises(ValueError, match="is a depth model, not segmentation"):
        bk.segmentation("bidense_upernet_convnext_tiny_nyu")


def test_unknown_backbone():
    with pytest.raises(ValueError, match="Unknown upernet backbone 'resnet50'"):
        bk.segmentation(backbone="resnet50")


def test_unknown_argument():
    with pytest.raises(TypeError, match="num_class"):
        bk.segmentation(num_class=3)


def test_pretrained_without_published_weights():
    with pytest.raises(ValueError, match="No pretrained weights are published.*from_official_checkpoint"):
        bk.segmentation("fp32_upernet_convnext_base_voc", pretrained=True)


def test_truncated_ckpt(reference_dir, tmp_path):
    data = (reference_dir / "upernet_bidense_seg_small.ckpt").read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_state_dict(truncated)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.ckpt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        from_official_checkpoint(path)


def write_npz_without(reference_dir, tmp_path, drop=(), change=None):
    arrays = dict(np.load(reference_dir / "upernet_bidense_seg_small.state_dict.npz"))
    for name in drop:
        del arrays[name]
    if change:
        arrays.update(change)
    path = tmp_path / "edited.npz"
    np.savez(path, **arrays)
    return path


def test_missing_tensor_is_named(reference_dir, tmp_path):
    path = write_npz_without(reference_dir, tmp_path, drop=["module.PPN.stages.2.1.binarizer.k"])
    with pytest.raises(CheckpointError, match=r"missing tensors: PPN\.stages\.2\.1\.binarizer\.k"):
        from_official_checkpoint(path)


def test_unexpected_tensor_is_named(reference_dir, tmp_path):
    path = write_npz_without(reference_dir, tmp_path, change={"module.FPN.extra.weight": np.zeros(3)})
    with pytest.raises(CheckpointError, match=r"unexpected tensors: FPN\.extra\.weight"):
        from_official_checkpoint(path)


def test_wrong_shape_is_named(reference_dir, tmp_path):
    path = write_npz_without(reference_dir, tmp_path, change={"module.out_conv1.binarizer.b": np.zeros((1, 7, 1, 1))})
    with pytest.raises(CheckpointError, match=r"out_conv1\.binarizer\.b has shape \(1, 7, 1, 1\)"):
        from_official_checkpoint(path)


def test_unshared_smooth_conv_is_rejected(reference_dir, tmp_path):
    arrays = np.load(reference_dir / "upernet_bidense_seg_small.state_dict.npz")
    name = "module.FPN.smooth_conv.1.conv.weight"
    path = write_npz_without(reference_dir, tmp_path, change={name: arrays[name] + 1})
    with pytest.raises(CheckpointError, match="must be one shared layer"):
        from_official_checkpoint(path)


def test_a_copy_of_the_ckpt_still_loads(reference_dir, tmp_path):
    copy = tmp_path / "copy.pth"
    shutil.copy(reference_dir / "upernet_bidense_seg_small.ckpt", copy)
    assert "module.out_conv2.2.bias" in load_state_dict(copy)
