"""The jazz LSTM's generation step in numpy, read straight from a run's ``model.keras``.

Generation needs one LSTM step and the softmax layer: a few small matrix products. Importing
TensorFlow for them costs seconds and hundreds of megabytes, so ``jazzlstm generate`` loads the
weights with h5py (a ``.keras`` file is a zip holding ``model.weights.h5``) and steps in numpy,
in float32 like Keras. The arithmetic is :mod:`jazzlstm.model.reference`'s, gate order
i, f, c, o as Keras stores it; tests check the logits against the Keras step function.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from jazzlstm.errors import JazzLSTMError

WEIGHTS_MEMBER = "model.weights.h5"


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * z) + 1.0)  # the same function, without overflow for large |z|


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
    kernel, recurrent, bias = (np.asarray(a, np.float32) for a in lstm[0])
    dense_kernel, dense_bias = (np.asarray(a, np.float32) for a in dense[0])
    n_a = recurrent.shape[0]
    if not (kernel.shape[1] == 4 * n_a and bias.shape == (4 * n_a,) and dense_kernel.shape[0] == n_a
            and dense_bias.shape == (dense_kernel.shape[1],)):
        raise JazzLSTMError(f"{path}: the weights' shapes do not fit together")
    return {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias,
            "dense_kernel": dense_kernel, "dense_bias": dense_bias}


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
        w = self.weights
        ids = np.asarray(ids, np.int64)
        a, c = state
        # A one-hot input times the kernel is the kernel's row for that id.
        x_part = np.where((ids >= 0)[:, None], w["kernel"][np.maximum(ids, 0)], np.float32(0))
        z = x_part + a @ w["recurrent_kernel"] + w["bias"]
        i, f, g, o = np.split(z, 4, axis=1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        a = _sigmoid(o) * np.tanh(c)
        return a @ w["dense_kernel"] + w["dense_bias"], (a, c)
