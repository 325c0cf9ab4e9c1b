import keras
import numpy as np
import pytest
import tensorflow as tf  # the reference convolution, whatever the Keras backend
from keras import ops

from bidense_keras import quantizers
from bidense_keras.layers import BiDenseConv2D, BiDenseConvTranspose2D, ConvSpec, DistributionAdaptiveBinarizer, LearnableBias
from tests.test_cfb import cfb_loop
from tests.test_quantizers import dab_reference

pytestmark = pytest.mark.backends


def randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        value = rng.normal(size=weight.shape) * 0.5
        if "variance" in weight.path:
            value = np.abs(value) + 0.5
        weight.assign(value.astype(np.float32))


def expected_output(layer, x):
    """BN(conv(pad(DAB(x)), scaled sign(W))) + CFB(x), with TF's own conv and numpy."""
    dab = layer.binarizer
    active = dab_reference(x, dab.alpha.numpy(), dab.k.numpy(), dab.b.numpy())[-1]
    kernel = layer.kernel.numpy()
    axes = (0, 1, 3) if layer.depthwise else (0, 1, 2)
    kernel = np.abs(kernel).mean(axis=axes, keepdims=True) * np.sign(kernel)
    ph, pw = layer.padding
    active = np.pad(active, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    if layer.depthwise:
        y = tf.nn.depthwise_conv2d(active, kernel, (1, *layer.strides, 1), "VALID", dilations=layer.dilation_rate)
    else:
        y = tf.nn.conv2d(active, kernel, layer.strides, "VALID", dilations=layer.dilation_rate)
    norm = layer.norm
    y = (y.numpy() - norm.moving_mean.numpy()) / np.sqrt(norm.moving_variance.numpy() + 1e-5)
    y = y * norm.gamma.numpy() + norm.beta.numpy()
    if layer.bypass == "cfb":
        y = y + cfb_loop(x, layer.filters)
    return y


CASES = [
    dict(filters=12, kernel_size=3, padding=1),
    dict(filters=5, kernel_size=1, padding=0),
    dict(kernel_size=7, padding=3, depthwise=True),
    dict(filters=8, kernel_size=3, padding=2, dilation_rate=2),
    dict(filters=16, kernel_size=2, strides=2, padding=0, bypass=None),
    dict(filters=6, kernel_size=3, strides=2, padding=1, bypass=False),
    dict(filters=6, kernel_size=3, padding=1, bypass=False),
]


@pytest.mark.parametrize("options", CASES)
def test_bidense_conv_matches_its_definition(options):
    x = np.random.default_rng(1).normal(size=(2, 9, 10, 6)).astype(np.float32)
    layer = BiDenseConv2D(**options)
    layer.build(x.shape)
    randomize(layer)
    y = ops.convert_to_numpy(layer(x, training=False))
    np.testing.assert_allclose(y, expected_output(layer, x), rtol=1e-4, atol=1e-4)
    assert y.shape[1:3] == tuple(layer.compute_output_shape(x.shape)[1:3])


def test_bypass_that_changes_size_is_rejected():
    with pytest.raises(ValueError, match="bypass needs equal input and output size"):
        BiDenseConv2D(8, 3, strides=2, padding=1, bypass="cfb")


def test_identity_bypass_only_when_channels_match():
    x = np.random.default_rng(2).normal(size=(1, 5, 5, 4)).astype(np.float32)
    same = BiDenseConv2D(4, 1, padding=0, bypass="identity")
    wider = BiDenseConv2D(8, 1, padding=0, bypass="identity")
    plain = BiDenseConv2D(8, 1, padding=0, bypass=None)
    for layer in (same, wider, plain):
        layer.build(x.shape)
    plain.set_weights(wider.get_weights())
    as_numpy = ops.convert_to_numpy
    assert np.allclose(as_numpy(wider(x)), as_numpy(plain(x)))
    same_plain = BiDenseConv2D(4, 1, padding=0, bypass=None)
    same_plain.build(x.shape)
    same_plain.set_weights(same.get_weights())
    np.testing.assert_allclose(as_numpy(same(x)), as_numpy(same_plain(x)) + x, rtol=1e-6)


def test_float_conv_has_no_binarizers():
    layer = BiDenseConv2D(4, 3, activation_binarizer=None, kernel_binarizer=None, bypass=None)
    x = np.random.default_rng(3).normal(size=(1, 6, 6, 3)).astype(np.float32)
    layer.build(x.shape)
    y = ops.convert_to_numpy(layer(x, training=False))
    reference = tf.nn.conv2d(x, layer.kernel.numpy(), 1, "SAME").numpy() / np.sqrt(1 + 1e-5)
    np.testing.assert_allclose(y, reference, rtol=1e-5, atol=1e-6)


def test_layers_serialize_through_a_keras_file(tmp_path):
    inputs = keras.Input((8, 8, 6))
    x = BiDenseConv2D(12, 3, activation_binarizer="approx_sign", zero_as_positive=True)(inputs)
    x = BiDenseConv2D(kernel_size=7, padding=3, depthwise=True)(x)
    x = DistributionAdaptiveBinarizer()(x)
    x = LearnableBias()(x)
    model = keras.Model(inputs, x)
    for layer in model.layers[1:]:
        randomize(layer, seed=4)
    data = np.random.default_rng(5).normal(size=(2, 8, 8, 6)).astype(np.float32)
    path = tmp_path / "layers.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(restored.predict(data, verbose=0), model.predict(data, verbose=0))
    assert restored.layers[1].get_config() == model.layers[1].get_config()


def test_binarizers_given_as_objects_or_callables_compute_as_by_name():
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 4)).astype("float32")
    by_name = BiDenseConv2D(5, 3, activation_binarizer="approx_sign", bypass="cfb")
    by_object = BiDenseConv2D(5, 3, activation_binarizer=quantizers.approx_sign,
                              kernel_binarizer=quantizers.ScaledSign(), bypass="cfb")
    by_name.build(x.shape)
    by_object.build(x.shape)
    by_object.set_weights(by_name.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(by_object(x)), ops.convert_to_numpy(by_name(x)), rtol=1e-6)
    restored = BiDenseConv2D.from_config(by_object.get_config())  # the config round trip keeps the objects
    assert restored.binarizer is quantizers.approx_sign and restored._kernel_quantizer == quantizers.ScaledSign()


def test_conv_spec_makes_the_variants_convs():
    spec = ConvSpec.of("bidense_deployable", zero_as_positive=True)
    conv = spec(8, 3, padding=1, name="c")
    assert type(conv.binarizer) is quantizers.DeployableDistributionAdaptiveBinarizer and conv.bypass == "cfb"
    assert conv.zero_as_positive and spec.binary and spec.channel_bypass
    assert spec(8, 2, strides=2, padding=0, bypass=None).bypass is None  # a per-call argument wins
    upsample = spec.transpose(8, 2, name="up")  # a transposed conv takes exact DAB
    assert type(upsample.binarizer) is quantizers.DistributionAdaptiveBinarizer
    assert not ConvSpec.of("fp32").binary and not ConvSpec.of("bnn").channel_bypass
    with pytest.raises(ValueError, match="no form with the binarizer's scale after it"):
        BiDenseConvTranspose2D(8, 2, activation_binarizer="dab_deployable")
    with pytest.raises(ValueError, match="Unknown binarization 'bidence'"):
        ConvSpec.of("bidence")
