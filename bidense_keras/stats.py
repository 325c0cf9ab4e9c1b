"""Parameter, MAC and size counts of a model, separating binary from float parts."""

import numpy as np

from bidense_keras import compat
from bidense_keras.compat import walk_layers
from bidense_keras.layers import BiDenseConv2D, BiDenseConvTranspose2D, BinaryDense
from bidense_keras.models.dpt.vit import PATCH_SIZE, BinaryViTBackbone, patch_grid


def _is_binary(layer):
    """Binary kernels: BiDense convolutions with a kernel binarizer, and the binary ViT's linear layers."""
    return isinstance(layer, BinaryDense) or (isinstance(layer, BiDenseConv2D) and layer.kernel_binarizer is not None)


def vit_macs(backbone, input_size):
    """``{"binary", "float"}`` multiply-accumulates of one image through a ViT backbone.

    Per block over ``T = 1 + ph * pw`` tokens of width ``C``: the linear layers (qkv, proj, fc1,
    fc2: ``T * C * C * (4 + 2 * mlp_ratio)``) and the two attention products (``q kᵀ`` and ``A v``:
    ``2 * T * T * C``), binary in a binary backbone (their operands are signs and 0/1 maps); the
    patch embedding (``ph * pw * C * 14 * 14 * 3``) is float.
    """
    rows, columns = patch_grid(*input_size)
    tokens, width = 1 + rows * columns, backbone.embed_dim
    per_block = tokens * width * width * (4 + 2 * backbone.mlp_ratio) + 2 * tokens * tokens * width
    patches = rows * columns * width * PATCH_SIZE * PATCH_SIZE * 3
    blocks = backbone.depth * per_block
    return {"binary": blocks, "float": patches} if backbone.binary else {"binary": 0, "float": patches + blocks}


def _conv_macs(layer, output_shape):
    """Multiply-accumulates of one call of a conv layer producing ``output_shape``."""
    if isinstance(layer, BiDenseConvTranspose2D):  # kernel = stride: each output sees one input pixel
        return int(np.prod(output_shape[1:])) * layer.kernel.shape[3]
    kernel_h, kernel_w, in_channels = layer.kernel.shape[:3]
    per_output = kernel_h * kernel_w * (1 if getattr(layer, "depthwise", False) else in_channels)
    return int(np.prod(output_shape[1:])) * per_output


def _conv_call_shapes(model, input_size):
    """``{layer name: [output shape of each call]}`` for every conv at a fixed input size."""
    height, width = input_size
    fixed = type(model).from_config({**model.get_config(), "input_shape": (height, width, 3)})
    shapes = {}
    for layer in walk_layers(fixed):
        if hasattr(layer, "kernel") and len(layer.kernel.shape) == 4:
            shapes[layer.name] = compat.call_output_shapes(layer)  # the shared FPN conv has three calls
    return shapes


def model_stats(model, input_size=(480, 480)):
    """Counts of binary and float parameters and MACs, and the 1-bit packed size.

    Args:
        model: a :class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.models.DPT`.
        input_size: ``(height, width)`` used for the MAC count.

    Returns:
        dict with ``binary_params`` (binary kernel weights: convolutions and ViT linear layers), ``float_params``
        (trainable parameters that are not binary kernels; BatchNorm moving
        statistics excluded; shared layers counted once), ``binary_macs`` and
        ``float_macs`` (multiply-accumulates of binary / float convolutions, and of the ViT's
        layers, see :func:`vit_macs`, for one image), and ``size_bytes_packed`` (binary weights at 1 bit, float
        parameters at 4 bytes).
    """
    layers = walk_layers(model)
    binary_params = sum(int(np.prod(layer.kernel.shape)) for layer in layers if _is_binary(layer))
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    macs = {"binary": 0, "float": 0}
    call_shapes = _conv_call_shapes(model, input_size)
    for layer in layers:
        for output_shape in call_shapes.get(layer.name, []):
            macs["binary" if _is_binary(layer) else "float"] += _conv_macs(layer, output_shape)
        if isinstance(layer, BinaryViTBackbone):
            for kind, count in vit_macs(layer, input_size).items():
                macs[kind] += count
    float_params = trainable - binary_params
    return {
        "binary_params": binary_params,
        "float_params": float_params,
        "binary_macs": macs["binary"],
        "float_macs": macs["float"],
        "size_bytes_packed": (binary_params + 7) // 8 + 4 * float_params,
    }
