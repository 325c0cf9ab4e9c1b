import json

import numpy as np
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


def test_convert_rejects_bad_output_name(reference_dir, tmp_path, capsys):
    try:
        cli.main(["convert", str(reference_dir / "upernet_bidense_seg_small.ckpt"), str(tmp_path / "x.h5")])
    except SystemExit as exit:
        assert "must end with .weights.h5" in str(exit)
    else:
        raise AssertionError("expected an error")


def test_info_prints_the_counts(capsys):
    assert cli.main(["info", "bidense_upernet_convnext_tiny_ade20k", "--size", "64", "64"]) == 0
    out = capsys.readouterr().out
    assert "39,759,840" in out and "308,663" in out


def test_presets_lists_every_preset(capsys):
    assert cli.main(["presets", "*tiny*"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + len(bk.list_presets("*tiny*")) == 1 + 8


def test_unknown_preset_exits_with_message(capsys):
    assert cli.main(["info", "no_such_preset"]) == 2
    assert "Unknown preset 'no_such_preset'" in capsys.readouterr().err


def test_demo_writes_a_picture(tmp_path):
    out = tmp_path / "demo.png"
    assert cli.main(["demo", "--out", str(out)]) == 0
    image = Image.open(out)
    assert image.size[0] > 3 * 256 and np.asarray(image).std() > 10
