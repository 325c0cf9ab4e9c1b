"""DPT decoder of BiDense: four ViT feature maps reassembled into a pyramid (x4, x2, x1, /2), then fused.

Every convolution is a BiDense one; a convolution that changes the spatial size gets a CFB shortcut of
its input resampled alike (nearest upsampling, 3x3 average pooling). ``conv`` arguments are the model's
:class:`~bidense_keras.layers.ConvSpec`.
"""

import keras

from bidense_keras.layers import LearnableBias, add_bypass, prelu
from bidense_keras.layers.sampling import ResizeBy

RESAMPLE_FACTORS = (4, 2, 1, 0.5)  # the reassembled maps are 4x, 2x, 1x and 1/2x the patch grid


def _upsample(x, filters, factor, conv, name):
    """``BN(convT(DAB x))`` (kernel = stride = factor) plus CFB of the nearest-upsampled ``x``.

    The transposed conv keeps exact DAB in a deployable model: its kernel is scaled per input
    channel, so LCE could not bitpack it anyway, and it exports as a float ``TRANSPOSE_CONV``.
    """
    y = conv.transpose(filters, factor, name=name)(x)
    nearest = keras.layers.UpSampling2D(factor, interpolation="nearest", name=f"{name}_nearest")
    return add_bypass(y, x, filters, conv, name, resample=nearest)


def _downsample(x, filters, conv, name):
    """``BN(conv3x3/2 (DAB x))`` plus CFB of ``AvgPool3x3/2`` of ``x`` (zero padding counted: always /9)."""
    y = conv(filters, 3, strides=2, padding=1, bypass=None, name=name)(x)

    def pooled(source):
        padded = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(source)
        return keras.layers.AveragePooling2D(3, strides=2, name=f"{name}_pool")(padded)

    return add_bypass(y, x, filters, conv, name, resample=pooled)


def reassemble(features, conv, out_channels, name="reassemble"):
    """Four ``(B, ph, pw, C)`` maps -> ``(B, 4ph, 4pw, oc0)``, ``(2ph, oc1)``, ``(ph, oc2)``, ``(ph/2, oc3)``.

    Each map: a 1x1 projection to ``out_channels[i]``, then x4 up, x2 up, identity or /2 down.
    """
    resized = []
    for index, (x, filters) in enumerate(zip(features, out_channels)):
        x = conv(filters, 1, padding=0, name=f"{name}_project{index}")(x)
        factor = RESAMPLE_FACTORS[index]
        if factor > 1:
            x = _upsample(x, filters, factor, conv, f"{name}_up{index}")
        elif factor < 1:
            x = _downsample(x, filters, conv, f"{name}_down{index}")
        resized.append(x)
    return resized


def residual_unit(x, conv, name):
    """``conv2(PReLU2(conv1(PReLU1(x + m1)) + m2))``: 3x3 convs with bias and CFB bypass, no identity skip."""
    width = x.shape[-1]
    for step in (1, 2):
        x = LearnableBias(name=f"{name}_move{step}")(x)
        x = prelu(f"{name}_prelu{step}")(x)
        x = conv(width, 3, padding=1, use_bias=True, name=f"{name}_conv{step}")(x)
    return x


def fusion(path, feature, conv, name):
    """``RCU2(path + RCU1(feature))`` (``RCU2(path)`` without a feature), then bilinear x2 (align_corners)."""
    if feature is not None:
        path = keras.layers.Add(name=f"{name}_add")([path, residual_unit(feature, conv, f"{name}_unit1")])
    return ResizeBy(2, name=f"{name}_resize")(residual_unit(path, conv, f"{name}_unit2"))


def dpt_decoder(features, conv, out_channels, width, name="dpt"):
    """DPT on the backbone's four maps -> ``(B, 8ph, 8pw, width)`` (path 1).

    The reassembled maps go through a 3x3 conv to ``width`` each (``layer{1-4}_rn``), then the
    fusion blocks from the coarsest: ``path4 = F4(l4)``, ``path3 = F3(path4, l3)``, ... ``path1``.
    """
    levels = [conv(width, 3, padding=1, name=f"{name}_layer{index + 1}_rn")(x)
              for index, x in enumerate(reassemble(features, conv, out_channels, f"{name}_reassemble"))]
    path = fusion(levels[3], None, conv, f"{name}_refinenet4")
    for index in (2, 1, 0):
        path = fusion(path, levels[index], conv, f"{name}_refinenet{index + 1}")
    return path
