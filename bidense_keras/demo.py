"""The README's main job: predict segmentation and depth for a sample image and save a picture."""

import numpy as np

from bidense_keras import factory, visualize
from bidense_keras.datasets import synthetic_rooms


def run_demo(out_path, preset_segmentation=None, preset_depth=None, height=240, width=320, seed=7):
    """Renders a synthetic room, predicts segmentation and depth, writes ``input | segmentation | depth``.

    Until published weights exist the models are untrained (random weights), so
    the picture shows the pipeline, not a trained result; the titles say so.

    Returns:
        ``out_path``.
    """
    image = synthetic_rooms.render(seed, height, width)["image"]
    batch = image[None].astype(np.float32)
    segmenter = factory.segmentation(preset_segmentation)
    estimator = factory.depth(preset_depth)
    labels = np.argmax(segmenter.predict(batch, verbose=0)[0], axis=-1)
    depth = estimator.predict(batch, verbose=0)[0, ..., 0]
    figure = visualize.prediction_figure(
        image, labels=labels, depth=depth, max_depth=estimator.max_depth,
        titles=("synthetic room", "segmentation (untrained weights)", "depth (untrained weights)"),
    )
    figure.savefig(out_path)
    return out_path
