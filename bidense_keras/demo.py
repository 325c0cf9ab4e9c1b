"""The README's main job: predict segmentation and depth for a sample image and save a picture."""

import numpy as np

from bidense_keras import visualize
from bidense_keras.loader import load
from bidense_keras.presets import DEFAULT_PRESETS, get_preset
from bidense_keras.datasets import synthetic_rooms

HELD_OUT_SEED = synthetic_rooms.HELD_OUT_SEED_OFFSET + 12345  # not among the training scenes


def _model(preset):
    """``(model, title suffix)``: the preset's published weights, or untrained weights if none exist."""
    if get_preset(preset)["weights"] is None:
        return load(preset, pretrained=False), "untrained weights"
    return load(preset), preset


def run_demo(out_path, height=240, width=320, seed=HELD_OUT_SEED):
    """Renders a held-out synthetic room, predicts with the default presets, writes ``input | seg | depth``.

    A preset without published weights runs with random weights, and its panel title says so.

    Returns:
        ``out_path``.
    """
    image = synthetic_rooms.render(seed, height, width)["image"]
    batch = image[None].astype(np.float32)
    segmenter, seg_title = _model(DEFAULT_PRESETS["segmentation"])
    estimator, depth_title = _model(DEFAULT_PRESETS["depth"])
    labels = np.argmax(segmenter.predict(batch, verbose=0)[0], axis=-1)
    depth = estimator.predict(batch, verbose=0)[0, ..., 0]
    figure = visualize.prediction_figure(
        image, labels=labels, depth=depth, max_depth=estimator.max_depth,
        class_names=segmenter.class_names, palette=segmenter.palette,
        titles=("synthetic room (held out)", f"segmentation ({seg_title})", f"depth ({depth_title})"),
    )
    figure.savefig(out_path)
    return out_path
