"""Writes tests/saved_models/: a model folder (UperNet, packed) and a .keras file (DPT) saved by bidense_keras 0.2.x,
with the predictions they gave then, so that later versions are checked to load and predict them identically."""
import json

import keras
import numpy as np

import bidense_keras as bk
from bidense_keras.weights import save_pretrained
out = "tests/saved_models"
keras.utils.set_random_seed(0)
images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
up = bk.UperNet(dims=(8, 16, 16, 16), depths=(1, 1, 1, 1), features=8, num_classes=3,
                class_names=["floor", "wall", "thing"], palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0]], name="old_upernet")
def perturb(model):
    """Moves every weight a little off its initial value, so that no part of the model is an identity or zero."""
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(np.asarray(v) + rng.normal(0.0, 0.05, v.shape).astype("float32") * (1 + np.abs(np.asarray(v))))


perturb(up)
save_pretrained(up, f"{out}/upernet_folder", packed=False, dataset="synthetic_rooms", description="saved by 0.2.x for tests")
dpt = bk.DPT(task="depth", embed_dim=24, depth=4, num_heads=2, features=8, out_channels=(8, 8, 8, 8), max_depth=10.0,
             name="old_dpt")
perturb(dpt)
dpt.save(f"{out}/dpt_depth.keras")
np.savez_compressed(f"{out}/predictions.npz", images=images,
                    upernet_folder=up.predict(images, verbose=0), dpt_depth=dpt.predict(images, verbose=0))
print(json.dumps({"bidense_keras": bk.__version__, "keras": keras.__version__}))
