"""benchmarks/precision.py: a preset evaluated under float32 and mixed_bfloat16 on the same rooms."""

import json
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # the benchmark's own runs

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import precision  # noqa: E402


def test_both_policies_are_scored_and_compared(tmp_path):
    out = tmp_path / "precision.json"
    assert precision.main(["--presets", "bidense_upernet_demo_rooms_seg", "--samples", "1", "--out", str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert set(result["float32"]) >= {"mIoU", "pixAcc"} and set(result["mixed_bfloat16"]) >= {"mIoU", "pixAcc"}
    assert 0.0 <= result["pixels_with_another_class"] < 0.5  # bf16 changes some pixels, not the picture
    assert "| bidense_upernet_demo_rooms_seg | mIoU |" in out.with_suffix(".md").read_text()
