"""Workarounds for Keras behaviours the package depends on, each in one place with its reason.

Checked with Keras 3.10-3.15; when a Keras release changes one of them, only this module changes.
"""

import json
import os
import shutil
import tempfile
import warnings

import keras

from bidense_keras.files import atomic_path, write_text_atomic


def load_weights_strictly(model, path):
    """``model.load_weights(path)``, raising ValueError when part of the file matched no layer.

    Keras 3 only warns ("Skipping variable loading for ...") when a ``.weights.h5`` file has
    groups that fit no layer, so a partially loaded model would pass silently; other warnings
    are re-issued unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(path)
    skipped = [str(warning.message) for warning in caught if "Skipping" in str(warning.message)]
    if skipped:
        raise ValueError(skipped[0])
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def call_output_shapes(layer):
    """The output shape of each call of ``layer`` in a functional graph, in call order.

    Keras 3 has no public accessor for a shared layer's nodes (a layer called three times
    has three); ``_inbound_nodes`` holds one node per call.
    """
    return [tuple(node.outputs[0].shape) for node in layer._inbound_nodes]


def sublayers(layer):
    """The layers ``layer`` holds directly: a model's layers, and the sublayers a custom layer builds.

    Keras 3 lists a model's layers in ``Model.layers`` but has no public list of the layers a
    ``Layer`` creates in ``build`` (a ViT block's attention and linear layers); the private
    ``_flatten_layers`` tracks both.
    """
    return list(layer._flatten_layers(include_self=False, recursive=False))


def walk_layers(layer):
    """Every layer reachable from ``layer`` (nested models and layers inside layers included), each once,
    through :func:`sublayers`."""
    seen, stack, ordered = set(), [layer], []
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        ordered.append(current)
        stack.extend(sublayers(current))
    return ordered


def save_weights_nowhere(model):
    """``model.save_weights`` into a scratch file that is deleted: the steps of a save without its file."""
    with tempfile.TemporaryDirectory() as scratch:
        model.save_weights(os.path.join(scratch, "scratch.weights.h5"))


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` with ``double_checkpoint=True`` whose files are replaced, not rewritten.

    Keras writes ``latest.weights.h5`` and its metadata in place, so a kill during a save leaves a
    truncated file (a truncated metadata JSON even stops the resume). Here each file is written
    under a temporary name and renamed; the previous pair is kept as ``*.bkp`` first, which Keras
    falls back to when the latest weights cannot be read. Overrides Keras' private ``_save_model``
    (same attributes as Keras 3.10-3.15). The backup outlives the end of ``fit`` (Keras deletes it
    there, before the caller has saved the trained model): :func:`bidense_keras.train.recipe.fit`
    removes it once the run's result is safe. ``writes=False`` restores from the backup but saves into a
    scratch file that is deleted at once: the processes of a cluster other than process 0 resume from the
    backup process 0 writes, and their saves run the same collective steps as its save (JAX pairs each
    process's transfers with the others').
    """

    def __init__(self, backup_dir, writes=True, **kwargs):
        super().__init__(backup_dir, double_checkpoint=True, delete_checkpoint=False, **kwargs)
        self.writes = writes  # False: a process that resumes from the backup but leaves writing it to another

    def _save_model(self):
        if not self.writes:
            save_weights_nowhere(self.model)
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        for latest, previous in ((self._weights_path, self._prev_weights_path),
                                 (self._training_metadata_path, self._prev_training_metadata_path)):
            if os.path.exists(latest):
                with atomic_path(previous) as partial:
                    shutil.copyfile(latest, partial)
        with atomic_path(self._weights_path) as partial:
            self.model.save_weights(partial)
        write_text_atomic(self._training_metadata_path,
                          json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))
