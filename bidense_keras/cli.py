"""Command line: ``bidense-keras demo|info|presets|convert``."""

import argparse
import json
import sys
from pathlib import Path


def _demo(args):
    from bidense_keras.demo import run_demo

    print(f"wrote {run_demo(args.out)}")


def _info(args):
    from bidense_keras import factory, model_stats

    preset = factory.get_preset(args.preset)
    build = factory.segmentation if preset["task"] == "segmentation" else factory.depth
    size = tuple(args.size) if args.size else preset["input_size"]
    stats = model_stats(build(args.preset), input_size=size)
    print(f"{args.preset} ({preset['task']}, {preset['dataset']}, input {size[0]}x{size[1]})")
    for key, value in stats.items():
        print(f"  {key:<18} {value:>16,}")


def _presets(args):
    from bidense_keras import factory

    print(f"{'preset':<44} {'task':<13} {'dataset':<8} weights")
    for name in factory.list_presets(args.pattern):
        preset = factory.PRESETS[name]
        weights = "yes" if preset["weights"] else "no"
        print(f"{name:<44} {preset['task']:<13} {preset['dataset']:<8} {weights}")


def _convert(args):
    from bidense_keras.convert import from_official_checkpoint

    out = Path(args.output)
    if not out.name.endswith(".weights.h5"):
        raise SystemExit(f"error: the output must end with .weights.h5, got {out.name}")
    model = from_official_checkpoint(args.checkpoint, task=args.task, max_depth=args.max_depth)
    config_path = out.with_name(out.name[: -len(".weights.h5")] + ".config.json")
    partial = out.with_name(out.name + ".partial.weights.h5")
    model.save_weights(partial)
    partial.replace(out)
    config_path.write_text(json.dumps(model.get_config(), indent=2))
    print(f"wrote {out} and {config_path}")


def build_parser():
    """The argparse parser of ``bidense-keras``."""
    parser = argparse.ArgumentParser(prog="bidense-keras", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="predict on a sample image and write a PNG")
    demo.add_argument("--out", default="demo.png")
    demo.set_defaults(run=_demo)

    info = commands.add_parser("info", help="parameter, MAC and size counts of a preset")
    info.add_argument("preset")
    info.add_argument("--size", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"))
    info.set_defaults(run=_info)

    presets = commands.add_parser("presets", help="list the presets")
    presets.add_argument("pattern", nargs="?", default="*")
    presets.set_defaults(run=_presets)

    convert = commands.add_parser("convert", help="official BiDense checkpoint -> Keras weights")
    convert.add_argument("checkpoint", help=".ckpt, .pth/.pt or .npz")
    convert.add_argument("output", help="OUT.weights.h5 (OUT.config.json is written beside it)")
    convert.add_argument("--task", choices=("segmentation", "depth"))
    convert.add_argument("--max-depth", type=float, default=10.0)
    convert.set_defaults(run=_convert)
    return parser


def main(argv=None):
    """Entry point of the ``bidense-keras`` command."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except ValueError as error:  # bad preset names, checkpoints that don't fit: no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
