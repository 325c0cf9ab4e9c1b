import numpy as np
import pytest
from keras import ops

from bidense_keras.layers import ChannelAdaptiveBypass, channel_adaptive_bypass

pytestmark = pytest.mark.backends


def cfb_loop(x, cout):
    """Channel by channel, straight from the paper's description (SPEC 3.5)."""
    cin = x.shape[-1]
    r, m = cout // cin, cout % cin
    out = [x[..., c] for _ in range(r) for c in range(cin)]
    if m > 0:
        g = cin // m
        R = g * (m - 1)
        for j in range(m - 1):
            out.append(sum(x[..., i * (m - 1) + j] for i in range(g)) / g)
        out.append(sum(x[..., c] for c in range(R, cin)) / (cin - R))
    return np.stack(out, axis=-1)


def random_pairs(count=40, seed=0):
    rng = np.random.default_rng(seed)
    pairs = {(4, 5), (8, 9), (3, 4), (64, 65)}  # m == 1: the extra channel averages everything
    while len(pairs) < count:
        pairs.add((int(rng.integers(1, 70)), int(rng.integers(1, 200))))
    return sorted(pairs)


@pytest.mark.parametrize("cin,cout", random_pairs())
def test_matches_loop_reference(cin, cout):
    x = np.random.default_rng(cin * 1000 + cout).normal(size=(2, 3, 4, cin)).astype(np.float32)
    np.testing.assert_allclose(
        ops.convert_to_numpy(channel_adaptive_bypass(x, cout)), cfb_loop(x, cout), rtol=1e-5, atol=1e-6
    )


def test_spec_examples():
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4)
    np.testing.assert_allclose(ops.convert_to_numpy(channel_adaptive_bypass(x, 3))[0, 0, 0], [0, 1, 2.5])
    x = np.arange(256, dtype=np.float32).reshape(1, 1, 1, 256)
    y = ops.convert_to_numpy(channel_adaptive_bypass(x, 64))[0, 0, 0]
    assert y[5] == np.mean([5, 68, 131, 194]) and y[63] == np.mean([252, 253, 254, 255])
    x = np.arange(32, dtype=np.float32).reshape(1, 1, 1, 32)
    np.testing.assert_array_equal(ops.convert_to_numpy(channel_adaptive_bypass(x, 128))[0, 0, 0], np.tile(x[0, 0, 0], 4))


def test_layer_shape_and_config():
    layer = ChannelAdaptiveBypass(96)
    y = layer(np.ones((1, 2, 2, 64), np.float32))
    assert tuple(y.shape) == (1, 2, 2, 96)
    assert ChannelAdaptiveBypass.from_config(layer.get_config()).out_channels == 96
