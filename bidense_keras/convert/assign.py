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
        CheckpointError: naming missing tensors, unexpected tensors, shape mismatches, or values that
            cannot be right (NaN/inf, a negative BatchNorm variance).
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
            try:
                value = transform(np.asarray(state_dict[name], dtype="float32"))
            except ValueError:  # a tensor of another rank than the layout change expects
                problems.append(f"{name} has shape {np.shape(state_dict[name])}, the model needs "
                                f"{tuple(variable.shape)} (Keras layout)")
                continue
            if tuple(value.shape) != tuple(variable.shape):
                problems.append(f"{name} has shape {state_dict[name].shape}, the model needs "
                                f"{tuple(variable.shape)} (Keras layout)")
            values[name] = value
    if problems:
        raise CheckpointError("Checkpoint does not fit the model: " + "; ".join(problems))
    broken = [name for name, value in values.items()
              if not np.isfinite(value).all() or (name.endswith("running_var") and (value < 0).any())]
    if broken:
        raise CheckpointError(f"Checkpoint values cannot be right: {len(broken)} tensor(s) hold NaN/inf or a negative "
                              f"BatchNorm variance ({', '.join(broken[:5])}); every prediction would be NaN.")
    for name, (variable, _) in entries.items():
        variable.assign(values[name])
