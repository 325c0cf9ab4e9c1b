"""Training augmentations for segmentation and depth, as TensorFlow ops usable inside ``tf.data`` maps.

All randomness comes from stateless ops driven by a per-element ``seed`` (int32/int64 tensor of shape
(2,)), so a pipeline that derives those seeds from one integer is reproducible.

Shapes: ``image`` float32 (H, W, 3) RGB in [0, 255]; ``label`` int32 (H, W, 1) class ids, 255 = ignored;
``depth`` float32 (H, W, 1) metres, 0 = invalid.  Outputs keep these dtypes at the crop size.
"""

import math

import tensorflow as tf

from bidense_keras.inputs import IGNORE_INDEX

SEGMENTATION_SCALE_RANGE = (0.5, 2.0)
GAMMA_RANGE = (0.9, 1.1)
COLOR_RANGE = (0.9, 1.1)


def resize_pair(image, target, size):
    """Resize image (H, W, 3) bilinearly and target (H, W, 1) by nearest neighbour to `size` (h, w)."""
    image = tf.image.resize(image, size, method="bilinear")
    target = tf.image.resize(target, size, method="nearest")
    return image, target


def augment_segmentation(image, label, crop_size, seed, scale_range=SEGMENTATION_SCALE_RANGE):
    """Random scale, pad, random crop and random horizontal flip of an image and its label.

    The base size rescales the image (keeping its aspect ratio) so that its shorter side equals the
    longer side of the crop; it is then multiplied by a factor drawn from `scale_range`.  Parts of the
    crop outside the scaled image are 0 in the image and 255 (ignored) in the label.

    Args:
        image: float32 (H, W, 3). label: int32 (H, W, 1). crop_size: (h, w). seed: (2,) integer tensor.

    Returns:
        image float32 (h, w, 3) and label int32 (h, w, 1).
    """
    scale_seed, crop_seed, flip_seed = _split(seed, 3)
    image, label = _random_rescale(image, label, crop_size, scale_range, scale_seed)
    image = _pad_to_at_least(image, crop_size, 0.0)
    label = _pad_to_at_least(label, crop_size, IGNORE_INDEX)
    image, label = _crop_and_flip(image, label, crop_size, crop_seed, flip_seed)
    return image, label


def augment_depth(image, depth, crop_size, seed, max_rotation_degrees, brightness_range):
    """BTS augmentation: random rotation, random crop, random horizontal flip, colour jitter.

    Rotation is about the image centre by an angle in +-`max_rotation_degrees` (image bilinear, depth
    nearest, both filled with 0 outside).  Images smaller than the crop are padded with 0.  Colour
    jitter (``color_jitter``) touches the image only and, as in BTS, is applied to half of the samples.

    Args:
        image: float32 (H, W, 3). depth: float32 (H, W, 1). crop_size: (h, w). seed: (2,) integer tensor.
        max_rotation_degrees: float. brightness_range: (low, high) brightness factors.

    Returns:
        image float32 (h, w, 3) in [0, 255] and depth float32 (h, w, 1).
    """
    angle_seed, crop_seed, flip_seed, apply_seed, jitter_seed = _split(seed, 5)
    max_angle = math.radians(max_rotation_degrees)
    angle = tf.random.stateless_uniform([], angle_seed, -max_angle, max_angle)
    image = rotate(image, angle, "BILINEAR")
    depth = rotate(depth, angle, "NEAREST")
    image = _pad_to_at_least(image, crop_size, 0.0)
    depth = _pad_to_at_least(depth, crop_size, 0.0)
    image, depth = _crop_and_flip(image, depth, crop_size, crop_seed, flip_seed)
    apply_jitter = tf.random.stateless_uniform([], apply_seed) < 0.5
    image = tf.cond(apply_jitter, lambda: color_jitter(image, jitter_seed, brightness_range), lambda: image)
    return image, depth


def rotate(tensor, angle, interpolation):
    """Rotate a float32 (H, W, C) tensor by `angle` radians about its centre, filling with 0."""
    height = tf.cast(tf.shape(tensor)[0], tf.float32)
    width = tf.cast(tf.shape(tensor)[1], tf.float32)
    center_x, center_y = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Maps each output pixel (x, y) to the input pixel it samples: a rotation about the centre.
    transform = tf.stack([
        cos, -sin, center_x - cos * center_x + sin * center_y,
        sin, cos, center_y - sin * center_x - cos * center_y,
        0.0, 0.0,
    ])
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=tensor[tf.newaxis],
        transforms=transform[tf.newaxis],
        output_shape=tf.shape(tensor)[:2],
        fill_value=0.0,
        interpolation=interpolation,
        fill_mode="CONSTANT",
    )
    return rotated[0]


def color_jitter(image, seed, brightness_range):
    """Random gamma, brightness and per-channel colour factors of a float32 (H, W, 3) image in [0, 255].

    Gamma is drawn from [0.9, 1.1], brightness from `brightness_range`, each channel's factor from
    [0.9, 1.1]; the result is clipped to [0, 255].
    """
    gamma_seed, brightness_seed, color_seed = _split(seed, 3)
    gamma = tf.random.stateless_uniform([], gamma_seed, *GAMMA_RANGE)
    brightness = tf.random.stateless_uniform([], brightness_seed, *brightness_range)
    colors = tf.random.stateless_uniform([3], color_seed, *COLOR_RANGE)
    image = 255.0 * tf.pow(image / 255.0, gamma)
    return tf.clip_by_value(image * brightness * colors, 0.0, 255.0)


def _split(seed, count):
    """`count` independent (2,) seeds derived from one (2,) seed."""
    return tf.unstack(tf.random.experimental.stateless_split(seed, count))


def _random_rescale(image, label, crop_size, scale_range, seed):
    """Rescale image and label to a random multiple of the base size (see ``augment_segmentation``)."""
    factor = tf.random.stateless_uniform([], seed, *scale_range)
    native = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = factor * float(max(crop_size)) / tf.reduce_min(native)
    size = tf.maximum(tf.cast(tf.round(native * scale), tf.int32), 1)
    return resize_pair(image, label, size)


def _pad_to_at_least(tensor, size, value):
    """Pad (H, W, C) at the bottom and right with `value` so that H >= size[0] and W >= size[1]."""
    shape = tf.shape(tensor)
    pad_height = tf.maximum(size[0] - shape[0], 0)
    pad_width = tf.maximum(size[1] - shape[1], 0)
    return tf.pad(tensor, [[0, pad_height], [0, pad_width], [0, 0]], constant_values=value)


def _crop_and_flip(image, target, crop_size, crop_seed, flip_seed):
    """Crop the same random window of image (H, W, 3) and target (H, W, 1), then flip both or neither."""
    stacked = tf.concat([image, tf.cast(target, tf.float32)], axis=-1)
    stacked = tf.image.stateless_random_crop(stacked, [crop_size[0], crop_size[1], 4], crop_seed)
    stacked = tf.image.stateless_random_flip_left_right(stacked, flip_seed)
    return stacked[..., :3], tf.cast(stacked[..., 3:], target.dtype)
