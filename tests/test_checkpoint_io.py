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


class Storage:
    """Pickled as the persistent id ``pid`` (what torch writes for a tensor's storage)."""

    def __init__(self, pid):
        self.pid = pid


class Rebuild:
    """Pickles to a call of the allowed ``torch._utils._rebuild_tensor_v2`` with ``args``."""

    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return (_torch_name("torch._utils", "_rebuild_tensor_v2"), self.args)


def _torch_name(module, name):
    """A stand-in pickled as the global ``module.name`` (torch need not be importable)."""
    function = lambda *args: None  # noqa: E731 - only its qualified name is pickled
    function.__module__, function.__qualname__ = module, name
    return function


FLOAT = _torch_name("torch", "FloatStorage")


def write_checkpoint(path, state, storages=None, compress=False):
    """A torch-style zip: ``archive/data.pkl`` with ``Storage`` objects as persistent ids, ``archive/data/<key>``."""
    import io
    import types

    class Pickler(pickle._Pickler):  # the Python pickler: it lets a torch name be written without torch
        def persistent_id(self, obj):
            return obj.pid if isinstance(obj, Storage) else None

        def save_global(self, obj, name=None):
            if not str(getattr(obj, "__module__", "")).startswith("torch"):
                return super().save_global(obj, name)
            self.write(pickle.GLOBAL + obj.__module__.encode() + b"\n" + obj.__qualname__.encode() + b"\n")
            self.memoize(obj)

        dispatch = {**pickle._Pickler.dispatch, types.FunctionType: save_global}

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump({"state_dict": state})
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        for key, data in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", data)
    return path


@pytest.mark.parametrize("pid,message", [
    ("just a string", "Malformed tensor storage reference"),
    (("storage",), "Malformed tensor storage reference"),
    (("storage", FLOAT, 7, "cpu", 4), "Malformed tensor storage reference"),
    (("blob", FLOAT, "0", "cpu", 4), "Malformed tensor storage reference"),
    (("storage", "FloatStorage", "0", "cpu", 4), "Unsupported tensor storage"),
    (("storage", FLOAT, "9", "cpu", 4), "missing tensor storage data/9"),
    (("storage", FLOAT, "0", "cpu", 2), "more than the 2 elements it backs"),
])
def test_malformed_storage_references_are_checkpoint_errors(tmp_path, pid, message):
    from bidense_keras.convert.checkpoint_io import CheckpointError

    path = write_checkpoint(tmp_path / "bad.ckpt", {"w": Rebuild(Storage(pid), 0, (4,), (1,))},
                            {"0": np.arange(4, dtype=np.float32).tobytes()})
    with pytest.raises(CheckpointError, match=message):
        load_state_dict(path)


@pytest.mark.parametrize("args", [
    ("not a storage", 0, (4,), (1,)),
    (Storage(("storage", FLOAT, "0", "cpu", 4)), "0", (4,), (1,)),
    (Storage(("storage", FLOAT, "0", "cpu", 4)), 0, ("4",), (1,)),
    (Storage(("storage", FLOAT, "0", "cpu", 4)), 0, 4, (1,)),
    (Storage(("storage", FLOAT, "0", "cpu", 4)),),
])
def test_malformed_rebuild_arguments_are_checkpoint_errors(tmp_path, args):
    from bidense_keras.convert.checkpoint_io import CheckpointError

    path = write_checkpoint(tmp_path / "bad.ckpt", {"w": Rebuild(*args)}, {"0": np.zeros(4, np.float32).tobytes()})
    with pytest.raises(CheckpointError):
        load_state_dict(path)


def test_a_well_formed_handmade_checkpoint_reads_back(tmp_path):
    values = np.arange(6, dtype=np.float32)
    path = write_checkpoint(tmp_path / "good.ckpt", {"w": Rebuild(Storage(("storage", FLOAT, "0", "cpu", 6)),
                                                                  0, (2, 3), (3, 1))}, {"0": values.tobytes()})
    np.testing.assert_array_equal(load_state_dict(path)["w"], values.reshape(2, 3))


def test_a_compressed_storage_larger_than_the_file_is_refused(tmp_path):
    from bidense_keras.convert.checkpoint_io import CheckpointError

    numel = 4_000_000  # 16 MB of zeros compress to a few kB: a decompression bomb in small
    path = write_checkpoint(tmp_path / "bomb.ckpt", {"w": Rebuild(Storage(("storage", FLOAT, "0", "cpu", numel)),
                                                                  0, (numel,), (1,))},
                            {"0": bytes(4 * numel)}, compress=True)
    assert path.stat().st_size < 100_000
    with pytest.raises(CheckpointError, match="more than the whole file"):
        load_state_dict(path)


def test_fuzzed_checkpoints_end_in_a_checkpoint_error_or_the_right_tensors(reference_dir, tmp_path):
    """Random byte flips of the fixture .ckpt (fixed seed): never a raw exception, never wrong tensors silently
    returned except where the flips hit bytes that the tensors do not use."""
    from bidense_keras.convert.checkpoint_io import CheckpointError

    original = (reference_dir / "upernet_bidense_seg_small.ckpt").read_bytes()
    expected = load_state_dict(reference_dir / "upernet_bidense_seg_small.ckpt")
    rng = np.random.default_rng(0)
    outcomes = {"error": 0, "same": 0, "changed values": 0}
    for case in range(60):
        data = bytearray(original)
        for position in rng.integers(0, len(data), size=int(rng.integers(1, 4))):
            data[position] ^= int(rng.integers(1, 256))
        path = tmp_path / f"fuzz{case}.ckpt"
        path.write_bytes(bytes(data))
        try:
            state = load_state_dict(path)
        except CheckpointError:
            outcomes["error"] += 1
            continue
        assert sorted(state) == sorted(expected)  # a flip that changes names or shapes must be an error
        assert all(state[name].shape == value.shape and state[name].dtype == value.dtype
                   for name, value in expected.items())
        same = all(np.array_equal(state[name], value) for name, value in expected.items())
        outcomes["same" if same else "changed values"] += 1
    assert outcomes["error"] > 0 and sum(outcomes.values()) == 60
