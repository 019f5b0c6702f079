"""The classic graphs, with the classic signatures: :func:`djmodel` (training, unrolled over
``Tx`` one-hot steps) and :func:`music_inference_model` (each step's one-hot argmax fed back in),
and beside them :func:`build_training_model`, the fast path over the very same layer objects.

All read and write the same variables, so training one changes the others."""
from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np

from jazzlstm.model.layers import SEQUENCE_NAME, ArgmaxOneHot, SequenceLSTM, TimeStep


def djmodel(Tx: int, LSTM_cell: keras.layers.LSTM, densor: keras.layers.Dense,
            reshapor: keras.layers.Reshape) -> keras.Model:
    """Training graph unrolled over ``Tx`` steps: inputs [X one-hot, a0, c0], Tx outputs."""
    n_values, n_a = densor.units, LSTM_cell.units
    X = keras.Input(shape=(Tx, n_values), name="X")
    a0 = keras.Input(shape=(n_a,), name="a0")
    c0 = keras.Input(shape=(n_a,), name="c0")
    a, c = a0, c0
    outputs = []
    for t in range(Tx):
        x = reshapor(TimeStep(t, name=f"x_{t}")(X))
        a, _, c = LSTM_cell(x, initial_state=[a, c])
        outputs.append(densor(a))
    return keras.Model(inputs=[X, a0, c0], outputs=outputs, name="djmodel")


def music_inference_model(LSTM_cell: keras.layers.LSTM, densor: keras.layers.Dense,
                          Ty: int = 100) -> keras.Model:
    """Generator unrolled over ``Ty`` steps: each step's one-hot argmax is the next input."""
    n_values, n_a = densor.units, LSTM_cell.units
    x0 = keras.Input(shape=(1, n_values), name="x0")
    a0 = keras.Input(shape=(n_a,), name="a0")
    c0 = keras.Input(shape=(n_a,), name="c0")
    x, a, c = x0, a0, c0
    outputs = []
    for t in range(Ty):
        a, _, c = LSTM_cell(x, initial_state=[a, c])
        out = densor(a)
        outputs.append(out)
        x = ArgmaxOneHot(n_values, name=f"feedback_{t}")(out)
    return keras.Model(inputs=[x0, a0, c0], outputs=outputs, name="music_inference_model")


def inference_ids(outputs: Sequence[Any]) -> np.ndarray:
    """Outputs of :func:`music_inference_model` (Ty arrays of (batch, V)) -> ids (batch, Ty)."""
    return np.argmax(np.stack([np.asarray(o) for o in outputs], axis=1), axis=-1)


def unrolled_inputs(ids: np.ndarray, n_values: int, n_a: int) -> list[np.ndarray]:
    """Integer ids (batch, Tx) -> the inputs of :func:`djmodel`: [one-hot X, a0=0, c0=0]."""
    ids = np.asarray(ids)
    zeros = np.zeros((ids.shape[0], n_a), dtype="float32")
    return [np.eye(n_values, dtype="float32")[ids], zeros, zeros]


def unrolled_targets(Y: np.ndarray, n_values: int) -> list[np.ndarray]:
    """Integer targets (batch, Tx) -> the Tx one-hot target arrays :func:`djmodel` trains on."""
    one_hot = np.eye(n_values, dtype="float32")[np.asarray(Y)]
    return [one_hot[:, t] for t in range(one_hot.shape[1])]


def build_training_model(LSTM_cell: keras.layers.LSTM, densor: keras.layers.Dense,
                         Tx: int | None = None, implementation: str = "auto",
                         stateful_batch: int | None = None) -> keras.Model:
    """Ids (batch, Tx) -> per-step softmax (batch, Tx, V), sharing ``LSTM_cell`` and ``densor``.

    ``Tx=None`` accepts any window length. Train with sparse targets Y = X shifted left by one.
    ``stateful_batch``: a model for consecutive windows of running text, with that fixed batch
    size, that carries the LSTM state from batch to batch (see :class:`SequenceLSTM`).
    """
    ids = keras.Input(shape=(Tx,), dtype="int32", name="ids", batch_size=stateful_batch)
    h = SequenceLSTM(LSTM_cell, implementation=implementation, stateful=stateful_batch is not None,
                     name=SEQUENCE_NAME, dtype=LSTM_cell.dtype_policy)(ids)
    # Dense acts on the last axis, so the shared densor serves every step at once.
    return keras.Model(ids, densor(h), name="jazz_lstm_fast")
