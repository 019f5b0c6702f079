"""Integer id sequences -> training windows (numpy; the tf.data side is :mod:`jazzlstm.training.pipeline`).

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
