"""Training across processes and hosts: JAX's distributed runtime under Keras' distribution API.

Every process of a run calls :func:`join` first, with the same coordinator address and process count
and its own index (``bidense-keras train --coordinator HOST:PORT --num-processes N --process-id K``),
or with nothing when a cluster manager started it (SLURM, Open MPI: JAX reads their environment).
Then the run is data-parallel over the devices of all processes (``keras.distribution.DataParallel``):
each global batch is split by Keras over the processes (``rebatch`` + ``shard`` of the ``tf.data``
pipeline, so no sample is read twice and none is dropped), gradients and BatchNorm statistics are
reduced over the global batch, and every process holds the same weights. Only process 0 writes the
run folder (:attr:`Cluster.writes`).

A process that dies makes the collectives of the others fail at once ("connection closed by peer"),
and one that never joins makes :func:`join` fail after ``initialization_timeout`` seconds; both become a
:class:`ClusterError` that says what to do. The run folder then holds the last complete epoch, which a
restart with any number of processes resumes.

Only the JAX backend runs across processes here. TensorFlow's multi-worker training
(``tf.distribute.MultiWorkerMirroredStrategy`` with ``TF_CONFIG``) is not wired into the recipe, and
torch needs one process per device (``torchrun``); both are refused with a message.
"""

import dataclasses
import importlib
import os
import re
import sys
import threading

import keras

from bidense_keras.errors import ClusterError

SUPPORTED_BACKEND = "jax"
# Variables by which a cluster manager says it started several processes (JAX detects them itself).
MANAGER_VARIABLES = {"SLURM_NTASKS": "SLURM", "OMPI_COMM_WORLD_SIZE": "Open MPI"}
# How the collectives of a process report that another process has gone.
LOST_PEER = re.compile(r"Connection closed by peer|Connection reset|heartbeat timeout|Broken pipe|UNAVAILABLE",
                       re.IGNORECASE)


JAX_GRACE_S = 30  # JAX's own join timeout runs this much longer than ours, so ours names the problem first


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Where this process stands in its run: its index, the process count, and the devices.

    Attributes:
        process_id: this process, 0 to ``num_processes - 1``.
        num_processes: processes in the run (1: no cluster).
        local_devices: this process's devices (Keras names, e.g. ``"cpu:0"``).
        global_devices: the devices of every process, which the run is data-parallel over.
        coordinator: ``HOST:PORT`` of process 0's coordination service (None: a single process, or
            what a cluster manager gave JAX).
    """

    process_id: int = 0
    num_processes: int = 1
    local_devices: tuple = ()
    global_devices: tuple = ()
    coordinator: str = None

    @property
    def distributed(self):
        """Whether the run has more than one process."""
        return self.num_processes > 1

    @property
    def writes(self):
        """Whether this process writes the run folder (process 0 alone does)."""
        return self.process_id == 0

    def describe(self):
        """One line: ``process 1 of 2 (coordinator 127.0.0.1:1234): 1 local device (cpu:0), 2 in all``."""
        local = f"{len(self.local_devices)} local device{'s' if len(self.local_devices) != 1 else ''}"
        where = f" (coordinator {self.coordinator})" if self.coordinator else ""
        return (f"process {self.process_id} of {self.num_processes}{where}: {local} "
                f"({', '.join(self.local_devices)}), {len(self.global_devices)} in all")


def single_process():
    """The :class:`Cluster` of a run that is this process alone."""
    from bidense_keras.backends import devices

    names = tuple(devices())
    return Cluster(local_devices=names, global_devices=names)


def manager_environment(environ=None):
    """The cluster manager that started several processes of this run (``"SLURM"``, ``"Open MPI"``), or None."""
    environ = os.environ if environ is None else environ
    for variable, manager in MANAGER_VARIABLES.items():
        if environ.get(variable, "").isdigit() and int(environ[variable]) > 1:
            return manager
    return None


def _check_request(coordinator, num_processes, process_id):
    """Raises a ValueError unless the three options are given together and make sense."""
    given = [value is not None for value in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise ValueError("A cluster needs --coordinator HOST:PORT, --num-processes N and --process-id K together "
                         "(the same coordinator and count in every process, K from 0 to N-1).")
    if not re.fullmatch(r"[^\s:]+:\d{1,5}", str(coordinator)):
        raise ValueError(f"--coordinator must be HOST:PORT (process 0's address and a free port); got {coordinator!r}.")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"--process-id must be between 0 and --num-processes - 1 = {num_processes - 1}; got {process_id}.")


def join(coordinator=None, num_processes=None, process_id=None, initialization_timeout=300, heartbeat_timeout=60,
         shutdown_timeout=3600):
    """Joins this process to its run's cluster and returns where it stands; call it before building models.

    Args:
        coordinator, num_processes, process_id: the cluster, given explicitly (all three), or None to let a
            cluster manager's environment give it (:func:`manager_environment`), or to run alone.
        initialization_timeout: seconds to wait for every process to join.
        heartbeat_timeout: seconds after which the coordination service declares a silent process dead.
        shutdown_timeout: seconds a finished process waits at exit for the others (process 0 saves and
            evaluates the model after the others are done).

    Returns:
        A :class:`Cluster` (a single process when neither options nor a manager ask for more).

    Raises:
        ValueError: incomplete or invalid options, or a backend that cannot train across processes.
        ClusterError: the processes did not all join within ``initialization_timeout``.
    """
    explicit = any(value is not None for value in (coordinator, num_processes, process_id))
    manager = None if explicit else manager_environment()
    if not explicit and manager is None:
        return single_process()
    if explicit:
        _check_request(coordinator, num_processes, process_id)
    backend = keras.backend.backend()
    if backend != SUPPORTED_BACKEND:
        raise ValueError(
            f"Training across processes runs on the JAX backend (KERAS_BACKEND=jax); the {backend} backend "
            + ("trains on the devices of one process here (--devices N); TensorFlow's multi-worker strategy "
               "(TF_CONFIG) is not supported by the recipe." if backend == "tensorflow" else
               "trains on one device per process (torchrun is not supported by the recipe).")
        )
    jax = importlib.import_module("jax")
    # CPU devices exchange tensors through gloo (TCP); GPUs keep NCCL. Set before anything starts JAX's backend.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    where = coordinator or f"the coordinator {manager} gives"
    message = (f"Process {process_id if explicit else '?'} could not join the run at {where} within "
               f"{initialization_timeout} s: some process did not start, or cannot reach process 0. Start every process "
               "with the same --coordinator (process 0's host and a free port) and --num-processes, each with its own "
               "--process-id, within the timeout (--join-timeout).")
    # JAX ends a process that cannot join with an abort from C++ after its own timeout; the watchdog ends it
    # first, with the message above and exit code 1.
    watchdog = threading.Timer(initialization_timeout, _exit_with, args=(f"error: {message}",))
    watchdog.daemon = True
    watchdog.start()
    try:
        jax.distributed.initialize(coordinator, num_processes, process_id,
                                   initialization_timeout=int(initialization_timeout) + JAX_GRACE_S,
                                   heartbeat_timeout_seconds=int(heartbeat_timeout),
                                   shutdown_timeout_seconds=int(shutdown_timeout))
    except Exception as error:  # JAX raises its runtime's errors (deadline exceeded, unavailable)
        raise ClusterError(f"{message} ({error})") from error
    finally:
        watchdog.cancel()
    return Cluster(process_id=jax.process_index(), num_processes=jax.process_count(),
                   local_devices=tuple(f"{device.platform}:{device.id}" for device in jax.local_devices()),
                   global_devices=tuple(keras.distribution.list_devices()), coordinator=coordinator)


def _exit_with(message):
    """Prints ``message`` on stderr and ends the process at once with exit code 1 (no cleanup, which would wait
    for the processes that are missing)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os._exit(1)


def lost_peer(error):
    """Whether ``error`` (raised by a collective) says that another process of the run has gone."""
    return bool(LOST_PEER.search(str(error)))


def barrier(cluster, name):
    """Waits until every process of ``cluster`` reaches the barrier ``name`` (nothing to wait for alone)."""
    if cluster.distributed:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)
