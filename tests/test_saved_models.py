"""Files saved by earlier versions keep loading and predicting the same: a user's work outlives a refactor.

``tests/saved_models/`` holds a model folder (UperNet) and a ``.keras`` file (DPT) written by bidense_keras 0.2.1
(``tests/saved_models/make_saved_models.py``, the script that wrote them then) and the predictions they gave.
"""

from pathlib import Path

import keras
import numpy as np
import pytest

import bidense_keras

SAVED = Path(__file__).resolve().parent / "saved_models"


@pytest.fixture(scope="module")
def recorded():
    with np.load(SAVED / "predictions.npz") as arrays:
        return dict(arrays)


def test_model_folder_of_0_2_loads_and_predicts_as_then(recorded):
    model = bidense_keras.load(SAVED / "upernet_folder")
    assert isinstance(model, bidense_keras.UperNet)
    assert model.class_names == ["floor", "wall", "thing"] and model.palette[1] == [255, 0, 0]
    np.testing.assert_allclose(model.predict(recorded["images"], verbose=0), recorded["upernet_folder"],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("loader", ["bidense_keras.load", "keras.saving.load_model"])
def test_keras_file_of_0_2_loads_and_predicts_as_then(recorded, loader):
    path = SAVED / "dpt_depth.keras"
    model = bidense_keras.load(path) if loader == "bidense_keras.load" else keras.saving.load_model(path)
    assert isinstance(model, bidense_keras.DPT) and model.task == "depth" and model.max_depth == 10.0
    np.testing.assert_allclose(model.predict(recorded["images"], verbose=0), recorded["dpt_depth"],
                               rtol=1e-5, atol=1e-5)
