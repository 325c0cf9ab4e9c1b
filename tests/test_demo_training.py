"""The demo-training script's publishing and report table (benchmarks/demo_training.py)."""

import importlib.util
import json
from pathlib import Path

import pytest

from bidense_keras import registry
from tests.conftest import write_model_folder

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "demo_training.py"


@pytest.fixture
def demo_training(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("demo_training", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path / "repo")
    monkeypatch.setattr(registry, "REGISTRY_PATH", tmp_path / "registry.json")
    return module


def _model_folder(folder, binarization, weights):
    write_model_folder(folder, binarization, weights, input_size=[192, 256])


@pytest.fixture
def measurements(monkeypatch):
    """Records the folders publish() packs and measures (the fake weights of these tests cannot be loaded)."""
    from bidense_keras import publish

    calls = []
    for name in ("pack_folder", "record_held_out_metrics", "record_quick_check"):
        monkeypatch.setattr(publish, name, lambda folder, *args, name=name: calls.append((name, Path(folder).name)))
    return calls


def test_publish_copies_trained_runs_and_refreshes_reported_ones(demo_training, tmp_path, measurements):
    work = tmp_path / "work"
    _model_folder(work / "runs" / "segmentation_fp32" / "model", "fp32", b"new fp32 weights")
    published = tmp_path / "repo" / "weights"
    _model_folder(published / "bidense_upernet_demo_rooms_seg_5ep", "bidense", b"published bidense weights")
    finished = {"segmentation_fp32": {"mIoU": 0.41, "pixAcc": 0.85, "IoU": [0.9], "train_seconds": 1741.6},
                "segmentation_bidense": {"mIoU": 0.35, "pixAcc": 0.82, "train_seconds": 3558.9},
                "segmentation_bnn": {"mIoU": 0.25, "pixAcc": 0.77}}  # bnn has no preset
    demo_training.publish(demo_training.SCHEDULES["ablation"], work, finished)

    registry = json.loads((tmp_path / "registry.json").read_text())
    assert sorted(registry) == ["bidense_upernet_demo_rooms_seg_5ep", "fp32_upernet_demo_rooms_seg_5ep"]
    assert (published / "fp32_upernet_demo_rooms_seg_5ep" / "model.weights.h5").read_bytes() == b"new fp32 weights"
    kept = published / "bidense_upernet_demo_rooms_seg_5ep"
    assert (kept / "model.weights.h5").read_bytes() == b"published bidense weights"
    metadata = json.loads((kept / "metadata.json").read_text())
    assert metadata["metrics"] == {"mIoU": 0.35, "pixAcc": 0.82, "train_seconds": 3558.9}
    assert "binarization `bidense`" in metadata["description"]
    assert "| mIoU | 0.3500 |" in (kept / "README.md").read_text()
    assert registry["bidense_upernet_demo_rooms_seg_5ep"]["files"]["README.md"]["size"] == (kept / "README.md").stat().st_size
    assert measurements == [("record_quick_check", "fp32_upernet_demo_rooms_seg_5ep")]  # the new weights only


def test_publish_leaves_a_preset_whose_card_records_another_run(demo_training, tmp_path, measurements):
    published = tmp_path / "repo" / "weights" / "fp32_upernet_demo_rooms_seg"
    _model_folder(published, "fp32", b"5-epoch fp32 weights")
    metadata = json.loads((published / "metadata.json").read_text())
    (published / "metadata.json").write_text(json.dumps({**metadata, "metrics": {"mIoU": 0.41, "train_seconds": 1741.6}}))
    before = {p.name: p.read_bytes() for p in published.iterdir()}
    reported = {"segmentation_fp32": {"mIoU": 0.72, "train_seconds": 5966.0}}  # converged run, its folder gone
    demo_training.publish(demo_training.SCHEDULES["converged"], tmp_path / "work", reported)

    assert {p.name: p.read_bytes() for p in published.iterdir()} == before
    assert not (tmp_path / "registry.json").exists() and measurements == []


def test_retrain_trains_a_reported_run_again_and_keeps_the_others(demo_training, tmp_path, monkeypatch):
    from bidense_keras.train import experiment

    schedule = demo_training.SCHEDULES["converged"]
    monkeypatch.setattr(demo_training, "RESULTS", tmp_path / "results")
    reported = {"segmentation_fp32": {"mIoU": 0.72}, "depth_fp32": {"d1": 0.80}}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"{schedule.report}.json").write_text(
        json.dumps({**demo_training.settings(schedule), "runs": reported}))
    trained = []

    def fake_train(task, dataset, data_dir, run_dir, binarization, **recipe):
        Path(run_dir).mkdir(parents=True)
        trained.append(f"{task}_{binarization}")
        return {"d1": 0.81}

    monkeypatch.setattr(experiment, "train", fake_train)
    assert demo_training.run_all(schedule, tmp_path / "work", only=["depth_fp32"]) == reported and trained == []
    finished = demo_training.run_all(schedule, tmp_path / "work", only=["depth_fp32"], retrain=True)
    assert trained == ["depth_fp32"]
    assert finished == {"segmentation_fp32": {"mIoU": 0.72}, "depth_fp32": {"d1": 0.81}}


@pytest.mark.parametrize("argv", [["--retrain"], ["--retrain", "--only"], ["--retrain", "--skip-training", "--only", "depth_fp32"]])
def test_retrain_needs_runs_to_train(demo_training, argv, capsys):
    with pytest.raises(SystemExit):
        demo_training.main(["--schedule", "converged", *argv])
    assert "--retrain trains the runs named by --only" in capsys.readouterr().err


def test_publish_keeps_a_packed_preset_packed_and_measures_it_again(demo_training, tmp_path, measurements):
    work = tmp_path / "work"
    _model_folder(work / "runs" / "depth_bidense" / "model", "bidense", b"new bidense weights")
    _model_folder(work / "runs" / "segmentation_bidense" / "model", "bidense", b"other run")
    published = tmp_path / "repo" / "weights" / "bidense_dpt_demo_rooms_depth"
    _model_folder(published, "bidense", b"published bidense weights")
    (published / "model.bits.npz").write_bytes(b"published bits")
    finished = {"depth_bidense": {"d1": 0.5}, "segmentation_bidense": {"mIoU": 0.3}}
    demo_training.publish(demo_training.SCHEDULES["dpt"], work, finished, only=["depth_bidense"])

    assert (published / "model.weights.h5").read_bytes() == b"new bidense weights"
    (pack, packed_folder), *measured = measurements
    assert pack == "pack_folder" and packed_folder != published.name  # packed before it replaced the folder
    assert measured == [("record_held_out_metrics", published.name), ("record_quick_check", published.name)]
    assert not (published.parent / "bidense_dpt_demo_rooms_seg").exists()  # not in `only`


def test_publish_without_new_weights_keeps_a_packed_presets_measured_metrics(demo_training, tmp_path, measurements):
    published = tmp_path / "repo" / "weights" / "bidense_dpt_demo_rooms_seg"
    _model_folder(published, "bidense", b"published bidense weights")
    (published / "model.bits.npz").write_bytes(b"published bits")
    metadata = json.loads((published / "metadata.json").read_text())
    (published / "metadata.json").write_text(json.dumps({**metadata, "metrics": {"mIoU": 0.318}}))
    demo_training.publish(demo_training.SCHEDULES["dpt"], tmp_path / "work", {"segmentation_bidense": {"mIoU": 0.3}})

    assert json.loads((published / "metadata.json").read_text())["metrics"] == {"mIoU": 0.318}  # after packing
    assert (published / "model.bits.npz").read_bytes() == b"published bits" and measurements == []
    assert "binary-ViT DPT" in (published / "README.md").read_text()


def test_markdown_table_marks_missing_runs(demo_training):
    table = demo_training.markdown_table({
        "segmentation_bidense": {"mIoU": 0.3486, "pixAcc": 0.8214, "train_seconds": 1800.0, "binary_params": 2490592},
        "depth_bidense": {"d1": 0.5692, "abs_rel": 0.2973, "rmse": 0.9958, "train_seconds": 1200.0},
        "segmentation_bnn": {"mIoU": 0.2463, "pixAcc": 0.7692, "train_seconds": None, "binary_params": 2490592},
    }).splitlines()
    assert table[2] == "| fp32 | — | — | — | — | — | — | — / — |"
    assert table[3] == "| bidense | 34.86 | 82.14 | 0.569 | 0.297 | 0.996 | 2,490,592 | 30 / 20 |"
    assert table[5] == "| bnn | 24.63 | 76.92 | — | — | — | 2,490,592 | — / — |"  # time unknown: no crash


def test_markdown_table_has_a_row_per_binarization_asked(demo_training):
    table = demo_training.markdown_table({"segmentation_bidense": {"mIoU": 0.5846}}, ["fp32", "bidense"]).splitlines()
    assert [line.split(" | ")[0] for line in table[2:]] == ["| fp32", "| bidense"]


@pytest.mark.parametrize("name", ["ablation", "converged", "dpt"])
def test_each_schedule_trains_the_architecture_of_the_presets_it_publishes(demo_training, name):
    from bidense_keras.presets import DEFAULT_PRESETS, get_preset

    schedule = demo_training.SCHEDULES[name]
    for run, preset_name in schedule.presets.items():
        preset, (task, binarization) = get_preset(preset_name), run.split("_", 1)
        assert (preset["backbone"], preset["task"], preset["dataset"]) == (schedule.backbone, task, "synthetic_rooms")
        assert preset["architecture"]["binarization"] == binarization, preset_name
    assert name != "dpt" or set(schedule.presets.values()) == {
        "bidense_dpt_demo_rooms_seg", "bidense_dpt_demo_rooms_depth", "fp32_dpt_demo_rooms_seg", "fp32_dpt_demo_rooms_depth"}
    assert name != "converged" or set(DEFAULT_PRESETS.values()) <= set(schedule.presets.values())  # the long runs


def test_family_table_compares_upernet_and_dpt(demo_training):
    upernet = {"segmentation_bidense": {"mIoU": 0.3486, "pixAcc": 0.8214, "train_seconds": 3600.0,
                                        "binary_params": 2490592, "float_params": 40681},
               "depth_bidense": {"d1": 0.5692, "abs_rel": 0.2973, "train_seconds": 1800.0}}
    dpt = {"depth_fp32": {"d1": 0.61, "abs_rel": 0.25, "train_seconds": 600.0, "binary_params": 0,
                          "float_params": 3338473}}
    lines = demo_training.family_table({"upernet": upernet, "dpt": dpt}).splitlines()
    assert lines[2] == "| ConvNeXt UperNet | bidense | 34.86 | 82.14 | 0.569 | 0.297 | 2,490,592 / 40,681 | 60 / 30 |"
    assert lines[3] == "| ConvNeXt UperNet | fp32 | — | — | — | — | — | — / — |"
    assert lines[5] == "| binary-ViT DPT | fp32 | — | — | 0.610 | 0.250 | 0 / 3,338,473 | — / 10 |"


def test_an_interrupted_publish_keeps_the_published_folder(demo_training, tmp_path, monkeypatch, measurements):
    import shutil

    work = tmp_path / "work"
    _model_folder(work / "runs" / "segmentation_fp32" / "model", "fp32", b"new fp32 weights")
    published = tmp_path / "repo" / "weights" / "fp32_upernet_demo_rooms_seg"
    _model_folder(published, "fp32", b"published fp32 weights")
    before = {p.name: p.read_bytes() for p in published.iterdir()}

    def copy_then_die(source, target, **kwargs):
        shutil.copyfile(source / "config.json", target / "config.json")
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "copytree", copy_then_die)
    with pytest.raises(KeyboardInterrupt):
        demo_training.publish(demo_training.SCHEDULES["converged"], work, {"segmentation_fp32": {"mIoU": 0.41, "pixAcc": 0.85}})
    assert {p.name: p.read_bytes() for p in published.iterdir()} == before
    assert sorted(p.name for p in published.parent.iterdir()) == ["fp32_upernet_demo_rooms_seg"]
