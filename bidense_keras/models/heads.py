"""Task heads on the decoder output: upsample to the input size, then predict per pixel."""

import keras

from bidense_keras.layers import ResizeLike

DEPTH_HEAD_CHANNELS = 32


def _upsampled_features(x, images, conv, features):
    """``out_conv1``: conv 3x3 -> features//2 at stride 4, then resize to the image size."""
    x = conv(features // 2, 3, padding=1, name="head_upsample_conv")(x)
    return ResizeLike(name="head_resize")([x, images])


def segmentation_head(x, images, conv, features, num_classes):
    """-> logits ``(B, H, W, num_classes)``: conv 3x3 -> ReLU -> float 1x1 conv."""
    x = _upsampled_features(x, images, conv, features)
    x = conv(features // 2, 3, padding=1, name="head_conv")(x)
    x = keras.layers.ReLU(name="head_relu")(x)
    return keras.layers.Conv2D(num_classes, 1, dtype="float32", name="head_logits")(x)


def depth_head(x, images, conv, features, max_depth):
    """-> metric depth ``(B, H, W, 1)`` in (0, max_depth): conv 3x3 -> ReLU -> 1x1 -> sigmoid * max."""
    x = _upsampled_features(x, images, conv, features)
    x = conv(DEPTH_HEAD_CHANNELS, 3, padding=1, name="head_conv")(x)
    x = keras.layers.ReLU(name="head_relu")(x)
    x = keras.layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="head_depth")(x)
    return keras.layers.Rescaling(max_depth, dtype="float32", name="head_scale")(x)


def task_head(task, x, images, conv, features, num_classes=None, max_depth=None):
    """The head of ``task``: :func:`segmentation_head` or :func:`depth_head` on the decoder output ``x``."""
    if task == "segmentation":
        return segmentation_head(x, images, conv, features, num_classes)
    return depth_head(x, images, conv, features, max_depth)
