"""Read PyTorch checkpoints as numpy arrays without torch and without running pickled code.

A PyTorch ``.pt/.pth`` file or Lightning ``.ckpt`` is a zip archive holding
``data.pkl`` (the object structure) and ``data/<key>`` (raw tensor storages). The
unpickler here resolves only the handful of torch names needed to rebuild
tensors, into numpy; any other class becomes an inert :class:`OpaqueObject`, so
no code from the file is ever imported or executed.
"""

import collections
import os
import pickle
import zipfile
import zlib

import numpy as np

from bidense_keras.errors import CheckpointError

_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class OpaqueObject:
    """Stands in for any non-tensor class found in a checkpoint; stores its arguments, runs nothing."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):
        self.state = state


def _rebuild_tensor(storage, offset, size, stride, *_):
    if not isinstance(storage, np.ndarray) or not isinstance(offset, int):
        raise CheckpointError("Malformed tensor in checkpoint (its storage or offset is not one).")
    size, stride = tuple(size), tuple(stride)
    if not all(isinstance(n, int) for n in size + stride):
        raise CheckpointError(f"Malformed tensor size {size[:8]} / stride {stride[:8]} in checkpoint.")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if offset < 0 or min(size + stride, default=0) < 0 or len(size) != len(stride) or (
        all(size) and last >= len(storage)
    ):
        raise CheckpointError(
            f"Tensor of size {size}, stride {stride}, offset {offset} does not fit its storage "
            f"of {len(storage)} elements: the checkpoint is corrupt."
        )
    numel = int(np.prod(size, dtype=object)) if size else 1
    if numel > len(storage):  # only views with overlapping (e.g. zero) strides read one element twice
        raise CheckpointError(
            f"Tensor of size {size[:8]} has {numel} elements over a storage of {len(storage)}: a view with "
            "overlapping strides, which a state dict never holds; refused (it could ask for any amount of memory)."
        )
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)
    )
    return np.ascontiguousarray(view)


def _rebuild_parameter(data, *_):
    return data


class _TensorUnpickler(pickle.Unpickler):
    def __init__(self, file, archive, prefix, file_size):
        super().__init__(file)
        self._archive, self._prefix, self._file_size = archive, prefix, file_size

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        return type(name, (OpaqueObject,), {"__module__": f"opaque.{module}"})

    def persistent_load(self, pid):
        """A storage of ``("storage", dtype, key, location, numel)`` as a 1-D numpy array, size checked."""
        if not isinstance(pid, tuple) or len(pid) < 3 or pid[0] != "storage" or not isinstance(pid[2], str):
            raise CheckpointError(f"Malformed tensor storage reference {str(pid)[:80]} in checkpoint.")
        dtype, key = pid[1], pid[2]
        if not isinstance(dtype, type) or not issubclass(dtype, np.generic):
            raise CheckpointError(f"Unsupported tensor storage {str(pid[:2])[:80]} in checkpoint.")
        try:
            info = self._archive.getinfo(f"{self._prefix}/data/{key}")
        except KeyError as error:
            raise CheckpointError(f"Checkpoint is missing tensor storage data/{key}.") from error
        numel = pid[4] if len(pid) > 4 and isinstance(pid[4], int) else None
        if info.file_size > self._file_size and info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"Storage data/{key} unpacks to {info.file_size} bytes, more than the whole "
                                  f"file ({self._file_size}): refused.")
        if numel is not None and info.file_size > numel * np.dtype(dtype).itemsize:
            raise CheckpointError(f"Storage data/{key} holds {info.file_size} bytes, more than the {numel} "
                                  f"elements it backs: the checkpoint is corrupt.")
        return np.frombuffer(self._archive.read(info), dtype=dtype)


def _read_torch_zip(path):
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise CheckpointError(f"{path} is a zip file but not a PyTorch checkpoint (no data.pkl).")
            prefix = pickles[0][: -len("/data.pkl")]
            with archive.open(pickles[0]) as handle:
                return _TensorUnpickler(handle, archive, prefix, os.path.getsize(path)).load()
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, zipfile.LargeZipFile, zlib.error) as error:
        raise CheckpointError(f"{path} is truncated or corrupt: {error}") from error
    except (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError, RecursionError) as error:
        # malformed arguments to the few rebuild functions allowed, or a structure pickle cannot rebuild
        raise CheckpointError(f"{path} has a malformed object structure ({type(error).__name__}: {error}).") from error
    except OSError as error:
        raise CheckpointError(f"Cannot read {path}: {error}") from error
    except MemoryError as error:
        raise CheckpointError(f"{path} asks for more memory than this machine has: refused as corrupt.") from error


def _find_state_dict(obj, path):
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict) and obj and all(isinstance(v, np.ndarray) for v in obj.values()):
        return dict(obj)
    raise CheckpointError(
        f"{path} holds no state dict (expected a dict of tensors, or a Lightning checkpoint "
        "with a 'state_dict' entry)."
    )


def load_state_dict(path):
    """Tensors of a checkpoint by name, as numpy arrays in PyTorch layout.

    Args:
        path: a Lightning ``.ckpt``, a PyTorch ``.pth``/``.pt`` (zip format, the
            default since PyTorch 1.6), or an ``.npz`` of named arrays.

    Returns:
        ``{name: np.ndarray}``.

    Raises:
        CheckpointError: not a checkpoint, truncated or corrupt, or no state dict.
    """
    path = str(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            is_npz = any(name.endswith(".npy") for name in archive.namelist())
        if is_npz:
            try:
                with np.load(path, allow_pickle=False) as arrays:
                    return {name: arrays[name] for name in arrays.files}
            except (ValueError, OSError, zipfile.BadZipFile) as error:
                raise CheckpointError(f"{path} is a corrupt .npz file: {error}") from error
        return _find_state_dict(_read_torch_zip(path), path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as error:
        raise CheckpointError(f"Cannot read {path}: {error}") from error
    kind = "truncated zip archive" if head.startswith(b"PK") else "not a zip archive"
    raise CheckpointError(
        f"{path} is not a readable checkpoint ({kind}). Expected a PyTorch .pt/.pth/.ckpt saved "
        "in the zip format (torch >= 1.6) or an .npz of named arrays."
    )
