"""Losses and metrics checked against values worked out by hand on tiny arrays."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from bidense_keras.train import (
    ConfusionMatrix,
    DepthAbsRel,
    DepthDelta1,
    DepthMetrics,
    MeanIoU,
    PixelAccuracy,
    SegmentationCrossEntropy,
    SILogLoss,
    depth_errors,
)
from bidense_keras.train.metrics import crop_box, valid_pixels

# 2x3 label map with one ignored pixel; class 3 appears in neither map.
GT_LABELS = np.array([[0, 0, 1], [1, 2, 255]])
PRED_LABELS = np.array([[0, 1, 1], [1, 2, 0]])

# 2x2 depth map; the 0 is invalid.
GT_DEPTH = np.array([[1.0, 2.0], [4.0, 0.0]])
PRED_DEPTH = np.array([[1.0, 1.0], [5.0, 3.0]])


def logits_for(labels, num_classes):
    """One-hot logits whose argmax is ``labels`` (ignored ids map to class 0)."""
    return np.eye(num_classes, dtype="float32")[np.where(labels == 255, 0, labels)]


# ----------------------------------------------------------------------------- confusion matrix


def test_confusion_matrix_counts_and_scores():
    cm = ConfusionMatrix(num_classes=4)
    cm.update(GT_LABELS, PRED_LABELS)
    # kept (gt, pred) pairs: (0,0) (0,1) (1,1) (1,1) (2,2); the ignored pixel is dropped.
    expected = np.zeros((4, 4), dtype=int)
    expected[0, 0] = expected[0, 1] = expected[2, 2] = 1
    expected[1, 1] = 2
    np.testing.assert_array_equal(cm.matrix, expected)
    # 4 correct of 5 kept pixels.
    assert cm.pixel_accuracy() == pytest.approx(4 / 5)
    # IoU = tp / (row + col - tp): class 0: 1/(2+1-1); class 1: 2/(2+3-2); class 2: 1/1; class 3 absent.
    iou = cm.iou()
    np.testing.assert_allclose(iou[:3], [1 / 2, 2 / 3, 1.0])
    assert math.isnan(iou[3])
    # mIoU averages only the three defined classes: (1/2 + 2/3 + 1) / 3 = 13/18.
    assert cm.mean_iou() == pytest.approx(13 / 18)
    result = cm.result()
    assert result["pixAcc"] == pytest.approx(0.8)
    assert result["mIoU"] == pytest.approx(13 / 18)
    assert len(result["IoU"]) == 4


def test_confusion_matrix_streams_and_resets():
    cm = ConfusionMatrix(num_classes=4)
    cm.update(GT_LABELS, PRED_LABELS)
    cm.update(GT_LABELS[None], PRED_LABELS[None])  # any shape; counts double, ratios unchanged
    assert cm.matrix.sum() == 10
    assert cm.pixel_accuracy() == pytest.approx(0.8)
    cm.reset()
    assert cm.matrix.sum() == 0
    assert math.isnan(cm.pixel_accuracy()) and math.isnan(cm.mean_iou())


def test_confusion_matrix_only_ignored_and_out_of_range():
    cm = ConfusionMatrix(num_classes=2, ignore_index=255)
    cm.update(np.full((2, 2), 255), np.full((2, 2), 7))  # ignored pixels are never checked
    assert cm.matrix.sum() == 0
    with pytest.raises(ValueError, match="y_pred_labels"):
        cm.update(np.array([0]), np.array([2]))
    with pytest.raises(ValueError, match="y_true"):
        cm.update(np.array([3]), np.array([0]))


# ----------------------------------------------------------------------------- keras segmentation metrics


def test_keras_segmentation_metrics_match_confusion_matrix():
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(2):
        labels = rng.integers(0, 4, size=(2, 3, 5))
        labels[0, 0, :2] = 255
        batches.append((labels, rng.normal(size=(2, 3, 5, 4)).astype("float32")))
    cm, accuracy, miou = ConfusionMatrix(4), PixelAccuracy(), MeanIoU(num_classes=4)
    for labels, logits in batches:
        cm.update(labels, logits.argmax(-1))
        accuracy.update_state(labels, logits)
        miou.update_state(labels, logits)
    assert float(accuracy.result()) == pytest.approx(cm.pixel_accuracy(), rel=1e-6)
    assert float(miou.result()) == pytest.approx(cm.mean_iou(), rel=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(miou.confusion), cm.matrix)


def test_keras_segmentation_metrics_on_hand_case_and_reset():
    logits = logits_for(PRED_LABELS, 4)[None]
    accuracy, miou = PixelAccuracy(), MeanIoU(num_classes=4)
    accuracy.update_state(GT_LABELS[None], logits)
    miou.update_state(GT_LABELS[None], logits)
    assert float(accuracy.result()) == pytest.approx(4 / 5)  # as in the numpy hand case
    assert float(miou.result()) == pytest.approx(13 / 18)  # class 3 absent -> excluded
    accuracy.reset_state()
    miou.reset_state()
    assert float(accuracy.result()) == 0.0 and float(miou.result()) == 0.0


def test_keras_segmentation_metrics_sample_weight():
    labels = np.stack([GT_LABELS, np.zeros_like(GT_LABELS)])
    logits = np.stack([logits_for(PRED_LABELS, 4), logits_for(np.ones_like(GT_LABELS), 4)])
    accuracy = PixelAccuracy()
    accuracy.update_state(labels, logits, sample_weight=np.array([1.0, 0.0]))
    # the second (all wrong) sample has weight 0, so the first alone gives 4/5.
    assert float(accuracy.result()) == pytest.approx(4 / 5)


# ----------------------------------------------------------------------------- cross-entropy


def test_cross_entropy_by_hand():
    y_true = np.array([[[0, 1]]])  # (1, 1, 2)
    y_pred = np.array([[[[2.0, 0.0], [0.0, 0.0]]]], dtype="float32")  # (1, 1, 2, 2)
    # pixel A: -log(e^2 / (e^2 + e^0)) = log(1 + e^-2); pixel B: -log(1/2) = log 2.
    ce_a, ce_b = math.log(1 + math.exp(-2)), math.log(2)
    loss = SegmentationCrossEntropy()
    assert float(loss(y_true, y_pred)) == pytest.approx((ce_a + ce_b) / 2, rel=1e-6)
    # ignoring pixel B leaves pixel A alone.
    assert float(loss(np.array([[[0, 255]]]), y_pred)) == pytest.approx(ce_a, rel=1e-6)
    # all ignored -> 0.
    assert float(loss(np.array([[[255, 255]]]), y_pred)) == 0.0


def test_cross_entropy_class_weights():
    y_true = np.array([[[0, 1]]])
    y_pred = np.array([[[[2.0, 0.0], [0.0, 0.0]]]], dtype="float32")
    ce_a, ce_b = math.log(1 + math.exp(-2)), math.log(2)
    # weighted mean: (1 * ce_a + 3 * ce_b) / (1 + 3).
    weighted = SegmentationCrossEntropy(class_weights=[1.0, 3.0])
    assert float(weighted(y_true, y_pred)) == pytest.approx((ce_a + 3 * ce_b) / 4, rel=1e-6)
    # a zero-weight class (ADE20K's class 150) drops out of numerator and denominator.
    zeroed = SegmentationCrossEntropy(class_weights=[1.0, 0.0])
    assert float(zeroed(y_true, y_pred)) == pytest.approx(ce_a, rel=1e-6)


# ----------------------------------------------------------------------------- SILog


def test_silog_constant_log_ratio():
    gt = GT_DEPTH[None, ..., None].astype("float32")  # 3 valid pixels, 1 invalid
    pred = 2 * gt  # the invalid pixel predicts 0: must not give log(0)
    # d = log 2 everywhere: mean(d^2) - 0.85 mean(d)^2 = 0.15 log(2)^2.
    expected = 10 * math.sqrt((1 - 0.85) * math.log(2) ** 2)
    assert float(SILogLoss()(gt, pred)) == pytest.approx(expected, rel=1e-5)


def test_silog_gradient_is_finite_with_invalid_pixels():
    gt = tf.constant(GT_DEPTH[None, ..., None], dtype="float32")
    pred = tf.Variable(np.array([[[[1.0], [2.0]], [[4.0], [0.0]]]], dtype="float32"))  # exact on valid
    with tf.GradientTape() as tape:
        loss = SILogLoss()(gt, pred)
    assert float(loss) == pytest.approx(0.0, abs=1e-4)
    assert np.isfinite(tape.gradient(loss, pred).numpy()).all()


# ----------------------------------------------------------------------------- depth errors


def test_depth_errors_by_hand():
    errors = depth_errors(GT_DEPTH, PRED_DEPTH[..., None], min_depth=1e-3, max_depth=10.0)
    # valid pixels (gt, pred): (1, 1) (2, 1) (4, 5); max(gt/pred, pred/gt) = 1, 2, 1.25.
    assert errors["d1"] == pytest.approx(1 / 3)  # only 1 < 1.25 (1.25 itself is not)
    assert errors["d2"] == pytest.approx(2 / 3)  # 1, 1.25 < 1.5625
    assert errors["d3"] == pytest.approx(2 / 3)  # 2 > 1.953125
    assert errors["abs_rel"] == pytest.approx((0 + 1 / 2 + 1 / 4) / 3)
    assert errors["sq_rel"] == pytest.approx((0 + 1 / 2 + 1 / 4) / 3)  # squared diffs 0, 1, 1 over gt
    assert errors["rmse"] == pytest.approx(math.sqrt((0 + 1 + 1) / 3))
    log_err = [0.0, math.log(1 / 2), math.log(5 / 4)]  # log(pred) - log(gt)
    mean_sq = sum(e * e for e in log_err) / 3
    assert errors["rmse_log"] == pytest.approx(math.sqrt(mean_sq))
    assert errors["log10"] == pytest.approx((0 + math.log10(2) + math.log10(5 / 4)) / 3)
    assert errors["silog"] == pytest.approx(100 * math.sqrt(mean_sq - (sum(log_err) / 3) ** 2))


def test_depth_errors_clips_pred_and_drops_far_gt():
    gt = np.array([[5.0, 12.0]])  # 12 >= max_depth is invalid
    pred = np.array([[20.0, 1.0]])  # 20 is clipped to 10
    errors = depth_errors(gt, pred, max_depth=10.0)
    assert errors["abs_rel"] == pytest.approx(abs(10 - 5) / 5)
    assert all(math.isnan(v) for v in depth_errors(np.zeros((2, 2)), np.ones((2, 2))).values())


@pytest.mark.parametrize(
    "crop, height, width, box",
    [
        ("eigen", 480, 640, (45, 471, 41, 601)),
        # 45*375/480 = 35.2, 471*375/480 = 368.0-, 41*1242/640 = 79.6, 601*1242/640 = 1166.3 (floored)
        ("eigen", 375, 1242, (35, 367, 79, 1166)),
        # 0.40810811*480 = 195.9, 0.99189189*480 = 476.1, 0.03594771*640 = 23.0, 0.96405229*640 = 617.0-
        ("garg", 480, 640, (195, 476, 23, 616)),
        # 0.40810811*375 = 153.0, 0.99189189*375 = 371.96, 0.03594771*1242 = 44.6, 0.96405229*1242 = 1197.4
        ("garg", 375, 1242, (153, 371, 44, 1197)),
        (None, 375, 1242, (0, 375, 0, 1242)),
    ],
)
def test_crop_boxes(crop, height, width, box):
    assert crop_box(crop, height, width) == box


def test_valid_pixels_keeps_gt_inside_the_range_and_clips_pred():
    gt = np.array([[0.0, 2.0, 5.0], [12.0, 3.0, 4.0]])[..., None]  # 0 and 12 m are outside (1e-3, 10)
    pred = np.array([[1.0, np.nan, 50.0], [2.0, -1.0, 4.0]])
    kept_gt, kept_pred = valid_pixels(gt, pred, 1e-3, 10.0, crop=None)
    np.testing.assert_array_equal(kept_gt, [2.0, 5.0, 3.0, 4.0])
    np.testing.assert_array_equal(kept_pred, [1e-3, 10.0, 1e-3, 4.0])
    with pytest.raises(ValueError, match="differ in shape"):
        valid_pixels(gt, pred[:, :2], 1e-3, 10.0, crop=None)


def test_depth_errors_respects_crop():
    gt = np.full((480, 640), 2.0)
    pred = np.full((480, 640), 4.0)
    pred[45:471, 41:601] = 2.0  # exact only inside the Eigen crop
    assert depth_errors(gt, pred, crop="eigen")["abs_rel"] == 0.0
    assert depth_errors(gt, pred)["abs_rel"] > 0.0
    with pytest.raises(ValueError, match="Unknown crop"):
        depth_errors(gt, pred, crop="kitti")


def test_depth_metrics_averages_per_image():
    gt = np.stack([GT_DEPTH, np.full((2, 2), 2.0), np.zeros((2, 2))])[..., None]
    pred = np.stack([PRED_DEPTH, np.full((2, 2), 2.0), np.ones((2, 2))])[..., None]
    metrics = DepthMetrics(min_depth=1e-3, max_depth=10.0)
    metrics.update(gt[:2], pred[:2])
    metrics.update(gt[2:], pred[2:])  # no valid pixel: skipped
    assert metrics.count == 2
    result = metrics.result()
    # per-image abs_rel 0.25 (hand case) and 0 (exact) -> 0.125; d1: (1/3 + 1) / 2.
    assert result["abs_rel"] == pytest.approx(0.125)
    assert result["d1"] == pytest.approx((1 / 3 + 1) / 2)
    metrics.reset()
    assert metrics.count == 0 and math.isnan(metrics.result()["rmse"])


def test_depth_abs_rel_pools_pixels_like_numpy():
    gt_b = np.array([[2.0, 2.0], [2.0, 20.0]])  # 20 >= max_depth is invalid
    pred_b = np.array([[3.0, 2.0], [2.0, 2.0]])
    metric = DepthAbsRel(min_depth=1e-3, max_depth=10.0)
    metric.update_state(GT_DEPTH[None, ..., None], PRED_DEPTH[None, ..., None])
    metric.update_state(gt_b[None, ..., None], pred_b[None, ..., None])
    # relative errors: 0, 1/2, 1/4 then 1/2, 0, 0 -> 1.25 / 6 pixels.
    assert float(metric.result()) == pytest.approx(1.25 / 6, rel=1e-6)
    pooled = depth_errors(np.concatenate([GT_DEPTH, gt_b], 1), np.concatenate([PRED_DEPTH, pred_b], 1))
    assert float(metric.result()) == pytest.approx(pooled["abs_rel"], rel=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_depth_delta1_pools_pixels_like_numpy():
    gt_b = np.array([[2.0, 2.0], [2.0, 20.0]])  # 20 >= max_depth is invalid
    pred_b = np.array([[3.0, 2.4], [1.5, 2.0]])  # ratios 1.5, 1.2, 1.33: one of three within 1.25
    metric = DepthDelta1(min_depth=1e-3, max_depth=10.0)
    metric.update_state(GT_DEPTH[None, ..., None], PRED_DEPTH[None, ..., None])
    metric.update_state(gt_b[None, ..., None], pred_b[None, ..., None])
    pooled = depth_errors(np.concatenate([GT_DEPTH, gt_b], 1), np.concatenate([PRED_DEPTH, pred_b], 1))
    assert float(metric.result()) == pytest.approx(pooled["d1"], rel=1e-6)
    assert 0 < float(metric.result()) < 1 and metric.name == "d1"


# ----------------------------------------------------------------------------- serialization


@pytest.mark.parametrize(
    "obj",
    [
        SegmentationCrossEntropy(ignore_index=150, class_weights=[1.0, 0.5]),
        SILogLoss(variance_focus=0.5, scale=2.0, min_depth=0.1),
        PixelAccuracy(ignore_index=0),
        MeanIoU(num_classes=7, ignore_index=0),
        DepthAbsRel(min_depth=0.5, max_depth=80.0),
        DepthDelta1(min_depth=0.5, max_depth=80.0),
    ],
    ids=lambda obj: type(obj).__name__,
)
def test_config_round_trip(obj):
    config = keras.saving.serialize_keras_object(obj)
    assert config["registered_name"] == f"bidense_keras>{type(obj).__name__}"
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(obj)
    assert restored.get_config() == obj.get_config()


def test_compiled_fit_smoke():
    """Losses and Keras metrics run inside a compiled train step."""
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, 4, 4, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(4, 4, 4))
    labels[:, 0] = 255
    depths = np.abs(rng.normal(size=(4, 4, 4, 1))).astype("float32") + 0.5
    depths[:, 0] = 0.0
    cases = [
        (3, None, SegmentationCrossEntropy(class_weights=[1.0, 1.0, 0.0]), [PixelAccuracy(), MeanIoU(3)], labels),
        (1, "softplus", SILogLoss(), [DepthAbsRel(), DepthDelta1()], depths),
    ]
    for channels, activation, loss, metrics, targets in cases:
        model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(channels, 1, activation=activation)])
        model.compile("adam", loss, metrics=metrics)
        history = model.fit(images, targets, batch_size=2, epochs=1, verbose=0).history
        assert all(np.isfinite(values).all() for values in history.values())
