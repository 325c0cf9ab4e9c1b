"""One training or evaluation run end to end: data, model, recipe, saved model folder, metrics JSON.

This is what ``bidense-keras train`` and ``bidense-keras evaluate`` call; from Python
the same pieces (``load_dataset``, ``segmentation``/``depth``, ``recipe.fit``) work alone.
"""

import json
import os
import warnings
from pathlib import Path

import keras

from bidense_keras import factory, visualize
from bidense_keras.datasets import loaders, synthetic_rooms
from bidense_keras.files import write_text_atomic
from bidense_keras.train import devices as train_devices
from bidense_keras.train import recipe
from bidense_keras.weights import load_pretrained, save_pretrained

DATASETS = ("synthetic_rooms", *loaders.DATASET_INFO)


def dataset_info(dataset, task):
    """Task metadata of a dataset: ``loader``, ``num_classes``/``max_depth``, class names, palette, eval crop."""
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; choose one of {DATASETS}.")
    if dataset == "synthetic_rooms":
        layout = synthetic_rooms.TASK_LAYOUTS[task][0]
        info = {"loader": layout, "task": task, "crop": None}
        if task == "segmentation":
            return {**info, "num_classes": synthetic_rooms.NUM_CLASSES,
                    "class_names": list(synthetic_rooms.CLASS_NAMES),
                    "palette": synthetic_rooms.PALETTE.tolist()}
        return {**info, "max_depth": synthetic_rooms.MAX_DEPTH}
    info = dict(loaders.DATASET_INFO[dataset])
    if info["task"] != task:
        raise ValueError(f"{dataset} is a {info['task']} dataset, not {task}.")
    info = {"loader": dataset, "task": task, "crop": recipe.EVAL_CROPS.get(dataset), **info}
    if task == "segmentation":
        info["palette"] = visualize.default_palette(info["num_classes"]).tolist()
    return info


def build_model(task, info, preset=None, **architecture):
    """A fresh model for ``task`` whose head matches the dataset (classes or depth range)."""
    head = {"num_classes": info["num_classes"]} if task == "segmentation" else {"max_depth": info["max_depth"]}
    build = factory.segmentation if task == "segmentation" else factory.depth
    return build(preset, **head, **architecture)


def train(task, dataset, data_dir, output_dir, epochs, batch_size, lr, image_size, preset=None, seed=0,
          synthetic=None, verbose=1, devices=None, accumulate=1, precision=None, **architecture):
    """Trains a model with the paper's recipe, saves it as a model folder and evaluates it.

    Args:
        task: ``"segmentation"`` or ``"depth"``.
        dataset: ``"synthetic_rooms"`` or a real dataset name (``ade20k``, ``voc``, ``nyu``, ``kitti``).
        data_dir: the dataset root (synthetic scenes are generated there when missing).
        output_dir: receives ``model/`` (config.json + model.weights.h5), the training backup,
            ``log.csv`` and ``metrics.json``.
        epochs, batch_size, lr, image_size: the recipe (image_size = training crop (h, w)).
        preset, **architecture: the model, as for :func:`bidense_keras.segmentation`.
        seed: seeds weights, shuffling and augmentation.
        synthetic: for synthetic_rooms, dict of ``train_samples``, ``val_samples``,
            ``height``, ``width`` (defaults 2000, 200, 240, 320).
        devices: train data-parallel on this many devices (``batch_size`` is the global batch), see
            :func:`bidense_keras.train.devices.data_parallel`.
        accumulate: gradient accumulation steps (updates with ``accumulate * batch_size`` images).
        precision: a Keras dtype policy, e.g. ``"mixed_bfloat16"`` (default: float32).

    Returns:
        dict of held-out metrics plus ``train_seconds`` (all epochs, also those before a resume).
    """
    train_devices.check_data_parallel(devices, batch_size)  # before any data is generated
    keras.utils.set_random_seed(seed)
    info = dataset_info(dataset, task)
    synthetic = {"train_samples": 2000, "val_samples": 200, "height": 240, "width": 320, **(synthetic or {})}
    if dataset == "synthetic_rooms":
        synthetic_rooms.prepare_splits(data_dir, task, seed=seed, **synthetic)
    output_dir = Path(output_dir)
    metadata = {k: info[k] for k in ("class_names", "palette") if k in info}
    with train_devices.dtype_policy(precision):
        with train_devices.data_parallel(devices, batch_size):
            model = build_model(task, info, preset, **architecture)  # first: seeded weights as before
            train_data = loaders.load_dataset(info["loader"], data_dir, "train", image_size, batch_size,
                                              training=True, seed=seed)
            steps = len(loaders.list_samples(info["loader"], data_dir, "train")[0]) // batch_size
            if steps < 1:
                raise ValueError(f"Fewer training samples than one batch of {batch_size} in {data_dir}.")
            recipe.fit(model, train_data, epochs, output_dir, lr, steps, verbose=verbose, accumulate=accumulate)
            save_pretrained(model, output_dir / "model", dataset=dataset, input_size=list(image_size), **metadata)
        # The saved folder on one device: what users load, and no held-out batch must split over devices.
        metrics = evaluate(load_pretrained(output_dir / "model"), dataset, data_dir, batch_size=batch_size)
    try:
        metrics["train_seconds"] = recipe.training_seconds(output_dir, epochs)
    except ValueError as error:  # the timing is a report, not a reason to lose the trained model's metrics
        warnings.warn(f"train_seconds unknown: {error}", stacklevel=2)
        metrics["train_seconds"] = None
    write_text_atomic(output_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def evaluate(model, dataset, data_dir, batch_size=1, image_size=None, synthetic=None):
    """Held-out metrics of ``model`` on ``dataset``'s validation split.

    ``model`` is a Keras model, a model folder path, or the path of an ``OUT.tflite`` written by
    ``bidense-keras export`` (run by the LCE interpreter with its fastest exact kernel).
    For synthetic_rooms, ``synthetic`` (``val_samples``, ``height``, ``width``, ``seed``)
    describes the held-out split, generated in ``data_dir`` when missing.
    """
    if isinstance(model, (str, os.PathLike)):
        model = _load_for_evaluation(model)
    info = dataset_info(dataset, model.task)
    if dataset == "synthetic_rooms" and synthetic is not None:
        options = {"val_samples": 200, "height": 240, "width": 320, "seed": 0, **synthetic}
        synthetic_rooms.prepare_split(data_dir, model.task, "val", options["val_samples"], options["seed"],
                                      options["height"], options["width"], overwrite=False)
    if image_size is None and dataset != "synthetic_rooms":
        batch_size = 1  # real images differ in size; native-size evaluation goes one by one
    data = loaders.load_dataset(info["loader"], data_dir, "val", image_size, batch_size)
    return recipe.evaluate(model, data, crop=info["crop"])


def _load_for_evaluation(path):
    """A model folder as a Keras model, or an exported ``OUT.tflite`` as a :class:`TFLiteModel`."""
    if Path(path).suffix == ".tflite":
        from bidense_keras.export.tflite_model import TFLiteModel

        return TFLiteModel.load(path)
    return load_pretrained(path)
