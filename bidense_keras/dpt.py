"""DPT models for dense prediction: preprocessing -> binary ViT -> DPT decoder -> task head (SPEC_DPT)."""

import functools

import keras

from bidense_keras.backbones.vit import PATCH_SIZE, BinaryViTBackbone
from bidense_keras.decoders.dpt import dpt_decoder
from bidense_keras.heads import task_head
from bidense_keras.layers import BiDenseConv2D
from bidense_keras.models import CheckedImageModel, check_head, check_widths, imagenet_normalization
from bidense_keras.variants import conv_options

# fp32: the full-precision twin, float ViT and decoder; bidense_deployable: the decoder's DAB scales after
# each conv (what LCE runs exactly, see bidense_keras.variants), the ViT as in bidense.
DPT_BINARIZATIONS = ("bidense", "bidense_deployable", "fp32")


@keras.saving.register_keras_serializable(package="bidense_keras")
class DPT(CheckedImageModel):
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
            which its export computes exactly (see :meth:`~bidense_keras.layers.vit.BinaryDense.fold_kernel_binarizer`).
        include_preprocessing, input_shape, class_names, palette: as for UperNet.
    """

    family = "dpt"

    def __init__(self, task="segmentation", embed_dim=384, depth=12, num_heads=6, features=256,
                 out_channels=(48, 96, 192, 384), num_classes=None, max_depth=None, binarization="bidense",
                 include_preprocessing=True, zero_as_positive=False, input_shape=(None, None, 3),
                 class_names=None, palette=None, **kwargs):
        check_head(task, num_classes, max_depth, class_names, palette)
        check_widths(embed_dim=embed_dim, depth=depth, num_heads=num_heads, features=features, out_channels=out_channels)
        if binarization not in DPT_BINARIZATIONS:
            raise ValueError(f"The DPT family has binarization {DPT_BINARIZATIONS}; got {binarization!r}.")
        if len(out_channels) != 4:
            raise ValueError(f"out_channels needs four widths (one per reassembled map); got {out_channels}.")
        conv = functools.partial(BiDenseConv2D, **conv_options(binarization, zero_as_positive))
        images = keras.Input(shape=input_shape, name="images")
        x = imagenet_normalization()(images) if include_preprocessing else images
        backbone = BinaryViTBackbone(embed_dim, depth, num_heads, binary=binarization != "fp32", name="backbone")
        decoded = dpt_decoder(backbone(x), conv, out_channels, features)
        outputs = task_head(task, decoded, images, conv, features, num_classes, max_depth)
        super().__init__(inputs=images, outputs=outputs, **kwargs)
        self.backbone = backbone
        self.task, self.embed_dim, self.depth, self.num_heads = task, embed_dim, depth, num_heads
        self.features, self.out_channels = features, tuple(out_channels)
        self.num_classes, self.max_depth, self.binarization = num_classes, max_depth, binarization
        self.include_preprocessing, self.zero_as_positive = include_preprocessing, zero_as_positive
        self.image_shape = tuple(input_shape)
        self.class_names = None if class_names is None else [str(name) for name in class_names]
        self.palette = None if palette is None else [[int(c) for c in colour] for colour in palette]

    @property
    def min_input_size(self):
        """The smallest height and width the model takes: two patches (28)."""
        return 2 * PATCH_SIZE

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "task": self.task, "embed_dim": self.embed_dim,
                "depth": self.depth, "num_heads": self.num_heads, "features": self.features,
                "out_channels": self.out_channels, "num_classes": self.num_classes, "max_depth": self.max_depth,
                "binarization": self.binarization, "include_preprocessing": self.include_preprocessing,
                "zero_as_positive": self.zero_as_positive, "input_shape": self.image_shape,
                "class_names": self.class_names, "palette": self.palette}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
