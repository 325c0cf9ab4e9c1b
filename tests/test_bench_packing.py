"""benchmarks/bench_packing.py: float32 .h5 against packed .npz, sizes and load times."""

import sys

import pytest

from bidense_keras import model_stats
from bidense_keras.loader import load
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # the benchmark's own runs

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import bench_packing  # noqa: E402


def test_the_demo_model_packs_to_within_a_quarter_of_its_1_bit_limit():
    """The excess is the .npz's per-array headers (~300 bytes for each of 331 arrays)."""
    row = bench_packing.measure("bidense_upernet_demo_rooms_seg", repeats=1)
    assert row["binary_weights"] == model_stats(load("bidense_upernet_demo_rooms_seg"))["binary_params"]
    assert row["limit_bytes"] < row["packed_bytes"] < 1.25 * row["limit_bytes"]
    assert row["h5_bytes"] > 15 * row["packed_bytes"]
    assert row["h5_load_s"] > 0 and row["packed_load_s"] > 0


def test_the_table_gives_sizes_ratios_and_load_times():
    row = {"h5_bytes": 10_610_280, "packed_bytes": 638_498, "limit_bytes": 560_000, "lce_bytes": 1_030_424,
           "h5_load_s": 0.25, "packed_load_s": 0.05}
    lines = bench_packing.markdown_table({"demo seg": row, "demo depth": {**row, "lce_bytes": None}}).splitlines()
    assert lines[2] == "| demo seg | 10.61 MB | 0.64 MB | 16.6× | 0.56 MB (18.9×) | 1.03 MB | 250 ms | 50 ms |"
    assert lines[3].split("|")[6].strip() == "—"
