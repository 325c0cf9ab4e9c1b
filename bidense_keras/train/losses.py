"""Training losses: pixel-wise cross-entropy for segmentation, scale-invariant log loss for depth.

Both losses reduce over every valid pixel of the batch themselves; ``call`` repeats that
value once per image, so Keras' own mean over the batch leaves it unchanged while still
applying Keras' scaling for ``tf.distribute`` (a scalar from ``call`` would skip it, and
each replica's gradient would count fully instead of ``1 / replicas``).
"""

import keras
from keras import ops

from bidense_keras.inputs import IGNORE_INDEX


def _per_image(batch_loss, y_true):
    """``(B,)``: the batch's scalar loss once per image, for Keras' mean reduction."""
    return ops.broadcast_to(batch_loss, ops.shape(y_true)[:1])


def _safe_ratio(numerator, denominator):
    """``numerator / denominator``, or 0 where the denominator is 0."""
    positive = ops.greater(denominator, 0)
    return ops.where(positive, numerator / ops.where(positive, denominator, 1.0), 0.0)


@keras.saving.register_keras_serializable(package="bidense_keras")
class SegmentationCrossEntropy(keras.losses.Loss):
    """Softmax cross-entropy from logits, averaged over the non-ignored pixels.

    Matches PyTorch's ``CrossEntropyLoss(weight=class_weights, ignore_index=ignore_index)``:
    the (weighted) mean is ``sum(w[y] * ce) / sum(w[y])`` over kept pixels, 0 if none.

    Args:
        ignore_index: label id excluded from the loss.
        class_weights: optional sequence of ``C`` per-class weights.

    Call: ``y_true`` int (B, H, W) class ids, ``y_pred`` float (B, H, W, C) logits -> scalar.
    """

    def __init__(self, ignore_index=IGNORE_INDEX, class_weights=None, name="segmentation_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore_index = int(ignore_index)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true, "int32")
        kept = ops.not_equal(labels, self.ignore_index)
        safe_labels = ops.where(kept, labels, 0)
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        nll = -ops.squeeze(ops.take_along_axis(log_probs, safe_labels[..., None], axis=-1), axis=-1)
        weights = ops.cast(kept, "float32") * self._label_weights(safe_labels)
        return _per_image(_safe_ratio(ops.sum(weights * nll), ops.sum(weights)), y_true)

    def _label_weights(self, labels):
        """Per-pixel class weight ``w[labels]`` (B, H, W), or 1 without class weights."""
        if self.class_weights is None:
            return 1.0
        return ops.take(ops.convert_to_tensor(self.class_weights, "float32"), labels)

    def get_config(self):
        return {**super().get_config(), "ignore_index": self.ignore_index, "class_weights": self.class_weights}


@keras.saving.register_keras_serializable(package="bidense_keras")
class SILogLoss(keras.losses.Loss):
    """Scale-invariant log loss of BTS, pooled over all valid pixels of the batch.

    With ``d = log(pred) - log(gt)`` on pixels where ``gt > min_depth``:
    ``loss = scale * sqrt(mean(d**2) - variance_focus * mean(d)**2)``.

    Args:
        variance_focus: weight of the squared-mean term (1 gives a fully scale-invariant loss).
        scale: output multiplier.
        min_depth: ground truth at or below this is invalid.

    Call: ``y_true``, ``y_pred`` float (B, H, W, 1) metres -> scalar.
    """

    _PRED_FLOOR = 1e-6  # keeps log(pred) finite for non-positive predictions
    _VARIANCE_FLOOR = 1e-12  # keeps sqrt and its gradient finite at zero variance

    def __init__(self, variance_focus=0.85, scale=10.0, min_depth=1e-3, name="silog_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.variance_focus = float(variance_focus)
        self.scale = float(scale)
        self.min_depth = float(min_depth)

    def call(self, y_true, y_pred):
        gt = ops.cast(y_true, "float32")
        pred = ops.cast(y_pred, "float32")
        valid = ops.greater(gt, self.min_depth)
        mask = ops.cast(valid, "float32")
        # Invalid pixels get log(1) - log(1) so that neither values nor gradients become NaN.
        log_gt = ops.log(ops.where(valid, gt, 1.0))
        log_pred = ops.log(ops.where(valid, ops.maximum(pred, self._PRED_FLOOR), 1.0))
        d = (log_pred - log_gt) * mask
        count = ops.sum(mask)
        mean_d = _safe_ratio(ops.sum(d), count)
        mean_d2 = _safe_ratio(ops.sum(d * d), count)
        variance = mean_d2 - self.variance_focus * mean_d * mean_d
        return _per_image(self.scale * ops.sqrt(ops.maximum(variance, self._VARIANCE_FLOOR)), y_true)

    def get_config(self):
        return {
            **super().get_config(),
            "variance_focus": self.variance_focus,
            "scale": self.scale,
            "min_depth": self.min_depth,
        }
