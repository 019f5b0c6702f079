"""Training windows -> tf.data pipelines of batches, on one device or across replicas.

Windows come from :mod:`jazzlstm.data.windows`; ids stay integers (the model one-hots them).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Batches:
    """A tf.data pipeline of training or validation batches, and how ``fit`` must run it.

    ``steps``: batches per epoch, to pass to ``fit`` (see :func:`jazzlstm.training.fit_steps`).
    ``epoch``: for a shuffled one-epoch dataset, the variable the permutation is drawn from,
    read as each epoch's iterator starts (:class:`jazzlstm.training.fit.ShuffleEpoch` sets it).
    """

    dataset: object
    steps: int
    epoch: object = None


def make_dataset(window_array: np.ndarray, batch_size: int, shuffle: bool, seed: int,
                 weights: np.ndarray | None = None, drop_remainder: bool = False, strategy=None,
                 first_epoch: int = 0, target_weights: np.ndarray | None = None) -> Batches:
    """Batches of (X (batch, tx), Y (batch, tx)[, weights (batch, tx)]).

    ``weights``: one per window position (padding); ``target_weights``: one per vocabulary id,
    each batch's weights looked up from its targets (given tokens weigh 0).

    With ``shuffle``, epoch e visits the windows in a stateless permutation drawn from
    (``seed``, e): the order does not depend on the device, on how many replicas share the
    work, or on whether training was interrupted and resumed (tf.data's own shuffle changes
    its order when TensorFlow rewrites a dataset for distribution).

    With a ``strategy`` of several replicas or workers the dataset is distributed so that
    each global batch holds the same windows as on one device: every input pipeline takes
    its share of each epoch's permutation (pipeline i of n: windows i, i + n, ...) and
    batches it per replica; a last, smaller batch is dropped (replicas need equal shares),
    and the dataset runs epoch after epoch from ``first_epoch``. On one replica the dataset
    is one epoch long and is iterated again each epoch.
    """
    import tensorflow as tf

    if weights is not None and target_weights is not None:
        raise ValueError("give weights per position or per target id, not both")
    n = len(window_array)
    distributed = is_distributed(strategy)
    drop = drop_remainder or distributed
    steps = n // batch_size if drop else -(-n // batch_size)
    x, y = window_array[:, :-1], window_array[:, 1:]
    columns = [tf.constant(x), tf.constant(y)] + ([] if weights is None else [tf.constant(weights)])

    def permutation(epoch):
        order = tf.range(n, dtype=tf.int64)
        if shuffle and n > 1:
            key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
            order = tf.random.experimental.index_shuffle(order, key, n - 1)
        return order

    lookup = None if target_weights is None else tf.constant(target_weights)

    def gather(rows):
        batch = tuple(tf.gather(column, rows) for column in columns)
        return batch if lookup is None else batch + (tf.gather(lookup, batch[1]),)

    if not distributed:
        epoch = tf.Variable(first_epoch, dtype=tf.int64, trainable=False) if shuffle else None
        # The epoch variable is read when an iterator starts, i.e. once per epoch.
        start = tf.data.Dataset.range(1).flat_map(
            lambda _: batch_rows(permutation(epoch.read_value() if shuffle else 0), batch_size, drop))
        # flat_map hides the length: state it, for Keras's progress bar and epoch end.
        batches = start.map(gather).apply(tf.data.experimental.assert_cardinality(steps))
        return Batches(_fixed_pipeline(batches), steps, epoch)

    def per_input_pipeline(context):
        per_replica = context.get_per_replica_batch_size(batch_size)
        pipelines, index = context.num_input_pipelines, context.input_pipeline_id
        # An epoch is `steps` global batches: this pipeline's replicas take exactly that many
        # batches each, from its share of the permutation (windows index, index + pipelines,
        # ...); what is left of the share (the dropped remainder) must not run on into the
        # next epoch.
        per_epoch = steps * (context.num_replicas_in_sync // pipelines)
        epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)

        def share(epoch):
            return batch_rows(permutation(epoch)[index::pipelines][:per_epoch * per_replica], per_replica, True)

        return _fixed_pipeline(epochs.flat_map(share).map(gather))

    return Batches(strategy.distribute_datasets_from_function(per_input_pipeline), steps)


def batch_rows(order, batch_size: int, drop_remainder: bool):
    """A dataset of index batches from a 1-D tensor of row indices of static length.

    One reshape, so each batch is one dataset element (batching element by element costs
    tf.data a step per window); a last, smaller batch unless ``drop_remainder``.
    """
    import tensorflow as tf

    n = int(order.shape[0])
    full = n // batch_size
    batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:full * batch_size], [full, batch_size]))
    if n % batch_size and not drop_remainder:
        batches = batches.concatenate(tf.data.Dataset.from_tensors(order[full * batch_size:]))
    return batches


def _fixed_pipeline(batches):
    """Prefetch one batch, with tf.data's autotuning off.

    A batch is two or three gathers, so there is nothing to tune; the autotuner's thread,
    though, made the teardown of each epoch's iterator stall in about half the epochs
    (docs/performance.md). ``benchmarks/bench_train.py`` trains through this pipeline.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(1).with_options(options)


def is_distributed(strategy) -> bool:
    """Whether :func:`make_dataset` builds a distributed dataset for ``strategy``."""
    from jazzlstm.training.distribute import is_multi_worker

    return strategy is not None and (strategy.num_replicas_in_sync > 1 or is_multi_worker(strategy))
