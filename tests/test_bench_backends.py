"""benchmarks/bench_backends.py: one process per backend and binarization, a JSON report and its table."""

import json
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # the benchmark's own runs

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import bench_backends  # noqa: E402


def test_each_backend_is_measured_in_its_own_process(tmp_path):
    out = tmp_path / "backends.json"
    status = bench_backends.main(["--tiny", "--backends", "tensorflow", "torch", "--size", "32", "--batch", "2",
                                  "--warmup", "0", "--repeats", "1", "--out", str(out)])
    assert status == 0
    report = json.loads(out.read_text())
    measured = [(r["backend"], r["environment"]["backend"], r["binarization"]) for r in report["results"]]
    assert measured == [("tensorflow", "tensorflow", "bidense"), ("tensorflow", "tensorflow", "fp32"),
                        ("torch", "torch", "bidense"), ("torch", "torch", "fp32")]
    assert all(r["train_step"]["median_s"] > 0 and r["peak_rss_mb"] > 0 for r in report["results"])
    assert not any(r["jit_compile"] for r in report["results"])  # auto: no XLA on a TF CPU, eager torch
    table = out.with_suffix(".md").read_text().splitlines()
    assert len(table) == 2 + 4 and table[2].startswith("| tensorflow | bidense |")
    assert table[3].endswith("| 1.00 |")  # fp32 against itself


def test_tensorflow_with_xla_is_a_setting_of_its_own_at_a_non_square_size(tmp_path):
    out = tmp_path / "xla.json"
    status = bench_backends.main(["--tiny", "--backends", "tensorflow-xla", "--binarizations", "bidense",
                                  "--size", "32", "48", "--batch", "1", "--warmup", "0", "--repeats", "1",
                                  "--out", str(out)])
    assert status == 0
    (result,) = json.loads(out.read_text())["results"]
    assert (result["backend"], result["environment"]["backend"], result["jit_compile"]) == ("tensorflow-xla", "tensorflow", True)
    table = out.with_suffix(".md").read_text().splitlines()
    assert "train step 1×32×48 (s)" in table[0] and table[2].startswith("| tensorflow-xla | bidense |")


def test_the_benchmarked_upernet_backbones_are_presets_rows():
    from bidense_keras.presets import BACKBONES

    assert all(BACKBONES[name][0] == "upernet" for name in bench_backends.bench_speed.UPERNET_BACKBONES)
