"""The dense-prediction model both families build on: images -> backbone -> decoder -> task head.

:class:`DensePredictionModel` holds what the families share: the input checks, the ImageNet normalization,
the segmentation and depth heads, class names and palette, the config of these arguments and
:meth:`~DensePredictionModel.from_preset`. A family subclass gives its backbone and its decoder.
"""

import numbers

import keras
import numpy as np

from bidense_keras import integrity, sources
from bidense_keras.families import TASKS
from bidense_keras.inputs import (
    PIXEL_RANGE,
    check_image_batch,
    check_image_values,
    check_labels,
)
from bidense_keras.layers import ConvSpec
from bidense_keras.models.heads import task_head

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_widths(**sizes):
    """Raises a ValueError unless every value of ``sizes`` (an int or a sequence of ints) is an integer >= 1."""
    for name, value in sizes.items():
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            integrity.check_positive_int(name, item)


def check_head(task, num_classes, max_depth, class_names, palette):
    """Raises a ValueError for a head description that cannot make a model of ``task``."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; choose one of {TASKS}.")
    if task == "depth":
        if isinstance(max_depth, bool) or not isinstance(max_depth, numbers.Real) or not 0 < max_depth < np.inf:
            raise ValueError(f"A depth model needs a finite max_depth > 0 in metres (e.g. 10 for NYUv2); got {max_depth!r}.")
        if class_names is not None or palette is not None:
            raise ValueError("class_names and palette describe segmentation classes; a depth model has none.")
        return
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"A segmentation model needs an integer num_classes >= 1 (e.g. 151 for ADE20K); "
                         f"got {num_classes!r}.")
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"class_names has {len(class_names)} names for num_classes={num_classes} logits.")
    if palette is not None:
        shape = np.shape(palette)
        if shape != (num_classes, 3) or not np.all((np.asarray(palette) >= 0) & (np.asarray(palette) <= 255)):
            raise ValueError(f"palette must be (num_classes={num_classes}, 3) RGB values in [0, 255]; got shape {shape}.")


def imagenet_normalization():
    """The preprocessing layer: RGB in [0, 255] -> ImageNet-normalized."""
    return keras.layers.Normalization(
        mean=[255.0 * m for m in IMAGENET_MEAN], variance=[(255.0 * s) ** 2 for s in IMAGENET_STD],
        name="preprocessing",
    )


def _is_batch(x):
    """Whether ``x`` is images given directly (an array, a tensor, a list or None), not a dataset or generator."""
    return x is None or hasattr(x, "shape") or isinstance(x, (list, tuple))


class DensePredictionModel(keras.Model):
    """A functional model of images that predicts per pixel: segmentation logits or metric depth.

    ``images (B, H, W, 3)`` -> [ImageNet normalization] -> ``backbone`` (a pyramid of four maps) ->
    ``decode(pyramid, conv)`` -> the task head -> ``(B, H, W, num_classes)`` logits or ``(B, H, W, 1)``
    depth in metres. Subclasses (one per family) set ``family`` and ``min_input_size``, make the backbone
    and decoder, and add their own arguments to :meth:`get_config`.

    Arrays given to :meth:`predict`, :meth:`predict_on_batch` and :meth:`fit` are checked by
    :func:`bidense_keras.inputs.check_image_values` (type, shape, empty batch, minimum size, NaN/inf,
    [0, 255] range); calls check the batch and static sizes; :meth:`fit` stops on a non-finite loss.

    Args:
        backbone: the family's :class:`~bidense_keras.models.backbone.Backbone`.
        decode: ``decode(pyramid, conv) -> (B, h, w, features)``, with ``conv`` the model's
            :class:`~bidense_keras.layers.ConvSpec`.
        task: ``"segmentation"`` or ``"depth"``.
        features: the decoder width F (the head's 3x3 convs use F // 2).
        num_classes: logits per pixel (segmentation).
        max_depth: output range of the depth head in metres (depth).
        binarization: a variant of :data:`bidense_keras.variants.BINARIZATIONS`.
        include_preprocessing: accept [0, 255] images and normalize inside.
        zero_as_positive: binarize 0 to +1 (LCE convention).
        input_shape: ``(height, width, 3)``; None dims for any size.
        class_names: segmentation only: one name per logit (default ``class 0``, ...).
        palette: segmentation only: ``(num_classes, 3)`` RGB colours in [0, 255] for pictures.
    """

    family = None

    def __init__(self, backbone, decode, *, task, features, num_classes, max_depth, binarization,
                 include_preprocessing, zero_as_positive, input_shape, class_names, palette, **kwargs):
        conv = ConvSpec.of(binarization, zero_as_positive)
        images = keras.Input(shape=input_shape, name="images")
        x = imagenet_normalization()(images) if include_preprocessing else images
        decoded = decode(backbone(x), conv)
        outputs = task_head(task, decoded, images, conv, features, num_classes, max_depth)
        super().__init__(inputs=images, outputs=outputs, **kwargs)
        self.backbone = backbone
        self.task = task
        self.features = features
        self.num_classes = num_classes
        self.max_depth = max_depth
        self.binarization = binarization
        self.include_preprocessing = include_preprocessing
        self.zero_as_positive = zero_as_positive
        self.image_shape = tuple(input_shape)
        self.class_names = None if class_names is None else [str(name) for name in class_names]
        self.palette = None if palette is None else [[int(c) for c in colour] for colour in palette]

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """A trained model of this class (keras-hub style): a preset name, a model folder,
        ``hf://owner/repo[@revision]`` or a ``.keras`` file, with :func:`bidense_keras.load`'s arguments.

        ``UperNet.from_preset`` refuses a DPT source and the other way round; see
        :func:`bidense_keras.sources.load_source`. Example::

            model = bidense_keras.UperNet.from_preset("bidense_upernet_demo_rooms_seg")
            logits = model.predict(np.full((2, 64, 64, 3), 128.0, "float32"), verbose=0)  # (2, 64, 64, 9)
        """
        return sources.load_source(preset, model_class=cls, **kwargs)

    @property
    def min_input_size(self):
        """The smallest height and width the model takes."""
        raise NotImplementedError

    def __call__(self, inputs, *args, **kwargs):
        check_image_batch(inputs, self.min_input_size)
        return super().__call__(inputs, *args, **kwargs)

    def check_images(self, images):
        """``images`` as a checked numpy batch (:func:`bidense_keras.inputs.check_image_values`: type, shape,
        empty batch, minimum size, NaN/inf, the [0, 255] range when the model normalises its input)."""
        value_range = PIXEL_RANGE if getattr(self, "include_preprocessing", True) else None
        return check_image_values(images, self.min_input_size, value_range)

    def predict(self, x, *args, check_inputs=True, **kwargs):
        """``keras.Model.predict``; arrays, tensors and lists of same-size images are checked first
        (:meth:`check_images`); ``check_inputs=False`` skips it for speed. A ``tf.data`` dataset or a
        generator passes unchecked."""
        if check_inputs and _is_batch(x):
            x = self.check_images(x)
        return super().predict(x, *args, **kwargs)

    def predict_on_batch(self, x, check_inputs=True):
        """``keras.Model.predict_on_batch`` with the checks of :meth:`predict`."""
        if check_inputs:
            x = self.check_images(x)
        return super().predict_on_batch(x)

    def fit(self, x=None, y=None, *args, check_inputs=True, callbacks=None, **kwargs):
        """``keras.Model.fit`` that checks array inputs and stops on a non-finite loss.

        Arrays ``x`` get the checks of :meth:`predict`; segmentation labels ``y`` must be class ids in
        ``[0, num_classes)`` or 255 (ignored). Whatever the data (arrays or ``tf.data``), a NaN or inf
        loss raises :class:`bidense_keras.errors.NonFiniteLossError` at that batch, before any
        callback saves the diverged weights (:class:`~bidense_keras.integrity.StopOnNonFiniteLoss`).
        """
        if check_inputs and _is_batch(x):
            x = self.check_images(x)
            if y is not None and self.task == "segmentation":
                check_labels(y, self.num_classes)
        callbacks = list(callbacks or [])
        if not any(isinstance(callback, integrity.StopOnNonFiniteLoss) for callback in callbacks):
            callbacks.insert(0, integrity.StopOnNonFiniteLoss())  # first: before a callback can save
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def get_config(self):
        """Keras' config (name, trainable) with the arguments every family takes; a family adds its own.

        Keras' ``dtype`` entry is left out: the precision a model was trained in (a mixed policy) is not part of
        its architecture, and a model rebuilt from its config takes the global policy of where it is loaded.
        """
        config = {key: value for key, value in super().get_config().items() if key != "dtype"}
        return {
            **config,
            "task": self.task,
            "features": self.features,
            "num_classes": self.num_classes,
            "max_depth": self.max_depth,
            "binarization": self.binarization,
            "include_preprocessing": self.include_preprocessing,
            "zero_as_positive": self.zero_as_positive,
            "input_shape": self.image_shape,
            "class_names": self.class_names,
            "palette": self.palette,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
