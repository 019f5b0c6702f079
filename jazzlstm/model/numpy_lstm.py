"""The jazz LSTM's generation step in numpy, read straight from a run's ``model.keras``.

Generation needs one LSTM step and the softmax layer: a few small matrix products. Importing
TensorFlow for them costs seconds and hundreds of megabytes, so ``jazzlstm generate`` loads the
weights with h5py (a ``.keras`` file is a zip holding ``model.weights.h5``) and steps in numpy,
in float32 like Keras, with :mod:`jazzlstm.model.reference`'s step (gate order i, f, c, o as
Keras stores it); tests check the logits against the Keras step function.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from jazzlstm.errors import JazzLSTMError
from jazzlstm.model.reference import params_from_keras, step_logits

WEIGHTS_MEMBER = "model.weights.h5"


def read_weights(path: str | Path) -> dict[str, np.ndarray]:
    """The LSTM's kernel, recurrent kernel and bias and the dense layer's kernel and bias, found in
    the archive's weights by their shapes (so layer names may change between Keras versions)."""
    import h5py

    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(WEIGHTS_MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise JazzLSTMError(f"{path}: cannot read the model's weights ({exc})") from None
    groups: dict[str, list[np.ndarray]] = {}
    with h5py.File(io.BytesIO(data), "r") as weights:
        def collect(name: str, item: Any) -> None:
            if isinstance(item, h5py.Dataset) and name.rsplit("/", 2)[-2:-1] == ["vars"]:
                groups.setdefault(name.rsplit("/", 1)[0], []).append((int(name.rsplit("/", 1)[1]), item[()]))

        weights.visititems(collect)
    found = {group: [array for _, array in sorted(items, key=lambda t: t[0])] for group, items in groups.items()}
    lstm = [arrays for arrays in found.values() if len(arrays) == 3 and arrays[0].ndim == 2
            and arrays[1].ndim == 2 and arrays[1].shape[1] == 4 * arrays[1].shape[0]]
    dense = [arrays for arrays in found.values() if len(arrays) == 2 and arrays[0].ndim == 2 and arrays[1].ndim == 1]
    if len(lstm) != 1 or len(dense) != 1:
        raise JazzLSTMError(f"{path}: not a jazz LSTM's weights (expected one LSTM and one dense layer)")
    try:
        params = params_from_keras(*lstm[0], *dense[0], dtype=np.float32)
    except ValueError as exc:
        raise JazzLSTMError(f"{path}: the weights' shapes do not fit together ({exc})") from None
    n_a = params["recurrent_kernel"].shape[0]
    if params["dense_kernel"].shape[0] != n_a or params["dense_bias"].shape != (params["dense_kernel"].shape[1],):
        raise JazzLSTMError(f"{path}: the weights' shapes do not fit together (dense layer)")
    return params


class NumpyLSTM:
    """What generation asks of a model (``n_values``, ``n_a``, ``tx``, ``initial_state``, ``step``),
    computed with numpy from the saved weights."""

    backend = "numpy"

    def __init__(self, weights: dict[str, np.ndarray], tx: int):
        self.weights = weights
        self.tx = int(tx)

    @classmethod
    def load(cls, path: str | Path, tx: int) -> "NumpyLSTM":
        return cls(read_weights(path), tx)

    @property
    def n_values(self) -> int:
        return int(self.weights["dense_bias"].shape[0])

    @property
    def n_a(self) -> int:
        return int(self.weights["recurrent_kernel"].shape[0])

    @property
    def input_size(self) -> int:
        return int(self.weights["kernel"].shape[0])

    def initial_state(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        zeros = np.zeros((batch_size, self.n_a), np.float32)
        return zeros, zeros.copy()

    def step(self, ids: np.ndarray, state: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, tuple]:
        """``(ids (batch,), (a, c)) -> (logits (batch, V), (a, c))``; an id of -1 is an all-zero input."""
        logits, a, c = step_logits(np.asarray(ids), *state, self.weights)
        return logits, (a, c)
