"""DPT models for dense prediction: preprocessing -> binary ViT -> DPT decoder -> task head."""

import functools

import keras

from bidense_keras.models.base import DensePredictionModel, check_head, check_widths
from bidense_keras.models.dpt.decoder import dpt_decoder
from bidense_keras.models.dpt.dpt_presets import BINARIZATIONS, FAMILY
from bidense_keras.models.dpt.vit import PATCH_SIZE, BinaryViTBackbone


@keras.saving.register_keras_serializable(package="bidense_keras")
class DPT(DensePredictionModel):
    """BiDense DPT: a binary DINOv2 ViT, a DPT decoder of BiDense convolutions and a task head.

    Input ``(B, H, W, 3)`` RGB in [0, 255] (H, W at least 28; sizes that are not multiples of 28
    are resized down to them inside the model); output ``(B, H, W, num_classes)`` logits or
    ``(B, H, W, 1)`` depth in metres.

    Args:
        task: ``"segmentation"`` or ``"depth"``.
        embed_dim, depth, num_heads: the ViT (default ViT-S/14: 384, 12, 6).
        features: decoder width (default 256).
        out_channels: widths of the four reassembled maps (default 48, 96, 192, 384).
        num_classes / max_depth: the head, as for :class:`~bidense_keras.models.UperNet`.
        binarization: ``"bidense"``; ``"bidense_deployable"`` (the decoder's convolutions with
            DAB's scale after the conv, as in the UperNet family; the transposed convs keep exact DAB);
            or ``"fp32"`` for the full-precision twin (float linear layers and softmax attention in the
            ViT, float convolutions without bypasses in the decoder, as the UperNet family's ``fp32``).
        zero_as_positive: the decoder's signs map 0 to +1 (LCE convention); the ViT keeps sign(0) = 0,
            which its export computes exactly (see :meth:`~bidense_keras.layers.BinaryDense.fold_kernel_binarizer`).
        include_preprocessing, input_shape, class_names, palette: see
            :class:`~bidense_keras.models.DensePredictionModel`.

    Example::

        model = bidense_keras.DPT(embed_dim=192, depth=4, num_heads=3, features=64,
                                  out_channels=(24, 48, 96, 192), task="depth", max_depth=10.0)
        depth = model.predict(np.full((1, 56, 56, 3), 128.0, "float32"), verbose=0)  # (1, 56, 56, 1), metres
    """

    family = FAMILY

    def __init__(self, task="segmentation", embed_dim=384, depth=12, num_heads=6, features=256,
                 out_channels=(48, 96, 192, 384), num_classes=None, max_depth=None, binarization="bidense",
                 include_preprocessing=True, zero_as_positive=False, input_shape=(None, None, 3),
                 class_names=None, palette=None, **kwargs):
        check_head(task, num_classes, max_depth, class_names, palette)
        check_widths(embed_dim=embed_dim, depth=depth, num_heads=num_heads, features=features, out_channels=out_channels)
        if binarization not in BINARIZATIONS:
            raise ValueError(f"The DPT family has binarization {BINARIZATIONS}; got {binarization!r}.")
        if len(out_channels) != 4:
            raise ValueError(f"out_channels needs four widths (one per reassembled map); got {out_channels}.")
        backbone = BinaryViTBackbone(embed_dim, depth, num_heads, binarization=binarization, name="backbone")
        decode = functools.partial(dpt_decoder, out_channels=out_channels, width=features)
        super().__init__(backbone, decode, task=task, features=features, num_classes=num_classes,
                         max_depth=max_depth, binarization=binarization,
                         include_preprocessing=include_preprocessing, zero_as_positive=zero_as_positive,
                         input_shape=input_shape, class_names=class_names, palette=palette, **kwargs)
        self.embed_dim, self.depth, self.num_heads = embed_dim, depth, num_heads
        self.out_channels = tuple(out_channels)

    @property
    def min_input_size(self):
        """The smallest height and width the model takes: two patches (28)."""
        return 2 * PATCH_SIZE

    def get_config(self):
        return {**super().get_config(), "embed_dim": self.embed_dim, "depth": self.depth,
                "num_heads": self.num_heads, "out_channels": self.out_channels}
