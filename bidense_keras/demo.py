"""The README's main job: predict segmentation and depth for a sample image and save a picture."""

import numpy as np
from PIL import Image, ImageDraw

from bidense_keras import factory, visualize


def sample_image(height=192, width=256, seed=0):
    """A simple procedural scene ``(height, width, 3)`` uint8: sky-to-floor gradient and a few shapes."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    top, bottom = np.array([190, 200, 215]), np.array([120, 95, 70])
    image = Image.fromarray(np.broadcast_to((1 - rows) * top + rows * bottom, (height, width, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        x0, y0 = rng.integers(0, width - 40), rng.integers(height // 3, height - 40)
        x1, y1 = x0 + rng.integers(20, 90), y0 + rng.integers(20, 70)
        color = tuple(int(c) for c in rng.integers(30, 230, size=3))
        shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
        shape((x0, y0, x1, y1), fill=color)
    return np.asarray(image)


def run_demo(out_path, preset_segmentation=None, preset_depth=None, height=192, width=256):
    """Predicts with the default presets and writes ``input | segmentation | depth`` to ``out_path``.

    Until published weights exist the models are untrained (random weights), so
    the picture shows the pipeline, not a trained result; the titles say so.

    Returns:
        ``out_path``.
    """
    image = sample_image(height, width)
    batch = image[None].astype(np.float32)
    segmenter = factory.segmentation(preset_segmentation)
    estimator = factory.depth(preset_depth)
    labels = np.argmax(segmenter.predict(batch, verbose=0)[0], axis=-1)
    depth = estimator.predict(batch, verbose=0)[0, ..., 0]
    panel = visualize.side_by_side(
        [
            image,
            visualize.colorize_segmentation(labels, visualize.default_palette(segmenter.num_classes)),
            visualize.colorize_depth(depth, estimator.max_depth),
        ],
        titles=["input", "segmentation (untrained)", "depth (untrained)"],
    )
    panel.save(out_path)
    return out_path
