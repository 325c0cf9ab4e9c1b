import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bidense_keras as bk
from bidense_keras import cli
from bidense_keras.convert import from_official_checkpoint


def test_convert_writes_weights_and_config(reference_dir, tmp_path):
    out = tmp_path / "seg.weights.h5"
    assert cli.main(["convert", str(reference_dir / "upernet_bidense_seg_small.ckpt"), str(out)]) == 0
    config = json.loads((tmp_path / "seg.config.json").read_text())
    model = bk.UperNet.from_config(config)
    model.load_weights(out)
    reference = from_official_checkpoint(reference_dir / "upernet_bidense_seg_small.state_dict.npz")
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 96, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(images, verbose=0), reference.predict(images, verbose=0))
    assert not list(tmp_path.glob("*partial*"))


def test_convert_to_a_model_folder_that_predict_and_export_accept(reference_dir, tmp_path):
    folder = tmp_path / "converted"
    assert cli.main(["convert", str(reference_dir / "upernet_bidense_depth_small.state_dict.npz"), str(folder),
                     "--max-depth", "80"]) == 0
    model = bk.load(folder)
    assert model.max_depth == 80.0
    reference = from_official_checkpoint(reference_dir / "upernet_bidense_depth_small.state_dict.npz", max_depth=80)
    images = np.random.default_rng(1).uniform(0, 255, (1, 64, 96, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(images, verbose=0), reference.predict(images, verbose=0))


def test_convert_packed_writes_the_bits_beside_canonical_kernels(reference_dir, tmp_path, capsys):
    from keras import ops

    from bidense_keras import packing

    checkpoint = str(reference_dir / "upernet_bidense_seg_small.ckpt")
    folder = tmp_path / "packed"
    assert cli.main(["convert", checkpoint, str(folder), "--packed"]) == 0
    assert (folder / "model.bits.npz").stat().st_size < (folder / "model.weights.h5").stat().st_size / 5
    model, reference = bk.load(folder), from_official_checkpoint(checkpoint)
    kernels = packing.binary_kernels(model)
    for loaded, original in zip(model.weights, reference.weights):
        if loaded.path in kernels:
            np.testing.assert_array_equal(np.sign(ops.convert_to_numpy(loaded)), np.sign(ops.convert_to_numpy(original)))
    assert cli.main(["convert", checkpoint, str(tmp_path / "seg.weights.h5"), "--packed"]) == 2
    assert "--packed writes a model folder" in capsys.readouterr().err
    assert not (tmp_path / "seg.weights.h5").exists()


def test_info_prints_the_counts(capsys):
    assert cli.main(["info", "bidense_upernet_convnext_tiny_ade20k", "--size", "64", "64"]) == 0
    out = capsys.readouterr().out
    assert "39,759,840" in out and "308,663" in out


def test_presets_lists_every_preset(capsys):
    assert cli.main(["presets", "*tiny*"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + len(bk.list_presets("*tiny*")) == 1 + 8
    assert cli.main(["presets", "*demo_rooms*"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "fp32_upernet_demo_rooms_seg" in lines[-1] and lines[-1].endswith(" published")
    assert any(line.endswith("architecture only") for line in lines)  # bidense_deployable depth: no weights
    start = lines[0].index("weights")  # the weights column is aligned under its header, longest names included
    assert {line[start - 1:] for line in lines} == {" weights", " published", " architecture only"}
    assert cli.main(["presets", "bidense_dpt_vits14_*"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + 4 and all(line.split()[1] == "dpt" for line in lines[1:])


def test_unknown_preset_exits_with_message(capsys):
    assert cli.main(["info", "no_such_preset"]) == 2
    assert "Unknown preset 'no_such_preset'" in capsys.readouterr().err


def test_a_missing_model_path_is_named_as_a_path(tmp_path, capsys):
    assert cli.main(["info", str(tmp_path / "nowhere")]) == 2
    assert f"No model folder at {tmp_path / 'nowhere'}" in capsys.readouterr().err


def test_every_option_has_help_and_shows_its_default():
    import argparse

    def options(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from options(sub)
            elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                yield parser.prog, action

    checked = list(options(cli.build_parser()))
    assert len(checked) > 40
    assert [f"{prog} {action.dest}" for prog, action in checked if not action.help] == []
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["evaluate"].format_help()
    assert "(default: 8)" in help_text.replace("\n", " ")


def test_non_positive_integers_are_usage_errors(capsys):
    for argv in (["evaluate", "m", "--dataset", "voc", "--data-dir", "d", "--batch-size", "0"],
                 ["evaluate", "m", "--dataset", "voc", "--data-dir", "d", "--val-samples", "-3"],
                 ["demo", "--scenes", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2 and "must be a positive integer" in capsys.readouterr().err


def test_a_failed_download_exits_1_and_a_bad_argument_2(tmp_path, capsys, monkeypatch):
    from bidense_keras import download

    def unreachable(*args, **kwargs):
        raise download.WeightsError("bidense_upernet_demo_rooms_seg: could not reach the Hub")

    monkeypatch.setattr(download, "resolve_preset_folder", unreachable)
    assert cli.main(["download", "bidense_upernet_demo_rooms_seg", str(tmp_path)]) == 1
    assert "could not reach the Hub" in capsys.readouterr().err
    assert cli.main(["download", "bidense_deployable_upernet_demo_rooms_depth", str(tmp_path)]) == 2
    assert "No pretrained weights are published" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_download_copies_a_verified_preset_folder(tmp_path, capsys, monkeypatch):
    assert cli.main(["download", "bidense_upernet_demo_rooms_depth", str(tmp_path)]) == 0
    folder = tmp_path / "bidense_upernet_demo_rooms_depth"
    published = Path(__file__).resolve().parents[1] / "weights" / "bidense_upernet_demo_rooms_depth"  # the mirror
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in published.iterdir())
    assert not any(p.is_symlink() for p in folder.iterdir())
    monkeypatch.setenv("BIDENSE_KERAS_WEIGHTS", str(tmp_path))
    monkeypatch.setattr("bidense_keras.download.source_checkout_mirror", lambda: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert bk.load("bidense_upernet_demo_rooms_depth").max_depth == 10.0


@pytest.mark.backends
def test_demo_writes_a_picture(tmp_path):
    out = tmp_path / "demo.png"
    assert cli.main(["demo", "--out", str(out)]) == 0
    image = Image.open(out)
    assert image.size[0] > 3 * 256 and np.asarray(image).std() > 10


def test_demo_shows_more_rooms_other_models_and_the_truth(tmp_path, capsys):
    one, grid = tmp_path / "one.png", tmp_path / "grid.png"
    assert cli.main(["demo", "--out", str(one), "--seg-model", "bidense_upernet_demo_rooms_seg_5ep"]) == 0
    assert cli.main(["demo", "--out", str(grid), "--seg-model", "bidense_upernet_demo_rooms_seg_5ep",
                     "--depth-model", "fp32_upernet_demo_rooms_depth_5ep", "--scenes", "2", "--truth"]) == 0
    assert f"wrote {grid}" in capsys.readouterr().out
    (width, height), (grid_width, grid_height) = Image.open(one).size, Image.open(grid).size
    assert grid_height > 1.8 * height and grid_width > 1.4 * width  # two rows, five columns instead of three
    for option, other_task in (("--seg-model", "bidense_upernet_demo_rooms_depth"),
                               ("--depth-model", "bidense_upernet_demo_rooms_seg")):
        assert cli.main(["demo", "--out", str(tmp_path / "x.png"), option, other_task]) == 2
        assert other_task in capsys.readouterr().err and not (tmp_path / "x.png").exists()


@pytest.mark.backends
def test_predict_writes_maps_and_panels_for_a_folder(tmp_path, capsys):
    from bidense_keras.weights import save_pretrained
    from tests.conftest import SMALL

    model_dir = tmp_path / "model"
    save_pretrained(bk.depth(**SMALL, max_depth=10.0), model_dir)
    images = tmp_path / "images"
    images.mkdir()
    for name, size in (("a.jpg", (64, 48)), ("b.png", (50, 40))):
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(images / name)
    (images / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    assert cli.main(["predict", str(images), "--model", str(model_dir), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_depth.png", "a_depth_panel.png", "b_depth.png", "b_depth_panel.png"]
    assert Image.open(out / "b_depth.png").size == (50, 40)


def test_predict_names_a_missing_input(tmp_path, capsys):
    assert cli.main(["predict", str(tmp_path / "nope.jpg"), "--model", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "No image or folder at" in capsys.readouterr().err


def test_exit_codes_say_whose_fault_it_was(capsys):
    from bidense_keras import exits
    from bidense_keras.download import WeightsError

    assert exits.exit_code(WeightsError("corrupt")) == 1 and exits.exit_code(RuntimeError("export failed")) == 1
    assert exits.exit_code(FileNotFoundError("no file")) == 2 and exits.exit_code(ValueError("bad")) == 2
    assert exits.exit_code(FileExistsError("taken")) == 2 and exits.exit_code(PermissionError("denied")) == 1
    assert exits.exit_code(KeyError("a bug")) is None

    def buggy(args):
        raise KeyError("a bug")

    with pytest.raises(KeyError):  # a bug keeps its traceback
        exits.run_command(buggy, None)


def test_help_shows_real_defaults_once_and_examples():
    parser = cli.build_parser()
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        text = " ".join(sub.format_help().split())
        assert "(default: None)" not in text and "(default: False)" not in text, name
        assert "examples: bidense-keras " + name in text, name
    train = " ".join(parser._subparsers._group_actions[0].choices["train"].format_help().split())
    assert "(default: 0)" in train and "(default: 192 256)" in train  # a zero and a pair are real defaults
    assert "(default: the paper's model of the family: ConvNeXt-T UperNet or ViT-S/14 DPT) (default" not in train


def test_the_package_starts_without_tensorflows_early_log_lines():
    import os
    import subprocess
    import sys

    def stderr_of_import(level):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": level, "KERAS_BACKEND": "tensorflow"}
        done = subprocess.run([sys.executable, "-c", "import bidense_keras, sys; sys.stderr.write('after\\n')"],
                              capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stderr

    quiet = stderr_of_import("2")
    assert "I0000" not in quiet and "absl::InitializeLog" not in quiet and quiet.endswith("after\n")
    assert "I0000" in stderr_of_import("0")  # TensorFlow writes them: the package removes them


def _in_a_fresh_command(argv, after=""):
    """Exit code and stdout of ``bidense-keras ARGV`` run by its entry point in a new process (which ends it with
    SystemExit, caught here); the process then runs ``after`` and prints, as a JSON list, the heavy modules it had
    imported by the end of the command."""
    import subprocess
    import sys

    script = ("import json, sys, bidense_keras_command\n"
              "try:\n    bidense_keras_command.main()\nexcept SystemExit as stop:\n    code = stop.code or 0\n"
              "imported = sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch', 'matplotlib') if m in sys.modules)\n"
              f"{after}\n"
              "print(json.dumps([code, imported]))")
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    code, imported = json.loads(done.stdout.strip().splitlines()[-1])
    return code, imported, done.stdout


@pytest.mark.parametrize(("argv", "code"), [
    (["--help"], 0), (["--version"], 0), (["train", "--help"], 0), (["predict", "--help"], 0),
    (["train", "--task", "seg"], 2), (["predict", "a.jpg", "--model", "m", "--threads", "0"], 2), (["nope"], 2),
    (["presets", "*dpt*"], 0),
])
def test_help_usage_errors_and_presets_answer_without_importing_keras(argv, code):
    exit_code, imported, stdout = _in_a_fresh_command(argv)
    assert exit_code == code
    assert imported == []
    if argv[0] == "presets":
        assert "bidense_dpt_demo_rooms_depth" in stdout and "upernet" not in stdout


def test_a_command_that_loads_models_registers_them_with_keras_once_its_arguments_parse():
    keras_file = Path(__file__).parent / "saved_models" / "dpt_depth.keras"
    check = ("import keras\n"
             f"model = keras.saving.load_model({str(keras_file)!r})\n"
             "print(type(model).__name__, keras.saving.get_registered_object('bidense_keras>UperNet').__name__)")
    code, imported, stdout = _in_a_fresh_command(["info", str(keras_file), "--size", "56", "56"], after=check)
    assert code == 0 and "keras" in imported
    assert "DPT UperNet" in stdout and "binary_params" in stdout


def test_import_bidense_keras_registers_every_keras_object_and_reaches_submodules_as_attributes():
    import subprocess
    import sys

    names = ("UperNet", "DPT", "BiDenseConv2D", "BinaryViTBackbone", "SegmentationCrossEntropy", "MeanIoU")
    script = ("import bidense_keras, keras\n"
              f"print([keras.saving.get_registered_object(f'bidense_keras>{{name}}').__name__ for name in {names}])\n"
              "print(bidense_keras.export.runtime.run_flatbuffer.__name__, bidense_keras.stats.model_stats.__name__)\n"
              "print(hasattr(bidense_keras, 'no_such_module'), 'register_keras_objects' in dir(bidense_keras))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-3:] == [str(list(names)), "run_flatbuffer model_stats", "False True"]


def test_a_reader_that_closes_the_output_early_gets_no_error_message():
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already exited: every write fails with EPIPE
    try:
        done = subprocess.run([sys.executable, "-c", "import bidense_keras_command; bidense_keras_command.main()",
                               "presets"], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")
    no_output = subprocess.run([sys.executable, "-c", "import sys, bidense_keras_command; sys.stdout = None; "
                                "bidense_keras_command.main()", "presets"], capture_output=True, text=True, timeout=120)
    assert (no_output.returncode, no_output.stderr) == (0, "")  # started without a standard output: nothing to say


def test_verbose_shows_tensorflows_start_up_lines_that_are_hidden_otherwise():
    import os
    import subprocess
    import sys

    def stderr_of(*argv):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
        done = subprocess.run([sys.executable, "-c", "import bidense_keras_command; bidense_keras_command.main()",
                               *argv], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "backend tensorflow" in done.stdout
        return done.stderr

    assert "I0000" not in stderr_of("info")
    assert "I0000" in stderr_of("info", "--verbose")
