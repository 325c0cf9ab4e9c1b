"""The learning-curve report of a demo-training schedule (benchmarks/learning_curves.py)."""

import importlib
import json
from pathlib import Path

import pytest


pytestmark = pytest.mark.slow  # the benchmark's own runs

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def learning_curves(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("learning_curves")
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    return module


def _log(work, run, text):
    (work / "runs" / run).mkdir(parents=True)
    (work / "runs" / run / "log.csv").write_text(text)


def test_curves_per_run_with_held_out_values_where_measured(learning_curves, tmp_path):
    work = tmp_path / "work"
    _log(work, "segmentation_bidense", "epoch,epoch_seconds,loss,mean_iou,val_mean_iou\n"
         "0,10.0,1.1,0.19,NA\n1,9.0,0.8,0.25,NA\n1,9.5,0.79,0.26,0.3\n2,9.0,0.7,0.31,0.36\n")  # epoch 1 re-trained
    _log(work, "depth_fp32", "epoch,abs_rel,epoch_seconds,loss,val_abs_rel,val_d1\n0,0.5,5.0,4.8,0.45,NA\n1,nan,5.0,nan,NA,NA\n")
    _log(work, "depth_bidense", "epoch,loss\n")  # started, no epoch finished yet
    assert learning_curves.main(["--schedule", "converged", "--work-dir", str(work)]) == 0

    report = json.loads((tmp_path / "results" / "demo_training_converged_curves.json").read_text())
    seg = report["runs"]["segmentation_bidense"]
    assert seg["epoch"] == [1, 2, 3] and seg["mean_iou"] == [0.19, 0.26, 0.31]
    assert seg["val_mean_iou"] == [None, 0.3, 0.36]
    assert sorted(report["runs"]) == ["depth_fp32", "segmentation_bidense"]
    assert report["runs"]["depth_fp32"]["loss"] == [4.8, None]  # a diverged epoch is null, not NaN
    assert "val_d1" not in report["runs"]["depth_fp32"]  # never measured
    png = (tmp_path / "results" / "demo_training_converged_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_no_log_is_an_error_not_an_empty_report(learning_curves, tmp_path, capsys):
    assert learning_curves.main(["--schedule", "dpt", "--work-dir", str(tmp_path / "empty")]) == 1
    assert "no run of the dpt schedule has a log yet" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_a_run_without_a_log_keeps_its_committed_curves(learning_curves, tmp_path):
    """Logs of runs trained in an earlier checkout are gone; their curves stay, a new log replaces a run's."""
    results = tmp_path / "results"
    results.mkdir()
    committed = {"segmentation_bidense": {"epoch": [1, 2], "mean_iou": [0.2, 0.3]},
                 "segmentation_fp32": {"epoch": [1], "mean_iou": [0.25]}}
    (results / "demo_training_converged_curves.json").write_text(json.dumps({"runs": committed}))
    work = tmp_path / "work"
    _log(work, "segmentation_fp32", "epoch,mean_iou\n0,0.26\n1,0.33\n")  # trained again from the start
    assert learning_curves.main(["--schedule", "converged", "--work-dir", str(work)]) == 0
    runs = json.loads((results / "demo_training_converged_curves.json").read_text())["runs"]
    assert runs == {"segmentation_bidense": committed["segmentation_bidense"],
                    "segmentation_fp32": {"epoch": [1, 2], "mean_iou": [0.26, 0.33]}}
