"""The cost of JAX's distributed runtime: one process with 2 devices against 2 processes with 1 device each.

Both train the same demo-sized UperNet (dims 32/64/128/256, depths 1/1/3/1, F = 64) data-parallel over
2 CPU devices under ``KERAS_BACKEND=jax`` with the recipe's AdamW, global batch 8 of 128x128 images;
the step time is the median over ``--steps`` steps after 2 warm-up steps (compilation excluded).
The processes talk over 127.0.0.1 (gloo). A figure of this machine, not a timed test.

    python benchmarks/bench_cluster.py          # writes results/cluster.json + .md
"""

import argparse
import datetime
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from reports import write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CHILD = """
import json, sys, time
import numpy as np
from bidense_keras.train import cluster as cluster_lib
coordinator, processes, process_id, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cluster = (cluster_lib.join(coordinator, processes, process_id, initialization_timeout=120) if processes > 1
           else cluster_lib.Cluster(local_devices=("cpu:0", "cpu:1"), global_devices=("cpu:0", "cpu:1")))
import keras
import tensorflow as tf
import bidense_keras as bk
from bidense_keras.train.recipe import compile_for_training
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
images = rng.uniform(0, 255, (8 * (steps + 2), 128, 128, 3)).astype("float32")
depth = rng.uniform(1, 9, (8 * (steps + 2), 128, 128, 1)).astype("float32")
data = tf.data.Dataset.from_tensor_slices((images, depth)).batch(8)
times = []
class Clock(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()
    def on_train_batch_end(self, batch, logs=None):
        float(logs["loss"])
        times.append(time.perf_counter() - self.start)
with keras.distribution.DataParallel(devices=list(cluster.global_devices)).scope():
    model = bk.depth(dims=(32, 64, 128, 256), depths=(1, 1, 3, 1), features=64, max_depth=10.0)
    compile_for_training(model, total_steps=steps + 2, lr=1e-3)
    model.fit(data, epochs=1, verbose=0, callbacks=[Clock()])
if cluster.writes:
    print(json.dumps({"step_s": sorted(times[2:])[len(times[2:]) // 2], "steps": len(times) - 2}))
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure(processes, devices_per_process, steps):
    """The median step time of a run of ``processes`` processes with ``devices_per_process`` CPU devices each."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices_per_process}"}
    coordinator = f"127.0.0.1:{free_port()}"
    children = [subprocess.Popen([sys.executable, "-c", CHILD, coordinator, str(processes), str(k), str(steps)],
                                 env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for k in range(processes)]
    outputs = [child.communicate(timeout=1800) for child in children]
    for child, (_, error) in zip(children, outputs):
        if child.returncode:
            raise RuntimeError(error[-3000:])
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "cluster.json")
    args = parser.parse_args(argv)
    rows = [{"layout": "1 process x 2 devices", **measure(1, 2, args.steps)},
            {"layout": "2 processes x 1 device", **measure(2, 1, args.steps)}]
    overhead = rows[1]["step_s"] / rows[0]["step_s"]
    report = {"date": datetime.date.today().isoformat(), "machine": f"{os.cpu_count()} CPU cores, no GPU",
              "command": "python benchmarks/bench_cluster.py", "rows": rows, "two_processes_over_one": overhead}
    table = "\n".join(["| layout (2 CPU devices in all, global batch 8 of 128x128) | median train step |",
                       "| --- | --- |", *(f"| {row['layout']} | {row['step_s'] * 1e3:.0f} ms |" for row in rows),
                       f"| 2 processes / 1 process | {overhead:.2f}x |"]) + "\n"
    return write_report(args.out, report, table)


if __name__ == "__main__":
    sys.exit(main())
