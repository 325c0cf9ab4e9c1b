"""Conversion of the BiDense authors' PyTorch checkpoints."""

from bidense_keras.convert.checkpoint_io import CheckpointError, load_state_dict
from bidense_keras.convert.official import (
    from_official_checkpoint,
    infer_architecture,
    load_official_weights,
    official_weight_map,
    strip_prefix,
)

__all__ = [
    "CheckpointError",
    "from_official_checkpoint",
    "infer_architecture",
    "load_official_weights",
    "load_state_dict",
    "official_weight_map",
    "strip_prefix",
]
