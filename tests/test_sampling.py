import keras
import numpy as np
import pytest
import tensorflow as tf  # references and the dynamic-shape graph, whatever the Keras backend
from keras import ops

from bidense_keras.layers import (
    AdaptiveAveragePooling2D,
    ResizeLike,
    adaptive_average_pool,
    resize_bilinear_align_corners,
)


def adaptive_pool_loop(x, out_h, out_w):
    """PyTorch's AdaptiveAvgPool2d bins: [floor(i*in/out), ceil((i+1)*in/out))."""
    _, in_h, in_w, _ = x.shape
    out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]), np.float64)
    for i in range(out_h):
        h0, h1 = (i * in_h) // out_h, -((-(i + 1) * in_h) // out_h)
        for j in range(out_w):
            w0, w1 = (j * in_w) // out_w, -((-(j + 1) * in_w) // out_w)
            out[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
    return out


@pytest.mark.backends
@pytest.mark.parametrize("size,bins", [((3, 4), 6), ((15, 20), 6), ((7, 9), 4), ((12, 16), 1), ((5, 5), 2)])
def test_adaptive_pool_matches_pytorch_bins(size, bins):
    x = np.random.default_rng(0).normal(size=(2, *size, 3)).astype(np.float32)
    np.testing.assert_allclose(
        ops.convert_to_numpy(adaptive_average_pool(x, (bins, bins))), adaptive_pool_loop(x, bins, bins), rtol=1e-5, atol=1e-6
    )


def test_adaptive_pool_layer_under_tf_function_with_dynamic_size():
    layer = AdaptiveAveragePooling2D(6)
    run = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 2))])
    x = np.random.default_rng(1).normal(size=(1, 3, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(run(x).numpy(), adaptive_pool_loop(x, 6, 6), rtol=1e-5, atol=1e-6)


@pytest.mark.backends
@pytest.mark.parametrize("src,dst", [((3, 4), (12, 16)), ((6, 8), (96, 128)), ((5, 7), (2, 3)), ((4, 4), (1, 1))])
def test_resize_matches_tf_align_corners(src, dst):
    x = np.random.default_rng(2).normal(size=(2, *src, 3)).astype(np.float32)
    expected = tf.compat.v1.image.resize_bilinear(x, dst, align_corners=True).numpy()
    np.testing.assert_allclose(ops.convert_to_numpy(resize_bilinear_align_corners(x, dst)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.backends
def test_pool_and_resize_compile_for_any_input_size():
    """Inside a compiled predict (jax.jit, tf.function) the matrix sizes must be static Python ints."""
    images = keras.Input((None, None, 2))
    pooled = AdaptiveAveragePooling2D(6)(images)
    model = keras.Model(images, ResizeLike()([pooled, images]))
    for size in ((3, 4), (7, 9)):
        x = np.random.default_rng(3).normal(size=(2, *size, 2)).astype(np.float32)
        expected = tf.compat.v1.image.resize_bilinear(adaptive_pool_loop(x, 6, 6), size, align_corners=True)
        np.testing.assert_allclose(model.predict_on_batch(x), expected.numpy(), rtol=1e-5, atol=1e-5)
