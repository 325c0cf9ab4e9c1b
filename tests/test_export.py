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
