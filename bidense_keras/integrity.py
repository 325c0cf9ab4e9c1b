"""Numbers that cannot be right stop the work with a named error instead of flowing on.

* :func:`check_finite_weights`: every weight finite and every BatchNorm variance >= 0, after a
  model is loaded, converted or trained (a NaN weight makes every prediction NaN);
* :func:`check_positive_int`, :func:`check_positive_float`: model and recipe arguments
  (``num_classes=True``, ``depths=(-1, ...)``, ``max_depth=inf``, ``lr=nan`` are refused);
* :class:`StopOnNonFiniteLoss`: training stops at the first NaN/inf loss with a named error.
"""

import numbers

import keras
import numpy as np

from bidense_keras.errors import NonFiniteLossError, NonFiniteWeightsError

VARIANCE_NAMES = ("moving_variance",)  # BatchNorm's running variance: must be >= 0


def check_finite_weights(model, source):
    """Raises :class:`NonFiniteWeightsError` naming the variables of ``model`` that hold NaN/inf or a negative variance.

    Args:
        model: a Keras model.
        source: where the weights came from, for the message (a file, ``"the checkpoint"``).
    """
    bad = []
    for variable in model.weights:
        values = np.asarray(variable)
        if not np.issubdtype(values.dtype, np.floating):
            continue
        non_finite = values.size - int(np.isfinite(values).sum())
        if non_finite:
            bad.append(f"{variable.path} ({non_finite} NaN/inf of {values.size})")
        elif variable.path.rsplit("/", 1)[-1] in VARIANCE_NAMES and (values < 0).any():
            bad.append(f"{variable.path} ({int((values < 0).sum())} negative variance(s))")
    if bad:
        listed = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise NonFiniteWeightsError(f"The weights from {source} cannot be right: {listed}. Every prediction would be "
                                    "NaN or wrong: use an earlier checkpoint or retrain.")


def check_positive_int(name, value, minimum=1):
    """Raises a ValueError unless ``value`` is an integer (not a bool) >= ``minimum``; returns it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_positive_float(name, value):
    """Raises a ValueError unless ``value`` is a finite real number > 0 (not a bool); returns it as ``float``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
    return float(value)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises :class:`NonFiniteLossError` at the first batch whose loss is NaN or inf.

    Unlike ``keras.callbacks.TerminateOnNaN``, which ends ``fit`` as if it had finished (so the diverged
    weights would be saved and evaluated), the error stops the run before any epoch-end checkpoint: the
    last complete checkpoint stays the newest.
    """

    def on_epoch_begin(self, epoch, logs=None):
        """Remembers the epoch for the message."""
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        """Checks ``logs["loss"]``."""
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"The training loss became {float(loss)} at batch {batch} of epoch {getattr(self, '_epoch', 0)}: the "
                "run diverged (a learning rate too high, NaN or out-of-range inputs or labels). Nothing of this step "
                "was saved; lower the learning rate or clean the data, then resume from the last checkpoint."
            )
