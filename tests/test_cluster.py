"""Training across processes (bidense_keras.train.cluster): real processes on 127.0.0.1 joined by JAX's
distributed runtime, compared with one process; shards, a lost process, resume, and what is refused.

Each test starts its processes itself (``tests/cluster_worker.py`` or ``bidense-keras train``) under
``KERAS_BACKEND=jax``, on free loopback ports, with bounded timeouts.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from bidense_keras.train import cluster as cluster_lib
from tests.conftest import REPO_ROOT
from tests.test_distribution import relative_l2

pytestmark = pytest.mark.slow  # several processes, each importing TensorFlow and JAX and compiling

FAST_XLA = "--xla_backend_optimization_level=0"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(devices=1):
    flags = f"{FAST_XLA} --xla_force_host_platform_device_count={devices}"
    return {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": flags, "PYTHONPATH": str(REPO_ROOT)}


def run_workers(job, out, num_processes, devices=1, timeout=600):
    """Runs ``tests/cluster_worker.py JOB`` in ``num_processes`` processes (0: one process alone); returns outputs."""
    coordinator = f"127.0.0.1:{free_port()}"
    count = max(num_processes, 1)
    processes = [subprocess.Popen([sys.executable, "-m", "tests.cluster_worker", job, str(out), coordinator,
                                   str(num_processes), str(k)], cwd=REPO_ROOT, env=environment(devices),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for k in range(count)]
    outputs = [process.communicate(timeout=timeout)[0] for process in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-4000:]
    return outputs


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The TINY model's initial weights, and the weights and losses of one process training two steps."""
    folder = tmp_path_factory.mktemp("cluster")
    import bidense_keras as bk
    from tests.test_distribution import TINY

    np.savez(folder / "alone.initial.npz", *bk.segmentation(**TINY).get_weights())
    run_workers("steps", folder / "alone", 0)
    return folder


def trained(prefix):
    with np.load(f"{prefix}.weights.npz") as weights:
        return [weights[f"arr_{i}"] for i in range(len(weights.files))], json.loads(open(f"{prefix}.losses.json").read())


@pytest.mark.parametrize("processes,devices", [(2, 1), (2, 2)])
def test_processes_train_to_the_weights_of_one_process(reference, processes, devices):
    prefix = reference / f"cluster{processes}x{devices}"
    shutil.copyfile(reference / "alone.initial.npz", f"{prefix}.initial.npz")
    outputs = run_workers("steps", prefix, processes, devices)
    assert f"process 1 of {processes}" in outputs[1] and f"{processes * devices} in all" in outputs[1]
    alone, alone_losses = trained(reference / "alone")
    together, losses = trained(prefix)
    np.testing.assert_allclose(losses, alone_losses, rtol=1e-4)
    assert relative_l2(together, alone) < 1e-4, relative_l2(together, alone)  # BatchNorm over the global batch
    with np.load(reference / "alone.initial.npz") as initial:
        assert relative_l2(alone, [initial[f"arr_{i}"] for i in range(len(initial.files))]) > 1e-6  # it trained


def test_the_shards_of_two_processes_cover_the_epoch_exactly_once(tmp_path):
    run_workers("shards", tmp_path / "ids", 2)
    first, second = (json.loads((tmp_path / f"ids.{k}.json").read_text()) for k in (0, 1))
    assert sorted(first + second) == list(range(40))  # every sample once, none twice, none dropped
    assert len(first) == len(second) == 20  # each process half of every global batch of 4
    assert set(first) == {i for i in range(40) if i % 4 < 2}


def train_command(output, data, port, num_processes=None, process_id=None):
    command = [sys.executable, "-m", "bidense_keras.cli", "train", "--task", "depth", "--dataset", "synthetic_rooms",
               "--data-dir", str(data), "--output", str(output), "--epochs", "4", "--batch-size", "2",
               "--lr", "1e-3", "--image-size", "64", "64", "--render-size", "64", "64", "--train-samples", "8",
               "--val-samples", "2", "--dims", "16", "32", "64", "128", "--depths", "1", "1", "1", "1",
               "--features", "16"]
    if num_processes:
        command += ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(num_processes),
                    "--process-id", str(process_id), "--join-timeout", "120", "--heartbeat-timeout", "10"]
    return command


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_a_lost_process_stops_the_others_with_a_named_error_and_the_run_resumes(tmp_path, stop):
    output, data, port = tmp_path / "run", tmp_path / "data", free_port()
    processes = [subprocess.Popen(train_command(output, data, port, 2, k), cwd=tmp_path, env=environment(),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for k in (0, 1)]
    log = output / "log.csv"
    deadline = time.monotonic() + 400
    while not (log.is_file() and len(log.read_text().splitlines()) >= 2):  # epoch 0 complete and checkpointed
        assert time.monotonic() < deadline and processes[0].poll() is None, processes[0].communicate()[0][-4000:]
        time.sleep(0.5)
    processes[1].send_signal(stop)
    killed = time.monotonic()
    survivor_output = processes[0].communicate(timeout=120)[0]
    stopped_output = processes[1].communicate(timeout=60)[0]
    if stop == signal.SIGINT:  # Ctrl-C: that process says so and leaves at once
        assert processes[1].returncode == 130 and "interrupted: process 1 stops" in stopped_output, stopped_output[-3000:]
    assert processes[0].returncode == 1, survivor_output[-4000:]
    assert time.monotonic() - killed < 60  # bounded by the heartbeat timeout (10 s) and a step
    assert "process 0 of 2" in survivor_output
    assert "lost another process of the run" in survivor_output and "Restart the run" in survivor_output
    assert (output / "backup").is_dir() and not (output / "model").exists()
    epochs_done = len(log.read_text().splitlines()) - 1
    resumed = subprocess.run(train_command(output, data, port), cwd=tmp_path, env=environment(),
                             capture_output=True, text=True, timeout=600)  # one process now: another cluster size
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    rows = [line.split(",")[0] for line in log.read_text().splitlines()[1:]]
    assert rows == [str(epoch) for epoch in range(4)], rows  # epochs after the checkpoint, none trained twice
    assert epochs_done >= 1 and (output / "model" / "config.json").is_file()


def test_a_process_that_never_joins_is_named_within_the_timeout(tmp_path):
    done = subprocess.run(train_command(tmp_path / "run", tmp_path / "data", free_port(), 2, 1)
                          + ["--join-timeout", "5"], cwd=tmp_path, env=environment(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Process 1 could not join the run" in done.stderr and "--coordinator" in done.stderr


def test_other_backends_and_incomplete_options_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="together"):
        cluster_lib.join("127.0.0.1:1234", 2, None)
    with pytest.raises(ValueError, match="HOST:PORT"):
        cluster_lib.join("no-port", 2, 0)
    with pytest.raises(ValueError, match="between 0 and"):
        cluster_lib.join("127.0.0.1:1234", 2, 2)
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        with pytest.raises(ValueError, match="JAX backend.*tensorflow backend.*TF_CONFIG"):
            cluster_lib.join("127.0.0.1:1234", 2, 0)
    assert cluster_lib.manager_environment({"SLURM_NTASKS": "4"}) == "SLURM"
    assert cluster_lib.manager_environment({"SLURM_NTASKS": "1", "OMPI_COMM_WORLD_SIZE": "1"}) is None
    alone = cluster_lib.join()
    assert not alone.distributed and alone.writes and alone.describe().startswith("process 0 of 1")
