"""Training on several devices, or with gradient accumulation, computes what one device computes.

Tests marked ``devices`` need two devices: tests/test_backends.py runs them in processes made
with ``BIDENSE_TEST_DEVICES=2`` (tests/conftest.py: two JAX CPU devices through XLA_FLAGS, or two
TensorFlow logical CPUs). A binary network is chaotic (a flipped sign near a DAB threshold
cascades), so runs are compared over two early steps with a small learning rate.
"""

import json
import os

import keras
import numpy as np
import pytest
from keras import ops

import bidense_keras as bk
from bidense_keras.backends import devices
from bidense_keras.train import recipe
from bidense_keras.train.devices import check_data_parallel, data_parallel
from bidense_keras.train.losses import SegmentationCrossEntropy
from tests.conftest import MATRIX_OUTPUT


pytestmark = pytest.mark.slow  # data-parallel and accumulated training

TINY = {"dims": (16, 32, 64, 128), "depths": (1, 1, 1, 1), "features": 16, "num_classes": 3}


def batches(count, batch=4, size=32):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (count * batch, size, size, 3)).astype("float32")
    labels = rng.integers(0, 3, (count * batch, size, size)).astype("int32")  # no ignored pixel
    return [(images[i * batch:(i + 1) * batch], labels[i * batch:(i + 1) * batch]) for i in range(count)]


def every_layer(model):
    """Every layer, also those nested in a layer (each BiDenseConv2D holds its BatchNorm)."""
    return model._flatten_layers(include_self=False, recursive=True)


def without_dropout(model):
    """The PPM's spatial dropout off: its random masks would differ between the runs compared."""
    for layer in every_layer(model):
        if isinstance(layer, keras.layers.SpatialDropout2D):
            layer.rate = 0.0
    return model


def freeze_batch_norm(model):
    """BatchNorm in inference mode: each image's output then depends on that image alone."""
    for layer in every_layer(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


class BatchLosses(keras.callbacks.Callback):
    """The running mean loss after each batch (equal runs give equal lists)."""

    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


def train_steps(initial_weights, data, num_devices, frozen_norm):
    """Two SGD steps through ``fit`` (which splits each global batch over the devices)."""
    import tensorflow as tf  # tf.data feeds every backend's fit

    images, labels = (np.concatenate(parts) for parts in zip(*data))
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(len(data[0][0]))
    with data_parallel(num_devices, batch_size=len(data[0][0])):
        model = without_dropout(bk.segmentation(**TINY))
        model.set_weights(initial_weights)
        if frozen_norm:
            freeze_batch_norm(model)
        model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=SegmentationCrossEntropy())
        losses = BatchLosses()
        model.fit(dataset, epochs=1, shuffle=False, verbose=0, callbacks=[losses])
        return np.array(losses.losses), [ops.convert_to_numpy(w) for w in model.weights], replicas(model)


def replicas(model):
    """How many devices hold the model's variables (1 unless it is distributed)."""
    if keras.backend.backend() == "jax":
        return len(model.weights[0].value.sharding.device_set)
    return model.distribute_strategy.num_replicas_in_sync


def relative_l2(a, b):
    difference = np.sqrt(sum(float(np.sum((x - y) ** 2)) for x, y in zip(a, b)))
    return difference / np.sqrt(sum(float(np.sum(y ** 2)) for y in b))


@pytest.mark.devices
def test_two_devices_train_like_one():
    assert len(devices()) >= 2, f"this test needs two devices, found {devices()}"
    keras.utils.set_random_seed(0)
    reference = bk.segmentation(**TINY)
    initial, start = reference.get_weights(), [ops.convert_to_numpy(w) for w in reference.weights]
    data = batches(2)
    # TensorFlow's replicas each normalize with their own BatchNorm statistics; JAX's program sees
    # the whole batch. So BatchNorm trains under JAX and is frozen under TensorFlow.
    frozen = keras.backend.backend() == "tensorflow"
    single_losses, single_weights, one = train_steps(initial, data, None, frozen)
    parallel_losses, parallel_weights, two = train_steps(initial, data, 2, frozen)
    assert (one, two) == (1, 2), "the data-parallel model must live on both devices"
    print(f"losses {single_losses} vs {parallel_losses}; weights rel L2 "
          f"{relative_l2(parallel_weights, single_weights):.2e}")
    np.testing.assert_allclose(parallel_losses, single_losses, rtol=1e-4)
    assert relative_l2(parallel_weights, single_weights) < 1e-4
    assert relative_l2(single_weights, start) > 1e-6  # the steps did train


@pytest.mark.backends
def test_gradient_accumulation_equals_one_larger_batch():
    keras.utils.set_random_seed(0)
    reference = bk.segmentation(**TINY)
    initial = reference.get_weights()
    (images, labels), = batches(1, batch=4)

    def run(accumulate, splits):
        model = without_dropout(bk.segmentation(**TINY))
        model.set_weights(initial)
        freeze_batch_norm(model)  # BatchNorm statistics are per batch; with them frozen the sums are exact
        recipe.compile_for_training(model, total_steps=4 * accumulate, lr=1e-3, accumulate=accumulate)
        for part_images, part_labels in zip(np.split(images, splits), np.split(labels, splits)):
            model.train_on_batch(part_images, part_labels)
        return [ops.convert_to_numpy(w) for w in model.weights]

    start = [ops.convert_to_numpy(w) for w in reference.weights]
    one_batch, accumulated = run(1, 1), run(2, 2)
    assert relative_l2(one_batch, start) > 1e-6  # the update moved the weights
    assert relative_l2(accumulated, one_batch) < 1e-5, relative_l2(accumulated, one_batch)


@pytest.mark.backends
def test_bad_device_requests_are_refused_before_training():
    check_data_parallel(None, 3)  # one device: any batch
    if keras.backend.backend() == "torch":
        with pytest.raises(ValueError, match="needs the JAX or TensorFlow backend"):
            check_data_parallel(2, 8)
        return
    with pytest.raises(ValueError, match="batch size 3 is not divisible by the device count 2"):
        check_data_parallel(2, 3)
    too_many = len(devices()) + 1
    with pytest.raises(ValueError, match=f"--devices {too_many} asked for, but the"):
        check_data_parallel(too_many, 8 * too_many)
    with pytest.raises(ValueError, match="at least 1"):
        check_data_parallel(0, 8)


@pytest.mark.devices
def test_cli_trains_data_parallel_and_saves_a_model_folder(tmp_path):
    """``train --devices 2``; tests/test_backends.py then scores the folder under TensorFlow."""
    from bidense_keras import cli
    from tests.test_training import HELD_OUT, TINY as TINY_ARGS

    child = os.environ.get("BIDENSE_MATRIX_CHILD")
    run = MATRIX_OUTPUT / child if child else tmp_path / "run"  # a matrix child leaves it to tests/test_backends.py
    status = cli.main(["train", "--task", "seg", "--dataset", "synthetic_rooms", "--data-dir", str(run / "data"),
                       "--output", str(run), "--epochs", "1", "--image-size", "48", "64", "--train-samples", "8",
                       "--devices", "2", *TINY_ARGS, *HELD_OUT])
    assert status == 0
    assert json.loads((run / "metrics.json").read_text())["mIoU"] >= 0.0


@pytest.mark.backends
def test_dtype_policy_applies_inside_and_is_restored():
    from bidense_keras.train.devices import dtype_policy

    with dtype_policy("mixed_bfloat16"):
        model = bk.segmentation(**TINY)
    assert model.get_layer("head_logits").compute_dtype == "float32"  # the logits stay float32
    assert model.backbone.get_layer("stem_conv").compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="Unknown precision 'fp8'"):
        with dtype_policy("fp8"):
            pass
