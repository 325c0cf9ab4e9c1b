"""Training and evaluation utilities: losses and metrics for segmentation and depth."""

from bidense_keras.train.losses import SegmentationCrossEntropy, SILogLoss
from bidense_keras.train.metrics import (
    ConfusionMatrix,
    DepthAbsRel,
    DepthDelta1,
    DepthMetrics,
    MeanIoU,
    PixelAccuracy,
    depth_errors,
)
