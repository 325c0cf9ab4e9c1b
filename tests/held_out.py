"""Held-out metrics recomputed in a few lines of numpy, for checking ``evaluate`` against an independent path.

Nothing here uses ``bidense_keras.train`` or ``bidense_keras.datasets``: the synthetic held-out split is
read from its files (labels and depth with Pillow, images with TensorFlow's JPEG decoder, which is
what a TensorFlow input pipeline decodes; Pillow's decoder differs by a few levels), and the metrics
follow their textbook definitions (mIoU over the classes present in the labels or the predictions;
per-image AbsRel over pixels with a valid depth, predictions clipped to the valid range, averaged
over the images).
"""

from pathlib import Path

import numpy as np
from PIL import Image

IGNORE = 255


def decode_jpeg(path):
    import tensorflow as tf

    return tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3).numpy().astype(np.float32)


def read_held_out(data_dir, task):
    """``(images (N, H, W, 3) float32 in [0, 255], targets)`` of the synthetic held-out split in ``data_dir``.

    Segmentation (ADE20K layout, annotation = class + 1, 0 unlabelled): ``int64 (N, H, W)`` class ids,
    ``IGNORE`` where unlabelled. Depth (NYU/BTS layout, uint16 millimetres, 0 invalid): ``(N, H, W)`` metres.
    """
    data_dir = Path(data_dir)
    if task == "segmentation":
        base = data_dir / "ADEChallengeData2016"
        pairs = [(image, base / "annotations" / "validation" / f"{image.stem}.png")
                 for image in sorted((base / "images" / "validation").glob("*.jpg"))]
    else:
        lines = (data_dir / "nyudepthv2_test_files_with_gt.txt").read_text().split("\n")
        pairs = [(data_dir / "sync" / rgb, data_dir / "sync" / depth)
                 for rgb, depth, _ in (line.split() for line in lines if line.strip())]
    assert pairs, f"no held-out samples under {data_dir}"
    images = np.stack([decode_jpeg(image) for image, _ in pairs])
    raw = np.stack([np.asarray(Image.open(target)).astype(np.int64) for _, target in pairs])
    if task == "segmentation":
        return images, np.where(raw == 0, IGNORE, raw - 1)
    return images, raw / 1000.0


def mean_iou(labels, logits):
    """Mean IoU of ``argmax(logits)`` against ``labels`` (``IGNORE`` skipped), over the classes that occur."""
    predicted = np.argmax(logits, axis=-1)
    kept = labels != IGNORE
    labels, predicted = labels[kept], predicted[kept]
    ious = []
    for label in range(logits.shape[-1]):
        truth, guess = labels == label, predicted == label
        union = np.sum(truth | guess)
        if union:
            ious.append(np.sum(truth & guess) / union)
    return float(np.mean(ious))


def abs_rel(depth, predicted, max_depth, min_depth=1e-3):
    """Per-image ``mean(|pred - gt| / gt)`` over pixels with ``min_depth < gt < max_depth``, averaged over images."""
    predicted = np.clip(np.asarray(predicted, np.float64).reshape(depth.shape), min_depth, max_depth)
    errors = []
    for gt, pred in zip(depth, predicted):
        valid = (gt > min_depth) & (gt < max_depth)
        errors.append(np.mean(np.abs(pred[valid] - gt[valid]) / gt[valid]))
    return float(np.mean(errors))


def held_out_metric(model, data_dir, predict=None):
    """mIoU (segmentation) or AbsRel (depth) of ``predict(images)`` (default ``model.predict``, one batch)."""
    images, targets = read_held_out(data_dir, model.task)
    outputs = predict(images) if predict is not None else model.predict(images, batch_size=len(images), verbose=0)
    if model.task == "segmentation":
        return mean_iou(targets, np.asarray(outputs))
    return abs_rel(targets, np.asarray(outputs), model.max_depth)
