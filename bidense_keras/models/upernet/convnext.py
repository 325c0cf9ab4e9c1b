"""Binary ConvNeXt (BiDense) and its full-precision twin (fp32_0), as feature pyramids."""

import keras

from bidense_keras.layers import ConvSpec, LearnableBias, add_bypass, batch_norm, prelu
from bidense_keras.models.backbone import Backbone


def _binary_block(x, dim, conv, name):
    """dw 7x7 -> 1x1 (4*dim) -> LearnableBias -> PReLU -> 1x1 (dim); each conv has its bypass."""
    x = conv(kernel_size=7, padding=3, depthwise=True, name=f"{name}_dwconv")(x)
    x = conv(4 * dim, 1, padding=0, name=f"{name}_pwconv1")(x)
    x = LearnableBias(name=f"{name}_move")(x)
    x = prelu(f"{name}_act")(x)
    return conv(dim, 1, padding=0, name=f"{name}_pwconv2")(x)


def _float_block(x, dim, conv, name):
    """``x += BN(dw7x7(x))``, then ``x += BN(1x1(GELU(BN(1x1(x)))))`` (fp32_0)."""
    dw = conv(kernel_size=7, padding=3, depthwise=True, name=f"{name}_dwconv")(x)
    x = keras.layers.Add(name=f"{name}_dw_add")([x, dw])
    y = conv(4 * dim, 1, padding=0, name=f"{name}_pwconv1")(x)
    y = keras.layers.Activation("gelu", name=f"{name}_act")(y)
    y = conv(dim, 1, padding=0, name=f"{name}_pwconv2")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def _binary_transition(x, dim, conv, name):
    """Binary 2x2/2 conv plus ``CFB(AvgPool2x2(x))`` as the full-precision path."""
    y = conv(dim, 2, strides=2, padding=0, bypass=None, name=name)(x)
    return add_bypass(y, x, dim, conv, name, resample=keras.layers.AveragePooling2D(2, name=f"{name}_pool"))


def _float_transition(x, dim, name):
    """Conv 2x2/2 with bias -> BN (fp32_0)."""
    x = keras.layers.Conv2D(dim, 2, strides=2, name=f"{name}_conv")(x)
    return batch_norm(f"{name}_norm")(x)


@keras.saving.register_keras_serializable(package="bidense_keras")
class ConvNeXtBackbone(Backbone, keras.Model):
    """ConvNeXt feature extractor with BiDense binary convolutions (or their fp32 twin).

    Input: normalized images ``(batch, height, width, 3)``. Outputs: the four stage
    features at strides 4, 8, 16, 32 with ``dims[i]`` channels; sizes floor like
    PyTorch (valid stem conv, floor pooling). Blocks have no outer residual in the
    binary network: the CFB bypass of each convolution carries the signal.

    Args:
        dims: channels of the four stages.
        depths: blocks per stage.
        binarization: a variant of :mod:`bidense_keras.variants` (``"bidense"``,
            ``"fp32"``, ``"bnn"``, ``"dab"``, ``"cfb"``).
        zero_as_positive: binarize 0 to +1 (LCE convention).
        input_shape: ``(height, width, 3)``; None for any size.
    """

    def __init__(
        self,
        dims=(96, 192, 384, 768),
        depths=(3, 3, 9, 3),
        binarization="bidense",
        zero_as_positive=False,
        input_shape=(None, None, 3),
        **kwargs,
    ):
        if len(dims) != 4 or len(depths) != 4:
            raise ValueError(f"ConvNeXt needs 4 stages; got dims={dims}, depths={depths}.")
        conv = ConvSpec.of(binarization, zero_as_positive)
        binary = conv.binary
        inputs = keras.Input(shape=input_shape, name="images")
        x = keras.layers.Conv2D(dims[0], 4, strides=4, name="stem_conv")(inputs)
        x = batch_norm("stem_norm")(x)
        features = []
        for stage, (dim, depth) in enumerate(zip(dims, depths)):
            if stage > 0:
                name = f"downsample{stage}"
                x = _binary_transition(x, dim, conv, name) if binary else _float_transition(x, dim, name)
            for block in range(depth):
                make_block = _binary_block if binary else _float_block
                x = make_block(x, dim, conv, f"stage{stage}_block{block}")
            features.append(x)
        super().__init__(inputs=inputs, outputs=features, **kwargs)
        self.dims = tuple(dims)
        self.depths = tuple(depths)
        self.binarization = binarization
        self.zero_as_positive = zero_as_positive
        self.image_shape = tuple(input_shape)

    def get_config(self):
        config = {key: value for key, value in super().get_config().items() if key != "dtype"}  # as the model's
        return {**config, "dims": self.dims, "depths": self.depths, "binarization": self.binarization,
                "zero_as_positive": self.zero_as_positive, "input_shape": self.image_shape}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
