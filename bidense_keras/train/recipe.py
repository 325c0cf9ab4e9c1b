"""The paper's training recipe in Keras: AdamW + one-cycle, checkpoints and resume, CSV log.

Plain ``model.fit`` does the work; this module only wires the loss, metrics,
optimizer and callbacks of each task, and runs evaluation over a dataset.
"""

import csv
import io
import shutil
import time
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from bidense_keras import compat, integrity
from bidense_keras.files import atomic_path, write_text_atomic
from bidense_keras.train.losses import SegmentationCrossEntropy, SILogLoss
from bidense_keras.train.metrics import (
    ConfusionMatrix,
    DepthAbsRel,
    DepthDelta1,
    DepthMetrics,
    MeanIoU,
    PixelAccuracy,
)
from bidense_keras.train.schedules import OneCycle


def compile_for_training(model, total_steps, lr, weight_decay=1e-2, accumulate=1, jit_compile="auto"):
    """Compiles ``model`` with its task's loss and metrics, AdamW and a one-cycle schedule.

    Args:
        model: a :class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.models.DPT`.
        total_steps: batches of the whole run (epochs * batches per epoch); the schedule spans
            ``total_steps // accumulate`` updates.
        lr: peak learning rate of the one-cycle schedule.
        weight_decay: AdamW decoupled weight decay.
        accumulate: average the gradients of this many batches before each update, so a run with
            batch B updates as with batch ``accumulate * B`` (BatchNorm statistics stay per batch,
            as with Lightning's ``accumulate_grad_batches``).
        jit_compile: Keras' ``"auto"`` compiles the step with XLA on JAX always and on TensorFlow
            with a GPU, and runs torch eagerly; True or False forces it where the backend can.
    """
    integrity.check_positive_int("accumulate", accumulate)
    integrity.check_positive_float("lr (the peak learning rate)", lr)
    if isinstance(weight_decay, bool) or not 0 <= weight_decay < float("inf"):
        raise ValueError(f"weight_decay must be a finite number >= 0; got {weight_decay!r}.")
    if model.task == "segmentation":
        loss = SegmentationCrossEntropy()
        metrics = [PixelAccuracy(), MeanIoU(model.num_classes)]
    else:
        loss = SILogLoss()
        metrics = [DepthAbsRel(max_depth=model.max_depth), DepthDelta1(max_depth=model.max_depth)]
    schedule = OneCycle(lr, total_steps // accumulate, steps_per_update=accumulate)
    optimizer = keras.optimizers.AdamW(
        schedule, weight_decay=weight_decay,
        gradient_accumulation_steps=accumulate if accumulate > 1 else None,
    )
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile)
    return model


LOG_FILE = "log.csv"
BACKUP_FOLDER = "backup"
LAST_WEIGHTS_FILE = "last.weights.h5"


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` (the epoch's wall time) to the epoch logs, so the CSV log keeps it."""

    def on_epoch_begin(self, epoch, logs=None):
        """Starts the epoch's clock."""
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        """Writes ``epoch_seconds`` into ``logs`` (the dict the later callbacks receive)."""
        if logs is not None:
            logs["epoch_seconds"] = round(time.perf_counter() - self._start, 1)


class LastWeights(keras.callbacks.Callback):
    """Writes the model's weights to ``path`` after each epoch, through a temporary file (never half-written).

    ``writes=False`` (the processes of a cluster other than process 0) saves into a scratch file instead,
    so that every process runs the same steps (see :class:`bidense_keras.compat.AtomicBackupAndRestore`).
    """

    def __init__(self, path, writes=True):
        super().__init__()
        self.path = Path(path)
        self.writes = writes

    def on_epoch_end(self, epoch, logs=None):
        if not self.writes:
            compat.save_weights_nowhere(self.model)
            return
        with atomic_path(self.path) as partial:
            self.model.save_weights(partial)


class EpochLog(keras.callbacks.Callback):
    """Adds each epoch's logs as a row of the CSV file at ``path``, which an earlier run may have started.

    When the logs have a column the file lacks (a metric added since, validation turned on for the
    rest of a resumed run), the file is widened and its earlier rows read ``NA`` there, so no value
    lands under another column's header. The file is replaced whole, never left with half a row.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch, logs=None):
        """Writes the file again with ``{"epoch": epoch, **logs}`` as its last row."""
        rows, columns = [], ["epoch"]
        if self.path.is_file():
            with open(self.path, newline="") as file:
                reader = csv.DictReader(file)  # a row longer than the header keeps its extra values under None
                rows = [{name: value for name, value in row.items() if name is not None} for row in reader]
                columns = list(reader.fieldnames or columns)
        row = {"epoch": epoch, **{name: _cell(value) for name, value in (logs or {}).items()}}
        columns += sorted(set(row) - set(columns))
        text = io.StringIO()
        writer = csv.DictWriter(text, columns, restval="NA", lineterminator="\n")
        writer.writeheader()
        writer.writerows([*rows, row])
        write_text_atomic(self.path, text.getvalue())


def _cell(value):
    """A log value as CSV text: a number's repr, else its text."""
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


def training_callbacks(output_dir):
    """Resume (an atomic, double BackupAndRestore), last weights after each epoch, and a CSV log with
    epoch times (:class:`EpochLog`). A kill at any point leaves a backup that resumes.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    return [
        compat.AtomicBackupAndRestore(str(output_dir / BACKUP_FOLDER)),
        LastWeights(output_dir / LAST_WEIGHTS_FILE),
        EpochTimer(),  # before the log: it adds epoch_seconds to the logs EpochLog writes
        EpochLog(output_dir / LOG_FILE),
    ]


def epoch_rows(path):
    """``{epoch: row}`` of a CSV epoch log (rows as text dicts); a re-trained epoch keeps its last row."""
    with open(path, newline="") as log:
        return {int(row["epoch"]): row for row in csv.DictReader(log)}


def training_seconds(output_dir, epochs):
    """Wall time of epochs ``0..epochs-1`` from the CSV log, counting epochs trained before a resume.

    A re-trained epoch counts once (its last row); an epoch interrupted before its end has no row,
    so its partial time is not counted. Raises ``ValueError`` when an epoch has no time.
    """
    seconds = {epoch: row.get("epoch_seconds") for epoch, row in epoch_rows(Path(output_dir) / LOG_FILE).items()}
    missing = [epoch for epoch in range(epochs) if seconds.get(epoch) in (None, "", "NA")]
    if missing:
        raise ValueError(f"{Path(output_dir) / LOG_FILE} has no epoch_seconds for epochs {missing}.")
    return round(sum(float(seconds[epoch]) for epoch in range(epochs)), 1)


def remove_backup(output_dir):
    """Deletes the resume state of a finished run (``output_dir/backup``), once its result is saved."""
    shutil.rmtree(Path(output_dir) / BACKUP_FOLDER, ignore_errors=True)


def fit(model, train_data, epochs, output_dir, lr, steps_per_epoch, validation_data=None, verbose=1, accumulate=1,
        jit_compile="auto", keep_backup=False, writes=True):
    """Trains ``model`` with the recipe; re-running with the same ``output_dir`` resumes.

    For several devices, build the model and call this inside
    :func:`bidense_keras.train.devices.data_parallel`.

    Args:
        model: an uncompiled UperNet or DPT.
        train_data: ``tf.data.Dataset`` of ``(images, targets)`` batches, one pass per epoch.
        epochs: number of passes.
        output_dir: where the backup, ``last.weights.h5`` and ``log.csv`` go.
        lr: peak learning rate.
        steps_per_epoch: batches in one pass (sizes the one-cycle schedule).
        validation_data: optional dataset evaluated after each epoch.
        accumulate, jit_compile: see :func:`compile_for_training`.
        keep_backup: leave the resume state after the last epoch, for a caller that saves the model
            itself and then calls :func:`remove_backup` (a kill before then resumes instead of retraining).
        writes: False for a process that resumes from ``output_dir`` but writes nothing there (every
            process of a cluster but process 0).

    A NaN or inf loss stops the run with :class:`bidense_keras.integrity.NonFiniteLossError`; the
    backup and ``last.weights.h5`` then hold the last complete epoch.

    Returns:
        The Keras ``History``.
    """
    compile_for_training(model, total_steps=epochs * steps_per_epoch, lr=lr, accumulate=accumulate,
                         jit_compile=jit_compile)
    history = model.fit(
        train_data,
        epochs=epochs,
        validation_data=validation_data,
        callbacks=[integrity.StopOnNonFiniteLoss(),  # first: before any save
                   *(training_callbacks(output_dir) if writes else
                     [compat.AtomicBackupAndRestore(str(Path(output_dir) / BACKUP_FOLDER), writes=False),
                      LastWeights(Path(output_dir) / LAST_WEIGHTS_FILE, writes=False)])],
        shuffle=False,  # tf.data pipelines shuffle themselves
        verbose=verbose,
    )
    if writes and not keep_backup:
        remove_backup(output_dir)
    return history


def evaluate(model, dataset, crop=None, min_depth=1e-3):
    """Standard metrics of ``model`` over ``dataset``.

    Segmentation: ``pixAcc``, ``mIoU`` and per-class ``IoU`` from a streaming confusion
    matrix. Depth: the per-image averaged errors (δ1..δ3, AbsRel, SqRel, RMSE, log RMSE,
    log10, SILog) over ``[min_depth, model.max_depth]`` with the optional ``crop``
    (a dataset's ``eval_crop`` in :mod:`bidense_keras.datasets.catalog`: ``"eigen"`` or ``"garg"``).

    Returns:
        dict of metrics (plain Python numbers and lists).
    """
    # numpy feeds every backend's predict (JAX takes no tf.Tensor); the bar shows in terminals only
    batches = tqdm(dataset.as_numpy_iterator(), desc="evaluate", unit="batch", disable=None)
    if model.task == "segmentation":
        accumulator = ConfusionMatrix(model.num_classes)
        for images, labels in batches:
            logits = model.predict_on_batch(images)
            accumulator.update(labels, np.argmax(logits, axis=-1))
    else:
        accumulator = DepthMetrics(min_depth=min_depth, max_depth=model.max_depth, crop=crop)
        for images, depth in batches:
            accumulator.update(depth, model.predict_on_batch(images))
    results = accumulator.result().items()
    return {key: value.tolist() if isinstance(value, np.ndarray) else value for key, value in results}
