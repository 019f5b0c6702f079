"""Integer id sequences -> training windows -> tf.data pipelines.

Windows are ``tx + 1`` ids long: X is the first ``tx``, Y the last ``tx`` (X shifted by one).
Ids stay integers all the way; the model one-hots them on the fly. The validation split is
by file (whole sequences), so no window of a validation piece leaks into training.
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


def make_dataset(window_array: np.ndarray, batch_size: int, shuffle: bool, seed: int):
    """tf.data of (X ids (batch, tx), Y ids (batch, tx)) batches."""
    import tensorflow as tf

    x, y = window_array[:, :-1], window_array[:, 1:]
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        data = data.shuffle(len(window_array), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
