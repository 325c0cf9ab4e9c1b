import numpy as np
import pytest

from bidense_keras.train.schedules import OneCycle


def test_one_cycle_endpoints_and_peak():
    schedule = OneCycle(max_lr=1e-3, total_steps=101, pct_start=0.3)
    # PyTorch OneCycleLR: phase 1 ends at step 0.3 * 101 - 1 = 29.3, phase 2 at step 100.
    assert float(schedule(0)) == pytest.approx(1e-3 / 25, rel=1e-5)
    assert float(schedule(29.3)) == pytest.approx(1e-3, rel=1e-5)
    assert float(schedule(100)) == pytest.approx(1e-3 / 25 / 1e4, rel=1e-5)
    assert float(schedule(500)) == pytest.approx(1e-3 / 25 / 1e4, rel=1e-5)  # clamped after the end


def test_one_cycle_half_cosine_midpoints():
    schedule = OneCycle(max_lr=1.0, total_steps=11, pct_start=0.5, div_factor=10, final_div_factor=1)
    # rise: 0.1 -> 1 over steps 0..4.5; at 2.25 the cosine is halfway: (0.1 + 1) / 2.
    assert float(schedule(2.25)) == pytest.approx(0.55, rel=1e-5)
    # fall: 1 -> 0.1 over steps 4.5..10; at 7.25: 0.1 + 0.9 / 2 * (1 + cos(pi / 2)) = 0.55.
    assert float(schedule(7.25)) == pytest.approx(0.55, rel=1e-5)
    values = [float(schedule(s)) for s in range(11)]
    assert np.argmax(values) in (4, 5) and max(values) <= 1.0


def test_one_cycle_serializes_and_rejects_tiny_runs():
    schedule = OneCycle(3e-4, 1000)
    assert OneCycle.from_config(schedule.get_config()).get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="at least 2 steps"):
        OneCycle(1e-3, 1)


def test_one_cycle_advances_once_per_update_when_gradients_accumulate():
    per_update = OneCycle(max_lr=1e-3, total_steps=10)
    accumulated = OneCycle(max_lr=1e-3, total_steps=10, steps_per_update=4)
    for batch in range(40):  # Keras counts batches; the update after batches 4u..4u+3 uses step u
        assert float(accumulated(batch)) == pytest.approx(float(per_update(batch // 4)), rel=1e-6)
