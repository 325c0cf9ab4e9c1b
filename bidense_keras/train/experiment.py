"""One training or evaluation run end to end: data, model, recipe, saved model folder, metrics JSON.

This is what ``bidense-keras train`` and ``bidense-keras evaluate`` call; from Python
the same pieces (``load_dataset``, ``segmentation``/``depth``, ``recipe.fit``) work alone.
"""

import contextlib
import json
import warnings
from pathlib import Path

import keras

from bidense_keras import integrity
from bidense_keras.backends import machine
from bidense_keras.datasets import catalog, loaders, synthetic_rooms
from bidense_keras.families import get_family
from bidense_keras.files import (
    OutputExistsError,
    folder_lock,
    foreign_entries,
    name_some,
    write_text_atomic,
)
from bidense_keras.loader import load
from bidense_keras.presets import DEFAULT_FAMILY
from bidense_keras.train import cluster as cluster_lib
from bidense_keras.train import devices as train_devices
from bidense_keras.train import recipe
from bidense_keras.weights import load_folder, save_pretrained


def loader_name(dataset, task):
    """The on-disk layout ``loaders.load_dataset`` reads for ``dataset`` (synthetic rooms use a real one's)."""
    info = catalog.dataset(dataset)
    if dataset != "synthetic_rooms" and info["task"] != task:
        raise ValueError(f"{dataset} is a {info['task']} dataset, not {task}.")
    return info["layout"][task] if isinstance(info["layout"], dict) else info["layout"]


def build_model(task, dataset, preset=None, init=None, architecture=None, **model_arguments):
    """The model to train for ``task`` on ``dataset``, its head fitting the dataset's classes or depth range.

    Args:
        preset: architecture to build untrained (default: the paper's model of the family: ConvNeXt-T
            UperNet or ViT-S/14 DPT).
        init: trained weights to start from instead (any :func:`bidense_keras.load` source); a head
            for other classes is re-initialised, every other weight kept.
        architecture: the family, ``"upernet"`` (default) or ``"dpt"``; a preset or ``init`` of
            another family is refused.
        **model_arguments: model arguments changing ``preset`` (not with ``init``).
    """
    head = catalog.head_arguments(dataset, task)
    if init is None:
        preset = preset or get_family(architecture or DEFAULT_FAMILY).base_presets[task]
        return load(preset, pretrained=False, task=task, architecture=architecture, **head, **model_arguments)
    if preset is not None or model_arguments:
        raise ValueError(f"--init starts from trained weights; it takes no preset or model arguments "
                         f"({sorted(model_arguments) or preset}).")
    return load(init, task=task, architecture=architecture, **head)


MODEL_FOLDER = "model"
METRICS_FILE = "metrics.json"
RUN_ENTRIES = (MODEL_FOLDER, METRICS_FILE, recipe.LOG_FILE, recipe.BACKUP_FOLDER, recipe.LAST_WEIGHTS_FILE)


def check_run_folder(output_dir, overwrite=False):
    """Raises :class:`~bidense_keras.files.OutputExistsError` when ``output_dir`` holds files a run does not write.

    A run folder is new, empty, or an earlier run of the package (which the new run resumes or replaces).
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputExistsError(f"{output_dir} is a file, not a run folder.")
    foreign = foreign_entries(output_dir, RUN_ENTRIES, ignore_hidden=True)  # a run writes beside hidden files
    if foreign and not overwrite:
        raise OutputExistsError(f"{output_dir} holds files a training run does not write ({name_some(foreign)}): "
                                "give a new or empty --output folder, or pass --overwrite to write beside them.")


def train(task, dataset, data_dir, output_dir, epochs, batch_size, lr, image_size, preset=None, seed=0,
          synthetic=None, verbose=1, devices=None, accumulate=1, precision=None, init=None, architecture=None,
          validate=False, overwrite=False, cluster=None, **model_arguments):
    """Trains a model with the paper's recipe, saves it as a model folder and evaluates it.

    Args:
        task: ``"segmentation"`` or ``"depth"``.
        dataset: ``"synthetic_rooms"`` or a real dataset name (``ade20k``, ``voc``, ``nyu``, ``kitti``).
        data_dir: the dataset root (synthetic scenes are generated there when missing).
        output_dir: receives ``model/`` (a model folder, see :mod:`bidense_keras.weights`), the training backup,
            ``log.csv`` and ``metrics.json``.
        epochs, batch_size, lr, image_size: the recipe (image_size = training crop (h, w)).
        preset, architecture, **model_arguments: the model, as for :func:`bidense_keras.segmentation`
            (``architecture`` the family, ``"upernet"`` or ``"dpt"``).
        init: start from these trained weights instead (a preset, folder, ``hf://`` or ``.keras``);
            recorded as the saved model's ``base_model``.
        seed: seeds weights, shuffling and augmentation.
        synthetic: for synthetic_rooms, dict of ``train_samples``, ``val_samples``,
            ``height``, ``width`` (defaults 2000, 200, 240, 320).
        devices: train data-parallel on this many devices (``batch_size`` is the global batch), see
            :func:`bidense_keras.train.devices.data_parallel`.
        accumulate: gradient accumulation steps (updates with ``accumulate * batch_size`` images).
        precision: a Keras dtype policy, e.g. ``"mixed_bfloat16"`` (default: float32).
        validate: also evaluate the loss and metrics on the held-out split, resized to ``image_size``,
            after each epoch (the ``val_*`` columns of ``log.csv``: learning curves).
        overwrite: write into an ``output_dir`` that holds other files (they are kept).
        cluster: the :class:`~bidense_keras.train.cluster.Cluster` this process joined
            (:func:`bidense_keras.train.cluster.join`): the run then spans the devices of every process
            (``devices`` must be None), each process reads its share of every global batch, and only
            process 0 prepares the data, writes ``output_dir``, saves and evaluates the model; the other
            processes return None. A lost process raises
            :class:`~bidense_keras.train.cluster.ClusterError` in the others.

    ``output_dir`` is locked while the run lasts (a second run into it gets
    :class:`~bidense_keras.files.FolderInUseError`); the resume state is removed only once the model
    folder is saved, so a kill at any point resumes. A NaN loss stops the run with
    :class:`~bidense_keras.integrity.NonFiniteLossError`, keeping the last complete epoch.

    Returns:
        dict of held-out metrics plus ``train_seconds`` (all epochs, also those before a resume); None in
        the processes of a cluster other than process 0.
    """
    cluster = cluster or cluster_lib.single_process()
    if not cluster.distributed:
        train_devices.check_data_parallel(devices, batch_size)  # before any data is generated
    integrity.check_positive_float("lr (the peak learning rate)", lr)
    output_dir = Path(output_dir)
    if cluster.writes:
        check_run_folder(output_dir, overwrite)
    with folder_lock(output_dir, "training run") if cluster.writes else contextlib.nullcontext():
        keras.utils.set_random_seed(seed)
        layout = loader_name(dataset, task)
        synthetic = {"train_samples": 2000, "val_samples": 200, "height": 240, "width": 320, **(synthetic or {})}
        if dataset == "synthetic_rooms" and cluster.writes:
            synthetic_rooms.prepare_splits(data_dir, task, seed=seed, **synthetic)
        cluster_lib.barrier(cluster, "data ready")  # the others read what process 0 prepared
        metadata = {"dataset": dataset, "input_size": list(image_size), "trained_on": machine(),
                    **({"base_model": str(init)} if init else {})}
        with train_devices.dtype_policy(precision):
            with train_devices.data_parallel(devices, batch_size, cluster):
                model = build_model(task, dataset, preset, init, architecture, **model_arguments)  # first: seeded weights
                train_data = loaders.load_dataset(layout, data_dir, "train", image_size, batch_size,
                                                  training=True, seed=seed)
                steps = len(loaders.list_samples(layout, data_dir, "train")[0]) // batch_size
                if steps < 1:
                    raise ValueError(f"Fewer training samples than one batch of {batch_size} in {data_dir}.")
                # resized to the training size: fixed shapes, which the DPT's traced graph needs
                validation = held_out_batches(task, dataset, data_dir, batch_size, image_size) if validate else None
                _fit(cluster, model, train_data, epochs, output_dir, lr, steps, validation_data=validation,
                     verbose=verbose, accumulate=accumulate, keep_backup=True, writes=cluster.writes)
            if not cluster.writes:
                return None
            save_pretrained(model, output_dir / MODEL_FOLDER, **metadata)
            recipe.remove_backup(output_dir)  # only now: a kill while saving resumes at the last epoch
            # The saved folder on one device: what users load, and no held-out batch must split over devices.
            metrics = evaluate(load_folder(output_dir / MODEL_FOLDER), dataset, data_dir, batch_size=batch_size)
        try:
            metrics["train_seconds"] = recipe.training_seconds(output_dir, epochs)
        except ValueError as error:  # the timing is a report, not a reason to lose the trained model's metrics
            warnings.warn(f"train_seconds unknown: {error}", stacklevel=2)
            metrics["train_seconds"] = None
        write_text_atomic(output_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
        return metrics


def _fit(cluster, model, *args, **kwargs):
    """:func:`bidense_keras.train.recipe.fit`, a collective that fails because another process of ``cluster``
    has gone turned into a :class:`~bidense_keras.train.cluster.ClusterError` that says what to do."""
    try:
        return recipe.fit(model, *args, **kwargs)
    except Exception as error:
        if not (cluster.distributed and cluster_lib.lost_peer(error)):
            raise
        raise cluster_lib.ClusterError(
            f"Process {cluster.process_id} of {cluster.num_processes} lost another process of the run ({error}). "
            "Every process stops; the run folder holds the last complete epoch. Restart the run (all processes, "
            "any number of them, the same command) to resume from it; the process that stopped first names "
            "the cause in its own log."
        ) from error


def evaluate(model, dataset, data_dir, batch_size=1, image_size=None, synthetic=None):
    """Held-out metrics of ``model`` on ``dataset``'s validation split.

    ``model`` is a model or anything :func:`bidense_keras.load` takes (an ``OUT.tflite`` written by
    ``bidense-keras export`` runs in the LCE interpreter with its fastest exact kernel).
    For synthetic_rooms, ``synthetic`` (``val_samples``, ``height``, ``width``, ``seed``)
    describes the held-out split, generated in ``data_dir`` when missing.
    """
    if not hasattr(model, "predict_on_batch"):
        model = load(model)
    data = held_out_batches(model.task, dataset, data_dir, batch_size, image_size, synthetic)
    return recipe.evaluate(model, data, crop=catalog.dataset(dataset).get("eval_crop"))


def held_out_batches(task, dataset, data_dir, batch_size=1, image_size=None, synthetic=None):
    """The ``tf.data`` batches ``(images (B, H, W, 3), targets)`` of the validation split that :func:`evaluate`
    scores, at the images' own size unless ``image_size`` is given.

    For synthetic_rooms, ``synthetic`` (``val_samples``, ``height``, ``width``, ``seed``) describes
    the held-out split, written to ``data_dir`` when missing (as files, JPEG images for depth).
    """
    layout = loader_name(dataset, task)
    if dataset == "synthetic_rooms" and synthetic is not None:
        options = {"val_samples": 200, "height": 240, "width": 320, "seed": 0, **synthetic}
        synthetic_rooms.prepare_split(data_dir, task, "val", options["val_samples"], options["seed"],
                                      options["height"], options["width"], overwrite=False)
    if image_size is None and dataset != "synthetic_rooms":
        batch_size = 1  # real images differ in size; native-size evaluation goes one by one
    return loaders.load_dataset(layout, data_dir, "val", image_size, batch_size)
