"""What differs between the Keras backends, in one module: gradients and devices.

Model, layer and quantizer code is backend-neutral (``keras.ops`` only) and runs under
``KERAS_BACKEND=tensorflow`` (the CPU default and the LCE export path), ``jax`` (the fast GPU
path) and ``torch``. Keras has no backend-neutral gradient call, so :func:`vjp` is written once
per backend here; tests and tools use it to compare gradients across backends.
"""

import importlib
import os
import platform

from bidense_keras.startup import BACKENDS, check_backend_name, import_keras_quietly  # noqa: F401  (BACKENDS: here too)

keras = import_keras_quietly()
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402


def check_backend(name=None):
    """Returns the backend name, raising a ValueError unless it is one of :data:`BACKENDS`.

    Args:
        name: a backend name; default the running Keras backend (``$KERAS_BACKEND``).
    """
    return check_backend_name(name or keras.backend.backend())


def devices():
    """The devices the running backend computes on, accelerators first, e.g. ``["gpu:0", "gpu:1"]``.

    JAX and TensorFlow list their logical devices (``XLA_FLAGS=--xla_force_host_platform_device_count=N``
    or ``tf.config.set_logical_device_configuration`` make N CPU devices); torch lists its CUDA devices,
    else ``["cpu:0"]``.
    """
    if keras.backend.backend() == "torch":
        torch = importlib.import_module("torch")
        if torch.cuda.is_available():
            return [f"cuda:{index}" for index in range(torch.cuda.device_count())]
        return ["cpu:0"]
    return [name.lower() for name in keras.distribution.list_devices()]


def peak_accelerator_memory_mb():
    """Peak memory allocated on the first accelerator so far, in MB; None on a CPU-only process."""
    backend = keras.backend.backend()
    if not devices()[0].startswith(("gpu", "cuda", "tpu")):
        return None
    if backend == "jax":
        stats = importlib.import_module("jax").devices()[0].memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
    elif backend == "torch":
        peak = importlib.import_module("torch").cuda.max_memory_allocated()
    else:
        peak = importlib.import_module("tensorflow").config.experimental.get_memory_info("GPU:0")["peak"]
    return None if peak is None else peak / 2**20


def describe():
    """Versions, backend and devices of this process, as printed by ``bidense-keras info``.

    Returns:
        dict with ``keras``, ``backend``, ``backend_version`` and ``devices``.
    """
    backend = keras.backend.backend()
    module = importlib.import_module(backend)
    return {
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": getattr(module, "__version__", "unknown"),
        "devices": devices(),
    }


def machine():
    """Where this process trains, in words, for model cards, e.g. ``"2 CPU cores (x86_64); tensorflow 2.21.0,
    Keras 3.15.1"`` or ``"gpu:0; jax 0.6.2, Keras 3.15.1"`` (its accelerators, else its usable CPU cores)."""
    info = describe()
    accelerators = [device for device in info["devices"] if not device.startswith("cpu")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    where = ", ".join(accelerators) or f"{cores} CPU cores ({platform.machine()})"
    return f"{where}; {info['backend']} {info['backend_version']}, Keras {info['keras']}"


def vjp(function, inputs, cotangent=None, variables=()):
    """Output of ``function(*inputs)`` and the gradients of ``sum(output * cotangent)``.

    Args:
        function: maps backend tensors to one tensor (a model, a layer, a quantizer).
        inputs: list of arrays; gradients are taken with respect to each.
        cotangent: array of the output's shape; default ones (the gradient of ``sum(output)``).
        variables: ``keras.Variable`` s read by ``function`` whose gradients are wanted too.

    Returns:
        ``(output, input_gradients, variable_gradients)`` as numpy arrays (lists for the last two;
        an input or variable that does not reach the output gets zeros).
    """
    backend = check_backend()
    inputs = [np.asarray(x, dtype="float32") for x in inputs]
    gradient = {"tensorflow": _vjp_tensorflow, "jax": _vjp_jax, "torch": _vjp_torch}[backend]
    output, input_grads, variable_grads = gradient(function, inputs, cotangent, list(variables))
    as_numpy = lambda grads, like: [  # noqa: E731
        np.zeros(x.shape, "float32") if g is None else ops.convert_to_numpy(g) for g, x in zip(grads, like)
    ]
    return ops.convert_to_numpy(output), as_numpy(input_grads, inputs), as_numpy(variable_grads, variables)


def _weighted_sum(output, cotangent):
    return ops.sum(output if cotangent is None else output * ops.convert_to_tensor(cotangent, output.dtype))


def _vjp_tensorflow(function, inputs, cotangent, variables):
    tf = importlib.import_module("tensorflow")
    tensors = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        output = function(*tensors)
        loss = _weighted_sum(output, cotangent)
    grads = tape.gradient(loss, tensors + [v.value for v in variables])
    return output, grads[: len(tensors)], grads[len(tensors):]


def _vjp_jax(function, inputs, cotangent, variables):
    jax = importlib.import_module("jax")

    def loss(values, tensors):
        # Variables read inside this scope take the traced values, so jax can differentiate them.
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            output = function(*tensors)
        return _weighted_sum(output, cotangent), output

    values = [v.value for v in variables]
    tensors = [jax.numpy.asarray(x) for x in inputs]
    # One compiled program: op-by-op (eager) differentiation of a model compiles every op separately.
    gradient = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    (_, output), (variable_grads, input_grads) = gradient(values, tensors)
    return output, input_grads, variable_grads


def _vjp_torch(function, inputs, cotangent, variables):
    torch = importlib.import_module("torch")
    tensors = [ops.convert_to_tensor(x).detach().requires_grad_(True) for x in inputs]
    output = function(*tensors)
    parameters = [v.value for v in variables]
    grads = torch.autograd.grad(_weighted_sum(output, cotangent), tensors + parameters, allow_unused=True)
    return output.detach(), grads[: len(tensors)], grads[len(tensors):]
