"""Evaluation metrics: confusion-matrix segmentation scores and the BTS depth errors.

Numpy accumulators (``ConfusionMatrix``, ``DepthMetrics``, ``depth_errors``) are for
evaluation; the ``keras.metrics.Metric`` subclasses give running values during ``fit``.
"""

import math

import keras
import numpy as np
from keras import ops

from bidense_keras.inputs import IGNORE_INDEX

DEPTH_ERROR_NAMES = ("d1", "d2", "d3", "abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog")

# Eigen crop of NYU-Depth-v2, defined on 480x640 images: rows 45:471, cols 41:601.
_EIGEN_BOX = (45, 471, 41, 601)
_EIGEN_SIZE = (480, 640)
# Garg crop of KITTI as fractions of the image size: top, bottom, left, right.
_GARG_FRACTIONS = (0.40810811, 0.99189189, 0.03594771, 0.96405229)


# ----------------------------------------------------------------------------- segmentation


class ConfusionMatrix:
    """Streaming confusion matrix; rows are ground-truth classes, columns predictions.

    Args:
        num_classes: number of classes ``C``; labels must lie in ``[0, C)``.
        ignore_index: ground-truth id skipped entirely.
    """

    def __init__(self, num_classes, ignore_index=IGNORE_INDEX):
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def reset(self):
        """Forget every update."""
        self.matrix[:] = 0

    def update(self, y_true, y_pred_labels):
        """Add a batch: int arrays of equal size (any shape), ids in ``[0, C)`` or ignored."""
        true = np.asarray(y_true).reshape(-1).astype(np.int64)
        pred = np.asarray(y_pred_labels).reshape(-1).astype(np.int64)
        if true.size != pred.size:
            raise ValueError(f"y_true has {true.size} labels but y_pred_labels has {pred.size}.")
        kept = true != self.ignore_index
        true, pred = true[kept], pred[kept]
        for name, labels in (("y_true", true), ("y_pred_labels", pred)):
            if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
                raise ValueError(f"{name} has ids outside [0, {self.num_classes}).")
        counts = np.bincount(true * self.num_classes + pred, minlength=self.num_classes**2)
        self.matrix += counts.reshape(self.num_classes, self.num_classes)

    def pixel_accuracy(self):
        """Fraction of kept pixels labelled correctly (NaN before any pixel)."""
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else math.nan

    def iou(self):
        """Per-class IoU (C,); NaN for classes absent from both ground truth and prediction."""
        intersection = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(axis=0) + self.matrix.sum(axis=1) - intersection
        return np.divide(intersection, union, out=np.full(self.num_classes, np.nan), where=union > 0)

    def mean_iou(self):
        """Mean IoU over the classes whose IoU is defined (NaN if none)."""
        iou = self.iou()
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else math.nan

    def result(self):
        """``{"pixAcc": float, "mIoU": float, "IoU": list of C floats}``."""
        return {"pixAcc": self.pixel_accuracy(), "mIoU": self.mean_iou(), "IoU": self.iou().tolist()}


def _pixel_weights(valid, sample_weight):
    """Float weights shaped like the boolean ``valid`` mask, times an optional ``sample_weight``.

    ``sample_weight`` may be per sample (B,) or per pixel; missing trailing axes are broadcast.
    """
    weights = ops.cast(valid, "float64")
    if sample_weight is None:
        return weights
    sample_weight = ops.cast(sample_weight, "float64")
    while len(sample_weight.shape) < len(weights.shape):
        sample_weight = ops.expand_dims(sample_weight, -1)
    return weights * sample_weight


@keras.saving.register_keras_serializable(package="bidense_keras")
class PixelAccuracy(keras.metrics.Metric):
    """Running pixel accuracy. ``y_true`` int (B, H, W), ``y_pred`` logits (B, H, W, C)."""

    def __init__(self, ignore_index=IGNORE_INDEX, name="pixel_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore_index = int(ignore_index)
        self.correct = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.cast(y_true, "int32")
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        weights = _pixel_weights(ops.not_equal(labels, self.ignore_index), sample_weight)
        self.correct.assign_add(ops.sum(weights * ops.cast(ops.equal(labels, predicted), "float64")))
        self.total.assign_add(ops.sum(weights))

    def result(self):
        return ops.cast(ops.divide_no_nan(self.correct, self.total), self.dtype)

    def get_config(self):
        return {**super().get_config(), "ignore_index": self.ignore_index}


@keras.saving.register_keras_serializable(package="bidense_keras")
class MeanIoU(keras.metrics.Metric):
    """Running mean IoU over classes seen in ground truth or prediction.

    ``y_true`` int (B, H, W), ``y_pred`` logits (B, H, W, num_classes).
    """

    def __init__(self, num_classes, ignore_index=IGNORE_INDEX, name="mean_iou", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.confusion = self.add_variable(
            shape=(self.num_classes, self.num_classes), initializer="zeros", dtype="float64", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.cast(y_true, "int32")
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        kept = ops.not_equal(labels, self.ignore_index)
        weights = _pixel_weights(kept, sample_weight)
        cells = ops.where(kept, labels, 0) * self.num_classes + predicted
        # segment_sum, not bincount: it compiles under XLA (jit_compile=True).
        counts = ops.segment_sum(ops.reshape(weights, (-1,)), ops.reshape(cells, (-1,)),
                                 num_segments=self.num_classes**2)
        self.confusion.assign_add(ops.reshape(ops.cast(counts, "float64"), (self.num_classes, self.num_classes)))

    def result(self):
        intersection = ops.diagonal(self.confusion)
        union = ops.sum(self.confusion, axis=0) + ops.sum(self.confusion, axis=1) - intersection
        present = ops.cast(ops.greater(union, 0), "float64")
        iou = ops.divide_no_nan(intersection, union)
        return ops.cast(ops.divide_no_nan(ops.sum(iou), ops.sum(present)), self.dtype)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "ignore_index": self.ignore_index}


# ----------------------------------------------------------------------------- depth


def crop_box(crop, height, width):
    """``(top, bottom, left, right)`` of an evaluation crop for an image of ``height x width``.

    ``"eigen"`` scales NYU's 480x640 box proportionally; ``"garg"`` uses KITTI's fractions;
    ``None`` keeps the whole image.
    """
    if crop is None:
        return 0, height, 0, width
    if crop == "eigen":
        (top, bottom, left, right), (ref_h, ref_w) = _EIGEN_BOX, _EIGEN_SIZE
        return top * height // ref_h, bottom * height // ref_h, left * width // ref_w, right * width // ref_w
    if crop == "garg":
        top, bottom, left, right = _GARG_FRACTIONS
        return int(top * height), int(bottom * height), int(left * width), int(right * width)
    raise ValueError(f"Unknown crop {crop!r}; expected None, 'eigen' or 'garg'.")


def _as_map(depth):
    """(H, W) or (H, W, 1) -> float64 (H, W)."""
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim == 3 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise ValueError(f"Expected a depth map (H, W) or (H, W, 1); got shape {depth.shape}.")
    return depth


def valid_pixels(gt, pred, min_depth, max_depth, crop):
    """1-D (gt, pred) at pixels with gt in (min_depth, max_depth) inside the crop; pred clipped."""
    gt, pred = _as_map(gt), _as_map(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"gt {gt.shape} and pred {pred.shape} differ in shape.")
    pred = np.clip(np.nan_to_num(pred, nan=min_depth, posinf=max_depth, neginf=min_depth), min_depth, max_depth)
    top, bottom, left, right = crop_box(crop, *gt.shape)
    in_crop = np.zeros(gt.shape, dtype=bool)
    in_crop[top:bottom, left:right] = True
    valid = in_crop & (gt > min_depth) & (gt < max_depth)
    return gt[valid], pred[valid]


def _errors(gt, pred):
    """The BTS error set of non-empty 1-D positive ``gt`` and ``pred``."""
    ratio = np.maximum(gt / pred, pred / gt)
    log_error = np.log(pred) - np.log(gt)
    return {
        "d1": float(np.mean(ratio < 1.25)),
        "d2": float(np.mean(ratio < 1.25**2)),
        "d3": float(np.mean(ratio < 1.25**3)),
        "abs_rel": float(np.mean(np.abs(gt - pred) / gt)),
        "sq_rel": float(np.mean((gt - pred) ** 2 / gt)),
        "rmse": float(np.sqrt(np.mean((gt - pred) ** 2))),
        "rmse_log": float(np.sqrt(np.mean(log_error**2))),
        "log10": float(np.mean(np.abs(np.log10(pred) - np.log10(gt)))),
        "silog": float(np.sqrt(max(np.mean(log_error**2) - np.mean(log_error) ** 2, 0.0)) * 100),
    }


def depth_errors(gt, pred, min_depth=1e-3, max_depth=10.0, crop=None):
    """BTS depth errors of one image; gt/pred (H, W) or (H, W, 1) metres.

    Pixels count when gt lies in (min_depth, max_depth) and inside ``crop``
    (None, "eigen" or "garg"); pred is clipped to [min_depth, max_depth] first.
    Returns a dict keyed by ``DEPTH_ERROR_NAMES``, all NaN if no pixel is valid.
    """
    gt, pred = valid_pixels(gt, pred, min_depth, max_depth, crop)
    if gt.size == 0:
        return dict.fromkeys(DEPTH_ERROR_NAMES, math.nan)
    return _errors(gt, pred)


class DepthMetrics:
    """Streaming mean of per-image ``depth_errors`` (the BTS convention).

    Images without a valid pixel are skipped.
    """

    def __init__(self, min_depth, max_depth, crop=None):
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.crop = crop
        self.reset()

    def reset(self):
        """Forget every update."""
        self.count = 0
        self._sums = dict.fromkeys(DEPTH_ERROR_NAMES, 0.0)

    def update(self, gt_batch, pred_batch):
        """Add a batch of depth maps (B, H, W) or (B, H, W, 1)."""
        for gt, pred in zip(np.asarray(gt_batch), np.asarray(pred_batch), strict=True):
            gt, pred = valid_pixels(gt, pred, self.min_depth, self.max_depth, self.crop)
            if gt.size == 0:
                continue
            for name, value in _errors(gt, pred).items():
                self._sums[name] += value
            self.count += 1

    def result(self):
        """Dict of mean errors over the counted images (NaN before any)."""
        if not self.count:
            return dict.fromkeys(DEPTH_ERROR_NAMES, math.nan)
        return {name: total / self.count for name, total in self._sums.items()}


class PooledDepthMetric(keras.metrics.Metric):
    """Running mean of a per-pixel depth quantity over the valid pixels of every batch seen.

    Valid: gt in (min_depth, max_depth); pred is clipped to that range as in evaluation.
    ``y_true``, ``y_pred`` float (B, H, W, 1) metres. Pooled over pixels (a training-time log);
    :class:`DepthMetrics` averages per image, as the evaluation reports.
    """

    def __init__(self, min_depth=1e-3, max_depth=10.0, **kwargs):
        super().__init__(**kwargs)
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="count")

    def pixel_values(self, gt, pred):
        """The per-pixel quantity, from float64 ``gt`` (1 where invalid) and clipped ``pred``."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        gt = ops.cast(y_true, "float64")
        pred = ops.clip(ops.cast(y_pred, "float64"), self.min_depth, self.max_depth)
        valid = ops.logical_and(ops.greater(gt, self.min_depth), ops.less(gt, self.max_depth))
        weights = _pixel_weights(valid, sample_weight)
        self.total.assign_add(ops.sum(weights * self.pixel_values(ops.where(valid, gt, 1.0), pred)))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        return ops.cast(ops.divide_no_nan(self.total, self.count), self.dtype)

    def get_config(self):
        return {**super().get_config(), "min_depth": self.min_depth, "max_depth": self.max_depth}


@keras.saving.register_keras_serializable(package="bidense_keras")
class DepthAbsRel(PooledDepthMetric):
    """Running absolute relative error ``mean(|pred - gt| / gt)`` pooled over valid pixels (see the base)."""

    def __init__(self, min_depth=1e-3, max_depth=10.0, name="abs_rel", **kwargs):
        super().__init__(min_depth=min_depth, max_depth=max_depth, name=name, **kwargs)

    def pixel_values(self, gt, pred):
        """``|pred - gt| / gt``."""
        return ops.abs(pred - gt) / gt


@keras.saving.register_keras_serializable(package="bidense_keras")
class DepthDelta1(PooledDepthMetric):
    """Running δ1: the fraction of valid pixels with ``max(pred / gt, gt / pred) < 1.25`` (see the base)."""

    def __init__(self, min_depth=1e-3, max_depth=10.0, name="d1", **kwargs):
        super().__init__(min_depth=min_depth, max_depth=max_depth, name=name, **kwargs)

    def pixel_values(self, gt, pred):
        """1 where the prediction is within a factor 1.25 of ``gt``, else 0."""
        return ops.cast(ops.less(ops.maximum(pred / gt, gt / pred), 1.25), "float64")
