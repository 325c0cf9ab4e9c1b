"""Binary kernels stored as bits (bidense_keras.packing) and packed model folders.

Backend-neutral: runs under every Keras backend (tests/test_backends.py runs it under JAX and torch).
"""

import json

import keras
import numpy as np
import pytest

import bidense_keras as bk
from bidense_keras import packing
from bidense_keras.convert import from_official_checkpoint
from bidense_keras.variants import BINARIZATIONS
from bidense_keras.weights import PACKED_FILE, WEIGHTS_FILE, load_folder, read_metadata, save_pretrained, weights_file
from tests.conftest import SMALL, nhwc

pytestmark = pytest.mark.backends

FIXTURES = {"segmentation": "upernet_bidense_seg_small.ckpt", "depth": "upernet_bidense_depth_small.state_dict.npz"}


def canonical_by_hand(kernel, channel_axis):
    """Each weight replaced by sign(w) * m * r, r the fixed spread, m = sum|w| / sum r over nonzero w (loops)."""
    factors = np.moveaxis(packing.spread(kernel.shape).astype(np.float64), channel_axis, 0)
    moved = np.moveaxis(kernel.astype(np.float64), channel_axis, 0)
    result = np.empty_like(moved)
    for channel, weights in enumerate(moved):
        nonzero = weights != 0
        magnitude = np.abs(weights[nonzero]).sum() / factors[channel][nonzero].sum() if nonzero.any() else 0.0
        result[channel] = np.sign(weights) * factors[channel] * np.float32(magnitude)
    return np.moveaxis(result, 0, channel_axis).astype(np.float32)


def test_the_spread_is_fixed_powers_of_two_in_equal_shares():
    factors = packing.spread((3, 3, 64, 32))
    values, counts = np.unique(factors, return_counts=True)
    assert values.tolist() == [0.25, 0.5, 1.0, 2.0] and counts.min() > 0.24 * factors.size
    np.testing.assert_array_equal(factors, packing.spread((3, 3, 64, 32)))
    assert not np.array_equal(factors.ravel()[:64], np.tile(factors.ravel()[:4], 16))  # no short period


@pytest.mark.parametrize("shape,channel_axis", [((3, 3, 5, 7), 3), ((7, 7, 6, 1), 2), ((1, 1, 9, 4), 3)])
def test_a_kernel_packs_to_one_bit_per_weight_and_rebuilds_canonically(shape, channel_axis):
    kernel = np.random.default_rng(0).normal(0, 0.01, shape).astype(np.float32)
    kernel.flat[[0, 5, kernel.size - 1]] = 0.0  # exact zeros keep sign 0
    packed = packing.pack_kernel(kernel, channel_axis)
    assert packed["signs"].dtype == np.uint8 and packed["signs"].size == -(-kernel.size // 8)
    assert packed["zeros"].tolist() == [0, 5, kernel.size - 1]
    rebuilt = packing.unpack_kernel(packed, shape, channel_axis)
    np.testing.assert_array_equal(rebuilt, canonical_by_hand(kernel, channel_axis))
    np.testing.assert_array_equal(np.sign(rebuilt), np.sign(kernel))
    again = packing.pack_kernel(rebuilt, channel_axis)  # a canonical kernel packs to itself
    assert all(np.array_equal(again[part], packed[part]) for part in packed)
    assert "zeros" not in packing.pack_kernel(kernel + (kernel == 0) * 0.5, channel_axis)


def test_a_channel_with_one_nonzero_weight_keeps_its_scale():
    kernel = np.zeros((2, 2, 1, 3), np.float32)
    kernel[:, :, 0, 0] = [[0.5, -0.25], [0.125, 1.0]]
    kernel[0, 0, 0, 2] = -0.3  # alone in channel 2, where the spread is 1/4
    assert packing.spread(kernel.shape)[0, 0, 0, 2] == 0.25
    rebuilt = packing.unpack_kernel(packing.pack_kernel(kernel, 3), kernel.shape, 3)
    np.testing.assert_allclose(np.abs(rebuilt).mean(axis=(0, 1, 2)), np.abs(kernel).mean(axis=(0, 1, 2)), rtol=1e-7)
    np.testing.assert_array_equal(np.sign(rebuilt), np.sign(kernel))


def test_unpacking_refuses_arrays_that_do_not_fit():
    packed = packing.pack_kernel(np.ones((3, 3, 4, 2), np.float32), 3)
    with pytest.raises(ValueError, match="sign bytes do not fit a kernel of 108 weights"):
        packing.unpack_kernel(packed, (3, 3, 4, 3), 3)
    with pytest.raises(ValueError, match="2 magnitudes for 4 channels"):
        packing.unpack_kernel(packed, (3, 3, 2, 4), 3)
    with pytest.raises(ValueError, match="zero indices outside"):
        packing.unpack_kernel({**packed, "zeros": np.array([72])}, (3, 3, 4, 2), 3)
    with pytest.raises(ValueError, match="zero indices outside"):  # not integers
        packing.unpack_kernel({**packed, "zeros": np.array([1.5])}, (3, 3, 4, 2), 3)


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def fixture_model(request, reference_dir):
    """The authors' small model (their trained-like random weights) and the fixture's input, NHWC."""
    model = from_official_checkpoint(reference_dir / FIXTURES[request.param], include_preprocessing=False)
    stem = FIXTURES[request.param].split(".")[0]
    return model, nhwc(np.load(reference_dir / f"{stem}.io.npz")["input_nchw"])


def _copy(model, binarization=None):
    """``model`` as ``binarization``: its weights where the variant has the same ones, else fresh ones."""
    config = {**model.get_config(), "binarization": binarization or model.binarization}
    copy = type(model).from_config(config)
    try:
        copy.set_weights(model.get_weights())
    except ValueError:  # bnn, cfb, fp32: other variables (no DAB parameters, float kernels)
        keras.utils.set_random_seed(0)
        copy = type(model).from_config(config)
    return copy


def _outputs(model, images):
    """An eager forward pass (under JAX, its compiled operations are shared by every model of the test)."""
    return keras.ops.convert_to_numpy(model(images, training=False))


@pytest.mark.parametrize("binarization", sorted(BINARIZATIONS))
def test_packed_folders_load_bit_identical_to_their_h5(fixture_model, binarization, tmp_path):
    model, images = fixture_model
    model = _copy(model, binarization)
    folder = save_pretrained(model, tmp_path / "packed", packed=True)
    assert weights_file(folder).name == PACKED_FILE
    from_bits = load_folder(folder)  # reads model.bits.npz
    (folder / PACKED_FILE).unlink()
    from_h5 = load_folder(folder)
    for a, b in zip(from_bits.weights, from_h5.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path)
    outputs = _outputs(from_bits, images)
    np.testing.assert_array_equal(outputs, _outputs(from_h5, images))
    kernels = packing.binary_kernels(model)
    assert (len(kernels) == 0) == (binarization == "fp32")
    if binarization == "fp32":  # nothing to pack: the model itself round-trips
        np.testing.assert_array_equal(outputs, _outputs(model, images))


def test_packing_keeps_every_sign_and_changes_each_scale_by_rounding_only(fixture_model):
    model, _ = fixture_model
    canonical = packing.canonicalize(_copy(model))
    kernels = packing.binary_kernels(model)
    assert kernels
    for original, packed in zip(model.weights, canonical.weights):
        before, after = keras.ops.convert_to_numpy(original), keras.ops.convert_to_numpy(packed)
        if original.path not in kernels:
            np.testing.assert_array_equal(after, before, err_msg=original.path)
            continue
        np.testing.assert_array_equal(np.sign(after), np.sign(before), err_msg=original.path)
        axes = tuple(axis for axis in range(before.ndim) if axis != kernels[original.path])
        scale = np.abs(before.astype(np.float64)).mean(axis=axes)
        np.testing.assert_allclose(np.abs(after.astype(np.float64)).mean(axis=axes), scale, rtol=1e-7,
                                   err_msg=original.path)  # the float32 rounding of each magnitude


def test_save_pretrained_packed_leaves_the_model_unchanged_and_pins_the_bits(fixture_model, tmp_path):
    model, _ = fixture_model
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.weights]
    folder = save_pretrained(model, tmp_path / "packed", packed=True)
    assert all(np.array_equal(a, keras.ops.convert_to_numpy(v)) for a, v in zip(before, model.weights))
    pin = read_metadata(folder)["packed_weights"]
    assert pin["size"] == (folder / PACKED_FILE).stat().st_size
    assert pin["size"] < (folder / WEIGHTS_FILE).stat().st_size / 5
    assert not (save_pretrained(model, tmp_path / "plain") / PACKED_FILE).exists()


@pytest.fixture
def packed_folder(tmp_path):
    keras.utils.set_random_seed(0)
    return save_pretrained(bk.segmentation(**SMALL, num_classes=5), tmp_path / "packed", packed=True)


def test_a_corrupted_packed_file_is_refused_by_checksum(packed_folder):
    path = packed_folder / PACKED_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.bits\.npz is corrupt: checksum mismatch"):
        load_folder(packed_folder)
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ValueError, match="is corrupt: checksum mismatch"):
        load_folder(packed_folder)


def test_an_unpinned_or_foreign_packed_file_is_refused(packed_folder, tmp_path):
    metadata_path = packed_folder / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata_path.write_text(json.dumps({k: v for k, v in metadata.items() if k != "packed_weights"}))
    with pytest.raises(ValueError, match="no 'packed_weights' entry pinning model.bits.npz"):
        load_folder(packed_folder)
    keras.utils.set_random_seed(0)
    other = save_pretrained(bk.segmentation(**{**SMALL, "features": 32}, num_classes=5), tmp_path / "o", packed=True)
    (packed_folder / PACKED_FILE).write_bytes((other / PACKED_FILE).read_bytes())
    metadata_path.write_text(json.dumps({**metadata, "packed_weights": read_metadata(other)["packed_weights"]}))
    with pytest.raises(ValueError, match=r"model\.bits\.npz: binary kernel head_upsample_conv/kernel: .* sign bytes "
                                         r"do not fit a kernel of 9216 weights"):
        load_folder(packed_folder)


def test_load_packed_names_what_does_not_match(packed_folder, tmp_path):
    keras.utils.set_random_seed(0)
    fp32 = bk.segmentation(**SMALL, num_classes=5, binarization="fp32")
    with pytest.raises(ValueError, match="has no variable stage0_block0_dwconv/kernel .a binary kernel stored"):
        packing.load_packed(fp32, packed_folder / PACKED_FILE)
    wider = bk.segmentation(**SMALL, num_classes=6)
    with pytest.raises(ValueError, match="head_logits.* has shape"):
        packing.load_packed(wider, packed_folder / PACKED_FILE)
    not_npz = tmp_path / "weights.npz"
    not_npz.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ValueError, match="not a readable packed weights file"):
        packing.load_packed(wider, not_npz)
    one_array = tmp_path / "one.npy"
    np.save(one_array, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="not a readable packed weights file .a single array"):
        packing.load_packed(wider, one_array)
    before = [keras.ops.convert_to_numpy(v).copy() for v in wider.weights]
    with pytest.raises(ValueError):
        packing.load_packed(wider, packed_folder / PACKED_FILE)
    assert all(np.array_equal(a, keras.ops.convert_to_numpy(v)) for a, v in zip(before, wider.weights))  # untouched


@pytest.mark.slow
def test_a_loaded_packed_model_fine_tunes(packed_folder):
    model = load_folder(packed_folder)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    labels = rng.integers(0, 5, (2, 64, 64))
    kernel = next(v for v in model.weights if v.path in packing.binary_kernels(model))
    before = keras.ops.convert_to_numpy(kernel).copy()
    history = model.fit(images, labels, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.array_equal(before, keras.ops.convert_to_numpy(kernel))


def centered_by_hand(kernel):
    """Each weight replaced by +m+ r above its unit's mean, -m- r below (loops over units):
    m+ = sum|w| / (2 sum_+ r), m- = m+ sum_+ r / sum_- r."""
    factors = packing.spread(kernel.shape).astype(np.float64)
    result = np.empty(kernel.shape, np.float32)
    for unit in range(kernel.shape[1]):
        column = kernel[:, unit]
        above = column - column.mean(dtype=np.float32) > 0
        above_sum, below_sum = factors[above, unit].sum(), factors[~above, unit].sum()
        positive = np.float32(np.abs(column.astype(np.float64)).sum() / (2 * above_sum))
        negative = np.float32(np.float64(positive) * above_sum / below_sum)
        result[:, unit] = np.where(above, positive * factors[:, unit], -negative * factors[:, unit])
    return result


def test_a_vit_linear_kernel_packs_centred_and_keeps_its_sign_pattern():
    kernel = np.random.default_rng(0).normal(0.01, 0.05, (48, 20)).astype(np.float32)
    packed = packing.pack_centered_kernel(kernel)
    assert packed["signs"].size == -(-kernel.size // 8) and packed["magnitude"].shape == (20,)
    rebuilt = packing.unpack_centered_kernel(packed, kernel.shape)
    np.testing.assert_array_equal(rebuilt, centered_by_hand(kernel))
    centred = lambda w: w - w.mean(axis=0, keepdims=True)  # noqa: E731
    np.testing.assert_array_equal(np.sign(centred(rebuilt)), np.sign(centred(kernel)))
    np.testing.assert_allclose(np.abs(rebuilt).mean(axis=0), np.abs(kernel).mean(axis=0), rtol=2e-6)  # fc scale
    again = packing.pack_centered_kernel(rebuilt)  # a canonical kernel packs to itself
    assert all(np.array_equal(again[part], packed[part]) for part in packed)
    on_the_mean = kernel.copy()
    on_the_mean[:, 3] = 0.5  # every weight of unit 3 on its mean: sign 0, not packable
    assert packing.pack_centered_kernel(on_the_mean) is None
    with pytest.raises(ValueError, match="20 magnitudes for 21 units|sign bytes"):
        packing.unpack_centered_kernel(packed, (48, 21))


def test_a_packed_dpt_folder_stores_its_vit_linears_as_bits(tmp_path):
    from bidense_keras.models import DPT

    keras.utils.set_random_seed(0)
    model = DPT(task="segmentation", embed_dim=48, depth=4, num_heads=3, features=16, out_channels=(8, 8, 16, 16),
                num_classes=3)
    folder = save_pretrained(model, tmp_path / "dpt", packed=True)
    with np.load(folder / PACKED_FILE) as archive:
        names = set(archive.files)
    linears = packing.centered_kernels(model)
    assert len(linears) == 16 and all(f"{path}:signs" in names and path not in names for path in linears)
    binary = sum(int(np.prod(v.shape)) for v in model.weights
                 if v.path in linears or v.path in packing.binary_kernels(model))
    saved = (folder / WEIGHTS_FILE).stat().st_size - (folder / PACKED_FILE).stat().st_size
    assert saved > 0.9 * binary * (4 - 1 / 8)  # each binary weight: 4 bytes in the .h5, 1 bit here
    images = np.random.default_rng(1).uniform(0, 255, (1, 56, 56, 3)).astype(np.float32)
    from_bits = load_folder(folder)
    (folder / PACKED_FILE).unlink()
    np.testing.assert_array_equal(from_bits.predict(images, verbose=0), load_folder(folder).predict(images, verbose=0))
