"""Binary DINOv2-style ViT: the DPT family's backbone.

Images are resized down to a multiple of two patches, cut into 14×14 patches (a full-precision
conv), given a class token and a positional embedding resampled from a 37×37 grid, and passed
through binary blocks; the last four blocks' outputs, normalized and without the class token, are
the four feature maps the DPT decoder reassembles.
"""

import math

import keras
from keras import ops

from bidense_keras.layers.sampling import (
    bicubic_scale_matrix,
    resize_bilinear_half_pixel,
)
from bidense_keras.models.backbone import Backbone
from bidense_keras.models.dpt.dpt_presets import BINARIZATIONS
from bidense_keras.models.dpt.vit_layers import BinaryAttention, LayerScale, vit_linear

PATCH_SIZE = 14
POSITION_GRID = 37  # pos_embed holds 1 + 37² vectors (DINOv2's 518-pixel images)
POSITION_OFFSET = 0.1  # DINOv2 resamples the grid by scale factors (patches + 0.1) / 37
FEATURE_BLOCKS = 4  # the last four blocks feed the decoder


def patch_grid(height, width):
    """Patches ``(ph, pw)`` of an image: ``2 * floor(size / 28)`` per side (even, at most 27 pixels dropped).

    Python ints give ints; scalar tensors (sizes known only when the graph runs) give tensors.
    """
    return 2 * (height // (2 * PATCH_SIZE)), 2 * (width // (2 * PATCH_SIZE))


def _position_scale(size):
    """DINOv2's resampling factor ``(size + 0.1) / 37`` of a grid side (in float64 for an int, as the fixtures)."""
    if isinstance(size, int):
        return (size + POSITION_OFFSET) / POSITION_GRID
    return (ops.cast(size, "float32") + POSITION_OFFSET) / POSITION_GRID


def gelu_erf(x):
    """Exact GELU ``x/2 * (1 + erf(x / sqrt 2))``, as PyTorch computes it: 0 (not -tiny) for x below about -5.5."""
    return 0.5 * x * (1.0 + ops.erf(x * (1.0 / math.sqrt(2.0))))


@keras.saving.register_keras_serializable(package="bidense_keras")
class PositionEmbedding(keras.layers.Layer):
    """Prepends the class token and adds the positional embedding resampled to the patch grid.

    ``pos_embed`` holds the class position and a 37×37 grid; the grid is resampled with PyTorch's
    bicubic interpolation driven by the scale factors ``(ph + 0.1) / 37`` and ``(pw + 0.1) / 37``
    (:func:`~bidense_keras.layers.sampling.bicubic_scale_matrix`). Init zeros (the authors' models
    without pretrained weights).

    Call ``(tokens (B, ph * pw, C), (ph, pw))``; returns ``(B, 1 + ph * pw, C)``.
    """

    def build(self, input_shape):
        channels = input_shape[-1]
        self.cls_token = self.add_weight(shape=(1, 1, channels), initializer="zeros", name="cls_token")
        self.pos_embed = self.add_weight(shape=(1, 1 + POSITION_GRID**2, channels), initializer="zeros",
                                         name="pos_embed")

    def resampled_grid(self, grid):
        """The grid part of ``pos_embed`` resampled to ``grid = (ph, pw)``: ``(ph * pw, C)``."""
        channels = self.pos_embed.shape[-1]
        table = ops.reshape(self.pos_embed[0, 1:], (POSITION_GRID, POSITION_GRID, channels))
        rows, columns = (bicubic_scale_matrix(POSITION_GRID, size, _position_scale(size)) for size in grid)
        return ops.reshape(ops.einsum("ig,ghc,jh->ijc", rows, table, columns), (-1, channels))

    def call(self, tokens, grid):
        cls = ops.broadcast_to(self.cls_token + self.pos_embed[:, :1], (ops.shape(tokens)[0], 1, tokens.shape[-1]))
        return ops.concatenate([cls, tokens + self.resampled_grid(grid)], axis=1)


@keras.saving.register_keras_serializable(package="bidense_keras")
class BinaryViTBlock(keras.layers.Layer):
    """``x += ls1 * attn(norm1(x)); x += ls2 * fc2(gelu(fc1(norm2(x))))`` with binary attention and MLP.

    LayerNorm eps 1e-6; fc1 (C -> 4C) and fc2 are mean-scaled :class:`~bidense_keras.layers.BinaryDense`
    (float ``Dense`` layers and float attention with ``binary=False``).
    Input and output ``(batch, tokens, channels)``.
    """

    def __init__(self, num_heads, mlp_ratio=4, binary=True, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.binary = binary

    def build(self, input_shape):
        channels = input_shape[-1]
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.attn = BinaryAttention(self.num_heads, self.binary, name="attn")
        self.ls1 = LayerScale(name="ls1")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.fc1 = vit_linear(self.mlp_ratio * channels, "mean", self.binary, name="fc1")
        self.fc2 = vit_linear(channels, "mean", self.binary, name="fc2")
        self.ls2 = LayerScale(name="ls2")
        hidden = (*input_shape[:-1], self.mlp_ratio * channels)
        for layer, shape in ((self.norm1, input_shape), (self.attn, input_shape), (self.ls1, input_shape),
                             (self.norm2, input_shape), (self.fc1, input_shape), (self.fc2, hidden),
                             (self.ls2, input_shape)):
            layer.build(shape)

    def call(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.fc2(gelu_erf(self.fc1(self.norm2(x)))))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "mlp_ratio": self.mlp_ratio,
                "binary": self.binary}


@keras.saving.register_keras_serializable(package="bidense_keras")
class BinaryViTBackbone(Backbone, keras.layers.Layer):
    """The binary ViT as four feature maps (DINOv2 ViT-S/14 by default).

    Input ``(batch, H, W, 3)`` (normalized images, H and W at least 28); output a list of four
    ``(batch, ph, pw, embed_dim)`` maps, ``(ph, pw) = patch_grid(H, W)``: the outputs of the last
    four blocks after the final LayerNorm, class token dropped. A layer, not a functional model: the patch
    grid, and with it the positional embedding's resampling, follows the image size when the model runs.

    Args:
        embed_dim, depth, num_heads: width, blocks (at least 4) and attention heads.
        mlp_ratio: MLP width over ``embed_dim``.
        binarization: ``"bidense"`` or ``"bidense_deployable"`` (binary blocks: the deployable form changes
            only the decoder) or ``"fp32"`` (the full-precision twin's float blocks).
        binary: 0.2's spelling: ``True`` is ``"bidense"``, ``False`` is ``"fp32"`` (configs of 0.2 hold it).
    """

    def __init__(self, embed_dim=384, depth=12, num_heads=6, mlp_ratio=4, binarization="bidense", binary=None,
                 **kwargs):
        super().__init__(**kwargs)
        if binary is not None:
            binarization = "bidense" if binary else "fp32"
        if binarization not in BINARIZATIONS:
            raise ValueError(f"The binary ViT has binarization {BINARIZATIONS}; got {binarization!r}.")
        if depth < FEATURE_BLOCKS:
            raise ValueError(f"{self.name}: depth {depth} < {FEATURE_BLOCKS}: the decoder takes the last four blocks.")
        if embed_dim % num_heads:
            raise ValueError(f"{self.name}: embed_dim {embed_dim} does not split into {num_heads} heads.")
        self.embed_dim, self.depth, self.num_heads, self.mlp_ratio = embed_dim, depth, num_heads, mlp_ratio
        self.binarization = binarization
        self.binary = binarization != "fp32"

    def build(self, input_shape):
        self.patch_embed = keras.layers.Conv2D(self.embed_dim, PATCH_SIZE, strides=PATCH_SIZE, name="patch_embed")
        self.patch_embed.build((None, None, None, input_shape[-1]))
        tokens = (None, None, self.embed_dim)
        self.position = PositionEmbedding(name="position")
        self.position.build(tokens)
        self.blocks = [BinaryViTBlock(self.num_heads, self.mlp_ratio, self.binary, name=f"block{i}")
                       for i in range(self.depth)]
        for block in self.blocks:
            block.build(tokens)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")
        self.norm.build(tokens)

    def tokens(self, images):
        """Patch tokens with class token and positions, ``(B, 1 + ph * pw, C)``, and the grid ``(ph, pw)``.

        The grid is Python ints when the image size is static, else scalar tensors (a graph traced
        for any size, as Keras' TensorFlow predict does after seeing several sizes).
        """
        height, width = images.shape[1], images.shape[2]
        static = height is not None and width is not None
        if not static:
            height, width = ops.shape(images)[1], ops.shape(images)[2]
        grid = patch_grid(height, width)
        if not static:  # one side may still be a Python int: a layer call takes all tensors or none
            grid = tuple(ops.convert_to_tensor(side, "int32") for side in grid)
        size = (PATCH_SIZE * grid[0], PATCH_SIZE * grid[1])
        if not static or (height, width) != size:  # the half-pixel resize to the same size is the identity
            images = resize_bilinear_half_pixel(images, size)
        patches = ops.reshape(self.patch_embed(images), (-1, grid[0] * grid[1], self.embed_dim))
        return self.position(patches, grid=grid), grid

    def call(self, images):
        x, grid = self.tokens(images)
        features = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index >= self.depth - FEATURE_BLOCKS:
                features.append(ops.reshape(self.norm(x)[:, 1:], (-1, *grid, self.embed_dim)))
        return features

    def compute_output_shape(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        grid = patch_grid(height, width) if height is not None and width is not None else (None, None)
        return [(input_shape[0], *grid, self.embed_dim)] * FEATURE_BLOCKS

    def get_config(self):
        return {**super().get_config(), "embed_dim": self.embed_dim, "depth": self.depth,
                "num_heads": self.num_heads, "mlp_ratio": self.mlp_ratio, "binarization": self.binarization}
