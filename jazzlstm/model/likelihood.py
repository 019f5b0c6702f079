"""How well a model predicts whole sequences: the bits of each token given the ones before."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def token_bits(jazz, ids: Sequence[int]) -> np.ndarray:
    """Bits of tokens 2..T of ``ids``, each given all the tokens before it, from the zero state
    the model starts every sequence with (the first token conditions and is not scored, as in
    training). One pass of the fast path over the whole sequence: any length."""
    ids = np.asarray(ids, dtype="int32")
    if ids.ndim != 1 or len(ids) < 2:
        return np.zeros(0)
    probs = np.asarray(jazz.training_model(ids[None, :-1], training=False))[0]  # (T-1, V)
    picked = probs[np.arange(len(ids) - 1), ids[1:]]
    return -np.log2(np.maximum(picked, np.finfo(np.float32).tiny))
