import pickle
import zipfile

import numpy as np
import pytest

from bidense_keras.convert import load_state_dict, strip_prefix


class Exploit:
    """Pickles to a call of os.system: a checkpoint reader must never run it."""

    def __reduce__(self):
        import os

        return (os.system, ("touch EXPLOITED",))


def test_pickled_code_is_not_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.ckpt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"state_dict": {"w": Exploit()}}, protocol=2))
    with pytest.raises(ValueError, match="holds no state dict"):  # unpickled to an inert placeholder
        load_state_dict(path)
    assert not (tmp_path / "EXPLOITED").exists()


def test_ckpt_reads_tensors_equal_to_the_npz(reference_dir):
    from_ckpt = load_state_dict(reference_dir / "upernet_bidense_seg_small.ckpt")
    from_npz = load_state_dict(reference_dir / "upernet_bidense_seg_small.state_dict.npz")
    assert sorted(from_ckpt) == sorted(from_npz)
    for name, value in from_npz.items():
        assert from_ckpt[name].dtype == value.dtype, name
        np.testing.assert_array_equal(from_ckpt[name], value)


def test_strip_prefix_handles_any_wrapper():
    state = {"model.net.backbone.downsample_layers.0.0.weight": np.zeros(1), "model.net.out_conv1.x": np.ones(1)}
    assert sorted(strip_prefix(state)) == ["backbone.downsample_layers.0.0.weight", "out_conv1.x"]


def test_infer_architecture_of_both_fixtures(reference_dir):
    from bidense_keras.convert import infer_architecture

    seg = infer_architecture(strip_prefix(load_state_dict(reference_dir / "upernet_bidense_seg_small.ckpt")))
    assert seg == {"task": "segmentation", "dims": (32, 64, 128, 256), "depths": (1, 1, 2, 1),
                   "features": 64, "num_classes": 21}
    depth_state = strip_prefix(load_state_dict(reference_dir / "upernet_bidense_depth_small.state_dict.npz"))
    assert infer_architecture(depth_state, max_depth=80.0)["max_depth"] == 80.0
    assert infer_architecture(depth_state)["task"] == "depth"


def test_a_tensor_that_overruns_its_storage_is_a_clear_error():
    from bidense_keras.convert.checkpoint_io import CheckpointError, _rebuild_tensor

    storage = np.zeros(4, np.float32)
    with pytest.raises(CheckpointError, match="does not fit its storage"):
        _rebuild_tensor(storage, 0, (10,), (1,))
    with pytest.raises(CheckpointError, match="does not fit its storage"):
        _rebuild_tensor(storage, 2, (2, 2), (2, 1))
    np.testing.assert_array_equal(_rebuild_tensor(np.arange(6, dtype=np.float32), 1, (2, 2), (1, 2)),
                                  [[1, 3], [2, 4]])
