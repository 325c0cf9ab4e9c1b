"""Fine-tune a BiDense segmentation model with plain `model.fit` on a folder of images and masks.

The folder holds `images/<name>.jpg|png` and `masks/<name>.png` (class ids per pixel,
255 = ignore). Without --data, a small folder of synthetic rooms is written first.

    python examples/finetune_folder.py --data my_folder --model weights/bidense_upernet_demo_rooms_seg
    python examples/finetune_folder.py --small          # a seconds-long run (CI)
"""

import argparse
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

import bidense_keras as bk
from bidense_keras.datasets import synthetic_rooms
from bidense_keras.train import MeanIoU, SegmentationCrossEntropy
from bidense_keras.train.schedules import OneCycle


def write_synthetic_folder(folder, count, size):
    """images/*.png and masks/*.png of `count` synthetic rooms."""
    for kind in ("images", "masks"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        sample = synthetic_rooms.render(index, *size)
        Image.fromarray(sample["image"]).save(folder / "images" / f"{index:04d}.png")
        Image.fromarray(sample["label"]).save(folder / "masks" / f"{index:04d}.png")


def folder_dataset(folder, size, batch_size):
    """(images float32 (B, H, W, 3) in [0, 255], masks int32 (B, H, W)) resized to `size`."""
    images = sorted((folder / "images").iterdir())
    masks = [folder / "masks" / f"{path.stem}.png" for path in images]

    def load(image_path, mask_path):
        image = tf.image.decode_image(tf.io.read_file(image_path), channels=3, expand_animations=False)
        mask = tf.image.decode_png(tf.io.read_file(mask_path), channels=1)
        image = tf.image.resize(tf.cast(image, tf.float32), size)
        mask = tf.image.resize(mask, size, method="nearest")[..., 0]
        return image, tf.cast(mask, tf.int32)

    paths = tf.data.Dataset.from_tensor_slices(([str(p) for p in images], [str(p) for p in masks]))
    return paths.shuffle(len(images), seed=0).map(load).batch(batch_size, drop_remainder=True)


def main(argv=None):
    """Runs the script with command-line arguments ``argv`` (default: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="folder with images/ and masks/")
    parser.add_argument("--model", default="bidense_upernet_demo_rooms_seg",
                        help="preset, model folder or hf://owner/repo to start from")
    parser.add_argument("--num-classes", type=int, default=synthetic_rooms.NUM_CLASSES,
                        help="classes of the folder's masks (another number than the model's gives it a new head)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("finetuned"))
    parser.add_argument("--small", action="store_true", help="tiny model, data and run")
    args = parser.parse_args(argv)

    size, count, batch = ((48, 64), 4, 2) if args.small else ((192, 256), 64, 4)
    data = args.data or args.out / "data"
    if args.data is None:
        write_synthetic_folder(data, count, size)
    if args.small:  # a tiny new model, so the CI run takes seconds
        model = bk.segmentation(dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), features=32, num_classes=args.num_classes)
    else:
        model = bk.load(args.model, num_classes=args.num_classes)
    dataset = folder_dataset(data, size, batch)
    epochs = 1 if args.small else args.epochs
    steps = epochs * len(dataset)
    model.compile(
        optimizer=keras.optimizers.AdamW(OneCycle(1e-3, max(steps, 2))),
        loss=SegmentationCrossEntropy(),
        metrics=[MeanIoU(model.num_classes)],
    )
    history = model.fit(dataset, epochs=epochs, shuffle=False, verbose=2)  # the dataset shuffles itself
    bk.weights.save_pretrained(model, args.out / "model", input_size=list(size))
    print(f"final loss {history.history['loss'][-1]:.4f}; model folder: {args.out / 'model'}")
    return history


if __name__ == "__main__":
    main()
