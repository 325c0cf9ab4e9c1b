"""Where a training run computes: data parallelism over devices and the dtype policy.

The backend-specific part of training, in one module. Build, compile and fit a model inside
:func:`data_parallel` (and :func:`dtype_policy`); everything else in the recipe is backend-neutral.

- JAX: ``keras.distribution.DataParallel`` compiles one program over a mesh of devices and
  shards each batch across it. BatchNorm statistics and the losses still see the whole batch,
  so N devices compute what one device computes on the same batches (up to summation order).
- TensorFlow: ``tf.distribute.MirroredStrategy``, one replica per device. Each replica normalizes
  with its own BatchNorm statistics and reduces the loss over its share of the batch; Keras
  averages the replicas' losses and gradients.
- torch: Keras trains on one device per process there (multi-GPU torch needs one process per
  device, torchrun); ask for JAX, the GPU path.

Several processes or hosts (JAX): :func:`bidense_keras.train.cluster.join` first; :func:`data_parallel`
with that cluster then spans the devices of every process.
"""

import contextlib
import functools
import importlib

import keras

from bidense_keras.backends import check_backend, devices as available_devices
from bidense_keras.variants import PRECISIONS


def check_data_parallel(num_devices, batch_size=None):
    """Raises a ValueError unless ``batch_size`` images can be split over ``num_devices`` devices here.

    Args:
        num_devices: devices to train on (None or 1: the default device).
        batch_size: global batch (all devices together); None skips the divisibility check.
    """
    backend = check_backend()
    if num_devices is None or num_devices == 1:
        return
    if num_devices < 1:
        raise ValueError(f"--devices must be at least 1, got {num_devices}.")
    if backend == "torch":
        raise ValueError(
            "Data-parallel training in one process needs the JAX or TensorFlow backend; the torch "
            "backend trains on one device per process. Use KERAS_BACKEND=jax (the GPU path)."
        )
    if batch_size is not None and batch_size % num_devices:
        raise ValueError(
            f"The batch size {batch_size} is not divisible by the device count {num_devices}: every "
            "device must get the same number of images."
        )
    found = available_devices()
    if num_devices > len(found):
        raise ValueError(
            f"--devices {num_devices} asked for, but the {backend} backend sees {len(found)}: {found}. "
            "On a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N JAX devices."
        )


@contextlib.contextmanager
def data_parallel(num_devices=None, batch_size=None, cluster=None):
    """Context in which models built, compiled and fit train data-parallel on ``num_devices`` devices.

    Args:
        num_devices: the first N devices of :func:`bidense_keras.backends.devices`; None or 1 runs
            on the backend's default device (nothing changes).
        batch_size: the global batch; checked to split evenly (see :func:`check_data_parallel`).
        cluster: a :class:`~bidense_keras.train.cluster.Cluster` of several processes: the run spans every
            device of every process (``num_devices`` must then be None), each process feeding its share
            of each global batch.

    Yields:
        the device names in use.
    """
    if cluster is not None and cluster.distributed:
        if num_devices is not None:
            raise ValueError("A run across processes trains on every device of every process: leave out --devices.")
        if batch_size is not None and batch_size % len(cluster.global_devices):
            raise ValueError(f"The batch size {batch_size} is not divisible by the {len(cluster.global_devices)} "
                             "devices of the run's processes: every device must get the same number of images.")
        with keras.distribution.DataParallel(devices=list(cluster.global_devices)).scope():
            yield list(cluster.global_devices)
        return
    check_data_parallel(num_devices, batch_size)
    if num_devices is None or num_devices == 1:
        yield available_devices()[:1]
        return
    names = available_devices()[:num_devices]
    if keras.backend.backend() == "jax":
        with keras.distribution.DataParallel(devices=names).scope():
            yield names
    else:
        with _mirrored_strategy(tuple(names)).scope():
            yield names


@functools.lru_cache(maxsize=None)
def _mirrored_strategy(names):
    """One MirroredStrategy per device set and process: a second one over the same devices reuses the
    collective-op instance keys of the first, and its all-reduce then fails with "Shape mismatch in the
    collective instance" (TensorFlow 2.21, CPU)."""
    tf = importlib.import_module("tensorflow")
    return tf.distribute.MirroredStrategy([f"/{name}" for name in names])


@contextlib.contextmanager
def dtype_policy(precision=None):
    """Context with Keras' global dtype policy set to ``precision`` (restored on exit).

    ``mixed_bfloat16`` computes in bfloat16 with float32 variables: the DAB thresholds
    ``k * mean + b`` and signs are then taken in bfloat16 (8 bits of mantissa), so activations
    near a threshold may binarize differently than in float32. The task heads' last layers
    stay float32.

    Args:
        precision: one of :data:`PRECISIONS`, or None to keep the current policy.
    """
    if precision is None:
        yield
        return
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; choose one of {PRECISIONS}.")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
