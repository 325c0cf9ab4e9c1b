"""Tests for the procedural indoor-room generator and its ADE20K / NYUv2 exporters."""

import numpy as np
import pytest
from PIL import Image

from bidense_keras.datasets import synthetic_rooms as rooms

HEIGHT, WIDTH = 96, 128
FLOOR = rooms.CLASS_NAMES.index("floor")


@pytest.fixture(scope="module")
def samples():
    return [rooms.render(seed, HEIGHT, WIDTH) for seed in range(8)]


def pixel_rays(intrinsics, height, width):
    """Camera-frame directions (H, W, 3) through pixel centres, scaled to z = 1."""
    fx, fy, cx, cy = intrinsics
    v, u = np.mgrid[0:height, 0:width] + 0.5
    return np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], axis=-1)


def floor_depth(sample):
    """Z-depth (H, W) of the floor plane, from camera height, pitch and roll alone (nan where not hit).

    With the documented rotation R_level @ R_x(pitch) @ R_z(roll), the world's down direction in
    camera axes is (sin(roll) cos(pitch), cos(roll) cos(pitch), -sin(pitch)).
    """
    pitch, roll = sample["pitch"], sample["roll"]
    down = np.array([np.sin(roll) * np.cos(pitch), np.cos(roll) * np.cos(pitch), -np.sin(pitch)])
    descent = pixel_rays(sample["intrinsics"], *sample["depth"].shape) @ down
    with np.errstate(divide="ignore"):
        return np.where(descent > 0, sample["camera_height"] / descent, np.nan)


def assert_samples_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_same_seed_gives_identical_samples():
    assert_samples_equal(rooms.render(7, HEIGHT, WIDTH), rooms.render(7, HEIGHT, WIDTH))


def test_different_seeds_give_different_samples(samples):
    assert not np.array_equal(samples[0]["image"], samples[1]["image"])
    assert not np.array_equal(samples[0]["depth"], samples[1]["depth"])


def test_generate_renders_derived_seeds():
    generated = list(rooms.generate(2, seed=3, height=HEIGHT, width=WIDTH))
    assert len(generated) == 2
    for index, sample in enumerate(generated):
        assert_samples_equal(sample, rooms.render(rooms.sample_seed(3, index), HEIGHT, WIDTH))
    assert rooms.sample_seed(3, 0) != rooms.sample_seed(4, 0)


def test_shapes_dtypes_and_ranges(samples):
    for sample in samples:
        assert sample["image"].shape == (HEIGHT, WIDTH, 3) and sample["image"].dtype == np.uint8
        assert sample["label"].shape == (HEIGHT, WIDTH) and sample["label"].dtype == np.uint8
        assert sample["depth"].shape == (HEIGHT, WIDTH) and sample["depth"].dtype == np.float32
        assert sample["label"].max() < rooms.NUM_CLASSES
        depth = sample["depth"]
        valid = depth > 0
        assert valid.mean() > 0.5
        assert np.all((depth == 0) | ((depth >= rooms.MIN_DEPTH) & (depth <= rooms.MAX_DEPTH)))
        assert 1.0 <= sample["camera_height"] <= 1.8
        assert abs(sample["pitch"]) < np.radians(25) and abs(sample["roll"]) < np.radians(10)
        assert sample["image"].std() > 5


def test_intrinsics_are_nyu_scaled(samples):
    fx, fy, cx, cy = samples[0]["intrinsics"]
    np.testing.assert_allclose([fx, fy, cx, cy], [518.8579 / 5, 519.4696 / 5, 325.5824 / 5, 253.7362 / 5])


def test_several_classes_present(samples):
    present = set(np.unique(np.concatenate([s["label"].ravel() for s in samples])))
    names = {rooms.CLASS_NAMES[index] for index in present}
    assert {"wall", "floor"} <= names
    assert len(names & {"cabinet", "table", "sphere", "cylinder"}) >= 3
    assert len(names) >= 6


def test_palette_has_one_colour_per_class():
    assert len(rooms.CLASS_NAMES) >= 8
    assert rooms.PALETTE.shape == (rooms.NUM_CLASSES, 3) and rooms.PALETTE.dtype == np.uint8
    assert len(np.unique(rooms.PALETTE, axis=0)) == rooms.NUM_CLASSES


def test_level_camera_floor_depth_matches_camera_height():
    checked = 0
    for seed in range(4):
        sample = rooms.render(seed, HEIGHT, WIDTH, level_camera=True)
        assert sample["pitch"] == sample["roll"] == 0.0
        fx, fy, cx, cy = sample["intrinsics"]
        rows, cols = np.nonzero((sample["label"] == FLOOR) & (sample["depth"] > 0))
        expected = sample["camera_height"] * fy / (rows + 0.5 - cy)
        np.testing.assert_allclose(sample["depth"][rows, cols], expected, rtol=0.01)
        checked += len(rows)
    assert checked > 500


def test_level_camera_keeps_the_scene():
    tilted, level = rooms.render(5, HEIGHT, WIDTH), rooms.render(5, HEIGHT, WIDTH, level_camera=True)
    assert tilted["camera_height"] == level["camera_height"]
    np.testing.assert_array_equal(tilted["intrinsics"], level["intrinsics"])


def test_tilted_camera_floor_depth_matches_pose(samples):
    checked = 0
    for sample in samples:
        floor = (sample["label"] == FLOOR) & (sample["depth"] > 0)
        np.testing.assert_allclose(sample["depth"][floor], floor_depth(sample)[floor], rtol=0.01)
        checked += floor.sum()
    assert checked > 1000


def leftover_temporaries(directory):
    return [path for path in directory.rglob("*") if path.name.startswith(".") or path.suffix == ".tmp"]


def test_export_ade20k_layout(tmp_path):
    root = rooms.export(tmp_path, 3, layout="ade20k", split="validation", seed=1, height=HEIGHT, width=WIDTH)
    base = root / "ADEChallengeData2016"
    images = sorted((base / "images" / "validation").iterdir())
    annotations = sorted((base / "annotations" / "validation").iterdir())
    assert [p.name for p in images] == [f"ADE_val_{i:08d}.jpg" for i in (1, 2, 3)]
    assert [p.name for p in annotations] == [f"ADE_val_{i:08d}.png" for i in (1, 2, 3)]
    for index, (image_path, annotation_path) in enumerate(zip(images, annotations)):
        sample = rooms.render(rooms.sample_seed(1, index), HEIGHT, WIDTH)
        image = np.asarray(Image.open(image_path))
        assert image.shape == (HEIGHT, WIDTH, 3)
        assert np.abs(image.astype(int) - sample["image"]).mean() < 8  # JPEG loss only
        annotation = Image.open(annotation_path)
        assert annotation.mode == "L"
        np.testing.assert_array_equal(np.asarray(annotation), sample["label"] + 1)
    assert leftover_temporaries(tmp_path) == []


def test_export_nyu_layout(tmp_path):
    root = rooms.export(tmp_path, 3, layout="nyu", split="test", seed=2, height=HEIGHT, width=WIDTH)
    lines = (root / "nyudepthv2_test_files_with_gt.txt").read_text().splitlines()
    assert len(lines) == 3
    for index, line in enumerate(lines):
        rgb, depth, focal = line.split()
        assert rgb == f"test_000/rgb_{index:05d}.jpg" and depth == f"test_000/sync_depth_{index:05d}.png"
        sample = rooms.render(rooms.sample_seed(2, index), HEIGHT, WIDTH)
        assert float(focal) == pytest.approx(sample["intrinsics"][0], abs=1e-4)
        assert np.asarray(Image.open(root / "sync" / rgb)).shape == (HEIGHT, WIDTH, 3)
        millimetres = np.asarray(Image.open(root / "sync" / depth)).astype(np.float64)
        np.testing.assert_allclose(millimetres / 1000.0, sample["depth"], atol=0.001)
        np.testing.assert_array_equal(millimetres == 0, sample["depth"] == 0)
    assert leftover_temporaries(tmp_path) == []


def test_export_rejects_unknown_layout_and_split(tmp_path):
    with pytest.raises(ValueError, match="layout"):
        rooms.export(tmp_path, 1, layout="cityscapes")
    with pytest.raises(ValueError, match="split"):
        rooms.export(tmp_path, 1, layout="nyu", split="training")


def test_prepare_splits_writes_disjoint_splits_once_and_rewrites_on_change(tmp_path):
    layout = rooms.prepare_splits(tmp_path, "segmentation", 3, 2, seed=5, height=48, width=64)
    assert layout == "ade20k"
    images = tmp_path / "ADEChallengeData2016" / "images"
    train = sorted((images / "training").iterdir())
    val = sorted((images / "validation").iterdir())
    assert len(train) == 3 and len(val) == 2
    assert train[0].read_bytes() != val[0].read_bytes()  # held-out seed differs
    stamp = train[0].stat().st_mtime_ns
    rooms.prepare_splits(tmp_path, "segmentation", 3, 2, seed=5, height=48, width=64)
    assert train[0].stat().st_mtime_ns == stamp  # complete splits are reused
    rooms.prepare_splits(tmp_path, "segmentation", 2, 2, seed=5, height=48, width=64)
    assert len(list((images / "training").iterdir())) == 2  # stale samples removed
    assert rooms.prepare_splits(tmp_path / "d", "depth", 2, 1, height=48, width=64) == "nyu"
    assert (tmp_path / "d" / "nyudepthv2_test_files_with_gt.txt").read_text().count("\n") == 1


def test_prepare_split_without_overwrite_refuses_other_settings(tmp_path):
    rooms.prepare_split(tmp_path, "depth", "val", 1, seed=0, height=48, width=64)
    with pytest.raises(ValueError, match="already holds a val split"):
        rooms.prepare_split(tmp_path, "depth", "val", 1, seed=3, height=48, width=64, overwrite=False)
    assert rooms.prepare_split(tmp_path, "depth", "val", 1, seed=0, height=48, width=64, overwrite=False) == "nyu"
