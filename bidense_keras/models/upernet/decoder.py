"""UperNet decoder of BiDense: pyramid pooling (PPM) on the last stage, then a pairwise FPN.

``conv`` arguments are the model's :class:`~bidense_keras.layers.ConvSpec`: calling it makes a
:class:`~bidense_keras.layers.BiDenseConv2D` with the model's binarizers and bypass.
"""

import keras

from bidense_keras.layers import (
    AdaptiveAveragePooling2D,
    LearnableBias,
    ResizeLike,
    prelu,
)

PPM_BINS = (1, 2, 4, 6)


def pyramid_pooling(x, conv, name="ppm"):
    """PPM: ``x (B, h, w, C)`` -> ``(B, h, w, C)``.

    Each branch: AdaptiveAvgPool(bin) -> conv 1x1 C -> C//4 -> LearnableBias -> PReLU,
    resized back (align_corners=True); ``concat[x, branches]`` -> conv 3x3 -> C ->
    LearnableBias -> PReLU -> SpatialDropout(0.1).
    """
    channels = x.shape[-1]
    branches = [x]
    for index, bins in enumerate(PPM_BINS):
        prefix = f"{name}_branch{index}"
        y = AdaptiveAveragePooling2D(bins, name=f"{prefix}_pool")(x)
        y = conv(channels // 4, 1, padding=0, name=f"{prefix}_conv")(y)
        y = LearnableBias(name=f"{prefix}_move")(y)
        y = prelu(f"{prefix}_act")(y)
        branches.append(ResizeLike(name=f"{prefix}_resize")([y, x]))
    y = keras.layers.Concatenate(name=f"{name}_concat")(branches)
    y = conv(channels, 3, padding=1, name=f"{name}_bottleneck")(y)
    y = LearnableBias(name=f"{name}_bottleneck_move")(y)
    y = prelu(f"{name}_bottleneck_act")(y)
    return keras.layers.SpatialDropout2D(0.1, name=f"{name}_dropout")(y)


def upernet_decoder(features, conv, name="fpn"):
    """UperNet on four stage features ``f0..f3`` -> ``(B, H/4, W/4, d0)``.

    ``f3`` goes through the PPM; 1x1 convs map ``f1, f2, f3`` to ``d0`` channels;
    ``P_i = up(f_{i+1}) + f_i`` pairwise (not cumulative); ONE shared 3x3 "smooth"
    conv is applied to each ``P_i``; ``[P0, P1, P2, f3]`` resized to ``P0`` and
    concatenated -> conv 3x3 -> LearnableBias -> PReLU -> LearnableBias.
    """
    features = list(features)
    width = features[0].shape[-1]
    features[3] = pyramid_pooling(features[3], conv)
    laterals = [features[0]] + [
        conv(width, 1, padding=0, name=f"{name}_lateral{level}")(features[level])
        for level in (1, 2, 3)
    ]
    smooth = conv(width, 3, padding=1, name=f"{name}_smooth")
    merged = []
    for level in range(3):
        upsampled = ResizeLike(name=f"{name}_up{level}")([laterals[level + 1], laterals[level]])
        summed = keras.layers.Add(name=f"{name}_merge{level}")([upsampled, laterals[level]])
        merged.append(smooth(summed))
    finest = merged[0]
    to_fuse = [finest] + [
        ResizeLike(name=f"{name}_fuse_resize{level}")([x, finest])
        for level, x in enumerate(merged[1:] + [laterals[3]], start=1)
    ]
    x = keras.layers.Concatenate(name=f"{name}_fuse_concat")(to_fuse)
    x = conv(width, 3, padding=1, name=f"{name}_fusion")(x)
    x = LearnableBias(name=f"{name}_fusion_move1")(x)
    x = prelu(f"{name}_fusion_act")(x)
    return LearnableBias(name=f"{name}_fusion_move2")(x)
