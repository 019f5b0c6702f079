"""The jazz LSTM: three shared-weight layers and the graphs built from them.

This module owns ``LSTM_cell`` (an LSTM with ``return_state=True``), ``densor`` (Dense +
softmax over the vocabulary) and ``reshapor`` (Reshape to one time step), held together by
:class:`JazzLSTM`, and every graph that uses them:

* :func:`djmodel` - the classic training graph, unrolled over ``Tx`` one-hot steps;
* :func:`music_inference_model` - the classic generator that feeds each step's argmax back in;
* :func:`build_training_model` - the fast training path: integer ids in, one fused pass of the
  very same LSTM weights over the whole sequence, ``densor`` on every step, sparse targets.

All three read and write the same variables, so training one changes the others. Only
serializable custom layers are used (no ``Lambda``), so every model round-trips through
``model.save("x.keras")`` and ``keras.models.load_model`` in safe mode.
"""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any, Callable, Sequence

import keras
import numpy as np
from keras import ops

from .errors import JazzLSTMError
from .fileio import atomic_path

__all__ = [
    "JazzLSTM", "TimeStep", "ArgmaxOneHot", "SequenceLSTM",
    "djmodel", "music_inference_model", "build_training_model", "compile_model",
    "inference_ids", "unrolled_inputs", "unrolled_targets", "step_probabilities", "take_rows",
    "make_step_fn", "save_model", "load_model",
]

StepFn = Callable[[Any, tuple], tuple]

# Names the loaders look layers up by; keep them stable across versions.
LSTM_NAME, DENSOR_NAME, RESHAPOR_NAME, SEQUENCE_NAME = "LSTM_cell", "densor", "reshapor", "LSTM_seq"


# --------------------------------------------------------------------------------------------
# Small serializable layers (they replace the Lambda layers of the classic code)
# --------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="jazzlstm")
class TimeStep(keras.layers.Layer):
    """Select time step ``t`` of a (batch, T, features) tensor -> (batch, features)."""

    def __init__(self, t: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.t = int(t)

    def call(self, x):
        return x[:, self.t, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "t": self.t}


@keras.saving.register_keras_serializable(package="jazzlstm")
class ArgmaxOneHot(keras.layers.Layer):
    """(batch, depth) probabilities -> one-hot of their argmax, shaped (batch, 1, depth)."""

    def __init__(self, depth: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, probs):
        return ops.expand_dims(ops.one_hot(ops.argmax(probs, axis=-1), self.depth), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, self.depth)

    def get_config(self) -> dict:
        return {**super().get_config(), "depth": self.depth}


IMPLEMENTATIONS = ("auto", "unrolled", "fused", "loop")
MAX_UNROLL = 64  # longer windows use the fused kernel: an unrolled graph grows with length


@keras.saving.register_keras_serializable(package="jazzlstm")
class SequenceLSTM(keras.layers.Layer):
    """Run a shared ``keras.layers.LSTM``'s weights over a whole id sequence at once.

    ``LSTM_cell`` returns only its last step, so this layer wraps the *same* layer object and
    maps ids (batch, T) to every step's hidden state (batch, T, units). With one-hot inputs
    ``x @ kernel`` is a row lookup, so the input projection of all steps is one gather and
    only ``h @ recurrent_kernel`` stays in the recurrence. Implementations:

    * ``"unrolled"``: gather, then the T cell steps unrolled in the graph (fastest on CPU for
      training windows: no loop overhead, and the one-hot columns are never multiplied);
    * ``"fused"``: TensorFlow's fused ``BlockLSTM`` kernel on one-hot inputs (any length);
    * ``"loop"``: the Keras cell stepped in ``keras.ops.scan`` (portable, e.g. XLA/TPU);
    * ``"auto"``: unrolled for static lengths up to ``MAX_UNROLL``, else fused.

    All but ``"fused"`` are written in ``keras.ops`` and run on any Keras backend (the
    training step runs on a GPU under JAX too); ``"fused"`` falls back to ``"loop"`` off
    TensorFlow.

    All compute the same numbers (tests check values and gradients).

    ``stateful=True`` (for running text cut into consecutive windows) starts each batch from
    the state the previous batch ended in, row by row, instead of zeros; the batch size is
    then fixed, and :meth:`reset_state` zeroes the state (at each epoch's start). Gradients
    do not flow into the carried state (truncated backpropagation through time).
    """

    def __init__(self, lstm: keras.layers.LSTM, implementation: str = "auto", stateful: bool = False,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, "
                             f"got {implementation!r}")
        self.lstm = lstm
        self.implementation = implementation
        self.stateful = bool(stateful)
        self.state_h = self.state_c = None

    @property
    def cell(self) -> keras.layers.LSTMCell:
        return self.lstm.cell

    def build(self, input_shape) -> None:
        if not self.lstm.built:
            raise ValueError("build the shared LSTM (it fixes the vocabulary size) first")
        if self.stateful:
            if input_shape[0] is None:
                raise ValueError("a stateful SequenceLSTM needs a fixed batch size")
            shape = (input_shape[0], self.cell.units)
            self.state_h = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="state_h")
            self.state_c = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="state_c")

    def reset_state(self) -> None:
        """Zero the carried state (stateful layers only)."""
        if self.stateful and self.state_h is not None:
            self.state_h.assign(ops.zeros_like(self.state_h))
            self.state_c.assign(ops.zeros_like(self.state_c))

    def call(self, ids, initial_state=None):
        ids = ops.cast(ids, "int32")
        if initial_state is None and self.stateful:
            initial_state = (ops.stop_gradient(ops.convert_to_tensor(self.state_h)),
                             ops.stop_gradient(ops.convert_to_tensor(self.state_c)))
        elif initial_state is None:
            zeros = ops.zeros((ops.shape(ids)[0], self.cell.units), self.compute_dtype)
            initial_state = (zeros, zeros)
        h0, c0 = initial_state
        outputs, h, c = getattr(self, f"_{self._choose(ids.shape[1])}")(ids, h0, c0)
        if self.stateful:
            self.state_h.assign(h)
            self.state_c.assign(c)
        return outputs

    def final_state(self, ids, initial_state=None):
        """(every step's hidden state, final h, final c) for ``ids`` (batch, T); stateless."""
        ids = ops.cast(ids, "int32")
        if initial_state is None:
            zeros = ops.zeros((ops.shape(ids)[0], self.cell.units), self.compute_dtype)
            initial_state = (zeros, zeros)
        return getattr(self, f"_{self._choose(ids.shape[1])}")(ids, *initial_state)

    def _choose(self, length: int | None) -> str:
        """The implementation to run for a window of ``length`` (None: unknown when tracing)."""
        if not _fast_compatible(self.cell):
            return "loop"  # dropout or custom activations: let the Keras cell handle them
        choice = self.implementation
        if choice == "auto":
            choice = "unrolled" if length is not None and length <= MAX_UNROLL else "fused"
        if choice == "unrolled" and length is None:
            choice = "fused"  # unrolling needs a static length (symbolic tracing has none)
        if choice == "fused" and keras.backend.backend() != "tensorflow":
            choice = "loop"  # BlockLSTM is TensorFlow's own kernel
        return choice

    def _unrolled(self, ids, h, c):
        cell = self.cell
        inputs = take_rows(cell.kernel, ops.transpose(ids)) + cell.bias  # (T, batch, 4 units)
        outputs = []
        # unstack (not x[t] slicing): its gradient is one stack, not T zero-padded copies.
        for x_w in ops.unstack(inputs, num=ids.shape[1]):
            z = x_w + ops.matmul(h, cell.recurrent_kernel)
            i, f, g, o = ops.split(z, 4, axis=-1)  # Keras gate order
            c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
            h = ops.sigmoid(o) * ops.tanh(c)
            outputs.append(h)
        return ops.stack(outputs, axis=1), h, c

    def _fused(self, ids, h0, c0):
        # BlockLSTM (v1) wants gates as i, c, f, o; Keras keeps i, f, c, o. BlockLSTMV2 takes
        # the Keras order but its registered gradient is wrong for f and c (our tests caught
        # it), so reorder columns for v1 instead: a few slices per batch, negligible.
        import tensorflow as tf  # TensorFlow's own kernel: "auto" picks it only on that backend

        cell = self.cell
        x = tf.one_hot(tf.transpose(ids), self.lstm.cell.kernel.shape[0], dtype=h0.dtype)
        w = _keras_to_icfo(tf.concat([cell.kernel, cell.recurrent_kernel], axis=0))
        no_peephole = tf.zeros([cell.units], h0.dtype)
        outputs = tf.raw_ops.BlockLSTM(
            seq_len_max=tf.cast(tf.shape(ids)[1], tf.int64), x=x, cs_prev=c0, h_prev=h0,
            w=w, wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=_keras_to_icfo(cell.bias),
            forget_bias=0.0, cell_clip=-1.0, use_peephole=False)  # clip < 0: no clipping
        # outputs[6] is h and outputs[1] the cell state, for every step
        return tf.transpose(outputs[6], [1, 0, 2]), outputs[6][-1], outputs[1][-1]

    def _loop(self, ids, h0, c0):
        def step(state, x_t):
            _, (h, c) = self.cell(x_t, [state[0], state[1]])
            return (h, c), (h, c)

        x = ops.one_hot(ops.transpose(ids), self.cell.kernel.shape[0], dtype=h0.dtype)
        (h, c), (hs, _) = ops.scan(step, (h0, c0), x)
        return ops.transpose(hs, [1, 0, 2]), h, c

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.cell.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "implementation": self.implementation, "stateful": self.stateful,
                "lstm": keras.saving.serialize_keras_object(self.lstm)}

    @classmethod
    def from_config(cls, config: dict) -> "SequenceLSTM":
        config = dict(config)
        lstm = keras.saving.deserialize_keras_object(config.pop("lstm"))
        return cls(lstm, **config)


def take_rows(table, ids):
    """``table[ids]`` (one-hot inputs times a kernel), with a dense gradient for ``table``.

    TensorFlow's gather returns its gradient as ``IndexedSlices``, one row per id, repeats
    unsummed. Two things went wrong with that: ``clipnorm`` measured the norm of those rows
    instead of the gradient's, so the fast path did not take the steps ``djmodel`` takes (a
    test checks they now do); and the optimizer turned them dense again with two
    ``UnsortedSegmentSum`` ops per step, between one step and the next. Here the rows are
    summed per id by one ``segment_sum`` over the ids in sorted order; the sort depends on
    the ids alone, so it runs in the forward pass, off the backward pass's critical path.
    TensorFlow's CPU scatter kernels (``scatter_nd``, ``unsorted_segment_sum``) add row by
    row and took ~110 us at Tx=30, n_a=64, batch 32 on 2 CPU cores; gather + sorted
    ``segment_sum`` took ~35 us. On other backends a gather's gradient is dense already.
    """
    if keras.backend.backend() != "tensorflow":
        return ops.take(table, ids, axis=0)
    import tensorflow as tf

    flat_ids = tf.reshape(tf.cast(ids, tf.int32), [-1])
    order = tf.argsort(flat_ids, stable=True)
    sorted_ids = tf.gather(flat_ids, order)

    @tf.custom_gradient
    def take(values):
        def gradient(upstream):
            rows = tf.gather(tf.reshape(upstream, [-1, values.shape[-1]]), order)
            sums = tf.math.segment_sum(rows, sorted_ids)  # one row per id up to the largest
            return tf.pad(sums, [[0, tf.shape(values)[0] - tf.shape(sums)[0]], [0, 0]])

        return tf.gather(values, ids), gradient

    return take(tf.convert_to_tensor(table))


def _keras_to_icfo(gates):
    """Reorder the last axis from Keras's (i, f, c, o) gate blocks to (i, c, f, o)."""
    i, f, c, o = ops.split(gates, 4, axis=-1)
    return ops.concatenate([i, c, f, o], axis=-1)


def _fast_compatible(cell: keras.layers.LSTMCell) -> bool:
    """The unrolled and fused paths hard-code sigmoid/tanh, a bias and no dropout."""
    return (cell.activation is keras.activations.tanh
            and cell.recurrent_activation is keras.activations.sigmoid
            and cell.use_bias and not cell.dropout and not cell.recurrent_dropout)


# --------------------------------------------------------------------------------------------
# The classic graphs (module-level functions with the classic signatures)
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# The fast training path
# --------------------------------------------------------------------------------------------
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


STEPS_PER_EXECUTION = 16
"""Training steps run per call into the compiled graph. A small LSTM's step on a CPU is a few
milliseconds, so the per-call overhead matters: 16 gave 1.45x the samples/s of 1 at Tx=30,
n_a=64 (more gave nothing). Keras progress bars then move every 16 batches."""


def compile_model(model: keras.Model, learning_rate: float = 0.01, clipnorm: float | None = 1.0,
                  steps_per_execution: int = STEPS_PER_EXECUTION, bits_name: str = "bits_per_token",
                  jit_compile: bool = False) -> keras.Model:
    """Compile with Adam(learning_rate, clipnorm) and accuracy; the loss fits the graph.

    The fast model (one 3-D output) gets sparse crossentropy on integer targets (see
    :func:`jazzlstm.metrics.token_crossentropy`), perplexity and bits per token
    (``bits_name``: ``bits_per_char`` for text); temporal sample weights (padding) apply to
    the loss and every metric. :func:`djmodel` (a list of Tx outputs) gets categorical
    crossentropy on one-hot targets.
    """
    from .metrics import BitsPerToken, Perplexity, TokenCrossentropy

    n_outputs = len(model.outputs)
    sparse = n_outputs == 1 and len(model.outputs[0].shape) == 3
    loss = TokenCrossentropy() if sparse else "categorical_crossentropy"
    if sparse:
        metrics, weighted = [], ["accuracy", Perplexity(), BitsPerToken(bits_name)]
    else:
        metrics, weighted = ["accuracy"] * n_outputs, None
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm)
    if any(layer.dtype_policy.name == "mixed_float16" for layer in model.layers):
        # float16 gradients underflow without loss scaling (bfloat16 has float32's range).
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, weighted_metrics=weighted,
                  steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    return model


def unrolled_inputs(ids: np.ndarray, n_values: int, n_a: int) -> list[np.ndarray]:
    """Integer ids (batch, Tx) -> the inputs of :func:`djmodel`: [one-hot X, a0=0, c0=0]."""
    ids = np.asarray(ids)
    zeros = np.zeros((ids.shape[0], n_a), dtype="float32")
    return [np.eye(n_values, dtype="float32")[ids], zeros, zeros]


def unrolled_targets(Y: np.ndarray, n_values: int) -> list[np.ndarray]:
    """Integer targets (batch, Tx) -> the Tx one-hot target arrays :func:`djmodel` trains on."""
    one_hot = np.eye(n_values, dtype="float32")[np.asarray(Y)]
    return [one_hot[:, t] for t in range(one_hot.shape[1])]


# --------------------------------------------------------------------------------------------
# One-step function for samplers
# --------------------------------------------------------------------------------------------
def make_step_fn(LSTM_cell: keras.layers.LSTM, densor: keras.layers.Dense) -> StepFn:
    """``step(ids (batch,), (a, c)) -> (logits (batch, V), (a, c))`` on the shared weights.

    Uses ``LSTM_cell.cell`` directly (one cell step is far cheaper than running the LSTM layer
    on a length-1 sequence) and returns densor's pre-softmax logits, so samplers can apply a
    temperature exactly. An id of -1 is an all-zero input, like the classic ``x0``.
    """
    if densor.activation is not keras.activations.softmax:
        raise ValueError("densor must end in a softmax for its logits to be meaningful")
    cell, n_values = LSTM_cell.cell, densor.units

    def step(ids, state):
        x = ops.one_hot(ops.cast(ids, "int32"), n_values)
        h, (a, c) = cell(x, [state[0], state[1]])
        return ops.matmul(h, densor.kernel) + densor.bias, (a, c)

    return step


# --------------------------------------------------------------------------------------------
# The object that owns the shared layers
# --------------------------------------------------------------------------------------------
class JazzLSTM:
    """Owns ``LSTM_cell``, ``densor`` and ``reshapor`` and builds every graph from them."""

    def __init__(self, n_values: int, n_a: int = 64, tx: int = 30, seed: int | None = None,
                 implementation: str = "auto", dtype: str | None = None):
        """``dtype``: the LSTM's Keras dtype policy, e.g. ``"mixed_float16"`` (mixed precision);
        ``densor`` then still computes its softmax in float32, for a stable loss."""
        if n_values < 2 or n_a < 1 or tx < 1:
            raise ValueError(f"need n_values >= 2, n_a >= 1, tx >= 1; got {n_values}, {n_a}, {tx}")
        init = _initializers(seed)
        # Default activations, no recurrent dropout, no unrolling: the LSTM stays eligible
        # for Keras's cuDNN kernel on GPUs (tests/test_distribute.py checks the conditions).
        LSTM_cell = keras.layers.LSTM(n_a, return_state=True, name=LSTM_NAME, dtype=dtype,
                                      kernel_initializer=init[0], recurrent_initializer=init[1])
        densor = keras.layers.Dense(n_values, activation="softmax", name=DENSOR_NAME,
                                    kernel_initializer=init[2], dtype="float32" if dtype else None)
        self._adopt(LSTM_cell, densor, None, tx, implementation)

    @classmethod
    def from_layers(cls, LSTM_cell: keras.layers.LSTM, densor: keras.layers.Dense,
                    reshapor: keras.layers.Reshape | None = None, tx: int = 30,
                    training_model: keras.Model | None = None,
                    implementation: str = "auto") -> "JazzLSTM":
        """Wrap existing layers (e.g. those of a loaded model) without copying weights."""
        self = cls.__new__(cls)
        self._adopt(LSTM_cell, densor, reshapor, tx, implementation)
        self._training_model = training_model
        return self

    def _adopt(self, LSTM_cell, densor, reshapor, tx, implementation) -> None:
        n_values = densor.units
        self.LSTM_cell = LSTM_cell
        self.densor = densor
        self.reshapor = reshapor or keras.layers.Reshape((1, n_values), name=RESHAPOR_NAME)
        self.tx = int(tx)
        self.implementation = implementation
        self._training_model: keras.Model | None = None
        self._sampler = None
        # Build now so the weights exist before any graph is made (order-independent).
        if not LSTM_cell.built:
            LSTM_cell.build((None, 1, n_values))
        if not densor.built:
            densor.build((None, LSTM_cell.units))

    @property
    def n_values(self) -> int:
        return self.densor.units

    @property
    def n_a(self) -> int:
        return self.LSTM_cell.units

    @property
    def weights(self) -> list:
        """The shared variables: LSTM kernel, recurrent kernel, bias, densor kernel, bias."""
        return [*self.LSTM_cell.weights, *self.densor.weights]

    @property
    def training_model(self) -> keras.Model:
        """The fast training model (built once, then reused so its optimizer state persists)."""
        if self._training_model is None:
            self._training_model = build_training_model(self.LSTM_cell, self.densor, None,
                                                        self.implementation)
        return self._training_model

    def stateful_model(self, batch_size: int) -> keras.Model:
        """A training model for running text (consecutive windows, state carried between
        batches) on the same layers; see :meth:`reset_states`."""
        return build_training_model(self.LSTM_cell, self.densor, None, self.implementation, batch_size)

    def djmodel(self, Tx: int | None = None) -> keras.Model:
        """The classic unrolled training graph over ``Tx`` (default: ``self.tx``) steps."""
        return djmodel(Tx or self.tx, self.LSTM_cell, self.densor, self.reshapor)

    def inference_model(self, Ty: int = 100) -> keras.Model:
        """The classic argmax-feedback generator over ``Ty`` steps."""
        return music_inference_model(self.LSTM_cell, self.densor, Ty)

    def compile(self, learning_rate: float = 0.01, clipnorm: float | None = 1.0,
                steps_per_execution: int = STEPS_PER_EXECUTION, bits_name: str = "bits_per_token") -> keras.Model:
        """Compile and return the fast training model."""
        return compile_model(self.training_model, learning_rate, clipnorm, steps_per_execution, bits_name)

    def step_fn(self) -> StepFn:
        """One generation step on the shared weights (see :func:`make_step_fn`)."""
        return self.sampler().step_fn

    def sampler(self):
        """The :class:`~jazzlstm.sampling.Sampler` of this model, built once so its compiled
        loops are traced once and reused by every later generation."""
        if self._sampler is None:
            from .sampling import Sampler

            self._sampler = Sampler(make_step_fn(self.LSTM_cell, self.densor), self.n_values)
        return self._sampler

    def initial_state(self, batch_size: int) -> tuple[Any, Any]:
        """Zero (a0, c0), as the classic code starts every sequence."""
        zeros = ops.zeros((batch_size, self.n_a))
        return zeros, zeros

    def get_config(self) -> dict:
        return {"n_values": self.n_values, "n_a": self.n_a, "tx": self.tx}


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
        outputs = model(unrolled_inputs(ids, jazz.n_values, jazz.n_a), training=False)
        return np.stack([np.asarray(o) for o in outputs], axis=1)
    raise ValueError(f"path must be 'fast' or 'unrolled', got {path!r}")


# --------------------------------------------------------------------------------------------
# Persistence
# --------------------------------------------------------------------------------------------
def save_model(jazz: JazzLSTM, path: str | Path) -> Path:
    """Save the model's weights, as a fast training model, to a ``.keras`` file.

    The file holds no optimizer state (a third of the size; generation never needs it, and
    interrupted training resumes from its own backups). The write is atomic: a temporary
    file beside ``path`` is renamed over it at the end.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise JazzLSTMError(f"{path}: model files must end in .keras")
    if jazz.LSTM_cell.dtype_policy.name != "float32":
        # Mixed precision is a way of training, not of the model: its variables are float32
        # already, and generation (a float32 state loop) needs float32 layers.
        plain = JazzLSTM(jazz.n_values, jazz.n_a, jazz.tx, implementation=jazz.implementation)
        for target, source in zip(plain.weights, jazz.weights):
            target.assign(source)
        jazz = plain
    # A fresh, uncompiled wrapper on the same layers: stateless, and without the optimizer.
    model = build_training_model(jazz.LSTM_cell, jazz.densor, None, jazz.implementation)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def load_model(path: str | Path, tx: int = 30) -> JazzLSTM:
    """Load a file written by :func:`save_model` (safe mode) and re-attach the shared layers.

    The file holds the weights but not ``tx`` (the fast model takes any window length), so
    pass the unrolled length the run used; run folders keep it in config.
    """
    path = Path(path)
    if not path.is_file():
        raise JazzLSTMError(f"{path}: no such model file")
    try:
        model = keras.models.load_model(path, compile=False)
    except (ValueError, TypeError, OSError, zipfile.BadZipFile) as exc:
        raise JazzLSTMError(f"{path}: cannot load model ({exc})") from None
    try:
        sequence = model.get_layer(SEQUENCE_NAME)
        densor = model.get_layer(DENSOR_NAME)
    except ValueError as exc:
        raise JazzLSTMError(f"{path}: not a jazzlstm model ({exc})") from None
    return JazzLSTM.from_layers(sequence.lstm, densor, None, tx, model, sequence.implementation)
