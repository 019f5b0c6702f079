"""Keras 3's ``fit`` under a MultiWorkerMirroredStrategy.

Keras 3.15 cannot ``fit`` a plain model under ``tf.distribute.MultiWorkerMirroredStrategy``
(keras-team/keras#20585), for two reasons:

* before training it builds the model from the first batch averaged across replicas by
  ``strategy.reduce`` on the whole (x, y) tuple, which this strategy cannot reduce;
* after every step it averages each scalar log across workers with
  ``strategy.reduce("MEAN", value, axis=0)``, which fails on a value with no axis 0.

:class:`MultiWorkerModel` is the same graph (the very same layers, hence the same weights)
with both fixed: it builds from this worker's own share of the batch (only its shapes and
dtypes are read), and its steps return each log as a vector of one value, whose mean along
axis 0 over all replicas is the global mean Keras reports on one machine.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


class MultiWorkerModel(keras.Model):
    """A functional model whose ``fit`` and ``evaluate`` run under MultiWorkerMirroredStrategy."""

    def train_step(self, data):
        return _as_vectors(super().train_step(data))

    def test_step(self, data):
        return _as_vectors(super().test_step(data))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(self._local_share, next(batches))
                break
        return super()._maybe_symbolic_build(data_batch=data_batch)

    def _local_share(self, value):
        if isinstance(value, tf.distribute.DistributedValues):
            return self.distribute_strategy.experimental_local_results(value)[0]
        return value


def _as_vectors(logs: dict) -> dict:
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


def for_multi_worker(model: keras.Model) -> MultiWorkerModel:
    """``model``'s graph as a :class:`MultiWorkerModel` (call inside the strategy's scope)."""
    return MultiWorkerModel(model.inputs, model.outputs, name=model.name)


def common_epoch(strategy, epochs_here: list[int], max_epoch: int) -> int:
    """The newest epoch every worker of the cluster has a backup of (0: start afresh).

    Workers back up independently at each epoch's end, so a cluster stopped all at once may
    leave one worker an epoch ahead of another; resuming each from its own newest backup
    would start them from different weights. Each worker marks the epochs it has in a vector
    (epoch 0, a fresh start, always), the vectors are summed across all replicas, and the
    newest epoch marked by every replica wins. Every worker computes the same answer.
    """
    marks = np.zeros(max_epoch + 1, dtype=np.int32)
    marks[0] = 1
    marks[[e for e in epochs_here if 0 < e <= max_epoch]] = 1
    counts = strategy.reduce("SUM", strategy.run(lambda: tf.constant(marks)), axis=None)
    everywhere = np.flatnonzero(np.asarray(counts) == strategy.num_replicas_in_sync)
    return int(everywhere.max())
