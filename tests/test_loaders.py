"""Tests for the ADE20K / VOC / NYUv2 / KITTI tf.data loaders and their augmentations, on tiny layouts."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from bidense_keras.datasets import augment, synthetic_rooms
from bidense_keras.datasets.loaders import NAMES, load_dataset

HEIGHT, WIDTH = 40, 56
KITTI_HEIGHT, KITTI_WIDTH = 375, 1242


def save_png_or_jpg(array, path):
    """Write an array with Pillow (format from the suffix), creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def random_rgb(rng, height=HEIGHT, width=WIDTH):
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def to_metres(millimetres):
    """Float32 metres exactly as the loader computes them from uint16 millimetres."""
    return millimetres.astype(np.float32) / np.float32(1000)


def batches(dataset):
    """All batches of a dataset as lists of numpy arrays."""
    return [(images.numpy(), targets.numpy()) for images, targets in dataset]


def make_ade20k(root, rng, count=3):
    """ADE20K training split of `count` samples; returns the annotation arrays in stem order."""
    base = root / "ADEChallengeData2016"
    annotations = []
    for index in range(count):
        stem = f"ADE_train_{index + 1:08d}"
        annotation = rng.integers(0, 151, (HEIGHT, WIDTH), dtype=np.uint8)
        annotation[0, :3] = (0, 1, 150)
        save_png_or_jpg(random_rgb(rng), base / "images" / "training" / f"{stem}.jpg")
        save_png_or_jpg(annotation, base / "annotations" / "training" / f"{stem}.png")
        annotations.append(annotation)
    return annotations


def make_voc(root, rng):
    """VOC with ids a, b (train) and c (val); palette PNGs whose colours differ from their indices."""
    base = root / "VOCdevkit" / "VOC2012"
    splits = base / "ImageSets" / "Segmentation"
    splits.mkdir(parents=True)
    (splits / "train.txt").write_text("a\nb\n")
    (splits / "val.txt").write_text("c\n")
    palette = [(7 * value + 13) % 256 for value in range(768)]
    indices = {}
    for id_ in "abc":
        index = rng.integers(0, 21, (HEIGHT, WIDTH), dtype=np.uint8)
        index[:, :4] = 255  # object boundary
        png = Image.fromarray(index)
        png.putpalette(palette)
        assert png.mode == "P"
        (base / "SegmentationClass").mkdir(exist_ok=True)
        png.save(base / "SegmentationClass" / f"{id_}.png")
        save_png_or_jpg(random_rgb(rng), base / "JPEGImages" / f"{id_}.jpg")
        indices[id_] = index
    return indices


def make_nyu(root, rng):
    """BTS NYU: train list (leading "/", a "None" line) in sync/, test list in official_splits/test/."""
    millimetres = {}
    train_lines, test_lines = [], []
    for index in range(3):
        depth = rng.integers(0, 10000, (HEIGHT, WIDTH), dtype=np.uint16)
        depth[0, 0] = 1234
        save_png_or_jpg(random_rgb(rng), root / "sync" / "kitchen" / f"rgb_{index:05d}.jpg")
        save_png_or_jpg(depth, root / "sync" / "kitchen" / f"sync_depth_{index:05d}.png")
        train_lines.append(f"/kitchen/rgb_{index:05d}.jpg /kitchen/sync_depth_{index:05d}.png 518.8579")
        millimetres[index] = depth
    train_lines.insert(1, "/kitchen/rgb_00099.jpg None 518.8579")
    test_depth = rng.integers(0, 10000, (HEIGHT, WIDTH), dtype=np.uint16)
    save_png_or_jpg(random_rgb(rng), root / "official_splits" / "test" / "bath" / "rgb_00001.jpg")
    save_png_or_jpg(test_depth, root / "official_splits" / "test" / "bath" / "sync_depth_00001.png")
    test_lines.append("bath/rgb_00001.jpg bath/sync_depth_00001.png 518.8579")
    (root / "nyudepthv2_train_files_with_gt.txt").write_text("\n".join(train_lines) + "\n")
    (root / "nyudepthv2_test_files_with_gt.txt").write_text("\n".join(test_lines) + "\n")
    return millimetres, test_depth


KITTI_MARKER = (KITTI_HEIGHT - 352, (KITTI_WIDTH - 1216) // 2)  # top-left corner of the KB crop


def make_kitti(root, rng):
    """BTS KITTI with two train samples and a "None" line; marker pixels at the KB crop corner."""
    lines = []
    for index in range(2):
        rgb = f"2011_09_26/drive_0001_sync/image_02/data/{index:010d}.png"
        depth_path = f"drive_0001_sync/proj_depth/groundtruth/image_02/{index:010d}.png"
        image = np.full((KITTI_HEIGHT, KITTI_WIDTH, 3), 10, dtype=np.uint8)
        image[KITTI_MARKER] = (200, 100, 50)
        depth = np.zeros((KITTI_HEIGHT, KITTI_WIDTH), dtype=np.uint16)
        depth[KITTI_MARKER] = 5 * 256 + 64  # 5.25 m
        depth[KITTI_MARKER[0] - 1, KITTI_MARKER[1]] = 30000  # just above the crop
        depth[KITTI_MARKER[0] + 40 : KITTI_MARKER[0] + 300, 100:1100] = rng.integers(1, 20000, (260, 1000))
        save_png_or_jpg(image, root / "raw" / rgb)
        save_png_or_jpg(depth, root / "gt" / depth_path)
        lines.append(f"{rgb} {depth_path} 721.5377")
    lines.append("2011_09_26/drive_0001_sync/image_02/data/0000000009.png None 721.5377")
    (root / "eigen_train_files_with_gt.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """One tiny copy of each layout, keyed by dataset name, plus the arrays written."""
    rng = np.random.default_rng(0)
    paths = {name: tmp_path_factory.mktemp(name) for name in NAMES}
    written = {
        "ade20k": make_ade20k(paths["ade20k"], rng),
        "voc": make_voc(paths["voc"], rng),
        "nyu": make_nyu(paths["nyu"], rng),
        "kitti": make_kitti(paths["kitti"], rng),
    }
    return paths, written


def test_ade20k_native_size_and_label_mapping(roots):
    paths, written = roots
    loaded = batches(load_dataset("ade20k", paths["ade20k"], "train"))
    assert len(loaded) == 3
    for (images, labels), annotation in zip(loaded, written["ade20k"]):
        assert images.shape == (1, HEIGHT, WIDTH, 3) and images.dtype == np.float32
        assert labels.shape == (1, HEIGHT, WIDTH) and labels.dtype == np.int32
        assert 0 <= images.min() and images.max() <= 255
        np.testing.assert_array_equal(labels[0, 0, :3], [255, 0, 149])
        np.testing.assert_array_equal(labels[0], np.where(annotation == 0, 255, annotation.astype(int) - 1))


def test_evaluation_resize_keeps_label_values_and_last_batch(roots):
    paths, written = roots
    loaded = batches(load_dataset("ade20k", paths["ade20k"], "train", image_size=(24, 32), batch_size=2))
    assert [images.shape for images, _ in loaded] == [(2, 24, 32, 3), (1, 24, 32, 3)]
    assert [labels.shape for _, labels in loaded] == [(2, 24, 32), (1, 24, 32)]
    first_annotation = written["ade20k"][0]
    allowed = np.where(first_annotation == 0, 255, first_annotation.astype(int) - 1)
    assert set(np.unique(loaded[0][1][0])) <= set(np.unique(allowed))


def test_voc_reads_palette_indices_and_keeps_boundary(roots):
    paths, written = roots
    train = batches(load_dataset("voc", paths["voc"], "train"))
    val = batches(load_dataset("voc", paths["voc"], "val"))
    assert len(train) == 2 and len(val) == 1
    for (_, labels), id_ in zip(train + val, "abc"):
        np.testing.assert_array_equal(labels[0], written["voc"][id_])
        assert (labels[0, :, :4] == 255).all()


def test_nyu_depth_in_metres_skips_none_and_falls_back_to_test_folder(roots):
    paths, written = roots
    millimetres, test_millimetres = written["nyu"]
    train = batches(load_dataset("nyu", paths["nyu"], "train"))
    assert len(train) == 3
    for (images, depth), index in zip(train, range(3)):
        assert images.shape == (1, HEIGHT, WIDTH, 3) and depth.shape == (1, HEIGHT, WIDTH, 1)
        assert depth.dtype == np.float32
        np.testing.assert_array_equal(depth[0, ..., 0], to_metres(millimetres[index]))
    assert train[0][1][0, 0, 0, 0] == np.float32(1.234)
    (_, val_depth), = batches(load_dataset("nyu", paths["nyu"], "val"))
    np.testing.assert_array_equal(val_depth[0, ..., 0], to_metres(test_millimetres))


def test_kitti_kb_crop_and_depth_scale(roots):
    paths, _ = roots
    loaded = batches(load_dataset("kitti", paths["kitti"], "train"))
    assert len(loaded) == 2
    images, depth = loaded[0]
    assert images.shape == (1, 352, 1216, 3) and depth.shape == (1, 352, 1216, 1)
    np.testing.assert_array_equal(images[0, 0, 0], [200, 100, 50])
    assert depth[0, 0, 0, 0] == 5.25
    assert not (depth[0] == 30000 / 256).any()  # the row above the crop is gone


def test_kitti_training_shapes(roots):
    paths, _ = roots
    images, depth = batches(
        load_dataset("kitti", paths["kitti"], "train", image_size=(64, 128), batch_size=2, training=True)
    )[0]
    assert images.shape == (2, 64, 128, 3) and depth.shape == (2, 64, 128, 1)
    assert images.dtype == np.float32 and depth.dtype == np.float32


def test_segmentation_training_crop(roots):
    paths, _ = roots
    dataset = load_dataset(
        "ade20k", paths["ade20k"], "train", image_size=(32, 32), batch_size=2, training=True
    )
    loaded = batches(dataset)
    assert len(loaded) == 1  # 3 samples, last incomplete batch dropped
    images, labels = loaded[0]
    assert images.shape == (2, 32, 32, 3) and labels.shape == (2, 32, 32)
    assert labels.dtype == np.int32 and images.dtype == np.float32
    assert set(np.unique(labels)) <= set(range(150)) | {255}


def test_segmentation_padding_is_ignored_in_label_and_zero_in_image():
    image = tf.fill([HEIGHT, WIDTH, 3], 100.0)
    label = tf.fill([HEIGHT, WIDTH, 1], 3)
    # Base size: shorter side 32; scale 0.5 gives a 16 x 22 image padded to the 32 x 32 crop.
    seed = tf.constant([1, 2])
    out_image, out_label = augment.augment_segmentation(image, label, (32, 32), seed, (0.5, 0.5))
    out_image, out_label = out_image.numpy(), out_label.numpy()[..., 0]
    assert out_image.shape == (32, 32, 3) and out_label.shape == (32, 32)
    assert (out_label[16:] == 255).all() and (out_image[16:] == 0).all()
    assert (out_label == 3).sum() == 16 * 22 and (out_label != 3).sum() == 32 * 32 - 16 * 22


def test_depth_training_keeps_depth_values(roots):
    paths, written = roots
    images, depth = batches(
        load_dataset("nyu", paths["nyu"], "train", image_size=(32, 48), batch_size=3, training=True)
    )[0]
    assert images.shape == (3, 32, 48, 3) and depth.shape == (3, 32, 48, 1)
    assert images.min() >= 0 and images.max() <= 255
    written_values = np.concatenate([mm.ravel() for mm in written["nyu"][0].values()])
    allowed = set(to_metres(written_values)) | {0.0}
    assert set(np.unique(depth)) <= allowed  # nearest-neighbour rotation and crops only


@pytest.mark.parametrize("name", ["ade20k", "nyu"])
def test_same_seed_gives_same_first_batch(roots, name):
    paths, _ = roots

    def first_batch(seed):
        dataset = load_dataset(name, paths[name], "train", image_size=(24, 24), batch_size=2, training=True,
                               seed=seed)
        return batches(dataset.take(1))[0]

    a, b, other = first_batch(7), first_batch(7), first_batch(8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, other))


def test_rotation_by_zero_is_identity_and_jitter_stays_in_range():
    image = tf.random.stateless_uniform([8, 10, 3], [0, 1], 0.0, 255.0)
    np.testing.assert_allclose(augment.rotate(image, tf.constant(0.0), "BILINEAR"), image, atol=1e-4)
    jittered = augment.color_jitter(tf.fill([4, 4, 3], 250.0), tf.constant([3, 4]), (1.2, 1.25))
    assert float(tf.reduce_max(jittered)) <= 255.0 and float(tf.reduce_min(jittered)) > 200.0


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ade20k", "ADEChallengeData2016/images/training"),
        ("voc", "VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt"),
        ("nyu", "nyudepthv2_train_files_with_gt.txt"),
        ("kitti", "eigen_train_files_with_gt.txt"),
    ],
)
def test_missing_layout_names_the_expected_path(tmp_path, name, expected):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / expected)):
        load_dataset(name, tmp_path, "train")


def test_invalid_arguments(roots):
    paths, _ = roots
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cityscapes", paths["ade20k"], "train")
    with pytest.raises(ValueError, match="unknown dataset 'synthetic_rooms'"):  # read through its layouts
        load_dataset("synthetic_rooms", paths["ade20k"], "train")
    with pytest.raises(ValueError, match="unknown split"):
        load_dataset("ade20k", paths["ade20k"], "test")
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("ade20k", paths["ade20k"], "train", training=True)


def test_synthetic_rooms_ade20k_round_trip(tmp_path):
    synthetic_rooms.export(tmp_path, 4, layout="ade20k", split="validation", seed=3, height=32, width=48)
    loaded = batches(load_dataset("ade20k", tmp_path, "val"))
    assert len(loaded) == 4
    for (images, labels), sample in zip(loaded, synthetic_rooms.generate(4, seed=3, height=32, width=48)):
        assert images.shape == (1, 32, 48, 3)
        np.testing.assert_array_equal(labels[0], sample["label"])


def test_synthetic_rooms_nyu_round_trip(tmp_path):
    synthetic_rooms.export(tmp_path, 4, layout="nyu", split="train", seed=5, height=32, width=48)
    loaded = batches(load_dataset("nyu", tmp_path, "train"))
    assert len(loaded) == 4
    for (images, depth), sample in zip(loaded, synthetic_rooms.generate(4, seed=5, height=32, width=48)):
        assert images.shape == (1, 32, 48, 3)
        millimetres = np.round(sample["depth"] * 1000.0).astype(np.uint16)
        np.testing.assert_array_equal(depth[0, ..., 0], to_metres(millimetres))
