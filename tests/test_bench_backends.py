"""benchmarks/bench_backends.py: one process per backend and binarization, a JSON report and its table."""

import json
import sys

from tests.conftest import REPO_ROOT

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
    table = out.with_suffix(".md").read_text().splitlines()
    assert len(table) == 2 + 4 and table[2].startswith("| tensorflow | bidense |")
    assert table[3].endswith("| 1.00 |")  # fp32 against itself
