"""The object that owns the shared layers (``LSTM_cell``, ``densor``, ``reshapor``) and builds
every graph from them, and the one-step function samplers drive."""
from __future__ import annotations

import hashlib
from typing import Any

import keras
import numpy as np
from keras import ops

from jazzlstm.config import MUSIC_TX, ModelConfig, TrainConfig
from jazzlstm.model.classic import (LSTMs, as_stack, build_training_model, djmodel, music_inference_model,
                                   unrolled_inputs)
from jazzlstm.model.compile import STEPS_PER_EXECUTION, compile_model
from jazzlstm.model.layers import DENSOR_NAME, LSTM_NAME, RESHAPOR_NAME, layer_name
from jazzlstm.model.sampling import Sampler, StepFn


def make_step_fn(LSTM_cell: LSTMs, densor: keras.layers.Dense) -> StepFn:
    """``step(ids (batch,), (a, c)) -> (logits (batch, V), (a, c))`` on the shared weights.

    Uses ``LSTM_cell.cell`` directly (one cell step is far cheaper than running the LSTM layer
    on a length-1 sequence) and returns densor's pre-softmax logits, so samplers can apply a
    temperature exactly. An id of -1 is an all-zero input, like the classic ``x0``.

    For a stack of layers, ``a`` and ``c`` hold every layer's state side by side (batch,
    layers x units), bottom layer first, so samplers and beam search handle them as one state.
    """
    if densor.activation is not keras.activations.softmax:
        raise ValueError("densor must end in a softmax for its logits to be meaningful")
    cells, n_values = [layer.cell for layer in as_stack(LSTM_cell)], densor.units

    def step(ids, state):
        x = ops.one_hot(ops.cast(ids, "int32"), n_values)
        a_parts = ops.split(state[0], len(cells), axis=-1)
        c_parts = ops.split(state[1], len(cells), axis=-1)
        new_a, new_c = [], []
        for cell, a, c in zip(cells, a_parts, c_parts):
            x, (a, c) = cell(x, [a, c])
            new_a.append(a)
            new_c.append(c)
        return ops.matmul(x, densor.kernel) + densor.bias, (ops.concatenate(new_a, -1), ops.concatenate(new_c, -1))

    return step


class JazzLSTM:
    """Owns ``LSTM_cell``, ``densor`` and ``reshapor`` and builds every graph from them.

    A stacked model owns a list of LSTM layers, ``LSTM_cells`` (bottom first; ``LSTM_cell`` is
    the bottom one), each of the same units, and the dropout rate between them."""

    def __init__(self, LSTM_cell: LSTMs, densor: keras.layers.Dense,
                 reshapor: keras.layers.Reshape | None = None, tx: int = MUSIC_TX,
                 implementation: str = "auto", training_model: keras.Model | None = None,
                 dropout: float = 0.0):
        """Hold existing layers (new ones from :meth:`create`, or those of a loaded model)
        without copying weights; ``training_model`` is a fast model already built on them."""
        n_values = densor.units
        self.LSTM_cells = as_stack(LSTM_cell)
        self.LSTM_cell = self.LSTM_cells[0]
        self.dropout = float(dropout)
        self.densor = densor
        self.reshapor = reshapor or keras.layers.Reshape((1, n_values), name=RESHAPOR_NAME)
        self.tx = int(tx)
        self.implementation = implementation
        self._training_model = training_model
        self._sampler: Sampler | None = None
        # Build now so the weights exist before any graph is made (order-independent).
        inputs = n_values
        for cell in self.LSTM_cells:
            if not cell.built:
                cell.build((None, 1, inputs))
            inputs = cell.units
        if not densor.built:
            densor.build((None, inputs))

    @classmethod
    def create(cls, n_values: int, n_a: int = ModelConfig.n_a, tx: int = MUSIC_TX, seed: int | None = None,
               implementation: str = "auto", dtype: str | None = None, layers: int = ModelConfig.layers,
               dropout: float = ModelConfig.dropout) -> "JazzLSTM":
        """New layers for a vocabulary of ``n_values`` tokens and ``layers`` stacked LSTMs of
        ``n_a`` units, with ``dropout`` between layers and before ``densor`` (training only).

        ``dtype``: the LSTM's Keras dtype policy, e.g. ``"mixed_float16"`` (mixed precision);
        ``densor`` then still computes its softmax in float32, for a stable loss."""
        if n_values < 2 or n_a < 1 or tx < 1 or layers < 1:
            raise ValueError(f"need n_values >= 2, n_a >= 1, tx >= 1, layers >= 1; got {n_values}, {n_a}, {tx}, "
                             f"{layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        # Default activations, no recurrent dropout, no unrolling: each LSTM stays eligible
        # for Keras's cuDNN kernel on GPUs (tests/test_distribute.py checks the conditions).
        cells = []
        for k in range(1, layers + 1):
            init = _initializers(None if seed is None else seed + 3 * (k - 1))
            cells.append(keras.layers.LSTM(n_a, return_state=True, name=layer_name(LSTM_NAME, k), dtype=dtype,
                                           kernel_initializer=init[0], recurrent_initializer=init[1]))
        init = _initializers(seed)
        densor = keras.layers.Dense(n_values, activation="softmax", name=DENSOR_NAME,
                                    kernel_initializer=init[2], dtype="float32" if dtype else None)
        return cls(cells, densor, tx=tx, implementation=implementation, dropout=dropout)

    @property
    def n_values(self) -> int:
        return self.densor.units

    @property
    def n_a(self) -> int:
        return self.LSTM_cell.units

    @property
    def layers(self) -> int:
        """How many LSTM layers are stacked."""
        return len(self.LSTM_cells)

    @property
    def weights(self) -> list:
        """The shared variables: each LSTM's kernel, recurrent kernel and bias (bottom first),
        then densor's kernel and bias."""
        return [*(w for cell in self.LSTM_cells for w in cell.weights), *self.densor.weights]

    @property
    def training_model(self) -> keras.Model:
        """The fast training model (built once, then reused so its optimizer state persists)."""
        if self._training_model is None:
            self._training_model = build_training_model(self.LSTM_cells, self.densor, None,
                                                        self.implementation, dropout=self.dropout)
        return self._training_model

    def stateful_model(self, batch_size: int) -> keras.Model:
        """A training model for running text (consecutive windows, state carried between
        batches) on the same layers; its ``LSTM_seq`` layers' ``reset_state`` zeroes the state."""
        return build_training_model(self.LSTM_cells, self.densor, None, self.implementation, batch_size,
                                    dropout=self.dropout)

    def djmodel(self, Tx: int | None = None) -> keras.Model:
        """The classic unrolled training graph over ``Tx`` (default: ``self.tx``) steps."""
        return djmodel(Tx or self.tx, self.LSTM_cells, self.densor, self.reshapor, self.dropout)

    def inference_model(self, Ty: int = 100) -> keras.Model:
        """The classic argmax-feedback generator over ``Ty`` steps."""
        return music_inference_model(self.LSTM_cells, self.densor, Ty)

    def compile(self, learning_rate: float = TrainConfig.lr, clipnorm: float | None = TrainConfig.clipnorm,
                steps_per_execution: int = STEPS_PER_EXECUTION, bits_name: str = "bits_per_token") -> keras.Model:
        """Compile and return the fast training model."""
        return compile_model(self.training_model, learning_rate, clipnorm, steps_per_execution, bits_name)

    def step_fn(self) -> StepFn:
        """One generation step on the shared weights (see :func:`make_step_fn`)."""
        return self.sampler().step_fn

    def sampler(self):
        """The :class:`~jazzlstm.model.sampling.Sampler` of this model, built once so its compiled
        loops are traced once and reused by every later generation."""
        if self._sampler is None:
            self._sampler = Sampler(make_step_fn(self.LSTM_cells, self.densor), self.n_values)
        return self._sampler

    def initial_state(self, batch_size: int) -> tuple[Any, Any]:
        """Zero (a0, c0), as the classic code starts every sequence (every layer's, side by side)."""
        zeros = ops.zeros((batch_size, self.n_a * self.layers))
        return zeros, zeros

    def get_config(self) -> dict:
        return {"n_values": self.n_values, "n_a": self.n_a, "tx": self.tx, "layers": self.layers,
                "dropout": self.dropout}


def weights_digest(jazz: JazzLSTM) -> str:
    """A short hash of the shared weights: the processes of one distributed job agree on it."""
    digest = hashlib.sha256()
    for variable in jazz.weights:
        digest.update(np.asarray(variable.numpy(), dtype=np.float32).tobytes())
    return digest.hexdigest()[:12]


def _initializers(seed: int | None) -> tuple:
    """Seeded copies of Keras's default initializers; distinct seeds so kernels differ."""
    if seed is None:
        return "glorot_uniform", "orthogonal", "glorot_uniform"
    return (keras.initializers.GlorotUniform(seed=seed),
            keras.initializers.Orthogonal(seed=seed + 1),
            keras.initializers.GlorotUniform(seed=seed + 2))


def step_probabilities(jazz: JazzLSTM, ids: np.ndarray, path: str = "fast") -> np.ndarray:
    """Per-step softmax (batch, Tx, V) for an id batch through ``path`` "fast" or "unrolled"."""
    ids = np.asarray(ids, dtype="int32")
    if path == "fast":
        return np.asarray(jazz.training_model(ids, training=False))
    if path == "unrolled":
        model = jazz.djmodel(ids.shape[1])
        outputs = model(unrolled_inputs(ids, jazz.n_values, jazz.n_a, jazz.layers), training=False)
        return np.stack([np.asarray(o) for o in outputs], axis=1)
    raise ValueError(f"path must be 'fast' or 'unrolled', got {path!r}")
