"""The classic graphs, with the classic signatures: :func:`djmodel` (training, unrolled over
``Tx`` one-hot steps) and :func:`music_inference_model` (each step's one-hot argmax fed back in),
and beside them :func:`build_training_model`, the fast path over the very same layer objects.

All read and write the same variables, so training one changes the others."""
from __future__ import annotations

from typing import Any, Sequence, Union

import keras
import numpy as np

from jazzlstm.model.layers import DROPOUT_NAME, SEQUENCE_NAME, ArgmaxOneHot, SequenceLSTM, TimeStep, layer_name


LSTMs = Union[keras.layers.LSTM, Sequence[keras.layers.LSTM]]
"""One LSTM layer (the classic ``LSTM_cell``) or a stack of them, bottom first."""


def as_stack(LSTM_cell: LSTMs) -> list[keras.layers.LSTM]:
    """The LSTM layers of a stack, bottom first (one layer: a list of it)."""
    return [LSTM_cell] if isinstance(LSTM_cell, keras.layers.Layer) else list(LSTM_cell)


def _state_inputs(cells: Sequence[keras.layers.LSTM]) -> list:
    """Initial-state inputs a0, c0 (and a0_2, c0_2, ... for a stack): one (a, c) pair per layer."""
    return [keras.Input(shape=(cell.units,), name=layer_name(f"{kind}0", k))
            for k, cell in enumerate(cells, start=1) for kind in ("a", "c")]


def _stack_step(cells: Sequence[keras.layers.LSTM], x, states: list, dropouts: Sequence = ()):
    """One time step through the stack: each layer's new state feeds the layer above (through
    the dropout between them, if any). Returns the top layer's output and the new states."""
    new_states = []
    for k, cell in enumerate(cells):
        a, _, c = cell(x, initial_state=states[2 * k:2 * k + 2])
        new_states += [a, c]
        if k + 1 < len(cells):
            below = dropouts[k](a) if dropouts else a
            x = keras.layers.Reshape((1, cell.units))(below)
    return a, new_states


def djmodel(Tx: int, LSTM_cell: LSTMs, densor: keras.layers.Dense,
            reshapor: keras.layers.Reshape, dropout: float = 0.0) -> keras.Model:
    """Training graph unrolled over ``Tx`` steps: inputs [X one-hot, a0, c0], Tx outputs.

    ``LSTM_cell`` may be a stack of LSTM layers (bottom first): the inputs are then
    [X, a0, c0, a0_2, c0_2, ...], each layer's output is the next one's input, and
    ``dropout`` (training only) acts between layers and before ``densor``."""
    cells = as_stack(LSTM_cell)
    n_values = densor.units
    X = keras.Input(shape=(Tx, n_values), name="X")
    states = _state_inputs(cells)
    gaps = [keras.layers.Dropout(dropout, name=layer_name(DROPOUT_NAME, k)) for k in range(1, len(cells) + 1)
            ] if dropout else []
    inputs = [X, *states]
    outputs = []
    for t in range(Tx):
        x = reshapor(TimeStep(t, name=f"x_{t}")(X))
        a, states = _stack_step(cells, x, states, gaps)
        outputs.append(densor(gaps[-1](a) if gaps else a))
    return keras.Model(inputs=inputs, outputs=outputs, name="djmodel")


def music_inference_model(LSTM_cell: LSTMs, densor: keras.layers.Dense,
                          Ty: int = 100) -> keras.Model:
    """Generator unrolled over ``Ty`` steps: each step's one-hot argmax is the next input.

    With a stack of LSTM layers the inputs are [x0, a0, c0, a0_2, c0_2, ...]."""
    cells = as_stack(LSTM_cell)
    n_values = densor.units
    x0 = keras.Input(shape=(1, n_values), name="x0")
    states = _state_inputs(cells)
    inputs = [x0, *states]
    x = x0
    outputs = []
    for t in range(Ty):
        a, states = _stack_step(cells, x, states)
        out = densor(a)
        outputs.append(out)
        x = ArgmaxOneHot(n_values, name=f"feedback_{t}")(out)
    return keras.Model(inputs=inputs, outputs=outputs, name="music_inference_model")


def inference_ids(outputs: Sequence[Any]) -> np.ndarray:
    """Outputs of :func:`music_inference_model` (Ty arrays of (batch, V)) -> ids (batch, Ty)."""
    return np.argmax(np.stack([np.asarray(o) for o in outputs], axis=1), axis=-1)


def unrolled_inputs(ids: np.ndarray, n_values: int, n_a: int, layers: int = 1) -> list[np.ndarray]:
    """Integer ids (batch, Tx) -> the inputs of :func:`djmodel`: [one-hot X, a0=0, c0=0] (and a
    zero a0, c0 pair more per stacked layer)."""
    ids = np.asarray(ids)
    zeros = np.zeros((ids.shape[0], n_a), dtype="float32")
    return [np.eye(n_values, dtype="float32")[ids], *([zeros] * (2 * layers))]


def unrolled_targets(Y: np.ndarray, n_values: int) -> list[np.ndarray]:
    """Integer targets (batch, Tx) -> the Tx one-hot target arrays :func:`djmodel` trains on."""
    one_hot = np.eye(n_values, dtype="float32")[np.asarray(Y)]
    return [one_hot[:, t] for t in range(one_hot.shape[1])]


def build_training_model(LSTM_cell: LSTMs, densor: keras.layers.Dense,
                         Tx: int | None = None, implementation: str = "auto",
                         stateful_batch: int | None = None, dropout: float = 0.0) -> keras.Model:
    """Ids (batch, Tx) -> per-step softmax (batch, Tx, V), sharing ``LSTM_cell`` and ``densor``.

    ``Tx=None`` accepts any window length. Train with sparse targets Y = X shifted left by one.
    ``stateful_batch``: a model for consecutive windows of running text, with that fixed batch
    size, that carries the LSTM state from batch to batch (see :class:`SequenceLSTM`).
    A stack of LSTM layers runs layer by layer over the whole window (``LSTM_seq``,
    ``LSTM_seq_2``, ...), with ``dropout`` between layers and before ``densor`` as in :func:`djmodel`.
    """
    ids = keras.Input(shape=(Tx,), dtype="int32", name="ids", batch_size=stateful_batch)
    h = ids
    for k, cell in enumerate(as_stack(LSTM_cell), start=1):
        h = SequenceLSTM(cell, implementation=implementation, stateful=stateful_batch is not None,
                         name=layer_name(SEQUENCE_NAME, k), dtype=cell.dtype_policy)(h)
        if dropout:
            h = keras.layers.Dropout(dropout, name=layer_name(DROPOUT_NAME, k))(h)
    # Dense acts on the last axis, so the shared densor serves every step at once.
    return keras.Model(ids, densor(h), name="jazz_lstm_fast")
