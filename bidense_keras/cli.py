"""Command line: ``bidense-keras demo|predict|export|lce-runtime|info|presets|convert|train|evaluate|card|registry|push``."""

import argparse
import json
import sys
from pathlib import Path

from bidense_keras import __version__
from bidense_keras.export.runtime import KERNELS, LCE_PYTHON_ENV, LCERuntimeError
from bidense_keras.files import atomic_path, write_text_atomic
from bidense_keras.train.devices import PRECISIONS


def _demo(args):
    from bidense_keras.demo import run_demo

    print(f"wrote {run_demo(args.out)}")


def _predict(args):
    from bidense_keras.predict import image_paths, predict_files

    inputs = image_paths(args.inputs)  # bad paths fail before the model is built
    if args.tflite:
        from bidense_keras.export.tflite_model import TFLiteModel

        model = TFLiteModel.load(args.tflite, num_threads=args.threads, kernel=args.kernel, xnnpack=args.xnnpack)
        config = model.config
        print(f"LCE kernel {model.kernel}, XNNPACK {'on' if model.xnnpack else 'off'}, {model.num_threads} thread(s)")
    else:
        model, config = _load_model(args.model or args.preset)
    written = predict_files(model, inputs, args.out, config.get("class_names"), config.get("palette"))
    print(f"wrote {len(written)} panels to {args.out}")


def _card(args):
    from bidense_keras.publish import write_model_card

    print(f"wrote {write_model_card(args.folder)}")


def _registry(args):
    from bidense_keras.publish import REGISTRY_PATH, update_registry

    entry = update_registry(args.folder, revision=args.revision)
    print(f"recorded {len(entry['files'])} files of {Path(args.folder).name} in {REGISTRY_PATH}")


def _push(args):
    from bidense_keras.publish import push

    print(f"pushed {args.folder} as commit {push(args.folder, args.repo_id)}; registry updated")


def _load_model(source):
    """``(model, config)`` from a model folder or a preset name with published weights."""
    from bidense_keras import factory
    from bidense_keras.weights import load_pretrained, read_config

    folder = source if Path(source).is_dir() else factory.pretrained_folder(source)
    return load_pretrained(folder), read_config(folder)


def _export(args):
    import numpy as np

    from bidense_keras.datasets import synthetic_rooms
    from bidense_keras.export import to_tflite

    model, config = _load_model(args.model)
    size = tuple(args.size)
    samples = np.stack([synthetic_rooms.render(seed, *size)["image"] for seed in range(args.samples)])
    report = to_tflite(model, args.output, size, samples.astype("float32"), metadata=config)
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
    from bidense_keras import factory, model_stats

    if args.preset is None:
        _print_environment()
        return
    preset = factory.get_preset(args.preset)
    build = factory.segmentation if preset["task"] == "segmentation" else factory.depth
    size = tuple(args.size) if args.size else preset["input_size"]
    stats = model_stats(build(args.preset), input_size=size)
    print(f"{args.preset} ({preset['task']}, {preset['dataset']}, input {size[0]}x{size[1]})")
    for key, value in stats.items():
        print(f"  {key:<18} {value:>16,}")


def _presets(args):
    from bidense_keras import factory

    rows = [("preset", "task", "dataset", "weights")]
    for name in factory.list_presets(args.pattern):
        preset = factory.PRESETS[name]
        rows.append((name, preset["task"], preset["dataset"], "yes" if preset["weights"] else "no"))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        print(" ".join(f"{cell:<{width}}" for cell, width in zip(row, widths)), row[3])


def _convert(args):
    from bidense_keras.convert import from_official_checkpoint
    from bidense_keras.weights import save_pretrained

    out = Path(args.output)
    model = from_official_checkpoint(args.checkpoint, task=args.task, max_depth=args.max_depth)
    if not out.name.endswith(".weights.h5"):  # a model folder, as predict/export/evaluate take
        print(f"wrote model folder {save_pretrained(model, out, source=str(args.checkpoint))}")
        return
    config_path = out.with_name(out.name[: -len(".weights.h5")] + ".config.json")
    with atomic_path(out) as partial:
        model.save_weights(partial)
    write_text_atomic(config_path, json.dumps(model.get_config(), indent=2))
    print(f"wrote {out} and {config_path}")


TASK_NAMES = {"seg": "segmentation", "segmentation": "segmentation", "depth": "depth"}


def _architecture(args):
    names = ("backbone", "dims", "depths", "features", "binarization")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _print_metrics(metrics):
    for key, value in metrics.items():
        if isinstance(value, (int, float)):
            print(f"  {key:<14} {value:10.4f}")


def _train(args):
    from bidense_keras.train import experiment

    synthetic = {"train_samples": args.train_samples, "val_samples": args.val_samples,
                 "height": args.render_size[0], "width": args.render_size[1]}
    metrics = experiment.train(
        TASK_NAMES[args.task], args.dataset, args.data_dir, args.output, args.epochs, args.batch_size,
        args.lr, tuple(args.image_size), preset=args.preset, seed=args.seed, synthetic=synthetic,
        devices=args.devices, accumulate=args.accumulate, precision=args.precision, **_architecture(args),
    )
    print(f"model saved in {Path(args.output) / 'model'}; held-out metrics:")
    _print_metrics(metrics)


def _evaluate(args):
    from bidense_keras.train import experiment

    synthetic = {"val_samples": args.val_samples, "height": args.render_size[0],
                 "width": args.render_size[1], "seed": args.seed}
    if Path(args.model).suffix == ".tflite":
        if args.as_exported:
            raise ValueError("--as-exported evaluates a model as it would be exported; a .tflite is evaluated as is.")
        model = args.model
    else:
        model = _load_model(args.model)[0]
        if args.as_exported:
            from bidense_keras.export import deployable_model

            model = deployable_model(model)
    metrics = experiment.evaluate(model, args.dataset, args.data_dir, args.batch_size, synthetic=synthetic)
    _print_metrics(metrics)
    if args.out:
        write_text_atomic(args.out, json.dumps(metrics, indent=2) + "\n")
        print(f"wrote {args.out}")


def _add_data_arguments(parser):
    parser.add_argument("--dataset", required=True, choices=("synthetic_rooms", "ade20k", "voc", "nyu", "kitti"))
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-samples", type=int, default=200, help="synthetic_rooms held-out size")
    parser.add_argument("--render-size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"),
                        help="synthetic_rooms image size")


def build_parser():
    """The argparse parser of ``bidense-keras``."""
    parser = argparse.ArgumentParser(prog="bidense-keras", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="predict on a sample image and write a PNG")
    demo.add_argument("--out", default="demo.png")
    demo.set_defaults(run=_demo)

    predict = commands.add_parser("predict", help="predict on images; write coloured maps and panels")
    predict.add_argument("inputs", nargs="+", help="image files and/or folders")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a preset with published weights")
    source.add_argument("--model", help="a model folder (config.json + model.weights.h5)")
    source.add_argument("--tflite", help="OUT.tflite written by bidense-keras export (with OUT.json beside it)")
    predict.add_argument("--out", default="predictions")
    predict.add_argument("--threads", type=int, default=1, help="LCE interpreter threads (--tflite)")
    predict.add_argument("--kernel", choices=("auto", *KERNELS), default="auto",
                         help="LCE binary conv kernel (--tflite); auto: indirect_bgemm unless the export found binary "
                         "convs on maps smaller than their kernel (wrong on x86 except with reference)")
    predict.add_argument("--no-xnnpack", dest="xnnpack", action="store_false",
                         help="run the float ops without TFLite's XNNPACK delegate (--tflite)")
    predict.set_defaults(run=_predict)

    card = commands.add_parser("card", help="write a model folder's README.md from its config.json")
    card.add_argument("folder")
    card.set_defaults(run=_card)

    registry = commands.add_parser("registry", help="pin a model folder's files (sha256, size) in the registry")
    registry.add_argument("folder", help="weights/<preset>")
    registry.add_argument("--revision", default="main", help="Hub commit of the files")
    registry.set_defaults(run=_registry)

    push = commands.add_parser("push", help="upload a model folder to the Hub and pin its commit")
    push.add_argument("folder", help="weights/<preset>")
    push.add_argument("--repo-id", help="default bidense-keras/<preset>")
    push.set_defaults(run=_push)

    export = commands.add_parser("export", help="LCE TFLite flatbuffer with bitpacked binary convs")
    export.add_argument("model", help="model folder or preset with published weights")
    export.add_argument("output", help="OUT.tflite")
    export.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("HEIGHT", "WIDTH"))
    export.add_argument("--samples", type=int, default=4, help="synthetic images to measure the twin's error")
    export.set_defaults(run=_export)

    runtime = commands.add_parser("lce-runtime", help="make the numpy-1 virtualenv that runs LCE flatbuffers")
    runtime.add_argument("directory", help="e.g. ~/.cache/bidense-keras/lce-runtime")
    runtime.set_defaults(run=_lce_runtime)

    info = commands.add_parser("info", help="parameter, MAC and size counts of a preset; without one, the "
                               "versions, Keras backend and devices")
    info.add_argument("preset", nargs="?")
    info.add_argument("--size", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"))
    info.set_defaults(run=_info)

    presets = commands.add_parser("presets", help="list the presets")
    presets.add_argument("pattern", nargs="?", default="*")
    presets.set_defaults(run=_presets)

    convert = commands.add_parser("convert", help="official BiDense checkpoint -> Keras weights")
    convert.add_argument("checkpoint", help=".ckpt, .pth/.pt or .npz")
    convert.add_argument("output", help="a model folder (config.json + model.weights.h5), or OUT.weights.h5 "
                         "(OUT.config.json is written beside it)")
    convert.add_argument("--task", choices=("segmentation", "depth"))
    convert.add_argument("--max-depth", type=float, default=10.0)
    convert.set_defaults(run=_convert)

    train = commands.add_parser("train", help="train with the paper's recipe (AdamW + one-cycle)")
    train.add_argument("--task", required=True, choices=sorted(TASK_NAMES))
    _add_data_arguments(train)
    train.add_argument("--output", required=True, help="run folder: model/, log.csv, metrics.json, backup")
    train.add_argument("--preset")
    train.add_argument("--backbone")
    train.add_argument("--dims", type=int, nargs=4)
    train.add_argument("--depths", type=int, nargs=4)
    train.add_argument("--features", type=int)
    train.add_argument("--binarization", choices=("bidense", "bidense_deployable", "fp32", "bnn", "dab", "cfb"))
    train.add_argument("--epochs", type=int, default=50)
    train.add_argument("--lr", type=float, default=1e-4)
    train.add_argument("--image-size", type=int, nargs=2, default=(192, 256), metavar=("H", "W"))
    train.add_argument("--train-samples", type=int, default=2000, help="synthetic_rooms training size")
    train.add_argument("--devices", type=int, help="train data-parallel on N devices (JAX or TensorFlow); "
                       "--batch-size is the global batch")
    train.add_argument("--accumulate", type=int, default=1, metavar="K",
                       help="average the gradients of K batches per update (effective batch K x --batch-size)")
    train.add_argument("--precision", choices=PRECISIONS, help="Keras dtype policy (default float32)")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="held-out metrics of a model or flatbuffer; prints and writes JSON")
    evaluate.add_argument("model", help="model folder (config.json + model.weights.h5), preset with published "
                          "weights, or OUT.tflite from export (run by the LCE interpreter, see lce-runtime)")
    _add_data_arguments(evaluate)
    evaluate.add_argument("--out", help="metrics JSON path")
    evaluate.add_argument("--as-exported", action="store_true",
                          help="evaluate the deployable twin that `export` converts (DAB scale after each conv, "
                          "sign(0) = +1) at the images' own size; the flatbuffer itself runs at its export size")
    evaluate.set_defaults(run=_evaluate)
    return parser


def main(argv=None):
    """Entry point of the ``bidense-keras`` command."""
    args = build_parser().parse_args(argv)
    try:  # bad names, files, checkpoints, a missing LCE runtime: a message, no traceback
        args.run(args)
    except (ValueError, FileNotFoundError, FileExistsError, LCERuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
