"""Learning-rate schedules of the paper's recipe."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="bidense_keras")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """One-cycle schedule with cosine annealing, as PyTorch's ``OneCycleLR`` (two phases).

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of ``total_steps``, then falls to ``max_lr / (div_factor *
    final_div_factor)`` at the last step, both by half-cosines.

    Args:
        max_lr: peak learning rate.
        total_steps: optimizer steps of the whole run.
        pct_start: fraction of the steps spent rising.
        div_factor: ``max_lr / initial_lr``.
        final_div_factor: ``initial_lr / final_lr``.
        steps_per_update: optimizer iterations per update; with gradient accumulation over K
            batches Keras counts every batch, and the schedule advances once per K (per update,
            as PyTorch's scheduler does).
    """

    def __init__(self, max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4, steps_per_update=1):
        if total_steps < 2:
            raise ValueError(f"OneCycle needs at least 2 steps; got total_steps={total_steps}.")
        self.steps_per_update = int(steps_per_update)
        self.max_lr = float(max_lr)
        self.total_steps = int(total_steps)
        self.pct_start = float(pct_start)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, step):
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        rise_end = float(max(self.pct_start * self.total_steps - 1, 1))
        fall_end = float(self.total_steps - 1)
        step = ops.cast(step, "float32")
        if self.steps_per_update > 1:
            step = ops.floor(step / self.steps_per_update)
        step = ops.minimum(step, fall_end)

        def cosine(start, end, fraction):
            return end + (start - end) / 2.0 * (1.0 + ops.cos(math.pi * fraction))

        rising = cosine(initial, self.max_lr, step / rise_end)
        falling = cosine(self.max_lr, final, (step - rise_end) / (fall_end - rise_end))
        return ops.where(step <= rise_end, rising, falling)

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "steps_per_update": self.steps_per_update,
        }
