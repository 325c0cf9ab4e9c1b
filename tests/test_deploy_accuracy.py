"""The report table of benchmarks/deploy_accuracy.py (its measurements use the tested evaluate/export)."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the benchmark's own runs

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "deploy_accuracy.py"


def test_markdown_table_lists_each_metric_and_the_output_errors():
    spec = importlib.util.spec_from_file_location("deploy_accuracy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    errors = {"tflite_max_abs_error": 2.9213, "tflite_mean_abs_error": 0.06162, "tflite_abs_rel": 0.00123,
              "rounding_max_abs_error": 2.5, "rounding_mean_abs_error": 0.106, "rounding_abs_rel": 0.002}
    results = {"depth_preset": {"task": "depth", "keras": {"d1": 0.5692, "abs_rel": 0.2973, "rmse": 0.9958},
                                "as_exported": {"d1": 0.55, "abs_rel": 0.31, "rmse": 1.0},
                                "flatbuffer": {"d1": 0.5501, "abs_rel": 0.3101, "rmse": 1.0002}, **errors}}
    lines = module.markdown_table(results).splitlines()
    assert lines[2:5] == ["| depth_preset | d1 | 0.569 | 0.550 | 0.550 |",
                          "| depth_preset | abs_rel | 0.297 | 0.310 | 0.310 |",
                          "| depth_preset | rmse | 0.996 | 1.000 | 1.000 |"]
    assert lines[-1] == "| depth_preset | 2.92 / 0.0616 | 0.0012 | 2.5 / 0.106 | 0.0020 |"
