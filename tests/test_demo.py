"""The README's demo picture (bidense_keras.demo): which rooms, models and truth it draws."""

import numpy as np
import pytest

from bidense_keras import demo, visualize
from bidense_keras.datasets import synthetic_rooms


class FakeModel:
    """Predicts constant maps: class 1 everywhere, or 2.5 m."""

    def __init__(self, task, class_names=synthetic_rooms.CLASS_NAMES):
        self.task, self.class_names, self.palette, self.max_depth = task, class_names, synthetic_rooms.PALETTE, 10.0

    def predict(self, batch, verbose=0):
        channels = len(self.class_names) if self.task == "segmentation" else 1
        out = np.zeros(batch.shape[:3] + (channels,), np.float32)
        out[..., 1 if self.task == "segmentation" else 0] = 2.5
        return out


@pytest.fixture
def drawn(monkeypatch):
    """Replaces the models with fakes and records what grid_figure is asked to draw."""
    calls = []
    monkeypatch.setattr(demo, "_model", lambda source, task: (FakeModel(task), f"{source}"))

    draw = visualize.grid_figure

    def record(rows, titles, *args):
        calls.append((rows, titles))
        return draw(rows, titles, *args)

    monkeypatch.setattr(visualize, "grid_figure", record)
    return calls


def test_demo_rows_are_rooms_with_their_truth_beside_the_predictions(tmp_path, drawn):
    demo.run_demo(tmp_path / "d.png", height=24, width=32, seed=7, segmentation="segger", depth="depther",
                  scenes=2, truth=True)
    (rows, titles), = drawn
    assert titles == ["synthetic room (held out)", "true classes", "segmentation (segger)", "true depth",
                      "depth (depther)"]
    assert len(rows) == 2
    for seed, row in zip((7, 8), rows):
        scene = synthetic_rooms.render(seed, 24, 32)
        assert [kind for kind, _ in row] == ["image", "labels", "labels", "depth", "depth"]
        np.testing.assert_array_equal(row[0][1], scene["image"])
        np.testing.assert_array_equal(row[1][1], scene["label"])
        np.testing.assert_array_equal(row[2][1], np.ones((24, 32)))  # the fake's class 1
        np.testing.assert_array_equal(row[3][1], scene["depth"])
        np.testing.assert_array_equal(row[4][1], np.full((24, 32), 2.5))
    assert (tmp_path / "d.png").stat().st_size > 1000


def test_demo_without_truth_shows_input_and_predictions(tmp_path, drawn):
    demo.run_demo(tmp_path / "d.png", height=24, width=32)
    (rows, titles), = drawn
    assert len(rows) == 1 and [kind for kind, _ in rows[0]] == ["image", "labels", "depth"]
    assert titles[1:] == [f"segmentation ({demo.DEFAULT_PRESETS['segmentation']})",
                          f"depth ({demo.DEFAULT_PRESETS['depth']})"]


def test_demo_refuses_bad_requests_before_drawing(tmp_path, drawn, monkeypatch):
    for scenes in (0, demo.MAX_SCENES + 1):
        with pytest.raises(ValueError, match="scenes must be between 1 and"):
            demo.run_demo(tmp_path / "d.png", scenes=scenes)
    monkeypatch.setattr(demo, "_model", lambda source, task: (FakeModel(task, ("a", "b", "c")), "merged"))
    with pytest.raises(ValueError, match="synthetic_rooms' classes"):
        demo.run_demo(tmp_path / "d.png", height=24, width=32, truth=True)
    assert drawn == [] and not (tmp_path / "d.png").exists()
