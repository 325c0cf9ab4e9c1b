"""Command line: ``bidense-keras demo|predict|export|evaluate|train|convert|download|info|presets|lce-runtime``.

Every command that takes a model takes what :func:`bidense_keras.load` takes: a preset name, a
model folder, ``hf://owner/repo[@revision]``, a ``.keras`` file or (predict, evaluate) an
exported ``.tflite``. Exit codes: see :mod:`bidense_keras.exits`.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from bidense_keras.datasets import catalog
from bidense_keras.exits import run_command
from bidense_keras.export.runtime import KERNELS, LCE_PYTHON_ENV
from bidense_keras.families import FAMILIES, TASKS, arguments
from bidense_keras.files import atomic_path, check_replaceable, write_text_atomic
from bidense_keras.inputs import MAX_PREDICT_PIXELS
from bidense_keras.presets import DEFAULT_FAMILY
from bidense_keras.variants import BINARIZATIONS, PRECISIONS
from bidense_keras.version import __version__

MODEL_HELP = "a preset, a model folder, hf://owner/repo[@revision] or a .keras file"
TASK_NAMES = {"seg": "segmentation", **{task: task for task in TASKS}}


def positive_int(text):
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text):
    """argparse type: a finite number > 0 (``nan``, ``inf`` and negative values are refused)."""
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows an option's default only where it has one (not None or off) and the help does not
    already say it; epilogs keep their line breaks (the examples)."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = action.option_strings and not any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS))
        if shown and "default" not in text and "%(default)" not in text:
            default = " ".join(map(str, action.default)) if isinstance(action.default, (list, tuple)) else "%(default)s"
            text += f" (default: {default})"
        return text


OVERWRITE_HELP = "replace or write beside files that bidense-keras did not write (never deletes them)"


def _demo(args):
    from bidense_keras.demo import run_demo

    out = run_demo(args.out, segmentation=args.seg_model, depth=args.depth_model, scenes=args.scenes, truth=args.truth,
                   overwrite=args.overwrite)
    print(f"wrote {out}")


def _predict(args):
    from bidense_keras.loader import load
    from bidense_keras.predict import image_paths, predict_files

    inputs = image_paths(args.inputs)  # bad paths fail before the model is built
    options = {"num_threads": args.threads, "kernel": args.kernel, "xnnpack": args.xnnpack}
    model = load(args.model, **(options if str(args.model).endswith(".tflite") else {}))
    if hasattr(model, "kernel"):
        print(f"LCE kernel {model.kernel}, XNNPACK {'on' if model.xnnpack else 'off'}, {model.num_threads} thread(s)")
    written = predict_files(model, inputs, args.out, overwrite=args.overwrite, max_pixels=args.max_pixels)
    print(f"wrote {len(written)} panels to {args.out}")


def _export(args):
    import numpy as np

    from bidense_keras.datasets import synthetic_rooms
    from bidense_keras.export import to_tflite
    from bidense_keras.loader import load

    model = load(args.model)
    size = tuple(args.size)
    print(f"converting {args.model} at {size[0]}x{size[1]} with Larq Compute Engine ...", flush=True)
    samples = np.stack([synthetic_rooms.render(seed, *size)["image"] for seed in range(args.samples)])
    report = to_tflite(model, args.output, size, samples.astype("float32"), metadata={"source": str(args.model)},
                       overwrite=args.overwrite)
    print(f"wrote {report['path']} ({report['size_bytes']:,} bytes, input {size[0]}x{size[1]}) and {report['sidecar']}")
    print("ops: " + ", ".join(f"{name} {count}" for name, count in sorted(report["ops"].items())))
    compared = {"twin_": "Keras model vs its deployable twin", "tflite_": "LCE flatbuffer vs the twin"}
    for prefix, what in compared.items():
        for key in sorted(k for k in report if k.startswith(prefix) and isinstance(report[k], float)):
            print(f"  {key:<26} {report[key]:.6g}  ({what}, {args.samples} synthetic rooms)")
    if "tflite_check" in report:
        print(f"LCE flatbuffer {report['tflite_check']}")


def _lce_runtime(args):
    from bidense_keras.export.runtime import create_runtime

    python = create_runtime(args.directory)
    print(f"LCE runtime ready; to use it:\nexport {LCE_PYTHON_ENV}={python}")


def _print_environment():
    from bidense_keras.backends import describe

    environment = describe()
    print(f"bidense_keras {__version__}, Keras {environment['keras']}, backend {environment['backend']} "
          f"{environment['backend_version']}")
    print(f"devices: {', '.join(environment['devices'])}")


def _info(args):
    from bidense_keras import model_stats
    from bidense_keras.loader import load
    from bidense_keras.presets import PRESETS

    if args.model is None:
        _print_environment()
        return
    model = load(args.model, pretrained=False)
    preset = PRESETS.get(args.model, {})
    size = tuple(args.size or preset.get("input_size", (480, 480)))
    stats = model_stats(model, input_size=size)
    print(f"{args.model} ({model.task}, {preset.get('dataset', 'model folder')}, input {size[0]}x{size[1]})")
    for key, value in stats.items():
        print(f"  {key:<18} {value:>16,}")


def _presets(args):
    from bidense_keras.presets import PRESETS, list_presets

    rows = [("preset", "architecture", "task", "dataset", "weights")]
    for name in list_presets(args.pattern):
        preset = PRESETS[name]
        rows.append((name, preset["family"], preset["task"], preset["dataset"],
                     "published" if preset["weights"] else "architecture only"))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        print(" ".join(f"{cell:<{width}}" for cell, width in zip(row, widths)), row[4])


def _download(args):
    import shutil

    from bidense_keras.files import atomic_folder
    from bidense_keras.folder_format import FOLDER_FILES
    from bidense_keras.sources import pretrained_folder

    source = pretrained_folder(args.preset)
    target = Path(args.directory) / args.preset
    with atomic_folder(target, FOLDER_FILES, args.overwrite) as partial:
        for path in sorted(source.iterdir()):
            if path.is_file():
                shutil.copyfile(path, partial / path.name)  # the cache holds symlinks: copy their bytes
    print(f"wrote {target} (verified); use it offline with BIDENSE_KERAS_WEIGHTS={Path(args.directory).resolve()}")


def _convert(args):
    from bidense_keras.convert import from_official_checkpoint
    from bidense_keras.weights import save_pretrained

    out = Path(args.output)
    if args.packed and out.name.endswith(".weights.h5"):
        raise ValueError("--packed writes a model folder: give a folder, not OUT.weights.h5.")
    config_path = out.with_name(out.name[: -len(".weights.h5")] + ".config.json")
    if out.name.endswith(".weights.h5"):  # refused before the (slow) conversion
        for path in (out, config_path):
            check_replaceable(path, args.overwrite)
    model = from_official_checkpoint(args.checkpoint, task=args.task, max_depth=args.max_depth)
    if not out.name.endswith(".weights.h5"):  # a model folder, as predict/export/evaluate take
        folder = save_pretrained(model, out, packed=args.packed, overwrite=args.overwrite, source=str(args.checkpoint))
        print(f"wrote model folder {folder}")
        return
    with atomic_path(out, overwrite=args.overwrite) as partial:
        model.save_weights(partial)
    write_text_atomic(config_path, json.dumps(model.get_config(), indent=2), overwrite=args.overwrite)
    print(f"wrote {out} and {config_path}")


# {CLI option dest: model argument}; --blocks and --heads name the ViT's depth and heads.
ARCHITECTURE_OPTIONS = {"architecture": "architecture", "backbone": "backbone", "dims": "dims", "depths": "depths",
                        "embed_dim": "embed_dim", "blocks": "depth", "heads": "num_heads",
                        "out_channels": "out_channels", "features": "features", "binarization": "binarization"}


def family_options(family):
    """The train options (dests) that only ``family``'s model takes: its arguments beyond the shared ones."""
    from bidense_keras.models import DensePredictionModel

    shared = set(arguments(DensePredictionModel))
    own = set(arguments(family.model_class)) - shared
    return tuple(option for option, argument in ARCHITECTURE_OPTIONS.items() if argument in own)


def _family_of_backbone(backbone):
    """The family whose backbone sizes name ``backbone``, or None."""
    return next((name for name, family in FAMILIES.items() if backbone in family.backbone_sizes), None)


def _architecture(args):
    """The model arguments of the train options; the family from --architecture, else from --backbone."""
    family = args.architecture or (_family_of_backbone(args.backbone) if args.backbone else None)
    if family == DEFAULT_FAMILY and not args.architecture:
        family = None  # the default: no architecture argument
    for other in FAMILIES.values():
        given = [f"--{option.replace('_', '-')}" for option in family_options(other) if getattr(args, option) is not None]
        if given and (family or DEFAULT_FAMILY) != other.name:
            raise ValueError(f"{', '.join(given)} {'is an option' if len(given) == 1 else 'are options'} of the "
                             f"{other.name} family: add --architecture {other.name}.")
    has = FAMILIES[family or DEFAULT_FAMILY].binarizations
    if args.binarization is not None and args.binarization not in has:
        raise ValueError(f"The {family or DEFAULT_FAMILY} family has binarization {', '.join(has)}; "
                         f"got {args.binarization}.")
    chosen = {argument: getattr(args, option) for option, argument in ARCHITECTURE_OPTIONS.items()
              if getattr(args, option) is not None}
    return {**chosen, **({"architecture": family} if family else {})}


def _print_metrics(metrics):
    for key, value in metrics.items():
        if isinstance(value, (int, float)):
            print(f"  {key:<14} {value:10.4f}")


def _interrupted(cluster, *_):
    """Ctrl-C in a process of a cluster: say so and leave at once (the others then stop, naming the loss)."""
    print(f"interrupted: process {cluster.process_id} stops, and with it the run; the run folder holds the last "
          "complete epoch, which the same command resumes", file=sys.stderr, flush=True)
    os._exit(130)  # at once: JAX's shutdown would wait for the other processes


def _train(args):
    import functools
    import signal

    from bidense_keras.train import cluster as cluster_lib
    from bidense_keras.train import experiment

    cluster = cluster_lib.join(args.coordinator, args.num_processes, args.process_id,
                               initialization_timeout=args.join_timeout, heartbeat_timeout=args.heartbeat_timeout)
    if cluster.distributed:
        print(cluster.describe(), flush=True)
        signal.signal(signal.SIGINT, functools.partial(_interrupted, cluster))
    synthetic = {"train_samples": args.train_samples, "val_samples": args.val_samples,
                 "height": args.render_size[0], "width": args.render_size[1]}
    try:
        metrics = experiment.train(
            TASK_NAMES[args.task], args.dataset, args.data_dir, args.output, args.epochs, args.batch_size,
            args.lr, tuple(args.image_size), preset=args.preset, seed=args.seed, synthetic=synthetic,
            devices=args.devices, accumulate=args.accumulate, precision=args.precision, init=args.init,
            validate=args.validate, overwrite=args.overwrite, cluster=cluster, **_architecture(args),
        )
    except cluster_lib.ClusterError as error:  # exit now: JAX's shutdown would wait for the lost process, then abort
        print(f"error: {error}", file=sys.stderr, flush=True)
        os._exit(1)

    if metrics is None:
        print(f"process {cluster.process_id}: training done; process 0 saves the model and its metrics")
        return
    print(f"model saved in {Path(args.output) / 'model'}; held-out metrics:")
    _print_metrics(metrics)


def _evaluate(args):
    from bidense_keras.loader import load
    from bidense_keras.train import experiment

    synthetic = {"val_samples": args.val_samples, "height": args.render_size[0],
                 "width": args.render_size[1], "seed": args.seed}
    if args.out:
        check_replaceable(args.out, args.overwrite)  # before the evaluation, not after it
    model = load(args.model)
    if args.as_exported:
        if not hasattr(model, "get_config"):
            raise ValueError("--as-exported evaluates a model as it would be exported; a .tflite is evaluated as is.")
        from bidense_keras.export import deployable_model

        model = deployable_model(model)
    metrics = experiment.evaluate(model, args.dataset, args.data_dir, args.batch_size, synthetic=synthetic)
    _print_metrics(metrics)
    if args.out:
        write_text_atomic(args.out, json.dumps(metrics, indent=2) + "\n", overwrite=args.overwrite)
        print(f"wrote {args.out}")


def _add_data_arguments(parser):
    parser.add_argument("--dataset", required=True, choices=catalog.names(), help="dataset name")
    parser.add_argument("--data-dir", required=True, help="dataset root (synthetic_rooms: generated there if missing)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="images per batch")
    parser.add_argument("--seed", type=int, default=0, help="seed of data generation, shuffling and weights")
    parser.add_argument("--val-samples", type=positive_int, default=200, help="synthetic_rooms held-out size")
    parser.add_argument("--render-size", type=positive_int, nargs=2, default=(240, 320), metavar=("H", "W"),
                        help="synthetic_rooms image size")


def _add_train_arguments(parser):
    parser.add_argument("--task", required=True, choices=sorted(TASK_NAMES), help="what to predict")
    parser.add_argument("--output", required=True, help="run folder: model/, log.csv, metrics.json, backup")
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    _add_data_arguments(parser.add_argument_group("data"))
    train = parser.add_argument_group("model", "what to train: a preset or trained weights, or an architecture by "
                                      "parts (from scratch)")
    start = train.add_mutually_exclusive_group()
    start.add_argument("--preset", help="architecture to train from scratch (default: the paper's model of the "
                       "family: ConvNeXt-T UperNet or ViT-S/14 DPT)")
    start.add_argument("--init", metavar="MODEL", help=f"start from trained weights: {MODEL_HELP}; the head is "
                       "re-initialised when the dataset has other classes")
    train.add_argument("--architecture", choices=sorted(FAMILIES), help=f"model family (default {DEFAULT_FAMILY})")
    train.add_argument("--backbone", choices=sorted(size for family in FAMILIES.values() for size in family.backbone_sizes),
                       help="backbone size of the family (from scratch)")
    train.add_argument("--dims", type=positive_int, nargs=4, help="UperNet: ConvNeXt stage widths (from scratch)")
    train.add_argument("--depths", type=positive_int, nargs=4, help="UperNet: ConvNeXt stage depths (from scratch)")
    train.add_argument("--embed-dim", type=positive_int, help="DPT: ViT width (from scratch)")
    train.add_argument("--blocks", type=positive_int, help="DPT: ViT blocks, at least 4 (from scratch)")
    train.add_argument("--heads", type=positive_int, help="DPT: attention heads (from scratch)")
    train.add_argument("--out-channels", type=positive_int, nargs=4, help="DPT: reassemble widths (from scratch)")
    train.add_argument("--features", type=positive_int, help="decoder width (from scratch)")
    train.add_argument("--binarization", choices=tuple(BINARIZATIONS), help="binarization variant (from scratch)")
    train = parser.add_argument_group("recipe and devices")
    train.add_argument("--epochs", type=positive_int, default=50, help="passes over the training split")
    train.add_argument("--lr", type=positive_float, default=1e-4, help="peak learning rate of the one-cycle schedule")
    train.add_argument("--image-size", type=positive_int, nargs=2, default=(192, 256), metavar=("H", "W"),
                       help="training crop")
    train.add_argument("--train-samples", type=positive_int, default=2000, help="synthetic_rooms training size")
    train.add_argument("--devices", type=positive_int, help="train data-parallel on N devices (JAX or TensorFlow); "
                       "--batch-size is the global batch")
    train.add_argument("--accumulate", type=positive_int, default=1, metavar="K",
                       help="average the gradients of K batches per update (effective batch K x --batch-size)")
    train.add_argument("--precision", choices=PRECISIONS, help="Keras dtype policy (default float32)")
    train.add_argument("--validate", action="store_true", help="evaluate the held-out split (resized to "
                       "--image-size) after each epoch: val_* columns of log.csv, learning curves")
    cluster = parser.add_argument_group(
        "cluster (JAX)", "train across processes or hosts: every process runs the same command with its own\n"
        "--process-id (under SLURM or Open MPI, leave these out: JAX reads the launcher's environment)")
    cluster.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's host and a free port")
    cluster.add_argument("--num-processes", type=positive_int, help="processes in the run")
    cluster.add_argument("--process-id", type=int, help="this process, 0 to --num-processes - 1")
    cluster.add_argument("--join-timeout", type=positive_int, default=300,
                         help="seconds to wait for every process to join")
    cluster.add_argument("--heartbeat-timeout", type=positive_int, default=60,
                         help="seconds after which a silent process counts as lost")


EXAMPLES = {  # each subcommand's epilog
    "demo": "examples:\n  bidense-keras demo --out demo.png\n  bidense-keras demo --scenes 3 --truth --out rooms.png",
    "predict": "examples:\n  bidense-keras predict photos/ --model bidense_upernet_demo_rooms_seg --out predictions/\n"
               "  bidense-keras predict a.jpg b.png --model runs/depth/model --out predictions/",
    "export": "examples:\n  bidense-keras export bidense_deployable_upernet_demo_rooms_seg seg.tflite --size 240 320",
    "evaluate": "examples:\n  bidense-keras evaluate runs/seg/model --dataset synthetic_rooms --data-dir data/rooms "
                "--out metrics.json",
    "train": "examples:\n  bidense-keras train --task seg --dataset synthetic_rooms --data-dir data/rooms --output runs/seg "
             "--epochs 5\n  bidense-keras train --task depth --dataset nyu --data-dir /data/nyu --output runs/nyu "
             "--lr 6e-5 --image-size 416 544\n  KERAS_BACKEND=jax bidense-keras train ... --coordinator host0:1234 "
             "--num-processes 2 --process-id 0   # and --process-id 1 on the other host",
    "convert": "examples:\n  bidense-keras convert upernet_bidense_seg.ckpt converted/ --packed",
    "download": "examples:\n  bidense-keras download bidense_upernet_demo_rooms_seg ~/bidense-weights",
    "info": "examples:\n  bidense-keras info\n  bidense-keras info bidense_upernet_convnext_tiny_ade20k --size 512 512",
    "presets": "examples:\n  bidense-keras presets '*demo*'",
    "lce-runtime": "examples:\n  bidense-keras lce-runtime ~/.cache/bidense-keras/lce-runtime",
}


def build_parser():
    """The argparse parser of ``bidense-keras``."""
    parser = argparse.ArgumentParser(prog="bidense-keras", description=__doc__.splitlines()[0],
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name, run, help, models=True):  # models: whether the command imports the model classes (Keras)
        sub = commands.add_parser(name, help=help, description=help, formatter_class=HelpFormatter,
                                  epilog=EXAMPLES.get(name))
        sub.set_defaults(run=run, models=models)
        sub.add_argument("-v", "--verbose", action="store_true",
                         help="show TensorFlow's start-up and C++ log lines (hidden otherwise)")
        return sub

    demo = command("demo", _demo, "predict on held-out synthetic rooms (default: the default presets) and write a PNG")
    demo.add_argument("--out", default="demo.png", help="picture to write")
    demo.add_argument("--seg-model", help=f"segmentation model: {MODEL_HELP} (default: the default preset)")
    demo.add_argument("--depth-model", help=f"depth model: {MODEL_HELP} (default: the default preset)")
    demo.add_argument("--scenes", type=positive_int, default=1, help="held-out rooms to show, one per row")
    demo.add_argument("--truth", action="store_true", help="show each room's true classes and depth beside the predictions")
    demo.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)

    predict = command("predict", _predict, "predict on images; write coloured maps and panels")
    predict.add_argument("inputs", nargs="+", help="image files and/or folders")
    predict.add_argument("--model", required=True, help=f"{MODEL_HELP}, or OUT.tflite from export")
    predict.add_argument("--out", default="predictions", help="output folder")
    predict.add_argument("--threads", type=positive_int, default=1, help="LCE interpreter threads (.tflite)")
    predict.add_argument("--kernel", choices=("auto", *KERNELS), default="auto",
                         help="LCE binary conv kernel (.tflite); auto: indirect_bgemm unless the export found binary "
                         "convs on maps smaller than their kernel (wrong on x86 except with reference)")
    predict.add_argument("--no-xnnpack", dest="xnnpack", action="store_false",
                         help="run the float ops without TFLite's XNNPACK delegate (.tflite)")
    predict.add_argument("--max-pixels", type=positive_int, default=MAX_PREDICT_PIXELS,
                         help="refuse larger images (memory grows with the pixels: about 0.8 kB each)")
    predict.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)

    export = command("export", _export, "LCE TFLite flatbuffer with bitpacked binary convs")
    export.add_argument("model", help=MODEL_HELP)
    export.add_argument("output", help="OUT.tflite (OUT.json is written beside it)")
    export.add_argument("--size", type=positive_int, nargs=2, default=(240, 320), metavar=("HEIGHT", "WIDTH"),
                        help="input size of the flatbuffer")
    export.add_argument("--samples", type=positive_int, default=4, help="synthetic images to measure the twin's error")
    export.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)

    evaluate = command("evaluate", _evaluate, "held-out metrics of a model or flatbuffer; prints and writes JSON")
    evaluate.add_argument("model", help=f"{MODEL_HELP}, or OUT.tflite from export (run by the LCE interpreter, "
                          "see lce-runtime)")
    _add_data_arguments(evaluate)
    evaluate.add_argument("--out", help="metrics JSON path")
    evaluate.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    evaluate.add_argument("--as-exported", action="store_true",
                          help="evaluate the deployable twin that `export` converts (DAB scale after each conv, "
                          "sign(0) = +1) at the images' own size; the flatbuffer itself runs at its export size")

    _add_train_arguments(command("train", _train, "train with the paper's recipe (AdamW + one-cycle)"))

    convert = command("convert", _convert, "official BiDense checkpoint -> Keras model folder")
    convert.add_argument("checkpoint", help=".ckpt, .pth/.pt or .npz")
    convert.add_argument("output", help="a model folder, or OUT.weights.h5 (OUT.config.json is written beside it)")
    convert.add_argument("--task", choices=TASKS, help="default: inferred from the checkpoint")
    convert.add_argument("--max-depth", type=positive_float, default=10.0,
                         help="depth range of a depth checkpoint, metres")
    convert.add_argument("--packed", action="store_true",
                         help="also store the binary kernels as bits (model.bits.npz, ~1/23 of the .h5 for ConvNeXt-T)")
    convert.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)

    download = command("download", _download, "fetch a preset's verified folder, e.g. for offline use")
    download.add_argument("preset", help="a preset with published weights")
    download.add_argument("directory", help="writes DIRECTORY/<preset>/")
    download.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)

    info = command("info", _info, "parameter, MAC and size counts of a model; without one, the versions, Keras "
                   "backend and devices")
    info.add_argument("model", nargs="?", help=f"{MODEL_HELP} (a preset's architecture is enough)")
    info.add_argument("--size", type=positive_int, nargs=2, metavar=("HEIGHT", "WIDTH"),
                      help="input size of the MAC count (default: the preset's, else 480x480)")

    presets = command("presets", _presets, "list the presets and whether their weights are published", models=False)
    presets.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern")

    runtime = command("lce-runtime", _lce_runtime, "make the numpy-1 virtualenv that runs LCE flatbuffers",
                      models=False)
    runtime.add_argument("directory", help="e.g. ~/.cache/bidense-keras/lce-runtime")
    return parser


def main(argv=None):
    """Entry point of the ``bidense-keras`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.verbose:  # read by bidense_keras.startup's quiet import and by TensorFlow, when Keras is imported next
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    if args.models:  # Keras, once the arguments parsed (bidense_keras_command imports the package without it)
        from bidense_keras import register_keras_objects

        register_keras_objects()
    return run_command(args.run, args)


if __name__ == "__main__":
    sys.exit(main())
