"""Export a model to a Larq Compute Engine flatbuffer and list its ops.

    python examples/export_tflite.py              # the trained bidense_deployable demo model: exact export
    python examples/export_tflite.py --model runs/seg/model --size 240 320 --out model.tflite
    python examples/export_tflite.py --small      # a tiny untrained model (CI)
"""

import argparse
from pathlib import Path

import numpy as np

import bidense_keras as bk
from bidense_keras.datasets import synthetic_rooms
from bidense_keras.export import to_tflite


def main(argv=None):
    """Runs the script with command-line arguments ``argv`` (default: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model folder (default: the trained bidense_deployable demo model)")
    parser.add_argument("--size", type=int, nargs=2, default=(240, 320))
    parser.add_argument("--out", type=Path, default=Path("model.tflite"))
    parser.add_argument("--small", action="store_true", help="tiny model at 64x64")
    args = parser.parse_args(argv)

    if args.model:
        model = bk.load(args.model)
    elif args.small:
        model = bk.segmentation(dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), features=32, num_classes=9)
    else:
        model = bk.segmentation("bidense_deployable_upernet_demo_rooms_seg", pretrained=True)
    size = (64, 64) if args.small else tuple(args.size)
    images = np.stack([synthetic_rooms.render(seed, *size)["image"] for seed in range(2)]).astype(np.float32)
    report = to_tflite(model, args.out, input_size=size, sample_images=images)
    print(f"{report['path']}: {report['size_bytes']:,} bytes")
    for name, count in sorted(report["ops"].items(), key=lambda item: -item[1]):
        print(f"  {name:<20} {count}")
    return report


if __name__ == "__main__":
    main()
