"""Fine-tune a pretrained preset to new classes in one argument, and compare with training from scratch.

The demo segmentation preset knows 9 classes of synthetic rooms. Here the task becomes 3
merged classes (structure: wall/floor/ceiling/window/door, furniture: cabinet/table,
object: sphere/cylinder): ``bk.load(preset, num_classes=3)`` keeps every backbone and decoder
weight and re-initialises only the logits conv. Both models then take the same few steps.

    python examples/finetune_new_classes.py                 # 20 steps each, prints both held-out mIoUs
    python examples/finetune_new_classes.py --steps 60 --seed 1
"""

import argparse

import keras
import numpy as np

import bidense_keras as bk
from bidense_keras.datasets import synthetic_rooms
from bidense_keras.train import MeanIoU, SegmentationCrossEntropy

PRESET = "bidense_upernet_demo_rooms_seg_5ep"  # the numbers in the README and tests were measured from it
MERGED_NAMES = ("structure", "furniture", "object")
# synthetic_rooms class id -> merged class id (wall, floor, ceiling, window, door, cabinet, table, sphere, cylinder)
MERGE = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2], np.int32)


def merged_scenes(count, seed, height, width):
    """``(images (N, H, W, 3) float32 in [0, 255], labels (N, H, W) int32 in {0, 1, 2})``."""
    scenes = list(synthetic_rooms.generate(count, seed, height, width))
    images = np.stack([scene["image"] for scene in scenes]).astype(np.float32)
    return images, MERGE[np.stack([scene["label"] for scene in scenes])]


def train_and_measure(model, train, held_out, steps, batch_size, lr):
    """Trains ``model`` for ``steps`` AdamW steps on ``train``; returns its held-out ``{"mIoU", "loss"}``."""
    loss = SegmentationCrossEntropy()
    model.compile(optimizer=keras.optimizers.AdamW(lr), loss=loss)
    images, labels = train
    for step in range(steps):
        batch = np.arange(step * batch_size, (step + 1) * batch_size) % len(images)
        model.train_on_batch(images[batch], labels[batch])
    logits = model.predict(held_out[0], batch_size=batch_size, verbose=0)
    metric = MeanIoU(len(MERGED_NAMES))
    metric.update_state(held_out[1], logits)
    return {"mIoU": float(metric.result()), "loss": float(keras.ops.mean(loss(held_out[1], logits)))}


def main(argv=None):
    """Runs the comparison; returns ``{"fine_tuned": {"mIoU", "loss"}, "from_scratch": {...}}`` on held-out rooms."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="training steps of each model")
    parser.add_argument("--batch-size", type=int, default=4, help="images per step")
    parser.add_argument("--lr", type=float, default=3e-4, help="AdamW learning rate")
    parser.add_argument("--size", type=int, nargs=2, default=(192, 256), metavar=("H", "W"),
                        help="image size (the preset was trained on 192x256 crops)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the scenes and the new head")
    args = parser.parse_args(argv)

    train = merged_scenes(32, args.seed, *args.size)
    held_out = merged_scenes(16, args.seed + synthetic_rooms.HELD_OUT_SEED_OFFSET, *args.size)
    keras.utils.set_random_seed(args.seed)
    fine_tuned = bk.load(PRESET, num_classes=3, class_names=MERGED_NAMES)  # logs the re-initialised head
    keras.utils.set_random_seed(args.seed)
    from_scratch = bk.load(PRESET, pretrained=False, num_classes=3, class_names=MERGED_NAMES)
    results = {
        "fine_tuned": train_and_measure(fine_tuned, train, held_out, args.steps, args.batch_size, args.lr),
        "from_scratch": train_and_measure(from_scratch, train, held_out, args.steps, args.batch_size, args.lr),
    }
    for name, measured in results.items():
        print(f"{name:>12}: held-out mIoU {measured['mIoU']:.3f}, cross-entropy {measured['loss']:.3f} "
              f"after {args.steps} steps")
    return results


if __name__ == "__main__":
    main()
