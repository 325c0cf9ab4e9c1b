"""CFB: the channel-adaptive full-precision bypass of BiDense."""

import keras
from keras import ops


def channel_adaptive_bypass(x, out_channels):
    """Maps ``cin`` channels to ``out_channels`` by tiling copies and averaging groups.

    With ``r, m = divmod(cout, cin)`` the output is ``r`` whole copies of ``x``
    (fusion-up) followed by ``m`` averaged channels (fusion-down): with
    ``g = cin // m`` and ``R = g * (m - 1)``, channel ``j < m - 1`` is the mean of
    the strided group ``x[..., j], x[..., j + (m-1)], ..., x[..., j + (g-1)(m-1)]``
    and the last one is the mean of ``x[..., R:]``. When ``m == 1`` that last
    channel is the mean of all channels (the authors' code crashes there).

    Args:
        x: ``(..., cin)`` tensor.
        out_channels: ``cout``, any positive integer.

    Returns:
        ``(..., cout)`` tensor. Uses only slices, reshapes and means.
    """
    in_channels = x.shape[-1]
    repeats, remainder = divmod(out_channels, in_channels)
    parts = [x] * repeats
    if remainder:
        group_size = in_channels // remainder
        strided_end = group_size * (remainder - 1)
        if remainder > 1:
            # Channel i*(m-1)+j lands at [..., i, j]: averaging axis -2 averages strided groups.
            grouped = ops.reshape(
                x[..., :strided_end], (*ops.shape(x)[:-1], group_size, remainder - 1)
            )
            parts.append(ops.mean(grouped, axis=-2))
        parts.append(ops.mean(x[..., strided_end:], axis=-1, keepdims=True))
    if len(parts) == 1:
        return parts[0]
    return ops.concatenate(parts, axis=-1)


@keras.saving.register_keras_serializable(package="bidense_keras")
class ChannelAdaptiveBypass(keras.layers.Layer):
    """Layer form of :func:`channel_adaptive_bypass`; no weights.

    Input ``(..., cin)``, output ``(..., out_channels)``.
    """

    def __init__(self, out_channels, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = out_channels

    def call(self, inputs):
        return channel_adaptive_bypass(inputs, self.out_channels)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.out_channels)

    def get_config(self):
        return {**super().get_config(), "out_channels": self.out_channels}


def add_bypass(y, x, filters, conv, name, resample=None):
    """``y + CFB(resample(x))`` when the model's convs have CFB bypasses (``conv``, a
    :class:`~bidense_keras.layers.ConvSpec`, says so), else ``y``.

    For a convolution that changes the spatial size and so has no bypass of its own: ``resample``
    (a function of ``x``, e.g. an average pooling or a nearest upsampling layer applied to it) brings
    ``x`` to ``y``'s size; the layers are made only when the bypass is used.
    """
    if not conv.channel_bypass:
        return y
    shortcut = ChannelAdaptiveBypass(filters, name=f"{name}_bypass")(resample(x) if resample else x)
    return keras.layers.Add(name=f"{name}_add")([y, shortcut])
