"""UperNet models for dense prediction: preprocessing -> ConvNeXt -> UperNet -> task head."""

import keras

from bidense_keras.models.base import DensePredictionModel, check_head, check_widths
from bidense_keras.models.upernet.convnext import ConvNeXtBackbone
from bidense_keras.models.upernet.decoder import upernet_decoder
from bidense_keras.models.upernet.upernet_presets import FAMILY


@keras.saving.register_keras_serializable(package="bidense_keras")
class UperNet(DensePredictionModel):
    """ConvNeXt + UperNet for semantic segmentation or monocular depth (family ``"upernet"``).

    Input: RGB ``(batch, height, width, 3)``, values in [0, 255] when ``include_preprocessing``
    (ImageNet normalization built in), else already normalized. Any height and width of at least 32
    work (sizes floor like PyTorch). Output: segmentation logits ``(batch, height, width, num_classes)``
    or depth in metres ``(batch, height, width, 1)``.

    Args:
        task: ``"segmentation"`` or ``"depth"``.
        dims, depths: ConvNeXt stage widths and depths.
        features: decoder width F (the head uses F // 2).
        num_classes: logits per pixel (segmentation).
        max_depth: output range of the depth head (depth).
        binarization: ``"bidense"``, ``"bidense_deployable"``, ``"fp32"`` or an ablation (``"bnn"``,
            ``"dab"``, ``"cfb"``); see :mod:`bidense_keras.variants`.
        include_preprocessing, zero_as_positive, input_shape, class_names, palette: see
            :class:`~bidense_keras.models.DensePredictionModel`.

    The config holds every argument, so ``keras.saving`` round trips (``.keras`` files and model
    folders) rebuild the same model with its class names and palette. Example::

        model = bidense_keras.UperNet(dims=(32, 64, 128, 256), depths=(1, 1, 3, 1), features=64, num_classes=7)
        logits = model.predict(np.full((1, 64, 64, 3), 128.0, "float32"), verbose=0)  # (1, 64, 64, 7)
    """

    family = FAMILY

    def __init__(self, task="segmentation", dims=(96, 192, 384, 768), depths=(3, 3, 9, 3), features=256,
                 num_classes=None, max_depth=None, binarization="bidense", include_preprocessing=True,
                 zero_as_positive=False, input_shape=(None, None, 3), class_names=None, palette=None, **kwargs):
        check_head(task, num_classes, max_depth, class_names, palette)
        check_widths(dims=dims, depths=depths, features=features)
        if features < 2:
            raise ValueError(f"features (the decoder width) must be >= 2, the head uses features // 2; got {features}.")
        backbone = ConvNeXtBackbone(dims, depths, binarization, zero_as_positive, input_shape=input_shape,
                                    name="backbone")
        super().__init__(backbone, upernet_decoder, task=task, features=features, num_classes=num_classes,
                         max_depth=max_depth, binarization=binarization,
                         include_preprocessing=include_preprocessing, zero_as_positive=zero_as_positive,
                         input_shape=input_shape, class_names=class_names, palette=palette, **kwargs)
        self.dims = tuple(dims)
        self.depths = tuple(depths)

    @property
    def min_input_size(self):
        """The smallest height and width the model takes: the stride of its deepest stage (32 for ConvNeXt)."""
        return 4 * 2 ** (len(self.dims) - 1)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims, "depths": self.depths}
