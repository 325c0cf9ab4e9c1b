"""Binary kernels stored as bits: the packed weights file of a model folder (``model.bits.npz``).

A binarized kernel W enters the network only as ``mean|W_o| * sign(W)`` per output channel o
(the weight binarizer, :func:`bidense_keras.quantizers.scaled_sign`). Its packed form keeps exactly that: one sign bit per weight, the flat indices of
exact zeros (sign 0; usually none, then not stored) and one float32 magnitude per channel.
Rebuilding gives the *canonical kernel* ``W'_i = m_o * r_i * sign(W_i)``, where ``r_i`` in
{1/4, 1/2, 1, 2} is a fixed pseudo-random pattern over the weight index (:func:`spread`) and
``m_o = sum|W_o| / sum_{W_i != 0} r_i``: so ``mean|W'_o| = mean|W_o|`` and ``sign(W') = sign(W)``.
The spread keeps weights at different distances from their sign flip, as in a trained latent
kernel, so fine-tuning a packed model does not flip whole channels at once; powers of two keep
``m_o * r_i`` exact, so packing a canonical kernel gives back the same magnitudes.

Packing a canonical kernel gives it back bit for bit. A trained latent kernel is not canonical:
its channel scale, computed in float32 by the backend, can differ from the canonical one's in
the last bit, enough to flip a few binary activations downstream. So a packed folder stores the
canonical model in both its weight files (see :func:`bidense_keras.weights.save_pretrained`), and
the bits and the ``.weights.h5`` load into identical models. Every other variable (BatchNorm, DAB
parameters, biases, the float stem and heads) is stored as it is.

The binary ViT's linear kernels (DPT family) enter only as ``s * sign(W - mean_in W)`` per output
unit, ``s`` learned or ``mean|W|`` (:class:`~bidense_keras.layers.BinaryDense`). Their canonical
form is *centred*: ``W'_i = m+ * r_i`` where ``W_i`` is above its unit's mean, ``-m- * r_i`` below,
with ``m+ = sum|W| / (2 * sum_+ r)`` and ``m- = m+ * sum_+ r / sum_- r``: the unit's weights sum to
zero (up to rounding, far below any ``|W'_i|``), so ``sign(W' - mean W')`` is the original pattern,
and ``mean|W'| = mean|W|``. Only ``m+`` is stored; a canonical kernel packs to itself. A kernel
with a weight exactly on its unit's mean (sign 0) is stored as float.

The file is an ``.npz`` (numpy's zip of ``.npy`` arrays, read with ``allow_pickle=False``), keyed by
Keras variable paths: ``<path>`` for a float variable, ``<path>:signs`` (uint8, ``np.packbits`` of
``W > 0``, for centred kernels of ``W > mean``, in C order), ``<path>:magnitude`` (float32, one per
channel) and, when W has zeros, ``<path>:zeros`` (int64 flat indices) for a binary kernel, and ``format``.
"""

import zipfile
from pathlib import Path

import keras
import numpy as np

from bidense_keras.layers.binary_dense import BinaryDense
from bidense_keras.quantizers import MagnitudeAwareSign, ScaledSign

PACKED_FORMAT = "bidense_keras/bits-1"
FORMAT_KEY = "format"
BINARY_PARTS = ("signs", "magnitude", "zeros")


def binary_kernels(model):
    """``{variable path: channel axis}`` of every kernel that ``model`` binarizes with a channel scale.

    These are the kernels of BiDense convolutions whose kernel binarizer is ``scaled_sign`` or
    ``magnitude_aware_sign`` (forward ``mean|W_o| * sign(W)``); fp32 models have none.
    """
    kernels = {}
    for layer in model._flatten_layers(include_self=False):
        quantizer = getattr(layer, "_kernel_quantizer", None)
        if isinstance(quantizer, (ScaledSign, MagnitudeAwareSign)):
            kernels[layer.kernel.path] = quantizer.channel_axis % len(layer.kernel.shape)
    return kernels


def centered_kernels(model):
    """``{variable path: unit axis}`` of the binary ViT linear kernels of ``model`` (``(in, units)``: axis 1)."""
    return {layer.kernel.path: 1 for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, BinaryDense) and not layer.folded}


def spread(shape):
    """The fixed factors ``r`` in {1/4, 1/2, 1, 2} of a canonical kernel of ``shape``, float32 (a hash of the index)."""
    index = np.arange(int(np.prod(shape)), dtype=np.uint64)
    exponent = ((index * np.uint64(2654435761)) % np.uint64(1 << 32)) >> np.uint64(30)  # 0..3
    return np.ldexp(np.float32(1.0), exponent.astype(np.int32) - 2).astype(np.float32).reshape(shape)


def _channels_last(kernel, channel_axis):
    """``kernel`` as ``(elements per channel, channels)``."""
    return np.moveaxis(kernel, channel_axis, -1).reshape(-1, kernel.shape[channel_axis])


def pack_kernel(kernel, channel_axis):
    """The packed form of one binary kernel.

    Args:
        kernel: float array, e.g. ``(kh, kw, cin, cout)`` with ``channel_axis`` 3.
        channel_axis: the axis with one scale per index (output channels; depthwise: the channels).

    Returns:
        ``{"signs": uint8 (ceil(size / 8),), "magnitude": float32 (channels,)}`` plus
        ``"zeros"`` (int64 flat indices) when the kernel has exact zeros.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    per_channel = np.abs(_channels_last(kernel, channel_axis)).astype(np.float64)
    factors = _channels_last(spread(kernel.shape), channel_axis).astype(np.float64) * (per_channel != 0)
    weight = factors.sum(axis=0)
    magnitude = per_channel.sum(axis=0) / np.where(weight > 0, weight, 1.0)  # exact for a canonical kernel
    packed = {"signs": np.packbits(kernel.ravel() > 0), "magnitude": magnitude.astype(np.float32)}
    zeros = np.flatnonzero(kernel.ravel() == 0)
    if zeros.size:
        packed["zeros"] = zeros.astype(np.int64)
    return packed


def _signs_and_magnitudes(packed, size, count, noun):
    """The ``signs`` (uint8) and ``magnitude`` (float32) arrays of a packed kernel of ``size`` weights and
    ``count`` magnitudes (one per ``noun``); a ValueError when they do not fit."""
    signs, magnitude = np.asarray(packed["signs"]), np.asarray(packed["magnitude"], dtype=np.float32)
    if signs.dtype != np.uint8 or signs.shape != ((size + 7) // 8,):
        raise ValueError(f"{signs.shape} {signs.dtype} sign bytes do not fit a kernel of {size} weights")
    if magnitude.shape != (count,):
        raise ValueError(f"{magnitude.shape[0] if magnitude.ndim else 'no'} magnitudes for {count} {noun}")
    return signs, magnitude


def unpack_kernel(packed, shape, channel_axis):
    """The canonical kernel ``magnitude_o * spread * sign`` of shape ``shape`` from :func:`pack_kernel`'s output.

    Raises:
        ValueError: when the arrays do not fit ``shape`` (wrong bit count, channel count or index).
    """
    size = int(np.prod(shape))
    signs, magnitude = _signs_and_magnitudes(packed, size, shape[channel_axis], "channels")
    zeros = np.asarray(packed.get("zeros", np.zeros(0, np.int64)))
    if zeros.size and (not np.issubdtype(zeros.dtype, np.integer) or zeros.ndim != 1 or zeros.min() < 0
                       or zeros.max() >= size):
        raise ValueError(f"zero indices outside a kernel of {size} weights")
    sign = np.where(np.unpackbits(signs, count=size).astype(bool), 1.0, -1.0).astype(np.float32)
    sign[zeros] = 0.0
    kernel = np.moveaxis(sign.reshape(shape) * spread(shape), channel_axis, -1) * magnitude
    return np.moveaxis(kernel, -1, channel_axis)


def _unit_sums(factors, above):
    """``(sum_+ r, sum_- r)`` per unit (float64) of the spread ``factors`` ``(in, units)`` split by ``above``."""
    return (factors * above).sum(axis=0), (factors * ~above).sum(axis=0)


def _centered_kernel(above, positive_magnitude):
    """``m+ * r`` above the mean, ``-m- * r`` below, ``m- = m+ * sum_+ r / sum_- r`` (float32, ``(in, units)``)."""
    factors = spread(above.shape)
    above_sum, below_sum = _unit_sums(factors.astype(np.float64), above)
    positive = positive_magnitude.astype(np.float32)
    negative = (positive.astype(np.float64) * above_sum / below_sum).astype(np.float32)
    return np.where(above, positive * factors, -negative * factors).astype(np.float32)


def pack_centered_kernel(kernel):
    """The packed form of a binary ViT linear kernel ``(in, units)``, or None if it cannot be packed.

    Returns:
        ``{"signs": uint8 (ceil(size / 8),), "magnitude": float32 (units,)}`` (``m+``), or None when a
        weight lies exactly on its unit's mean or a unit has no weight above or below it (then the
        kernel is stored as float).
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    centred = kernel - kernel.mean(axis=0, keepdims=True)  # in float32, as the layer computes it
    above = centred > 0
    above_sum, below_sum = _unit_sums(spread(kernel.shape).astype(np.float64), above)
    if (centred == 0).any() or (above_sum == 0).any() or (below_sum == 0).any():
        return None
    magnitudes = np.abs(kernel.astype(np.float64))
    as_canonical = ((magnitudes * above).sum(axis=0) / above_sum).astype(np.float32)
    if np.array_equal(_centered_kernel(above, as_canonical), kernel):  # a canonical kernel packs to itself
        positive = as_canonical
    else:
        positive = (magnitudes.sum(axis=0) / (2.0 * above_sum)).astype(np.float32)
    return {"signs": np.packbits(above.ravel()), "magnitude": positive}


def unpack_centered_kernel(packed, shape):
    """The canonical centred kernel of shape ``(in, units)`` from :func:`pack_centered_kernel`'s output.

    Raises:
        ValueError: when the arrays do not fit ``shape``, or a unit has no weight above or below its mean.
    """
    size = int(np.prod(shape))
    signs, magnitude = _signs_and_magnitudes(packed, size, shape[1], "units")
    above = np.unpackbits(signs, count=size).astype(bool).reshape(shape)
    if not (above.any(axis=0) & (~above).any(axis=0)).all():
        raise ValueError("a unit with no weight above or below its mean")
    return _centered_kernel(above, magnitude)


def _packed_parts(variable, value, kernels, centred):
    """``{part: array}`` of one variable in the file: its binary parts, or ``{"": value}`` to store it as float."""
    if variable.path in kernels:
        return pack_kernel(value, kernels[variable.path])
    if variable.path in centred:
        packed = pack_centered_kernel(value)
        if packed is not None:
            return packed
    return {"": value}


def canonicalize(model):
    """Replaces every binary kernel of ``model`` by its canonical form, in place; returns ``model``."""
    kernels, centred = binary_kernels(model), centered_kernels(model)
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable)
        if variable.path in kernels:
            axis = kernels[variable.path]
            variable.assign(unpack_kernel(pack_kernel(value, axis), value.shape, axis))
        elif variable.path in centred and (packed := pack_centered_kernel(value)) is not None:
            variable.assign(unpack_centered_kernel(packed, value.shape))
    return model


def save_packed(model, path):
    """Writes ``model``'s weights, binary kernels as bits, to the ``.npz`` file ``path``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    kernels, centred = binary_kernels(model), centered_kernels(model)
    paths = [variable.path for variable in model.weights]
    if len(set(paths)) != len(paths):
        raise ValueError(f"{model.name} has variables that share a path; name its layers uniquely to pack it.")
    arrays = {FORMAT_KEY: np.array(PACKED_FORMAT)}
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable)
        for part, array in _packed_parts(variable, value, kernels, centred).items():
            arrays[f"{variable.path}:{part}" if part else variable.path] = array
    path = Path(path)
    with open(path, "wb") as file:  # np.savez would append ".npz" to a name without it
        np.savez(file, **arrays)
    return path


def _read_arrays(path):
    """Every array of the ``.npz`` at ``path`` (read now, so a corrupt member fails here)."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with archive:
            return {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path} is not a readable packed weights file ({error}).") from error


def load_packed(model, path):
    """Assigns the weights of the packed file ``path`` to ``model`` (built, same architecture).

    Raises:
        ValueError: a file that is not a packed weights file of this format, or whose variables,
            shapes or binary kernels do not match ``model``.
    """
    arrays = _read_arrays(path)
    found = str(arrays.pop(FORMAT_KEY, "none"))
    if found != PACKED_FORMAT:
        raise ValueError(f"{path} has packed format {found!r}; this version reads {PACKED_FORMAT!r}.")
    kernels, centred = binary_kernels(model), centered_kernels(model)
    expected, values = set(), []
    for variable in model.weights:
        stored_as_bits = variable.path in kernels or (variable.path in centred and variable.path not in arrays)
        if stored_as_bits:  # a centred kernel that could not be packed is stored as float
            names = BINARY_PARTS if variable.path in kernels else ("signs", "magnitude")
            parts = {part: arrays[f"{variable.path}:{part}"] for part in names if f"{variable.path}:{part}" in arrays}
            expected.update(f"{variable.path}:{part}" for part in parts)
            if "signs" not in parts or "magnitude" not in parts:
                raise ValueError(f"{path} has no sign bits and magnitudes for the binary kernel {variable.path}.")
            shape = tuple(variable.shape)
            try:
                value = (unpack_kernel(parts, shape, kernels[variable.path]) if variable.path in kernels
                         else unpack_centered_kernel(parts, shape))
            except ValueError as error:
                raise ValueError(f"{path}: binary kernel {variable.path}: {error}.") from error
        else:
            expected.add(variable.path)
            if variable.path not in arrays:
                raise ValueError(f"{path} has no variable {variable.path} (a binary kernel stored for a float "
                                 "model, or another architecture).")
            value = arrays[variable.path]
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"{path}: {variable.path} has shape {value.shape}, the model {tuple(variable.shape)}.")
        values.append(value)
    extra = sorted(set(arrays) - expected)
    if extra:
        raise ValueError(f"{path} holds {len(extra)} array(s) the model does not have, e.g. {extra[:3]}.")
    for variable, value in zip(model.weights, values):  # only once everything fits: never half-loaded
        variable.assign(value)
    return model
