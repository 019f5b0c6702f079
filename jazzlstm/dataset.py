"""Integer id sequences -> training windows -> tf.data pipelines.

Windows are ``tx + 1`` ids long: X is the first ``tx``, Y the last ``tx`` (X shifted by one).
Ids stay integers all the way; the model one-hots them on the fly. Three layouts:

* music (:func:`corpus_windows`): every window of every piece (with a stride), shuffled,
  each from a zero state; the validation split is by file, so no window of a validation
  piece leaks into training;
* lines (:func:`sample_windows`): one window per short sample, padded, the padding weighted
  0 in the loss and the metrics;
* stream (:func:`stream_windows`): running text cut into consecutive windows, arranged so
  that row b of batch k continues row b of batch k - 1, for a model that carries its state.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np


def windows(sequence: Sequence[int], tx: int, stride: int = 1) -> np.ndarray:
    """All windows of ``tx + 1`` ids with the given stride, shape (n, tx + 1)."""
    ids = np.asarray(sequence, dtype=np.int32)
    if len(ids) < tx + 1:
        return np.zeros((0, tx + 1), dtype=np.int32)
    starts = np.arange(0, len(ids) - tx, stride)
    return ids[starts[:, None] + np.arange(tx + 1)[None, :]]


def corpus_windows(sequences: Sequence[Sequence[int]], tx: int, stride: int = 1) -> np.ndarray:
    """Windows of every sequence stacked; sequences shorter than ``tx + 1`` are padded by
    repetition so that short pieces still contribute (a loop of the tune)."""
    parts = []
    for seq in sequences:
        if len(seq) == 0:
            continue
        if len(seq) < tx + 1:
            seq = list(seq) * math.ceil((tx + 1) / len(seq))
        parts.append(windows(seq, tx, stride))
    return np.concatenate(parts) if parts else np.zeros((0, tx + 1), dtype=np.int32)


def split_by_file(n_files: int, val_split: float, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, validation indices) over files; no validation with fewer than 2 files."""
    indices = list(range(n_files))
    if n_files < 2 or val_split <= 0:
        return indices, []
    random.Random(seed).shuffle(indices)
    n_val = min(n_files - 1, max(1, round(n_files * val_split)))
    return sorted(indices[n_val:]), sorted(indices[:n_val])


def sample_windows(sequences: Sequence[Sequence[int]], tx: int, pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(windows (n, tx + 1), weights (n, tx)) for short samples, one window each from its start.

    A sample shorter than ``tx + 1`` is padded with ``pad_id`` (weight 0); a longer one is cut
    into consecutive windows of ``tx`` predictions (each starting from a zero state).
    """
    rows, weights = [], []
    for seq in sequences:
        seq = list(seq)
        for start in range(0, max(1, len(seq) - 1), tx):
            chunk = seq[start:start + tx + 1]
            if len(chunk) < 2:
                break
            rows.append(chunk + [pad_id] * (tx + 1 - len(chunk)))
            weights.append([1.0] * (len(chunk) - 1) + [0.0] * (tx + 1 - len(chunk)))
    if not rows:
        return np.zeros((0, tx + 1), np.int32), np.zeros((0, tx), np.float32)
    return np.array(rows, np.int32), np.array(weights, np.float32)


def stream_windows(ids: Sequence[int], tx: int, batch_size: int) -> np.ndarray:
    """Consecutive windows of one long sequence for a stateful model, shape (k * batch, tx + 1).

    The sequence is cut into ``batch_size`` equal streams; batch k holds window k of every
    stream, so the state a row ends a batch in is the right start for that row of the next
    batch. The ids that do not fill a last whole window of every stream are left out (fewer
    than ``batch_size * tx``).
    """
    ids = np.asarray(ids, np.int32)
    per_stream = (len(ids) - 1) // batch_size
    n_windows = per_stream // tx
    if n_windows == 0:
        return np.zeros((0, tx + 1), np.int32)
    streams = [ids[b * per_stream: b * per_stream + n_windows * tx + 1] for b in range(batch_size)]
    rows = [stream[k * tx: k * tx + tx + 1] for k in range(n_windows) for stream in streams]
    return np.array(rows, np.int32)


def split_stream(ids: Sequence[int], val_split: float) -> tuple[list[int], list[int]]:
    """(training ids, validation ids): the last ``val_split`` share of a stream validates."""
    ids = list(ids)
    n_val = int(round(len(ids) * val_split)) if val_split > 0 else 0
    return (ids[:len(ids) - n_val], ids[len(ids) - n_val:]) if n_val else (ids, [])


@dataclass
class Batches:
    """A tf.data pipeline of training or validation batches, and how ``fit`` must run it.

    ``steps``: batches per epoch, to pass to ``fit`` (see :func:`jazzlstm.training.fit_steps`).
    ``epoch``: for a shuffled one-epoch dataset, the variable the permutation is drawn from,
    read as each epoch's iterator starts (:class:`jazzlstm.training.ShuffleEpoch` sets it).
    """

    dataset: object
    steps: int
    epoch: object = None


def make_dataset(window_array: np.ndarray, batch_size: int, shuffle: bool, seed: int,
                 weights: np.ndarray | None = None, drop_remainder: bool = False, strategy=None,
                 first_epoch: int = 0) -> Batches:
    """Batches of (X (batch, tx), Y (batch, tx)[, weights (batch, tx)]).

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

    def gather(rows):
        return tuple(tf.gather(column, rows) for column in columns)

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
    though, made the teardown of each epoch's iterator stall ~150 ms in about half the epochs
    (measured on 2 cores: epochs of 128 batches took 0.45 s or 0.62 s at random; 0.45 s
    every time without it). ``benchmarks/bench_train.py`` trains through this pipeline.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(1).with_options(options)


def is_distributed(strategy) -> bool:
    """Whether :func:`make_dataset` builds a distributed dataset for ``strategy``."""
    from .distribute import is_multi_worker

    return strategy is not None and (strategy.num_replicas_in_sync > 1 or is_multi_worker(strategy))
