"""Convert an official BiDense checkpoint (Lightning .ckpt, .pth/.pt or .npz) and predict with it.

    python examples/convert_official.py path/to/upernet_bidense.ckpt --out converted
    python examples/convert_official.py             # the authors' small reference model

The checkpoint is read without running pickled code; the architecture (dims, depths,
features, classes) is inferred from its tensors.
"""

import argparse
from pathlib import Path

import numpy as np

import bidense_keras as bk
from bidense_keras.datasets import synthetic_rooms

REFERENCE = Path(__file__).resolve().parents[2] / "shared/fixtures/reference/upernet_bidense_seg_small.ckpt"


def main(argv=None):
    """Runs the script with command-line arguments ``argv`` (default: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", type=Path, default=REFERENCE)
    parser.add_argument("--task", choices=("segmentation", "depth"))
    parser.add_argument("--max-depth", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("converted"))
    args = parser.parse_args(argv)

    model = bk.convert.from_official_checkpoint(args.checkpoint, task=args.task, max_depth=args.max_depth)
    folder = bk.weights.save_pretrained(model, args.out / "model")
    image = synthetic_rooms.render(0, 96, 128)["image"]
    output = model.predict(image[None].astype(np.float32), verbose=0)[0]
    print(f"{model.task} model {model.dims}/{model.depths} saved to {folder}; output {output.shape}")
    return output


if __name__ == "__main__":
    main()
