"""Convert the BiDense authors' PyTorch checkpoints into Keras models.

The authors' module names (``backbone.stages.0.0.dwconv``, ``PPN.bottleneck.0``,
``FPN.smooth_conv.0``, ``out_conv2.2``...) are mapped to this package's layer
names by :func:`official_weight_map`; the architecture is inferred from tensor
names and shapes by :func:`infer_architecture`.
"""

import re

import numpy as np

from bidense_keras.convert import official_dpt
from bidense_keras.convert.assign import assign_checked
from bidense_keras.convert.checkpoint_io import CheckpointError, load_state_dict
from bidense_keras.models import UperNet

STEM = "backbone.downsample_layers.0.0.weight"
IGNORED_PREFIXES = ("backbone.norm.", "backbone.head.")
# The authors' FPN lists its one shared smooth conv three times; .1 and .2 repeat .0.
SHARED_ALIASES = ("FPN.smooth_conv.1.", "FPN.smooth_conv.2.")


def _conv_kernel(array):
    """OIHW -> HWIO."""
    return np.transpose(array, (2, 3, 1, 0))


def _depthwise_kernel(array):
    """(C, 1, kh, kw) -> (kh, kw, C, 1)."""
    return np.transpose(array, (2, 3, 0, 1))


def _per_channel(array):
    """(1, C, 1, 1) or (C,) -> (C,)."""
    return np.reshape(array, (-1,))


def _prelu(array):
    """(C,) -> Keras PReLU alpha (1, 1, C)."""
    return np.reshape(array, (1, 1, -1))


def _same(array):
    return array


def _batch_norm_entries(prefix, layer):
    return {
        f"{prefix}.weight": (layer.gamma, _same),
        f"{prefix}.bias": (layer.beta, _same),
        f"{prefix}.running_mean": (layer.moving_mean, _same),
        f"{prefix}.running_var": (layer.moving_variance, _same),
    }


def _bidense_entries(prefix, layer):
    entries = {
        f"{prefix}.binarizer.alpha": (layer.binarizer.alpha, _per_channel),
        f"{prefix}.binarizer.k": (layer.binarizer.k, _per_channel),
        f"{prefix}.binarizer.b": (layer.binarizer.b, _per_channel),
        f"{prefix}.conv.weight": (
            layer.kernel,
            _depthwise_kernel if layer.depthwise else _conv_kernel,
        ),
    }
    entries.update(_batch_norm_entries(f"{prefix}.norm", layer.norm))
    return entries


def _layer_table(depths, task):
    """(official prefix, keras layer name, kind) for every module with weights."""
    table = [
        ("backbone.downsample_layers.0.0", "stem_conv", "conv"),
        ("backbone.downsample_layers.0.1", "stem_norm", "norm"),
    ]
    for stage, depth in enumerate(depths):
        if stage > 0:
            table.append((f"backbone.downsample_layers.{stage}.conv", f"downsample{stage}", "bidense"))
        for block in range(depth):
            official, ours = f"backbone.stages.{stage}.{block}", f"stage{stage}_block{block}"
            table += [
                (f"{official}.dwconv", f"{ours}_dwconv", "bidense"),
                (f"{official}.pwconv1", f"{ours}_pwconv1", "bidense"),
                (f"{official}.move", f"{ours}_move", "bias"),
                (f"{official}.act", f"{ours}_act", "prelu"),
                (f"{official}.pwconv2", f"{ours}_pwconv2", "bidense"),
            ]
    for branch in range(4):
        table += [
            (f"PPN.stages.{branch}.1", f"ppm_branch{branch}_conv", "bidense"),
            (f"PPN.stages.{branch}.2", f"ppm_branch{branch}_move", "bias"),
            (f"PPN.stages.{branch}.3", f"ppm_branch{branch}_act", "prelu"),
        ]
    table += [
        ("PPN.bottleneck.0", "ppm_bottleneck", "bidense"),
        ("PPN.bottleneck.1", "ppm_bottleneck_move", "bias"),
        ("PPN.bottleneck.2", "ppm_bottleneck_act", "prelu"),
        ("FPN.conv1x1.0", "fpn_lateral1", "bidense"),
        ("FPN.conv1x1.1", "fpn_lateral2", "bidense"),
        ("FPN.conv1x1.2", "fpn_lateral3", "bidense"),
        ("FPN.smooth_conv.0", "fpn_smooth", "bidense"),
        ("FPN.conv_fusion.0", "fpn_fusion", "bidense"),
        ("FPN.conv_fusion.1", "fpn_fusion_move1", "bias"),
        ("FPN.conv_fusion.2", "fpn_fusion_act", "prelu"),
        ("FPN.conv_fusion.3", "fpn_fusion_move2", "bias"),
        ("out_conv1", "head_upsample_conv", "bidense"),
        ("out_conv2.0", "head_conv", "bidense"),
        ("out_conv2.2", "head_logits" if task == "segmentation" else "head_depth", "conv"),
    ]
    return table


def official_weight_map(model):
    """``{official tensor name: (keras variable, transform)}`` for a BiDense :class:`UperNet`.

    ``transform`` maps an array in PyTorch layout (a weight or its gradient) to the
    variable's Keras layout. Names have no ``module.`` prefix.
    """
    if model.binarization != "bidense":
        raise ValueError(
            f"Official checkpoints are BiDense models; this model uses {model.binarization!r}."
        )
    entries = {}
    for official, ours, kind in _layer_table(model.depths, model.task):
        source = model.backbone if official.startswith("backbone.") else model
        layer = source.get_layer(ours)
        if kind == "bidense":
            entries.update(_bidense_entries(official, layer))
        elif kind == "norm":
            entries.update(_batch_norm_entries(official, layer))
        elif kind == "conv":
            entries[f"{official}.weight"] = (layer.kernel, _conv_kernel)
            entries[f"{official}.bias"] = (layer.bias, _same)
        elif kind == "bias":
            entries[f"{official}.bias"] = (layer.bias, _per_channel)
        else:
            entries[f"{official}.weight"] = (layer.alpha, _prelu)
    return entries


def strip_prefix(state_dict, stem=STEM, family="UperNet"):
    """Removes the wrapper prefix (``module.``, ``model.``...) found before the name ``stem``."""
    stems = [name for name in state_dict if name.endswith(stem)]
    if len(stems) != 1:
        raise CheckpointError(
            f"Not a BiDense {family} checkpoint: expected one tensor named '*{stem}', found {len(stems)}."
        )
    prefix = stems[0][: -len(stem)]
    return {name[len(prefix):]: value for name, value in state_dict.items() if name.startswith(prefix)}


def _require(state_dict, name):
    if name not in state_dict:
        raise CheckpointError(f"Checkpoint is missing tensor {name!r}.")
    return state_dict[name]


def infer_architecture(state_dict, task=None, max_depth=10.0):
    """UperNet keyword arguments inferred from an (unprefixed) official state dict.

    Args:
        state_dict: ``{name: array}`` without the wrapper prefix.
        task: ``"segmentation"`` or ``"depth"``; inferred when None (a single output
            channel means depth).
        max_depth: the depth head's range; it cannot be inferred from tensors.

    Returns:
        dict of ``task, dims, depths, features`` and ``num_classes`` or ``max_depth``.
    """
    if not any(".binarizer.alpha" in name for name in state_dict):
        raise CheckpointError("Not a BiDense checkpoint: no DAB parameters ('*.binarizer.alpha').")
    dims = [_require(state_dict, STEM).shape[0]]
    for stage in (1, 2, 3):
        dims.append(_require(state_dict, f"backbone.downsample_layers.{stage}.conv.conv.weight").shape[0])
    depths = []
    for stage in range(4):
        pattern = re.compile(rf"backbone\.stages\.{stage}\.(\d+)\.dwconv\.conv\.weight$")
        depths.append(sum(1 for name in state_dict if pattern.match(name)))
    outputs = _require(state_dict, "out_conv2.2.weight").shape[0]
    task = task or ("depth" if outputs == 1 else "segmentation")
    architecture = {
        "task": task,
        "dims": tuple(int(d) for d in dims),
        "depths": tuple(depths),
        "features": int(_require(state_dict, "out_conv1.conv.weight").shape[0]) * 2,
    }
    if task == "segmentation":
        architecture["num_classes"] = int(outputs)
    else:
        architecture["max_depth"] = float(max_depth)
    return architecture


def _check_shared_aliases(state_dict):
    for alias in SHARED_ALIASES:
        for name in [n for n in state_dict if n.startswith(alias)]:
            original = "FPN.smooth_conv.0." + name[len(alias):]
            if original in state_dict and not np.array_equal(state_dict[name], state_dict[original]):
                raise CheckpointError(
                    f"{name} differs from {original}; the FPN smooth conv must be one shared layer."
                )


def load_official_weights(model, state_dict):
    """Assigns an (unprefixed) official state dict to ``model``, checking names and shapes.

    Raises:
        CheckpointError: naming missing tensors, unexpected tensors, or shape mismatches.
    """
    _check_shared_aliases(state_dict)
    assign_checked(official_weight_map(model), state_dict, (*IGNORED_PREFIXES, *SHARED_ALIASES))


def from_official_checkpoint(path, task=None, max_depth=10.0, include_preprocessing=True, **kwargs):
    """A ready Keras model from an official BiDense checkpoint (UperNet or DPT family).

    Args:
        path: Lightning ``.ckpt``, PyTorch ``.pth``/``.pt`` state dict, or ``.npz``
            of named arrays. Read without executing pickled code.
        task: ``"segmentation"`` or ``"depth"``; inferred when None.
        max_depth: depth range in metres (not stored in checkpoints; NYUv2 10, KITTI 80).
        include_preprocessing: accept [0, 255] RGB and normalize inside (the
            authors' network takes ImageNet-normalized input; False gives that).
        **kwargs: further :class:`UperNet` arguments (e.g. ``zero_as_positive``).

        num_heads: DPT checkpoints only: attention heads (default ``embed_dim // 64``, DINOv2's head width;
            shapes do not tell the heads).

    Returns:
        :class:`~bidense_keras.models.UperNet` (or :class:`~bidense_keras.models.DPT` for a DPT checkpoint,
        recognised by its ViT patch embedding) with the checkpoint's weights.
    """
    state_dict = load_state_dict(path)
    if any(name.endswith(official_dpt.STEM) for name in state_dict):
        return official_dpt.from_state_dict(strip_prefix(state_dict, official_dpt.STEM, "DPT"), task, max_depth,
                                            include_preprocessing, **kwargs)
    state_dict = strip_prefix(state_dict)
    architecture = infer_architecture(state_dict, task, max_depth)
    model = UperNet(**architecture, include_preprocessing=include_preprocessing, **kwargs)
    load_official_weights(model, state_dict)
    return model
