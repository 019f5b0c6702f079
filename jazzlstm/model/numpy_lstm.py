"""The jazz LSTM's generation step in numpy, read straight from a run's ``model.keras``.

Generation needs one LSTM step and the softmax layer: a few small matrix products. Importing
TensorFlow for them costs seconds and hundreds of megabytes, so ``jazzlstm generate`` loads the
weights with h5py (a ``.keras`` file is a zip holding ``model.weights.h5``) and steps in numpy,
in float32 like Keras, with :mod:`jazzlstm.model.reference`'s step (gate order i, f, c, o as
Keras stores it); tests check the logits against the Keras step function. A stacked model's
LSTM layers are read bottom first (Keras names their weight groups ``sequence_lstm``,
``sequence_lstm_1``, ... in the model's layer order).
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from jazzlstm.errors import JazzLSTMError
from jazzlstm.model.reference import Params, params_from_keras, stacked_step_logits

WEIGHTS_MEMBER = "model.weights.h5"


def _layer_order(group: str) -> tuple[str, int]:
    """Sort key of a weight group: its layer's name, then the number Keras appended (none = 0)."""
    layer = group.split("/")[1] if group.count("/") >= 1 else group
    match = re.search(r"_(\d+)$", layer)
    return (layer[:match.start()] if match else layer, int(match.group(1)) if match else 0)


def read_weights(path: str | Path) -> list[Params]:
    """Every LSTM layer's kernel, recurrent kernel and bias, bottom first, the top one with the
    dense layer's kernel and bias, found in the archive's weights by their shapes (so layer
    names may change between Keras versions)."""
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
    lstm = [found[group] for group in sorted(found, key=_layer_order)
            if len(found[group]) == 3 and found[group][0].ndim == 2 and found[group][1].ndim == 2
            and found[group][1].shape[1] == 4 * found[group][1].shape[0]]
    dense = [arrays for arrays in found.values() if len(arrays) == 2 and arrays[0].ndim == 2 and arrays[1].ndim == 1]
    if not lstm or len(dense) != 1:
        raise JazzLSTMError(f"{path}: not a jazz LSTM's weights (expected LSTM layers and one dense layer)")
    try:
        layers = [params_from_keras(*arrays, dtype=np.float32) for arrays in lstm[:-1]]
        layers.append(params_from_keras(*lstm[-1], *dense[0], dtype=np.float32))
    except ValueError as exc:
        raise JazzLSTMError(f"{path}: the weights' shapes do not fit together ({exc})") from None
    n_a = layers[0]["recurrent_kernel"].shape[0]
    top = layers[-1]
    if any(p["recurrent_kernel"].shape[0] != n_a for p in layers) or any(
            p["kernel"].shape[0] != n_a for p in layers[1:]):
        raise JazzLSTMError(f"{path}: the weights' shapes do not fit together (stacked LSTM layers)")
    if top["dense_kernel"].shape[0] != n_a or top["dense_bias"].shape != (top["dense_kernel"].shape[1],):
        raise JazzLSTMError(f"{path}: the weights' shapes do not fit together (dense layer)")
    return layers


class NumpyLSTM:
    """What generation asks of a model (``n_values``, ``n_a``, ``tx``, ``initial_state``, ``step``),
    computed with numpy from the saved weights."""

    backend = "numpy"

    def __init__(self, weights: Params | list[Params], tx: int):
        """``weights``: one LSTM's parameter dict with the dense layer's, or a stack of them
        (bottom first, the dense layer's in the top one's)."""
        self.stack = [weights] if isinstance(weights, dict) else list(weights)
        self.tx = int(tx)

    @classmethod
    def load(cls, path: str | Path, tx: int) -> "NumpyLSTM":
        return cls(read_weights(path), tx)

    @property
    def n_values(self) -> int:
        return int(self.stack[-1]["dense_bias"].shape[0])

    @property
    def n_a(self) -> int:
        return int(self.stack[0]["recurrent_kernel"].shape[0])

    @property
    def layers(self) -> int:
        return len(self.stack)

    @property
    def input_size(self) -> int:
        return int(self.stack[0]["kernel"].shape[0])

    def initial_state(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        zeros = np.zeros((batch_size, self.n_a * self.layers), np.float32)
        return zeros, zeros.copy()

    def step(self, ids: np.ndarray, state: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, tuple]:
        """``(ids (batch,), (a, c)) -> (logits (batch, V), (a, c))``; an id of -1 is an all-zero input.
        A stack's state holds every layer's side by side, as the Keras step function's does."""
        logits, a, c = stacked_step_logits(np.asarray(ids), *state, self.stack)
        return logits, (a, c)
