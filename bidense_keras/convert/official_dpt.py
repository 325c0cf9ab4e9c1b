"""The authors' DPT checkpoints (binary DINOv2 ViT + DPT decoder): names, layouts, architecture.

The authors' ``state_dict`` names (``backbone.blocks.N...`` for the ViT, ``scratch...`` for the decoder) map
to this package's layers by name; kernels are transposed from PyTorch's layouts to Keras'.
"""

import re

import numpy as np

from bidense_keras.convert.assign import assign_checked
from bidense_keras.convert.checkpoint_io import CheckpointError
from bidense_keras.models import DPT

STEM = "backbone.patch_embed.proj.weight"
# Stored but never used by the authors' forward pass.
UNUSED_PREFIXES = ("backbone.mask_token", "scratch.refinenet4.resConfUnit1.")
HEAD_WIDTH = 64  # DINOv2's attention head width (ViT-S/B/L/g: 6/12/16/24 heads)


def _linear_kernel(array):
    """PyTorch Linear ``(out, in)`` -> Keras ``(in, out)``."""
    return np.transpose(array)


def _conv_kernel(array):
    """OIHW -> HWIO."""
    return np.transpose(array, (2, 3, 1, 0))


def _prelu(array):
    """``(C,)`` -> Keras PReLU alpha ``(1, 1, C)``."""
    return np.reshape(array, (1, 1, -1))


def _flat(array):
    """``(C, 1)`` or ``(C,)`` -> ``(C,)``."""
    return np.reshape(array, (-1,))


def _same(array):
    return array


def _transposed_conv_kernel(array):
    """PyTorch ConvTranspose2d ``(cin, cout, kh, kw)`` -> Keras ``(kh, kw, cout, cin)``."""
    return np.transpose(array, (2, 3, 1, 0))


def _per_channel(array):
    """``(1, C, 1, 1)`` or ``(C,)`` -> ``(C,)``."""
    return np.reshape(array, (-1,))


def _bidense_entries(prefix, layer, kernel_name="conv.weight"):
    """A BiDense conv: DAB parameters, kernel (and conv bias), BatchNorm with its statistics."""
    layout = _transposed_conv_kernel if kernel_name == "conv_transpose.weight" else _conv_kernel
    entries = {f"{prefix}.binarizer.{name}": (getattr(layer.binarizer, name), _per_channel) for name in ("alpha", "k", "b")}
    entries[f"{prefix}.{kernel_name}"] = (layer.kernel, layout)
    if layer.use_bias:
        entries[f"{prefix}.conv.bias"] = (layer.bias, _same)
    norm = layer.norm
    entries.update({f"{prefix}.norm.weight": (norm.gamma, _same), f"{prefix}.norm.bias": (norm.beta, _same),
                    f"{prefix}.norm.running_mean": (norm.moving_mean, _same),
                    f"{prefix}.norm.running_var": (norm.moving_variance, _same)})
    return entries


def _norm_entries(prefix, layer):
    return {f"{prefix}.weight": (layer.gamma, _same), f"{prefix}.bias": (layer.beta, _same)}


def _linear_entries(prefix, dense):
    entries = {f"{prefix}.weight": (dense.kernel, _linear_kernel), f"{prefix}.bias": (dense.bias, _same)}
    if dense.scale_mode == "learned":
        entries[f"{prefix}.scaling_factor"] = (dense.scale, _flat)
    return entries


def vit_weight_map(backbone, prefix="backbone"):
    """``{authors' name: (variable, layout change)}`` for a built :class:`~bidense_keras.models.BinaryViTBackbone`."""
    entries = {
        f"{prefix}.cls_token": (backbone.position.cls_token, _same),
        f"{prefix}.pos_embed": (backbone.position.pos_embed, _same),
        f"{prefix}.patch_embed.proj.weight": (backbone.patch_embed.kernel, _conv_kernel),
        f"{prefix}.patch_embed.proj.bias": (backbone.patch_embed.bias, _same),
        **_norm_entries(f"{prefix}.norm", backbone.norm),
    }
    for index, block in enumerate(backbone.blocks):
        name = f"{prefix}.blocks.{index}"
        entries.update({
            **_norm_entries(f"{name}.norm1", block.norm1),
            **_norm_entries(f"{name}.norm2", block.norm2),
            f"{name}.ls1.gamma": (block.ls1.gamma, _same),
            f"{name}.ls2.gamma": (block.ls2.gamma, _same),
            **_linear_entries(f"{name}.attn.qkv", block.attn.qkv),
            **_linear_entries(f"{name}.attn.proj", block.attn.proj),
            **_linear_entries(f"{name}.mlp.fc1", block.fc1),
            **_linear_entries(f"{name}.mlp.fc2", block.fc2),
        })
    return entries


def decoder_weight_map(model):
    """``{authors' name: (variable, layout change)}`` for the DPT decoder and head of a built model.

    Layer names are those of :func:`bidense_keras.models.dpt.decoder.dpt_decoder` and :mod:`bidense_keras.models.heads`.
    """
    layer = model.get_layer
    entries = {}
    for index in range(4):
        entries.update(_bidense_entries(f"projects.{index}", layer(f"dpt_reassemble_project{index}")))
        entries.update(_bidense_entries(f"scratch.layer{index + 1}_rn", layer(f"dpt_layer{index + 1}_rn")))
    entries.update(_bidense_entries("resize_layers.0.conv", layer("dpt_reassemble_up0"), "conv_transpose.weight"))
    entries.update(_bidense_entries("resize_layers.1.conv", layer("dpt_reassemble_up1"), "conv_transpose.weight"))
    entries.update(_bidense_entries("resize_layers.3.conv", layer("dpt_reassemble_down3")))
    for level in range(1, 5):
        for unit in (1, 2) if level < 4 else (2,):  # refinenet4's first unit is never called
            name, prefix = f"dpt_refinenet{level}_unit{unit}", f"scratch.refinenet{level}.resConfUnit{unit}"
            for step in (1, 2):
                entries.update(_bidense_entries(f"{prefix}.conv{step}", layer(f"{name}_conv{step}")))
                entries[f"{prefix}.prelu{step}.weight"] = (layer(f"{name}_prelu{step}").alpha, _prelu)
                entries[f"{prefix}.move{step}.bias"] = (layer(f"{name}_move{step}").bias, _per_channel)
    entries.update(_bidense_entries("scratch.output_conv1", layer("head_upsample_conv")))
    entries.update(_bidense_entries("scratch.output_conv2.0", layer("head_conv")))
    final = layer("head_logits" if model.task == "segmentation" else "head_depth")
    entries["scratch.output_conv2.2.weight"] = (final.kernel, _conv_kernel)
    entries["scratch.output_conv2.2.bias"] = (final.bias, _same)
    return entries


def _require(state_dict, name):
    if name not in state_dict:
        raise CheckpointError(f"Checkpoint is missing tensor {name!r}.")
    return state_dict[name]


def infer_architecture(state_dict, task=None, max_depth=10.0, num_heads=None):
    """:class:`~bidense_keras.models.DPT` keyword arguments inferred from an (unprefixed) DPT state dict.

    Width, depth, decoder width, reassemble widths, task and classes come from tensor shapes; the
    heads do not (``qkv`` is ``(3C, C)`` whatever they are): ``num_heads`` defaults to
    ``embed_dim // 64``, DINOv2's head width, and is required when that does not divide.
    """
    embed_dim = int(_require(state_dict, "backbone.cls_token").shape[-1])
    blocks = {int(match.group(1)) for name in state_dict
              if (match := re.match(r"backbone\.blocks\.(\d+)\.", name))}
    if num_heads is None:
        if embed_dim % HEAD_WIDTH:
            raise CheckpointError(f"embed_dim {embed_dim} is not a multiple of DINOv2's head width {HEAD_WIDTH}: "
                                  "pass num_heads (the checkpoint's shapes do not tell it).")
        num_heads = embed_dim // HEAD_WIDTH
    outputs = int(_require(state_dict, "scratch.output_conv2.2.weight").shape[0])
    task = task or ("depth" if outputs == 1 else "segmentation")
    architecture = {
        "task": task, "embed_dim": embed_dim, "depth": len(blocks), "num_heads": int(num_heads),
        "features": int(_require(state_dict, "scratch.layer1_rn.conv.weight").shape[0]),
        "out_channels": tuple(int(_require(state_dict, f"projects.{i}.conv.weight").shape[0]) for i in range(4)),
    }
    architecture.update({"num_classes": outputs} if task == "segmentation" else {"max_depth": float(max_depth)})
    return architecture


def from_state_dict(state_dict, task=None, max_depth=10.0, include_preprocessing=True, num_heads=None, **kwargs):
    """A :class:`~bidense_keras.models.DPT` with the weights of an (unprefixed) DPT state dict.

    Raises:
        CheckpointError: missing, unexpected or misshapen tensors (nothing is assigned then).
    """
    model = DPT(**infer_architecture(state_dict, task, max_depth, num_heads),
                include_preprocessing=include_preprocessing, **kwargs)
    assign_checked({**vit_weight_map(model.backbone), **decoder_weight_map(model)}, state_dict, UNUSED_PREFIXES)
    return model
