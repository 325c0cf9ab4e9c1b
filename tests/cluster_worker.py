"""One process of a test cluster (tests/test_cluster.py): joins the run, then does one job and, in process 0,
writes what it found to ``OUT``. Run as ``python -m tests.cluster_worker JOB OUT COORDINATOR N K``; with N = 0
it runs alone (the reference run).

Jobs: ``steps`` trains the test_distribution TINY model two SGD steps from ``OUT.initial.npz`` on fixed
batches (global batch 4) and saves the weights and losses; ``shards`` lists the sample ids each process reads
from one epoch of a 10-batch dataset (every process writes ``OUT.<K>.json``).
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402


def steps(out, cluster):
    import keras
    import tensorflow as tf

    import bidense_keras as bk
    from bidense_keras.train.devices import data_parallel
    from bidense_keras.train.losses import SegmentationCrossEntropy
    from tests.test_distribution import TINY, BatchLosses, batches, without_dropout

    images, labels = (np.concatenate(parts) for parts in zip(*batches(2)))
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    with np.load(f"{out}.initial.npz") as initial:
        weights = [initial[f"arr_{i}"] for i in range(len(initial.files))]
    keras.utils.set_random_seed(0)  # every process initialises the same variables (JAX checks it)
    with data_parallel(None, batch_size=4, cluster=cluster):
        model = without_dropout(bk.segmentation(**TINY))
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=SegmentationCrossEntropy())
        losses = BatchLosses()
        model.fit(dataset, epochs=1, shuffle=False, verbose=0, callbacks=[losses])
    if cluster.writes:
        np.savez(f"{out}.weights.npz", *[np.asarray(w) for w in model.get_weights()])
        with open(f"{out}.losses.json", "w") as file:
            json.dump(losses.losses, file)


def shards(out, cluster):
    import keras
    import tensorflow as tf

    from bidense_keras.train.devices import data_parallel

    ids = tf.data.Dataset.range(40).map(lambda i: (tf.fill((2,), tf.cast(i, tf.float32)), i)).batch(4)
    with data_parallel(None, batch_size=4, cluster=cluster):
        local = keras.distribution.distribution().distribute_dataset(ids)
        seen = [int(i) for _, batch in local.as_numpy_iterator() for i in batch]
    with open(f"{out}.{cluster.process_id}.json", "w") as file:
        json.dump(seen, file)


def main(job, out, coordinator, num_processes, process_id):
    from bidense_keras.train import cluster as cluster_lib

    if int(num_processes):
        cluster = cluster_lib.join(coordinator, int(num_processes), int(process_id), initialization_timeout=120,
                                   heartbeat_timeout=10)
    else:
        cluster = cluster_lib.single_process()
    print(cluster.describe(), flush=True)
    {"steps": steps, "shards": shards}[job](out, cluster)


if __name__ == "__main__":
    main(*sys.argv[1:])
