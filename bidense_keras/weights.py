"""Model folders: saving a model with what describes its weights, and loading it back verified.

The layout (file names, metadata, the first format) is :mod:`bidense_keras.folder_format`; this module writes
and reads it. The model class comes from the folder's ``registered_name`` (:mod:`bidense_keras.families`).
"""

import datetime
import json
from pathlib import Path

import keras

from bidense_keras import compat, integrity, packing
from bidense_keras.families import class_of_registered_name
from bidense_keras.files import atomic_folder, sha256_of
from bidense_keras.folder_format import (
    CONFIG_FILE,
    FOLDER_FILES,
    FORMAT,
    METADATA_FILE,
    PACKED_FILE,
    PACKED_PIN,
    WEIGHTS_FILE,
    WEIGHTS_PIN,
    read_metadata,
    registered_config,
    weights_file,
    weights_pin,
)
from bidense_keras.transfer import with_overrides
from bidense_keras.version import __version__


def _copy(model):
    """An uncompiled copy of ``model`` with its weights."""
    clean = type(model).from_config(model.get_config())
    clean.set_weights(model.get_weights())
    return clean


def _pin(path):
    """The ``{"sha256", "size"}`` entry of ``metadata.json`` that pins the file at ``path``."""
    return {"sha256": sha256_of(path), "size": path.stat().st_size}


def save_pretrained(model, directory, *, packed=False, overwrite=False, **metadata):
    """Writes ``model`` as a model folder: ``config.json``, ``metadata.json``, ``model.weights.h5``.

    Args:
        model: a :class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.models.DPT`.
        directory: the model folder; an existing model folder is replaced as a whole, a folder holding
            other files is refused (:class:`~bidense_keras.files.OutputExistsError`) unless ``overwrite``.
        packed: also write ``model.bits.npz`` (binary kernels as bits, about 1/23 of the ``.h5`` for
            ConvNeXt-T). Both files then hold the canonical binary kernels (``mean|W_o| * sign(W)`` with a
            fixed spread; the ViT's linear kernels in a centred form, see :mod:`bidense_keras.packing`),
            which ``model`` itself is left without.
        overwrite: write into a folder that holds other files (they are kept, the model's files replaced).
        **metadata: entries of ``metadata.json``, e.g. ``dataset``, ``input_size``, ``metrics``,
            ``recipe``, ``description``, ``base_model``.

    The folder is written aside and renamed into place: an interrupted save leaves the old
    folder (or none), never new weights beside an old config. ``metadata.json`` pins the sha256 of
    each weights file, so :func:`load_folder` refuses a folder whose weights were changed since.

    Returns:
        ``directory`` as a :class:`~pathlib.Path`.
    """
    if packed:
        model = packing.canonicalize(_copy(model))
    elif getattr(model, "optimizer", None) is not None:  # save_weights would store its state too
        model = _copy(model)
    metadata = {
        "format": FORMAT,
        "task": model.task,
        "keras_version": keras.__version__,
        "bidense_keras_version": __version__,
        "date_saved": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d@%H:%M:%S"),
        "parameter_count": model.count_params(),
        **metadata,
    }
    integrity.check_finite_weights(model, "the model to save")
    with atomic_folder(directory, FOLDER_FILES, overwrite) as partial:
        config = keras.saving.serialize_keras_object(model)
        (partial / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        model.save_weights(partial / WEIGHTS_FILE)
        metadata[WEIGHTS_PIN] = _pin(partial / WEIGHTS_FILE)
        if packed:
            metadata[PACKED_PIN] = _pin(packing.save_packed(model, partial / PACKED_FILE))
        (partial / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=list) + "\n")
    return Path(directory)


def model_config(directory):
    """``(model class, keyword arguments with task)`` of a model folder's ``config.json``.

    Raises:
        ValueError: a config that names no bidense_keras model.
    """
    registered_name, arguments = registered_config(directory)
    model_class = class_of_registered_name(registered_name)
    if model_class is None:
        raise ValueError(f"{Path(directory) / CONFIG_FILE} names {registered_name!r}, which is no model family "
                         "of this version of bidense_keras.")
    return model_class, arguments


def model_arguments(directory):
    """The model's keyword arguments (``task`` included) of a model folder: :func:`model_config` without the class."""
    return model_config(directory)[1]


def _check_pin(path, pin, key=PACKED_PIN):
    """Refuses ``path`` when its size or sha256 differs from ``pin`` (from metadata.json), or nothing pins it."""
    if not isinstance(pin, dict) or not {"sha256", "size"} <= set(pin):
        raise ValueError(f"{path.parent / METADATA_FILE} has no {key!r} entry pinning {path.name}: write "
                         "the folder with save_pretrained(model, folder, packed=True).")
    size, digest = path.stat().st_size, sha256_of(path)
    if (size, digest) != (pin.get("size"), pin.get("sha256")):
        raise ValueError(f"{path} is corrupt: checksum mismatch (sha256 {digest}, {size} bytes; {METADATA_FILE} "
                         f"pins sha256 {pin.get('sha256')}, {pin.get('size')} bytes).")


def load_folder(directory, **overrides):
    """The model of a folder written by :func:`save_pretrained` (or of the first format), weights loaded.

    The weights come from ``model.bits.npz`` when the folder has one (checked against its pin), else
    from ``model.weights.h5``.

    Args:
        directory: the model folder.
        **overrides: model arguments to change, see :func:`bidense_keras.transfer.with_overrides`:
            ``num_classes`` / ``max_depth`` give a new head for fine-tuning (everything else keeps
            its trained weights); ``input_shape``, ``binarization`` (among variants with the same
            weights), ``zero_as_positive``, ``class_names``, ``palette``, ``name`` keep all weights.

    Raises:
        FileNotFoundError: a file of the folder is missing.
        ValueError: a config that is not a bidense_keras model, weights that do not fit it, a weights
            file whose sha256 differs from the one ``metadata.json`` pins (folders saved before the
            ``.h5`` was pinned load unchecked), or weights that are not finite.
        TypeError: an override that changes the architecture the weights were trained for.
    """
    directory = Path(directory)
    model_class, arguments = model_config(directory)
    model = model_class(**arguments)
    weights = weights_file(directory)
    if weights.name == PACKED_FILE:  # its errors name the file and what does not match
        _check_pin(weights, read_metadata(directory).get(PACKED_PIN))
        packing.load_packed(model, weights)
    else:
        pin = weights_pin(directory, WEIGHTS_PIN)
        if pin is not None:
            _check_pin(weights, pin, WEIGHTS_PIN)
        try:
            compat.load_weights_strictly(model, weights)
        except (ValueError, OSError, KeyError) as error:
            raise ValueError(f"{weights} does not fit the architecture in {CONFIG_FILE}: {error}") from error
    integrity.check_finite_weights(model, str(weights))
    return with_overrides(model, **overrides)
