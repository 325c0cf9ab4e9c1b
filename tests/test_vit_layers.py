"""The binary ViT's quantizers and layers (SPEC_DPT §3) against numpy, forward and backward.

Backend-neutral: runs under every Keras backend (tests/test_backends.py runs it under JAX and torch).
"""

import keras
import numpy as np
import pytest

from bidense_keras import quantizers
from bidense_keras.backends import vjp
from bidense_keras.layers import BinaryDense
from bidense_keras.models.dpt.vit_layers import BinaryAttention, LayerScale

pytestmark = pytest.mark.backends


def test_strict_ste_sign_passes_no_gradient_at_the_clip_value():
    points = np.array([-1.0, -0.999, 0.0, 0.5, 1.0, 1.5], np.float32)
    _, (strict,), _ = vjp(lambda x: quantizers.ste_sign(x, strict=True), [points])
    _, (inclusive,), _ = vjp(quantizers.ste_sign, [points])
    np.testing.assert_array_equal(strict, [0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(inclusive, [1, 1, 1, 1, 1, 0])


def test_centered_sign_centres_each_output_unit_and_its_gradient():
    rng = np.random.default_rng(0)
    kernel = rng.normal(0, 0.8, (5, 3)).astype(np.float32)
    upstream = rng.normal(size=(5, 3)).astype(np.float32)
    signs, (grad,), _ = vjp(quantizers.centered_sign, [kernel], upstream)
    centred = kernel - kernel.mean(axis=0)
    np.testing.assert_array_equal(signs, np.sign(centred))
    through_sign = upstream * (np.abs(centred) < 1)
    np.testing.assert_allclose(grad, through_sign - through_sign.mean(axis=0), atol=1e-6)


def test_binarized_attention_thresholds_at_a_quarter_of_the_row_maximum_and_passes_the_gradient():
    probabilities = np.array([[0.6, 0.15, 0.149, 0.101], [0.25, 0.25, 0.25, 0.25]], np.float32)
    upstream = np.arange(8, dtype=np.float32).reshape(2, 4)
    mask, (grad,), _ = vjp(quantizers.binarized_attention, [probabilities], upstream)
    np.testing.assert_array_equal(mask, [[1, 1, 0, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(grad, upstream)


def _dense_by_hand(x, kernel, scale, bias, upstream):
    """Forward and gradients (x, kernel, scale, bias) of SPEC_DPT §3's binary linear layer."""
    centred = kernel - kernel.mean(axis=0)
    weights = scale * np.sign(centred)
    output = np.sign(x) @ weights + bias
    grad_x = (upstream @ weights.T) * (np.abs(x) < 1)
    grad_weights = np.sign(x).reshape(-1, x.shape[-1]).T @ upstream.reshape(-1, upstream.shape[-1])
    grad_scale = (grad_weights * np.sign(centred)).sum(axis=0)
    grad_centred = scale * grad_weights * (np.abs(centred) < 1)
    grad_kernel = grad_centred - grad_centred.mean(axis=0)
    return output, grad_x, grad_kernel, grad_scale, upstream.reshape(-1, upstream.shape[-1]).sum(axis=0)


@pytest.mark.parametrize("scale", ["learned", "mean"])
def test_binary_dense_forward_and_gradients(scale):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.9, (2, 4, 6)).astype(np.float32)
    upstream = rng.normal(size=(2, 4, 5)).astype(np.float32)
    keras.utils.set_random_seed(0)
    layer = BinaryDense(5, scale=scale, kernel_initializer=keras.initializers.RandomNormal(0, 0.7))
    layer.build(x.shape)
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    if scale == "learned":
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.scale), np.abs(kernel).mean(axis=0), rtol=1e-6)
        layer.scale.assign(np.linspace(0.5, 1.5, 5).astype(np.float32))  # learned: no longer mean|W|
    variables = [layer.kernel, layer.bias] + ([layer.scale] if scale == "learned" else [])
    output, (grad_x,), grads = vjp(layer, [x], upstream, variables=variables)
    s = keras.ops.convert_to_numpy(layer.channel_scale())
    expected = _dense_by_hand(x, kernel, s, keras.ops.convert_to_numpy(layer.bias), upstream)
    np.testing.assert_allclose(output, expected[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_x, expected[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grads[0], expected[2], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads[1], expected[4], rtol=1e-5, atol=1e-5)
    if scale == "learned":
        np.testing.assert_allclose(grads[2], expected[3], rtol=1e-5, atol=1e-5)
    else:  # mean|W| is a constant: the kernel gradient has no scale term
        np.testing.assert_allclose(s, np.abs(kernel).mean(axis=0), rtol=1e-6)


def _attention_by_hand(x, qkv, proj, heads, upstream):
    """Forward and input gradient of SPEC_DPT §3's binary attention; ``qkv``/``proj`` = (kernel, scale, bias)."""
    batch, tokens, channels = x.shape
    d = channels // heads

    def weights(kernel, scale):
        return scale * np.sign(kernel - kernel.mean(axis=0))

    w_qkv, w_proj = weights(*qkv[:2]), weights(*proj[:2])
    raw = (np.sign(x) @ w_qkv + qkv[2]).reshape(batch, tokens, 3, heads, d).transpose(2, 0, 3, 1, 4)
    q, k, v = np.sign(raw)
    logits = q @ k.transpose(0, 1, 3, 2) * d ** -0.5
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    a = (p >= 0.25 * p.max(-1, keepdims=True)).astype(np.float32)
    heads_out = a @ v
    o = heads_out.transpose(0, 2, 1, 3).reshape(batch, tokens, channels)
    output = np.sign(o) @ w_proj + proj[2]
    grad_o = ((upstream @ w_proj.T) * (np.abs(o) < 1)).reshape(batch, tokens, heads, d).transpose(0, 2, 1, 3)
    grad_a, grad_v = grad_o @ v.transpose(0, 1, 3, 2), a.transpose(0, 1, 3, 2) @ grad_o
    grad_logits = p * (grad_a - (p * grad_a).sum(-1, keepdims=True)) * d ** -0.5
    grad_q, grad_k = grad_logits @ k, grad_logits.transpose(0, 1, 3, 2) @ q
    grad_raw = np.stack([grad_q, grad_k, grad_v]) * (np.abs(raw) < 1)
    grad_raw = grad_raw.transpose(1, 3, 0, 2, 4).reshape(batch, tokens, 3 * channels)
    return output, (grad_raw @ w_qkv.T) * (np.abs(x) < 1)


def test_binary_attention_forward_and_input_gradient():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 0.9, (2, 16, 12)).astype(np.float32)
    upstream = rng.normal(size=(2, 16, 12)).astype(np.float32)
    keras.utils.set_random_seed(0)
    layer = BinaryAttention(num_heads=3)
    layer.build(x.shape)
    for dense in (layer.qkv, layer.proj):  # q, k, v that differ between tokens, some inside the STE window
        dense.scale.assign(np.full(dense.scale.shape, 0.3, np.float32))
        dense.bias.assign(rng.normal(0, 0.3, dense.bias.shape).astype(np.float32))
    params = [tuple(keras.ops.convert_to_numpy(v) for v in (dense.kernel, dense.scale, dense.bias))
              for dense in (layer.qkv, layer.proj)]
    output, (grad_x,), _ = vjp(layer, [x], upstream)
    expected_output, expected_grad = _attention_by_hand(x, *params, heads=3, upstream=upstream)
    np.testing.assert_allclose(output, expected_output, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_x, expected_grad, rtol=1e-4, atol=1e-5)
    assert np.count_nonzero(expected_grad) > 20  # proj passes gradient only where a head output O is exactly 0


def test_attention_refuses_channels_that_do_not_split_into_heads():
    with pytest.raises(ValueError, match="10 channels do not split into 3 heads"):
        BinaryAttention(num_heads=3).build((1, 4, 10))


def test_layers_serialize():
    for layer in (BinaryDense(4, scale="mean"), BinaryAttention(num_heads=2), LayerScale()):
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert type(restored) is type(layer) and restored.get_config() == layer.get_config()
    scale = LayerScale()
    scale.build((1, 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(scale(np.ones((1, 3), np.float32))), np.ones((1, 3)))
