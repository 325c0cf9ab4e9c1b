import keras
import numpy as np
import pytest
from keras import ops

from bidense_keras import quantizers
from bidense_keras.backends import vjp

pytestmark = pytest.mark.backends


def value_and_grad(function, x, upstream=None):
    y, (grad,), _ = vjp(function, [x], upstream)
    return y, grad


POINTS = np.array([-2.0, -1.0, -0.75, -0.5, 0.0, 0.25, 0.5, 0.999, 1.0, 1.5], dtype=np.float32)


def test_ste_sign_forward_and_clipped_gradient():
    y, g = value_and_grad(quantizers.ste_sign, POINTS)
    np.testing.assert_array_equal(y, [-1, -1, -1, -1, 0, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 1, 1, 1, 1, 1, 0])


def test_ste_sign_clip_value():
    _, g = value_and_grad(lambda x: quantizers.ste_sign(x, clip_value=0.5), POINTS)
    np.testing.assert_array_equal(g, [0, 0, 0, 1, 1, 1, 1, 0, 0, 0])


def test_approx_sign_gradient_pieces():
    y, g = value_and_grad(quantizers.approx_sign, POINTS)
    np.testing.assert_array_equal(y, [-1, -1, -1, -1, 0, 1, 1, 1, 1, 1])
    # 2 + 2x on [-1, 0), 2 - 2x on [0, 1), 0 elsewhere.
    expected = [0, 2 - 2, 2 - 1.5, 2 - 1, 2, 2 - 0.5, 2 - 1, 2 - 1.998, 0, 0]
    np.testing.assert_allclose(g, expected, atol=1e-6)


def test_zero_as_positive_maps_zero_to_plus_one():
    for function in (quantizers.ste_sign, quantizers.approx_sign):
        y = ops.convert_to_numpy(function(ops.convert_to_tensor([-0.5, 0.0, 0.5]), zero_as_positive=True))
        np.testing.assert_array_equal(y, [-1, 1, 1])


def test_scaled_sign_scale_per_output_channel_and_unscaled_gradient():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 4, 5)).astype(np.float32) * 0.8
    upstream = rng.normal(size=kernel.shape).astype(np.float32)
    y, g = value_and_grad(quantizers.scaled_sign, kernel, upstream)
    scale = np.abs(kernel).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(y, scale * np.sign(kernel), rtol=1e-6)
    np.testing.assert_allclose(g, upstream * (np.abs(kernel) <= 1), rtol=1e-6)


def test_scaled_sign_depthwise_scale_per_channel():
    kernel = np.random.default_rng(1).normal(size=(7, 7, 6, 1)).astype(np.float32)
    y = ops.convert_to_numpy(quantizers.scaled_sign(kernel, channel_axis=-2))
    scale = np.abs(kernel).mean(axis=(0, 1, 3), keepdims=True)
    np.testing.assert_allclose(y, scale * np.sign(kernel), rtol=1e-6)


def test_magnitude_aware_sign_gradient_is_scaled():
    kernel = np.random.default_rng(2).normal(size=(8, 3)).astype(np.float32)
    y, g = value_and_grad(quantizers.magnitude_aware_sign, kernel)
    scale = np.abs(kernel).mean(axis=0)
    np.testing.assert_allclose(y, scale * np.sign(kernel), rtol=1e-6)
    np.testing.assert_allclose(g, scale * (np.abs(kernel) <= 1), rtol=1e-6)


def dab_reference(x, alpha, k, b):
    mean = x.mean(axis=(1, 2), keepdims=True)
    shifted = x - (k * mean + b)
    spread = np.abs(shifted).mean(axis=(1, 2), keepdims=True)
    return shifted, mean, spread, np.exp(alpha * (spread - 1)) * np.sign(shifted)


def test_distribution_adaptive_sign_forward_and_gradients():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 6, 4)).astype(np.float32)
    alpha, k, b = (rng.normal(size=4).astype(np.float32) * 0.5 for _ in range(3))
    upstream = rng.normal(size=x.shape).astype(np.float32)
    y, (grad_x, grad_alpha, grad_k, grad_b), _ = vjp(quantizers.distribution_adaptive_sign, [x, alpha, k, b], upstream)

    shifted, mean, spread, out = dab_reference(x, alpha, k, b)
    np.testing.assert_allclose(y, out, rtol=1e-5)
    scale = np.exp(alpha * (spread - 1))
    slope = np.maximum(2 - 2 * np.abs(shifted), 0)
    through_sign = upstream * scale * slope  # dL/ds; mean and spread are constants
    np.testing.assert_allclose(grad_x, through_sign, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad_b, -through_sign.sum(axis=(0, 1, 2)), rtol=1e-4)
    np.testing.assert_allclose(grad_k, -(through_sign * mean).sum(axis=(0, 1, 2)), rtol=1e-4)
    np.testing.assert_allclose(grad_alpha, (upstream * (spread - 1) * out).sum(axis=(0, 1, 2)), rtol=1e-4)


def test_get_by_name_and_serialization_round_trip():
    quantizer = quantizers.get("approx_sign", zero_as_positive=True)
    assert isinstance(quantizer, quantizers.ApproxSign) and quantizer.precision == 1
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(quantizer))
    assert restored == quantizer
    scaled = quantizers.get("scaled_sign", channel_axis=-2)
    assert quantizers.ScaledSign.from_config(scaled.get_config()) == scaled


def test_unknown_quantizer_name_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown quantizer 'sing'"):
        quantizers.get("sing")


def test_dab_is_a_quantizer_taken_by_name_like_the_others():
    dab = quantizers.get("dab", zero_as_positive=True)
    assert type(dab) is quantizers.DistributionAdaptiveBinarizer and dab.zero_as_positive and dab.name == "binarizer"
    assert quantizers.takes("scaled_sign", "channel_axis") and not quantizers.takes("dab", "channel_axis")
    with pytest.raises(TypeError, match="clip_vlaue"):
        quantizers.get("ste_sign", clip_vlaue=3.0)  # a misspelt option is not dropped
    deployable = quantizers.get("dab_deployable")
    assert isinstance(deployable, quantizers.DistributionAdaptiveBinarizer)
    assert deployable.scales_after_conv and not dab.scales_after_conv
    x = ops.convert_to_tensor(np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype("float32"))
    dab.build(x.shape)
    deployable.build(x.shape)
    deployable.set_weights(dab.get_weights())
    signs, scale = deployable.signs_and_scale(x)  # the deployable form's factors multiply back to DAB
    np.testing.assert_allclose(ops.convert_to_numpy(signs * scale), ops.convert_to_numpy(deployable(x)),
                               rtol=1e-6)
    assert quantizers.get(dab) is dab


def test_a_callable_is_a_quantizer_and_anything_else_is_refused():
    assert quantizers.get(quantizers.approx_sign) is quantizers.approx_sign
    with pytest.raises(TypeError, match="Cannot interpret 3 as a quantizer"):
        quantizers.get(3)
