"""Assigning a converted state dict to Keras variables, every name and shape checked first."""

import numpy as np

from bidense_keras.convert.checkpoint_io import CheckpointError


def assign_checked(entries, state_dict, ignored=()):
    """Assigns ``state_dict`` through ``entries`` (``{name: (variable, layout change)}``); all or nothing.

    Args:
        entries: the model's weight map.
        state_dict: ``{name: array}`` without the wrapper prefix.
        ignored: name prefixes the model does not use (no "unexpected tensor" for them).

    Raises:
        CheckpointError: naming missing tensors, unexpected tensors, or shape mismatches.
    """
    unexpected = sorted(name for name in state_dict if name not in entries and not name.startswith(tuple(ignored))
                        and not name.endswith("num_batches_tracked"))
    missing = sorted(name for name in entries if name not in state_dict)
    problems = []
    if missing:
        problems.append(f"missing tensors: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {', '.join(unexpected)}")
    values = {}
    for name, (variable, transform) in entries.items():
        if name in state_dict:
            value = transform(np.asarray(state_dict[name], dtype="float32"))
            if tuple(value.shape) != tuple(variable.shape):
                problems.append(f"{name} has shape {state_dict[name].shape}, the model needs "
                                f"{tuple(variable.shape)} (Keras layout)")
            values[name] = value
    if problems:
        raise CheckpointError("Checkpoint does not fit the model: " + "; ".join(problems))
    for name, (variable, _) in entries.items():
        variable.assign(values[name])
