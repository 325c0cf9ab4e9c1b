"""benchmarks/bench_dpt_export.py: what an exported DPT keeps float, and its size against float TFLite."""

import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # the benchmark's own runs

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import bench_dpt_export  # noqa: E402


def test_the_table_gives_sizes_ratio_and_the_float_ops_kept():
    row = {"binary_params": 33_269_760, "binary_convs": 145, "lce_bytes": 8_000_000, "float_tflite_bytes": 140_000_000,
           "float_ops_kept": {"CONV_2D": 2, "TRANSPOSE_CONV": 2}}
    lines = bench_dpt_export.markdown_table({"ViT-S": row}).splitlines()
    assert lines[2] == "| ViT-S | 33,269,760 | 145 | 8.00 MB | 140.00 MB | 17.5× | CONV_2D 2, TRANSPOSE_CONV 2 |"
    assert any(line.startswith("- `TRANSPOSE_CONV`:") for line in lines)


def test_the_demo_dpt_exports_with_only_the_documented_float_ops():
    row = bench_dpt_export.measure("bidense_dpt_demo_rooms_seg", input_size=(56, 56))
    assert row["binary_convs"] > 0 and row["lce_bytes"] < row["float_tflite_bytes"]
    compute = {"CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "BATCH_MATMUL", "DEPTHWISE_CONV_2D"}
    assert {op for op in row["ops"] if op in compute} <= set(bench_dpt_export.FLOAT_OPS)
    assert row["float_ops_kept"]["CONV_2D"] == 2 and row["float_ops_kept"]["TRANSPOSE_CONV"] == 2
