"""``tf.data`` loaders for ADE20K, PASCAL VOC 2012, NYUv2 and KITTI in their usual on-disk layouts.

``load_dataset(name, data_dir, split, ...)`` yields batches ``(images, targets)``:

* images float32 (B, H, W, 3), RGB in [0, 255] (the models normalise internally);
* segmentation targets int32 (B, H, W), class ids with 255 = ignored;
* depth targets float32 (B, H, W, 1), metres with 0 = invalid.

Layouts below ``data_dir`` (``split`` is "train" or "val" for every dataset):

* ade20k: ``ADEChallengeData2016/{images,annotations}/{training,validation}/<stem>.{jpg,png}``;
  annotation 0 (unlabelled) -> 255, value v in 1..150 -> class v - 1.
* voc: ``VOCdevkit/VOC2012/{JPEGImages/<id>.jpg, SegmentationClass/<id>.png}`` with ids from
  ``ImageSets/Segmentation/{train,val}.txt``; the palette indices are the classes, 255 = boundary (ignored).
* nyu (BTS): ``nyudepthv2_{train,test}_files_with_gt.txt`` with lines ``<rgb> <depth> <focal>``, paths
  resolved under ``sync/`` first, then ``official_splits/test/``; depth PNG uint16 in millimetres.
* kitti (BTS): ``eigen_{train,test}_files_with_gt.txt`` with lines ``<rgb> <depth> <focal>``, rgb paths
  relative to ``raw/`` and depth paths relative to ``gt/``; depth PNG uint16 / 256 = metres.  Both are
  KB-cropped (bottom 352 rows, central 1216 columns) right after decoding.

In both BTS lists, lines whose depth entry is "None" are skipped.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from bidense_keras.datasets import augment, catalog

SPLITS = ("train", "val")
KB_CROP_SIZE = (352, 1216)

NAMES = ("ade20k", "voc", "nyu", "kitti")  # the layouts read here; their facts are in the catalog


def load_dataset(name, data_dir, split, image_size=None, batch_size=1, training=False, seed=0,
                 shuffle_buffer=256):
    """Batched ``tf.data.Dataset`` of ``(images, targets)`` for one split of a dataset.

    Args:
        name: "ade20k", "voc", "nyu" or "kitti".
        data_dir: root directory holding the dataset's layout (see the module docstring).
        split: "train" or "val".
        image_size: (h, w).  Training crops to it (required); evaluation resizes to it, or keeps the
            native size when None (then use batch_size 1).
        batch_size: B.  Training drops the last incomplete batch; evaluation keeps it.
        training: shuffle (seeded, reshuffled each epoch) and augment; one pass per epoch.
        seed: integer seed of the shuffling and of the per-element augmentation seeds.
        shuffle_buffer: size of the shuffle buffer.

    Returns:
        Dataset of images float32 (B, h, w, 3) in [0, 255] and targets: int32 (B, h, w) class ids
        (255 = ignored) for segmentation, float32 (B, h, w, 1) metres (0 = invalid) for depth.

    Raises:
        ValueError: unknown name or split, or training without image_size.
        FileNotFoundError: a directory, list or file of the expected layout is missing.
    """
    if training and image_size is None:
        raise ValueError("image_size (h, w) is required for training (random crop size)")
    image_paths, target_paths = list_samples(name, data_dir, split)
    info = catalog.dataset(name)
    files = tf.data.Dataset.from_tensor_slices((image_paths, target_paths))
    if training:
        samples = _training_samples(files, info, image_size, seed, shuffle_buffer)
        batches = samples.batch(batch_size, drop_remainder=True)
    else:
        samples = files.map(
            lambda image, target: _evaluation_sample(image, target, info, image_size),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        batches = samples.batch(batch_size)
    return batches.prefetch(tf.data.AUTOTUNE)


def list_samples(name, data_dir, split):
    """(image paths, target paths) of one split: two equally long lists of str, in dataset order.

    Raises ValueError for an unknown name or split, FileNotFoundError when the layout is missing or
    the split is empty.
    """
    if name not in NAMES:
        raise ValueError(f"unknown dataset {name!r}; expected one of {NAMES}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    listers = {"ade20k": _ade20k_files, "voc": _voc_files, "nyu": _nyu_files, "kitti": _kitti_files}
    pairs = listers[name](Path(data_dir), split)
    if not pairs:
        raise FileNotFoundError(f"no {name} samples found for split {split!r} under {data_dir}")
    image_paths, target_paths = zip(*pairs)
    return [str(path) for path in image_paths], [str(path) for path in target_paths]


# ---------------------------------------------------------------------------------------- file lists


def _ade20k_files(data_dir, split):
    """(image, annotation) path pairs of ADE20K, paired by file stem in sorted order."""
    folder = {"train": "training", "val": "validation"}[split]
    root = data_dir / "ADEChallengeData2016"
    images = sorted(_existing(root / "images" / folder).glob("*.jpg"))
    annotations = _existing(root / "annotations" / folder)
    return [(image, _existing(annotations / f"{image.stem}.png")) for image in images]


def _voc_files(data_dir, split):
    """(image, class-index PNG) path pairs of PASCAL VOC 2012 for the ids in the split list."""
    root = data_dir / "VOCdevkit" / "VOC2012"
    ids = _existing(root / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()
    return [
        (_existing(root / "JPEGImages" / f"{id_}.jpg"), _existing(root / "SegmentationClass" / f"{id_}.png"))
        for id_ in ids
    ]


def _nyu_files(data_dir, split):
    """(rgb, depth) path pairs from the BTS NYUv2 list, resolved under sync/ then official_splits/test/."""
    list_name = {"train": "nyudepthv2_train_files_with_gt.txt", "val": "nyudepthv2_test_files_with_gt.txt"}
    roots = (data_dir / "sync", data_dir / "official_splits" / "test")
    return [
        (_resolve(rgb, roots), _resolve(depth, roots))
        for rgb, depth in _read_bts_list(data_dir / list_name[split])
    ]


def _kitti_files(data_dir, split):
    """(rgb, depth) path pairs from the BTS KITTI Eigen list: rgb under raw/, depth under gt/."""
    list_name = {"train": "eigen_train_files_with_gt.txt", "val": "eigen_test_files_with_gt.txt"}
    return [
        (_resolve(rgb, [data_dir / "raw"]), _resolve(depth, [data_dir / "gt"]))
        for rgb, depth in _read_bts_list(data_dir / list_name[split])
    ]


def _read_bts_list(path):
    """(rgb, depth) relative paths of a BTS filenames file, skipping lines whose depth is "None"."""
    lines = (line.split() for line in _existing(path).read_text().splitlines())
    return [(fields[0], fields[1]) for fields in lines if fields and fields[1] != "None"]


def _resolve(relative, roots):
    """First existing ``root / relative`` (leading "/" ignored, as in BTS lists) over `roots`."""
    candidates = [root / relative.lstrip("/") for root in roots]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"file not found: {' or '.join(map(str, candidates))}")


def _existing(path):
    """`path` itself, or FileNotFoundError naming it when it does not exist."""
    if not path.exists():
        raise FileNotFoundError(f"expected dataset path does not exist: {path}")
    return path


# ------------------------------------------------------------------------------------------ decoding


def _decode_sample(image_path, target_path, info):
    """Image float32 (H, W, 3) in [0, 255] and target (H, W, 1): int32 class ids or float32 metres."""
    image = tf.io.decode_image(tf.io.read_file(image_path), channels=3, expand_animations=False)
    image = tf.cast(image, tf.float32)
    if info["task"] == "segmentation":
        return image, _decode_label(target_path, info["reduce_zero_label"])
    depth = _decode_depth(target_path, info["depth_scale"])
    if info["kb_crop"]:
        return _kb_crop(image), _kb_crop(depth)
    return image, depth


def _decode_label(path, reduce_zero_label):
    """Class ids int32 (H, W, 1) from the index values of a PNG; with `reduce_zero_label`, 0 -> 255."""
    values = tf.numpy_function(_read_png_indices, [path], tf.uint8, stateful=False)
    values = tf.cast(tf.ensure_shape(values, [None, None]), tf.int32)[..., tf.newaxis]
    if reduce_zero_label:
        values = tf.where(values == 0, augment.IGNORE_INDEX, values - 1)
    return values


def _read_png_indices(path):
    """Raw pixel values (H, W) uint8 of a grayscale or palette PNG (palette indices, not colours)."""
    with Image.open(path.decode()) as png:
        return np.asarray(png, dtype=np.uint8)


def _decode_depth(path, depth_scale):
    """Depth float32 (H, W, 1) in metres from a uint16 PNG holding metres * `depth_scale`."""
    raw = tf.io.decode_png(tf.io.read_file(path), channels=1, dtype=tf.uint16)
    return tf.cast(raw, tf.float32) / depth_scale


def _kb_crop(tensor):
    """KITTI benchmark crop of (H, W, C): the bottom 352 rows and the central 1216 columns."""
    height, width = tf.shape(tensor)[0], tf.shape(tensor)[1]
    top, left = height - KB_CROP_SIZE[0], (width - KB_CROP_SIZE[1]) // 2
    return tf.image.crop_to_bounding_box(tensor, top, left, *KB_CROP_SIZE)


# ----------------------------------------------------------------------------------------- pipelines


def _training_samples(files, info, image_size, seed, shuffle_buffer):
    """Shuffled, augmented (image, target) samples; augmentation seeds are drawn from `seed`."""
    files = files.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    element_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def load_and_augment(paths, element_seed):
        image, target = _decode_sample(*paths, info)
        if info["task"] == "segmentation":
            image, target = augment.augment_segmentation(image, target, image_size, element_seed)
        else:
            image, target = augment.augment_depth(
                image, target, image_size, element_seed,
                info["max_rotation_degrees"], info["brightness_range"],
            )
        return _final_shapes(image, target, info)

    samples = tf.data.Dataset.zip(files, element_seeds)
    return samples.map(load_and_augment, num_parallel_calls=tf.data.AUTOTUNE)


def _evaluation_sample(image_path, target_path, info, image_size):
    """Decoded (image, target), resized to `image_size` unless it is None."""
    image, target = _decode_sample(image_path, target_path, info)
    if image_size is not None:
        image, target = augment.resize_pair(image, target, image_size)
    return _final_shapes(image, target, info)


def _final_shapes(image, target, info):
    """Drop the channel axis of segmentation labels: (H, W, 1) -> (H, W)."""
    if info["task"] == "segmentation":
        return image, target[..., 0]
    return image, target
