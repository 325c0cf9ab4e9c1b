"""The authors' DPT checkpoints (binary DINOv2 ViT + DPT decoder): names and layouts (SPEC_DPT §9)."""

import numpy as np

STEM = "backbone.patch_embed.proj.weight"
# Stored but never used by the authors' forward pass.
UNUSED_PREFIXES = ("backbone.mask_token",)


def _linear_kernel(array):
    """PyTorch Linear ``(out, in)`` -> Keras ``(in, out)``."""
    return np.transpose(array)


def _conv_kernel(array):
    """OIHW -> HWIO."""
    return np.transpose(array, (2, 3, 1, 0))


def _flat(array):
    """``(C, 1)`` or ``(C,)`` -> ``(C,)``."""
    return np.reshape(array, (-1,))


def _same(array):
    return array


def _norm_entries(prefix, layer):
    return {f"{prefix}.weight": (layer.gamma, _same), f"{prefix}.bias": (layer.beta, _same)}


def _linear_entries(prefix, dense):
    entries = {f"{prefix}.weight": (dense.kernel, _linear_kernel), f"{prefix}.bias": (dense.bias, _same)}
    if dense.scale_mode == "learned":
        entries[f"{prefix}.scaling_factor"] = (dense.scale, _flat)
    return entries


def vit_weight_map(backbone, prefix="backbone"):
    """``{authors' name: (variable, layout change)}`` for a built :class:`~bidense_keras.backbones.vit.BinaryViTBackbone`."""
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
