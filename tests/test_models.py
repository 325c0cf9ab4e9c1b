import os

import keras
import numpy as np
import pytest

import bidense_keras as bk
from bidense_keras import ConvNeXtBackbone
from tests.conftest import SMALL


def tiny_images(batch=2, height=64, width=64, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=(batch, height, width, 3)).astype(np.float32)


@pytest.mark.parametrize("size", [(96, 128), (97, 131), (40, 70)])
def test_any_input_size_floors_like_pytorch(size):
    model = bk.segmentation(**SMALL, num_classes=5)
    features = model.backbone(np.zeros((1, *size, 3), np.float32))
    height, width = size[0] // 4, size[1] // 4
    for index, feature in enumerate(features):
        assert feature.shape[1:3] == (height, width), f"stage {index}"
        height, width = height // 2, width // 2
    assert model(np.zeros((1, *size, 3), np.float32)).shape == (1, *size, 5)


# The paper's ablations: the activation binarizer and the bypass of every binary conv.
ABLATIONS = {"bnn": ("approx_sign", "identity"), "dab": ("dab", "identity"), "cfb": ("approx_sign", "cfb"),
             "bidense": ("dab", "cfb"), "fp32": (None, None)}


def expected_parts(binarization, dims, depths, features):
    """What a depth UperNet of ``binarization`` is made of, counted from the architecture:
    ConvNeXt blocks of a 7x7 depthwise, a 1x1 up to 4 x dim and a 1x1 back; a 2x2/2 transition
    between stages (binary, its full-precision path a CFB of the pooled input, or a float conv);
    UperNet: 4 PPM branches, the PPM bottleneck, 3 laterals, one shared 3x3 smooth conv, the fusion
    conv; the depth head's upsample conv (dims[0] -> features // 2) and head conv (-> 32 channels),
    then a float 1x1 conv to depth after the float stem conv."""
    activation, bypass = ABLATIONS[binarization]
    blocks, transitions = sum(depths), len(depths) - 1
    binary = binarization != "fp32"
    convs = 3 * blocks + (transitions if binary else 0) + (4 + 1 + 3 + 1 + 1) + 2  # BiDenseConv2D layers
    with_bypass = convs - (transitions if binary else 0)  # binary transitions take no conv bypass
    # an identity bypass adds only where cin == cout: the depthwise convs, the smooth conv (dims[0] ->
    # dims[0]), and the head convs when their widths equal their inputs'
    same_width = blocks + 1 + (dims[0] == features // 2) + (features // 2 == 32)
    return {
        "dab": convs if activation == "dab" else 0,
        "approx_sign": convs if activation == "approx_sign" else 0,
        "binary_kernels": convs if binary else 0,
        "cfb_convs": with_bypass if bypass == "cfb" else 0,
        "cfb_transitions": transitions if bypass == "cfb" else 0,
        "identity_added": same_width if bypass == "identity" else 0,
        "float_convs": 2 + (0 if binary else transitions),  # keras Conv2D: stem, head, fp32 transitions
        "convs": convs,
    }


def measured_parts(model):
    """The same counts read off the built model's layers (binarizer objects, kernel values, bypasses)."""
    from keras import ops

    from bidense_keras.layers import BiDenseConv2D, ChannelAdaptiveBypass, DistributionAdaptiveBinarizer
    from bidense_keras.quantizers import ApproxSign

    layers = bk.compat.walk_layers(model)
    convs = [layer for layer in layers if isinstance(layer, BiDenseConv2D)]
    binary_kernels = 0
    for conv in convs:  # a binary kernel holds +-scale per output channel (0 where a weight is exactly 0,
        # which the float32 normal initializer drew in 1 of 8 models of this size here)
        magnitude = np.abs(ops.convert_to_numpy(conv.quantized_kernel()))
        magnitude = magnitude.reshape(-1, magnitude.shape[-2] if conv.depthwise else magnitude.shape[-1])
        scale = magnitude.max(axis=0)
        binary_kernels += bool(np.all((magnitude == 0) | (np.abs(magnitude - scale) <= 1e-6 * scale)))
    return {
        "dab": sum(isinstance(conv.binarizer, DistributionAdaptiveBinarizer) for conv in convs),
        "approx_sign": sum(isinstance(conv.binarizer, ApproxSign) for conv in convs),
        "binary_kernels": binary_kernels,
        "cfb_convs": sum(conv.bypass == "cfb" for conv in convs),
        "cfb_transitions": sum(isinstance(layer, ChannelAdaptiveBypass) for layer in layers),
        "identity_added": sum(conv.bypass == "identity" and (conv.depthwise or conv.kernel.shape[-2] == conv.filters)
                              for conv in convs),
        "float_convs": sum(type(layer) is keras.layers.Conv2D for layer in layers),
        "convs": len(convs),
    }


@pytest.mark.backends
@pytest.mark.parametrize("binarization", ["fp32", "bnn", "dab", "cfb", "bidense"])
def test_variants_build_with_their_binarizers_and_bypasses(binarization):
    model = bk.depth(**SMALL, binarization=binarization, max_depth=10.0)
    assert measured_parts(model) == expected_parts(binarization, SMALL["dims"], SMALL["depths"], SMALL["features"])
    depth = model.predict(tiny_images(1), verbose=0)
    assert depth.shape == (1, 64, 64, 1) and np.all((depth >= 0) & (depth <= 10))


def test_fp32_has_no_binary_weights():
    stats = bk.model_stats(bk.segmentation(**SMALL, num_classes=5, binarization="fp32"), (64, 64))
    assert stats["binary_params"] == 0 and stats["binary_macs"] == 0 and stats["float_params"] > 0


# The fit tests' seed (weights, images, labels): BIDENSE_FIT_SEED=N reruns them with another one.
FIT_SEED = int(os.environ.get("BIDENSE_FIT_SEED", "0"))
FIT_STEPS = 25
FIT_WINDOW = 5
FIT_RATIO = 0.85


def fit_losses(build, targets, loss, steps=FIT_STEPS, seed=FIT_SEED):
    """Per-step training losses of ``steps`` Adam steps on one batch of two images.

    The learning rate is 1e-4: binary kernels start at Normal(0, 1e-3) and Adam moves every weight by
    about the learning rate per step, so at 1e-3 the first step flips many kernel signs (the loss
    jumped 2.9 -> 4.3), and after 20 steps the depth loss of 3 of 8 seeds was still above its first value.
    """
    keras.utils.set_random_seed(seed)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss)
    history = model.fit(tiny_images(seed=seed), targets, batch_size=2, epochs=steps, verbose=0)
    return history.history["loss"]


def assert_training_lowers(losses):
    """The mean of the last FIT_WINDOW losses is below FIT_RATIO x the mean of the first FIT_WINDOW.

    A binary network's short trajectory depends on the CPU's float kernels (signs flip at thresholds),
    so the bound is set from the spread over seeds and float kernels. mean(last 5) / mean(first 5)
    after 25 steps, measured (2 x86 cores, Intel Xeon):
      segmentation: TF seeds 0-7 0.51-0.67, TF without oneDNN seeds 0-7 0.52-0.65, JAX seeds 0-3 0.39-0.69;
      depth:        TF seeds 0-7 0.44-0.61, TF without oneDNN seeds 0-7 0.44-0.62, JAX seeds 0-3 0.49-0.61.
    So the loss falls by 31% at least where 15% is asked. The previous check (mean of the last 3
    below 0.85 x the highest of the first 3, lr 1e-3, 20 steps) measured up to 0.78 for depth, where
    its margin came from the jump after the first step.
    """
    assert np.all(np.isfinite(losses)), losses
    first, last = np.mean(losses[:FIT_WINDOW]), np.mean(losses[-FIT_WINDOW:])
    print(f"\nseed {FIT_SEED}: mean loss of the first {FIT_WINDOW} steps {first:.3f}, of the last {last:.3f}: "
          f"ratio {last / first:.3f} (bound {FIT_RATIO})")
    assert len(losses) >= 4 * FIT_WINDOW and last < FIT_RATIO * first, (last / first, losses)


@pytest.mark.slow
def test_fit_lowers_segmentation_loss_with_an_ignored_class():
    labels = np.random.default_rng(FIT_SEED + 1).integers(0, 4, size=(2, 64, 64))
    labels[:, :8] = 255  # ignored pixels
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    losses = fit_losses(lambda: bk.segmentation(**SMALL, num_classes=4), labels, cross_entropy)
    assert_training_lowers(losses)


@pytest.mark.slow
def test_fit_lowers_depth_loss():
    rows = np.linspace(2.0, 8.0, 64, dtype=np.float32)  # a floor-like ramp, near at the bottom
    depth = np.broadcast_to(rows[::-1, None, None], (2, 64, 64, 1))
    losses = fit_losses(lambda: bk.depth(**SMALL, max_depth=10.0), depth, "mae")
    assert_training_lowers(losses)


@pytest.mark.backends
def test_keras_file_round_trip_is_exact(tmp_path):
    model = bk.segmentation(**SMALL, num_classes=3)
    for weight in model.weights:  # non-trivial BN statistics and DAB parameters
        weight.assign(np.random.default_rng(len(weight.path)).normal(size=weight.shape).astype(np.float32) * 0.1
                      + (1.0 if "variance" in weight.path else 0.0))
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    images = tiny_images(1, 48, 80)
    np.testing.assert_array_equal(restored.predict(images, verbose=0), model.predict(images, verbose=0))
    assert isinstance(restored, bk.UperNet) and restored.get_config() == model.get_config()


def test_summary_lists_the_backbone(capsys):
    bk.depth(**SMALL, max_depth=10.0).summary()
    out = capsys.readouterr().out
    assert "backbone" in out and "Total params" in out


def test_backbone_alone_returns_four_stages():
    backbone = ConvNeXtBackbone(SMALL["dims"], SMALL["depths"])
    features = backbone(np.zeros((1, 64, 64, 3), np.float32))
    assert [f.shape[-1] for f in features] == list(SMALL["dims"])


def test_preprocessing_normalizes_with_imagenet_statistics():
    raw = bk.segmentation(**SMALL, num_classes=3, include_preprocessing=False)
    wrapped = bk.segmentation(**SMALL, num_classes=3)
    for layer in raw.layers:
        for source, target in zip(layer.weights, wrapped.get_layer(layer.name).weights):
            target.assign(source.numpy())
    images = tiny_images(1)
    normalized = (images / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    # The layer normalizes like numpy to float rounding (measured 2.4e-7). The models are then compared on
    # the layer's own output, not numpy's: a rounding-level input difference can flip a binary activation
    # whose input ties with its threshold and move outputs by far more than rounding (measured: equal).
    preprocessed = keras.ops.convert_to_numpy(wrapped.get_layer("preprocessing")(images))
    np.testing.assert_allclose(preprocessed, normalized, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wrapped.predict(images, verbose=0), raw.predict(preprocessed, verbose=0),
                               rtol=1e-3, atol=1e-3)


@pytest.mark.backends
def test_stats_match_the_authors_counts():
    # Counted from the authors' PyTorch code (SPEC 7 and the fixture configs).
    tiny = bk.model_stats(bk.segmentation("bidense_upernet_convnext_tiny_ade20k"), input_size=(64, 64))
    assert (tiny["binary_params"], tiny["float_params"]) == (39_759_840, 308_663)
    depth = bk.model_stats(bk.depth("bidense_upernet_convnext_tiny_nyu"), input_size=(64, 64))
    assert (depth["binary_params"], depth["float_params"]) == (39_649_248, 289_025)
    small = bk.model_stats(bk.segmentation(**SMALL, num_classes=21), input_size=(96, 128))
    assert (small["binary_params"], small["float_params"]) == (2_353_248, 36_213)
    assert small["size_bytes_packed"] == 2_353_248 // 8 + 4 * 36_213


def test_stats_macs_of_a_single_conv_model():
    # stem 4x4/4 conv on 64x64: 16*16 outputs * 32 channels * 4*4*3 MACs
    stats = bk.model_stats(bk.segmentation(**SMALL, num_classes=21), input_size=(64, 64))
    stem = 16 * 16 * 32 * 48
    head = 64 * 64 * 21 * 32
    assert stats["float_macs"] == stem + head
    assert stats["binary_macs"] > 0


def test_building_by_parts_starts_from_the_paper_model():
    model = bk.segmentation(num_classes=21)
    assert (model.dims, model.depths, model.features) == ((96, 192, 384, 768), (3, 3, 9, 3), 256)
    small = bk.segmentation(backbone="convnext_small", num_classes=21)
    assert small.depths == (3, 3, 27, 3) and small.features == 256
    assert bk.segmentation().features == 64  # no arguments: the demo preset
