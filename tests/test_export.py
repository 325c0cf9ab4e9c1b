"""Deployable DAB and the LCE conversion: every non-depthwise binary conv becomes one LceBconv2d."""

import numpy as np
import pytest

import bidense_keras as bk
from bidense_keras.layers import BiDenseConv2D
from tests.test_layers import randomize


def paired_layers(**options):
    x = np.random.default_rng(0).normal(size=(2, 7, 9, 6)).astype(np.float32)
    exact = BiDenseConv2D(**options)
    deployable = BiDenseConv2D(activation_binarizer="dab_deployable", **options)
    exact.build(x.shape)
    deployable.build(x.shape)
    randomize(exact)
    deployable.set_weights(exact.get_weights())
    return x, exact, deployable


def test_deployable_depthwise_is_exactly_dab():
    x, exact, deployable = paired_layers(kernel_size=3, padding=1, depthwise=True)
    np.testing.assert_allclose(deployable(x), exact(x), rtol=1e-5, atol=1e-5)


def test_deployable_conv_scales_the_output_by_the_weighted_mean_scale():
    x, exact, deployable = paired_layers(filters=8, kernel_size=3, padding=1, bypass=None)
    dab = exact.binarizer
    signs, scale = (np.asarray(t) for t in dab.signs_and_scale(x))
    kernel = np.asarray(exact.quantized_kernel())
    mass = np.abs(kernel).sum(axis=(0, 1, 3))
    per_sample = (scale * mass / mass.sum()).sum(axis=-1, keepdims=True)  # (B, 1, 1, 1)
    import tensorflow as tf

    conv = tf.nn.conv2d(signs, kernel, 1, "SAME").numpy() * per_sample
    norm = exact.norm
    expected = (conv - norm.moving_mean.numpy()) / np.sqrt(norm.moving_variance.numpy() + 1e-5)
    expected = expected * norm.gamma.numpy() + norm.beta.numpy()
    np.testing.assert_allclose(deployable(x, training=False), expected, rtol=1e-4, atol=1e-4)


def test_folding_the_kernel_binarizer_keeps_the_output():
    x, exact, _ = paired_layers(filters=8, kernel_size=1, padding=0)
    before = np.asarray(exact(x))
    exact.fold_kernel_binarizer()
    np.testing.assert_allclose(exact(x), before, rtol=1e-6, atol=1e-6)
    assert exact._kernel_quantizer is None


@pytest.mark.backends  # under JAX and torch the conversion runs in a TensorFlow subprocess
def test_lce_flatbuffer_has_one_bconv_per_binary_conv(tmp_path):
    import keras

    from bidense_keras.export import deployable_model, to_tflite

    depths = (1, 1, 1, 1)
    keras.utils.set_random_seed(0)
    model = bk.segmentation(dims=(16, 32, 64, 128), depths=depths, features=32, num_classes=5)
    images = np.random.default_rng(1).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    report = to_tflite(model, tmp_path / "model.tflite", input_size=(64, 64), sample_images=images)
    ops = report["ops"]
    # transitions 3 + two 1x1 per block + PPM 4 branches + bottleneck + 3 laterals
    # + the shared smooth conv called 3 times + fusion + head upsample conv + head conv
    binary_convs = 3 + 2 * sum(depths) + 5 + 3 + 3 + 1 + 1 + 1
    assert ops["LceBconv2d"] == binary_convs
    assert ops["CONV_2D"] == 2  # the full-precision stem and classifier only
    assert ops["DEPTHWISE_CONV_2D"] == sum(depths)  # LCE has no binary depthwise kernel
    assert (tmp_path / "model.tflite").stat().st_size == report["size_bytes"]
    assert not list(tmp_path.glob("*partial*"))
    # the report's twin error, recomputed here: the twin's outputs against the model's
    expected, twin = model.predict(images, verbose=0), deployable_model(model).predict(images, verbose=0)
    agreement = np.mean(np.argmax(twin, -1) == np.argmax(expected, -1))
    print(f"\ntwin: argmax agreement {agreement:.5f} (report {report['twin_argmax_agreement']:.5f}), mean abs "
          f"error {np.abs(twin - expected).mean():.3g} (report {report['twin_mean_abs_error']:.3g})")
    # under JAX and torch the report comes from a TensorFlow subprocess: float rounding may flip a few pixels
    assert report["twin_argmax_agreement"] == pytest.approx(agreement, abs=2e-3)
    assert report["twin_mean_abs_error"] == pytest.approx(np.abs(twin - expected).mean(), rel=0.05, abs=1e-6)
    assert agreement > 0.99  # at initialization DAB's scale is about 1: measured 0.99976 to 1.0 over seeds 0-7


def test_folded_binary_linear_is_a_token_conv_with_the_same_output():
    from bidense_keras.layers import BinaryDense

    x = np.random.default_rng(0).normal(size=(2, 7, 12)).astype(np.float32)
    x[:, :3] = 0.0  # exact zeros, as in the attention output proj binarizes
    layer = BinaryDense(5, scale="learned")
    before = np.asarray(layer(x))
    kernel = np.asarray(layer.quantized_kernel())
    layer.fold_kernel_binarizer(ternary_inputs=True)
    np.testing.assert_allclose(layer(x), before, rtol=1e-6, atol=1e-6)  # sign(0) = 0 kept
    layer.fold_kernel_binarizer()  # binary inputs: LCE's sign(0) = +1
    signs = np.where(x >= 0, 1.0, -1.0).astype(np.float32)
    np.testing.assert_allclose(layer(x), signs @ kernel + np.asarray(layer.bias), rtol=1e-5, atol=1e-5)


def test_a_strided_conv_subsampled_from_stride_one_computes_the_same():
    x = np.random.default_rng(0).normal(size=(2, 8, 6, 4)).astype(np.float32)
    layer = BiDenseConv2D(filters=5, kernel_size=3, strides=2, padding=1, bypass=None)
    layer.build(x.shape)
    randomize(layer)
    before = np.asarray(layer(x))
    layer.subsample_strides()
    np.testing.assert_allclose(layer(x), before, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="only a strided conv padded by kernel_size // 2"):
        BiDenseConv2D(filters=5, kernel_size=3, strides=1, padding=1).subsample_strides()


@pytest.mark.slow
def test_a_dpt_exports_its_linear_layers_and_convs_as_bconvs(tmp_path):
    """ViT linears -> 1x1 LceBconv2d over tokens (two for proj and fc2, whose inputs hold zeros), decoder convs -> LceBconv2d."""
    from bidense_keras.models import DPT
    from bidense_keras.export import deployable_model, to_tflite
    from bidense_keras.layers import BiDenseConvTranspose2D
    from bidense_keras.layers import BinaryDense
    from bidense_keras.compat import walk_layers

    import keras

    keras.utils.set_random_seed(0)
    model = DPT(task="depth", embed_dim=24, depth=4, num_heads=2, features=16, out_channels=(8, 8, 16, 16),
                max_depth=10.0, binarization="bidense_deployable", zero_as_positive=True)
    images = np.random.default_rng(1).uniform(0, 255, (1, 56, 56, 3)).astype(np.float32)
    report = to_tflite(model, tmp_path / "dpt.tflite", input_size=(56, 56), sample_images=images)
    layers = walk_layers(model)
    linears = [layer for layer in layers if isinstance(layer, BinaryDense)]
    convs = [layer for layer in layers if isinstance(layer, BiDenseConv2D) and layer.kernel_binarizer is not None
             and not isinstance(layer, BiDenseConvTranspose2D)]
    assert len(linears) == 4 * 4 and len(convs) == 4 + 1 + 4 + 2 + 3 * 4 + 2  # project, /2, rn, RCUs, heads
    doubled = sum(layer.name in ("proj", "fc2") for layer in linears)
    assert report["ops"]["LceBconv2d"] == len(linears) + doubled + len(convs)
    assert report["ops"]["CONV_2D"] == 2  # patch embedding and the depth head's 1x1: full precision
    assert report["ops"]["TRANSPOSE_CONV"] == 2  # per-input-channel scales: float convs of the signs
    assert report["twin_max_abs_error"] < 1e-5  # trained as deployable: the twin computes the model
    twin = deployable_model(model)
    np.testing.assert_allclose(twin.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5, atol=1e-5)
    # the sidecar names the family, so the loader can refuse the flatbuffer for the other one
    import bidense_keras as bk

    flatbuffer = bk.load(tmp_path / "dpt.tflite", architecture="dpt")
    assert flatbuffer.family == flatbuffer.config["family"] == "dpt"
    older = {key: value for key, value in flatbuffer.config.items() if key != "family"}  # sidecars before families
    assert type(flatbuffer)(flatbuffer.path, older).family == "dpt"
    with pytest.raises(ValueError, match="is a dpt model, not upernet"):
        bk.load(tmp_path / "dpt.tflite", architecture="upernet")
