"""benchmarks/depth_scale.py: metric against median-scaled depth errors."""

import json
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # the benchmark's own runs

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import depth_scale  # noqa: E402


def test_median_scaling_removes_one_scale_per_image_and_ignores_invalid_pixels():
    gt = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 20.0]])  # 0 and 20 m are not valid (max 10)
    rescaled, scale = depth_scale.median_scaled(gt, 2.0 * gt + 7.0 * (gt == 0), 1e-3, 10.0)
    assert scale == 0.5
    np.testing.assert_allclose(rescaled[0], gt[0])
    assert np.isnan(depth_scale.median_scaled(np.zeros((2, 2)), np.ones((2, 2)), 1e-3, 10.0)[1])


def test_a_preset_is_scored_as_predicted_and_median_scaled(tmp_path):
    out = tmp_path / "scale.json"
    assert depth_scale.main(["--presets", "bidense_upernet_demo_rooms_depth_5ep", "--scenes", "2", "--out", str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert set(result["metric"]) == set(result["median_scaled"]) == {"d1", "abs_rel", "rmse"}
    assert result["metric"] != result["median_scaled"] and result["scale_percentiles"]["p50"] > 0
    assert out.with_suffix(".md").read_text().splitlines()[2].startswith("| bidense_upernet_demo_rooms_depth_5ep | ")


def test_the_metric_columns_score_the_rooms_evaluate_scores(tmp_path):
    from bidense_keras.train import experiment

    preset = "bidense_upernet_demo_rooms_depth"
    measured = depth_scale.measure(preset, 3, tmp_path / "rooms")
    card_way = experiment.evaluate(preset, "synthetic_rooms", tmp_path / "rooms", batch_size=3,
                                   synthetic={"val_samples": 3})
    for name in depth_scale.METRICS:
        assert abs(measured["metric"][name] - card_way[name]) < 1e-9, name
