"""Quickstart: pretrained binary segmentation and depth in a few lines.

    python examples/quickstart.py                       # a held-out synthetic room -> quickstart.png
    python examples/quickstart.py photo.jpg --out result.png

The default presets were trained on the package's synthetic rooms (see the README's
demo table); on a real photograph they show the pipeline, not useful predictions.
"""

import argparse
from pathlib import Path

import numpy as np

import bidense_keras as bk
from bidense_keras import visualize
from bidense_keras.datasets import synthetic_rooms
from bidense_keras.predict import read_image


def main(argv=None):
    """Runs the script with command-line arguments ``argv``; returns ``(labels (H, W), depth (H, W))``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", nargs="?", type=Path, help="an RGB image (default: a held-out synthetic room)")
    parser.add_argument("--out", type=Path, default=Path("quickstart.png"))
    args = parser.parse_args(argv)

    segmenter = bk.segmentation(pretrained=True)  # 1-bit convolutions, weights verified by sha256
    estimator = bk.depth(pretrained=True)
    scene = None if args.image else synthetic_rooms.render(synthetic_rooms.HELD_OUT_SEED_OFFSET + 7, 240, 320)
    image = read_image(args.image) if args.image else scene["image"]

    batch = image[None].astype(np.float32)  # (1, H, W, 3), 0-255: the models normalise internally
    labels = np.argmax(segmenter.predict(batch, verbose=0)[0], axis=-1)  # (H, W) class ids
    depth = estimator.predict(batch, verbose=0)[0, ..., 0]  # (H, W) metres

    figure = visualize.prediction_figure(image, labels=labels, depth=depth, max_depth=estimator.max_depth,
                                         class_names=segmenter.class_names, palette=segmenter.palette)
    figure.savefig(args.out)
    print(f"wrote {args.out}")
    if scene is not None:
        accuracy = np.mean(labels == scene["label"])
        valid = scene["depth"] > 0
        abs_rel = np.mean(np.abs(depth - scene["depth"])[valid] / scene["depth"][valid])
        print(f"against the rendered ground truth: pixel accuracy {accuracy:.1%}, depth AbsRel {abs_rel:.3f}")
    return labels, depth


if __name__ == "__main__":
    main()
