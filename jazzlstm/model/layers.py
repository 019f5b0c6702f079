"""The model's own layers: small serializable layers (no ``Lambda``) and :class:`SequenceLSTM`,
which runs the shared ``LSTM_cell``'s weights over a whole id sequence for the fast path."""
from __future__ import annotations

from typing import Any, Callable

import keras
from keras import ops

# Names the loaders look layers up by; keep them stable across versions.
LSTM_NAME, DENSOR_NAME, RESHAPOR_NAME, SEQUENCE_NAME = "LSTM_cell", "densor", "reshapor", "LSTM_seq"
DROPOUT_NAME = "dropout"


def layer_name(base: str, layer: int) -> str:
    """The name of stacked layer ``layer`` (1 = the bottom one, which keeps the classic name)."""
    return base if layer == 1 else f"{base}_{layer}"


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




@keras.saving.register_keras_serializable(package="jazzlstm")
class SequenceLSTM(keras.layers.Layer):
    """Run a shared ``keras.layers.LSTM``'s weights over a whole sequence at once.

    ``LSTM_cell`` returns only its last step, so this layer wraps the *same* layer object and
    maps ids (batch, T) to every step's hidden state (batch, T, units). With one-hot inputs
    ``x @ kernel`` is a row lookup, so the input projection of all steps is one gather and
    only ``h @ recurrent_kernel`` stays in the recurrence. An upper layer of a stack takes the
    layer below's states (batch, T, features) instead of ids; its input projection is then one
    matrix product over all steps. Implementations:

    * ``"unrolled"``: gather, then the T cell steps unrolled in the graph (fastest on CPU for
      training windows: no loop overhead, and the one-hot columns are never multiplied);
    * ``"fused"``: TensorFlow's fused ``BlockLSTM`` kernel on one-hot inputs (any length);
    * ``"loop"``: the Keras cell stepped in ``keras.ops.scan`` (portable, e.g. XLA/TPU);
    * ``"auto"``: unrolled for static lengths up to ``MAX_UNROLL`` (``MAX_UNROLL_LARGE`` for
      layers of ``LARGE_UNITS`` or more), else fused.

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
        if implementation != "auto" and implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {('auto', *IMPLEMENTATIONS)}, "
                             f"got {implementation!r}")
        self.lstm = lstm
        self.implementation = implementation
        self.stateful = bool(stateful)
        self.state_h = self.state_c = None
        # Set by compile_model(jit_compile=True): XLA has no kernel for SegmentSum or BlockLSTM.
        self.for_xla = False

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
        # ids (batch, T) for the bottom layer; the states of the layer below (batch, T, n) above it
        ids = ops.cast(ids, "int32") if len(ids.shape) == 2 else ops.cast(ids, self.compute_dtype)
        if initial_state is None and self.stateful:
            initial_state = (ops.stop_gradient(ops.convert_to_tensor(self.state_h)),
                             ops.stop_gradient(ops.convert_to_tensor(self.state_c)))
        elif initial_state is None:
            zeros = ops.zeros((ops.shape(ids)[0], self.cell.units), self.compute_dtype)
            initial_state = (zeros, zeros)
        h0, c0 = initial_state
        choice = self._choose(ids.shape[1])
        if choice == "unrolled":
            outputs, h, c = unrolled_lstm(self.cell, ids, h0, c0, for_xla=self.for_xla)
        else:
            outputs, h, c = IMPLEMENTATIONS[choice](self.cell, ids, h0, c0)
        if self.stateful:
            self.state_h.assign(h)
            self.state_c.assign(c)
        return outputs

    def _choose(self, length: int | None) -> str:
        """The implementation to run for a window of ``length`` (None: unknown when tracing)."""
        if not _fast_compatible(self.cell):
            return "loop"  # dropout or custom activations: let the Keras cell handle them
        choice = self.implementation
        if choice == "auto":
            longest = MAX_UNROLL_LARGE if self.cell.units >= LARGE_UNITS else MAX_UNROLL
            choice = "unrolled" if length is not None and length <= longest else "fused"
        if choice == "unrolled" and length is None:
            choice = "fused"  # unrolling needs a static length (symbolic tracing has none)
        if choice == "fused" and self.for_xla and length is not None:
            choice = "unrolled"  # XLA compiles neither BlockLSTM nor a scan of unknown length
        if choice == "fused" and (keras.backend.backend() != "tensorflow" or self.for_xla):
            choice = "loop"  # BlockLSTM is TensorFlow's own kernel
        return choice

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


def take_rows(table, ids, for_xla: bool = False):
    """``table[ids]`` (one-hot inputs times a kernel), with a dense gradient for ``table``.

    TensorFlow's gather returns its gradient as ``IndexedSlices``, one row per id, repeats
    unsummed. Two things went wrong with that: ``clipnorm`` measured the norm of those rows
    instead of the gradient's, so the fast path did not take the steps ``djmodel`` takes (a
    test checks they now do); and the optimizer turned them dense again with two
    ``UnsortedSegmentSum`` ops per step, between one step and the next. Here the rows are
    summed per id by one ``segment_sum`` over the ids in sorted order; the sort depends on
    the ids alone, so it runs in the forward pass, off the backward pass's critical path.
    TensorFlow's CPU scatter kernels (``scatter_nd``, ``unsorted_segment_sum``) add row by
    row and are several times slower (docs/performance.md). On other backends a gather's
    gradient is dense already. ``for_xla``: XLA compiles no ``SegmentSum``, so the gradient is
    one ``unsorted_segment_sum`` there (XLA's own scatter).
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
            if for_xla:
                rows = tf.reshape(upstream, [-1, values.shape[-1]])
                return tf.math.unsorted_segment_sum(rows, flat_ids, tf.shape(values)[0])
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
# The recurrence over a whole sequence: (cell, ids (batch, T) or inputs (batch, T, n), h0, c0)
# -> (hs, h, c)
# --------------------------------------------------------------------------------------------
def time_major(ids):
    """(batch, T[, n]) -> (T, batch[, n])."""
    return ops.transpose(ids) if len(ids.shape) == 2 else ops.transpose(ids, [1, 0, 2])


def step_inputs(cell: keras.layers.LSTMCell, ids, dtype):
    """Every step's input, time major: one-hot rows for ids, the dense inputs as they are."""
    if len(ids.shape) == 2:
        return ops.one_hot(time_major(ids), cell.kernel.shape[0], dtype=dtype)
    return time_major(ids)


def input_projection(cell: keras.layers.LSTMCell, ids, for_xla: bool = False):
    """``x @ kernel + bias`` for every step at once, time major (T, batch, 4 units): a row
    gather for ids, one matrix product over all T x batch rows for dense inputs."""
    if len(ids.shape) == 2:
        return take_rows(cell.kernel, time_major(ids), for_xla) + cell.bias
    return ops.matmul(time_major(ids), cell.kernel) + cell.bias


def unrolled_lstm(cell: keras.layers.LSTMCell, ids, h, c, for_xla: bool = False):
    """Every step's input projection at once, then the T cell steps unrolled in the graph.

    On TensorFlow the backward pass is written out (:func:`_recurrence_with_batched_gradient`)
    so that only what must be sequential runs step by step."""
    inputs = input_projection(cell, ids, for_xla)  # (T, batch, 4 units)
    if keras.backend.backend() == "tensorflow":
        hs, h, c = _recurrence_with_batched_gradient(inputs, cell.recurrent_kernel, h, c)
        return ops.transpose(hs, [1, 0, 2]), h, c
    outputs = []
    # unstack (not x[t] slicing): its gradient is one stack, not T zero-padded copies.
    for x_w in ops.unstack(inputs, num=ids.shape[1]):
        z = x_w + ops.matmul(h, cell.recurrent_kernel)
        i, f, g, o = ops.split(z, 4, axis=-1)  # Keras gate order
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        outputs.append(h)
    return ops.stack(outputs, axis=1), h, c


def _recurrence_with_batched_gradient(inputs, recurrent_kernel, h0, c0, by_gate: bool | None = None):
    """The LSTM recurrence over time-major projected inputs (T, batch, 4 units) -> (every h
    (T, batch, units), last h, last c), with its backward pass written out.

    Automatic differentiation of the unrolled steps computes the recurrent kernel's gradient
    as T small products ``h<t-1>^T @ dz<t>`` (K = batch) and adds them up. Here the backward
    loop does only what must be sequential (``dh<t-1> = dz<t> @ R^T`` and the gates'
    elementwise derivatives), keeps every step's ``dz``, and then takes the kernel's gradient
    as one large product over all T x batch rows: ``H_prev^T @ DZ``. The gradient for the
    inputs is ``DZ`` itself, so the input kernel's and bias's gradients are one product (or
    one row sum, for ids) over all steps as well.

    ``by_gate`` (default: from ``GATE_PRODUCT_UNITS`` units up) takes each step's product
    as four, one per gate, instead of one product and a ``Split``: there is then no split or
    concatenation inside the loop (on a small batch a ``Split`` of the gates cost as much as
    a quarter of the step), and the four products and the gates' arithmetic are independent
    operations that TensorFlow's executor runs on both cores at once, even with one thread
    per operation. Tests check values and gradients against ``djmodel`` both ways.
    """
    import tensorflow as tf

    steps = inputs.shape[0]
    units = recurrent_kernel.shape[0]
    if by_gate is None:
        by_gate = units >= GATE_PRODUCT_UNITS
    # A tensor (the variable read once, in the compute dtype): custom_gradient then leaves the
    # variable's gradient to the read op.
    recurrent_kernel = tf.cast(tf.identity(recurrent_kernel.value if hasattr(recurrent_kernel, "value")
                                           else recurrent_kernel), h0.dtype)

    def copy(tensor):
        # A Snapshot (a copy) keeps Grappler from folding a transpose or a slice back into the
        # products that read it: oneDNN's product with transpose_b at a small batch runs at a
        # quarter of the plain product's speed (32 x 2,048 by 2,048 x 512, 30 steps on 2 cores:
        # 54 against 16 ms; docs/performance.md).
        return tf.raw_ops.Snapshot(input=tensor)

    def sigmoid_grad(y, dy):
        return tf.raw_ops.SigmoidGrad(y=y, dy=dy)

    def tanh_grad(y, dy):
        return tf.raw_ops.TanhGrad(y=y, dy=dy)

    @tf.custom_gradient
    def recurrence(inputs, recurrent_kernel, h0, c0):
        if by_gate:  # Keras gate order i, f, g, o: per gate, every step's input and its kernel block
            gate_inputs = [tf.unstack(x, num=steps) for x in tf.split(inputs, 4, axis=-1)]
            blocks = [copy(block) for block in tf.split(recurrent_kernel, 4, axis=1)]
        else:
            step_inputs = tf.unstack(inputs, num=steps)
        h, c = h0, c0
        hs, cs, gates = [], [], []
        for t in range(steps):
            if by_gate:
                i, f, g, o = (gate_inputs[k][t] + tf.matmul(h, blocks[k]) for k in range(4))
            else:
                i, f, g, o = tf.split(step_inputs[t] + tf.matmul(h, recurrent_kernel), 4, axis=-1)
            i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
            c = f * c + i * g
            tanh_c = tf.tanh(c)
            h = o * tanh_c
            hs.append(h)
            cs.append(c)
            gates.append((i, f, g, o, tanh_c))
        every_h = tf.stack(hs)

        def gradient(d_every_h, dh, dc):
            if by_gate:
                blocks_t = [copy(tf.transpose(block)) for block in blocks]
            else:
                kernel_t = copy(tf.transpose(recurrent_kernel))
            d_steps = tf.unstack(d_every_h, num=steps)
            dzs = [[None] * steps for _ in range(4)]  # per gate, per step
            for t in reversed(range(steps)):
                i, f, g, o, tanh_c = gates[t]
                dh = dh + d_steps[t]
                # SigmoidGrad(y, dy) = dy * y * (1 - y), TanhGrad(y, dy) = dy * (1 - y^2): one
                # kernel each where the written-out products took three or four.
                dc = dc + tanh_grad(tanh_c, dh * o)
                c_prev = cs[t - 1] if t else c0
                dz = (sigmoid_grad(i, dc * g), sigmoid_grad(f, dc * c_prev),
                      tanh_grad(g, dc * i), sigmoid_grad(o, dh * tanh_c))
                dc = dc * f
                if by_gate:
                    for k in range(4):
                        dzs[k][t] = dz[k]
                    dh = tf.add_n([tf.matmul(dz[k], blocks_t[k]) for k in range(4)])
                else:
                    dzs[0][t] = tf.concat(dz, axis=-1)
                    dh = tf.matmul(dzs[0][t], kernel_t)
            if by_gate:
                dz = tf.concat([tf.stack(per_step) for per_step in dzs], axis=-1)  # (T, batch, 4 units)
            else:
                dz = tf.stack(dzs[0])
            h_prev = tf.concat([h0[None], every_h[:-1]], axis=0)
            d_recurrent = tf.matmul(tf.reshape(h_prev, [-1, units]), tf.reshape(dz, [-1, 4 * units]),
                                    transpose_a=True)
            return dz, d_recurrent, dh, dc

        return (every_h, h, c), gradient

    return recurrence(inputs, recurrent_kernel, h0, c0)


def fused_lstm(cell: keras.layers.LSTMCell, ids, h0, c0):
    """TensorFlow's fused ``BlockLSTM`` kernel on one-hot (or dense) inputs (any length)."""
    # BlockLSTM (v1) wants gates as i, c, f, o; Keras keeps i, f, c, o. BlockLSTMV2 takes
    # the Keras order but its registered gradient is wrong for f and c (our tests caught
    # it), so reorder columns for v1 instead: a few slices per batch, negligible.
    import tensorflow as tf  # TensorFlow's own kernel: "auto" picks it only on that backend

    x = step_inputs(cell, ids, h0.dtype)
    w = _keras_to_icfo(tf.concat([cell.kernel, cell.recurrent_kernel], axis=0))
    no_peephole = tf.zeros([cell.units], h0.dtype)
    outputs = tf.raw_ops.BlockLSTM(
        seq_len_max=tf.cast(tf.shape(ids)[1], tf.int64), x=x, cs_prev=c0, h_prev=h0,
        w=w, wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=_keras_to_icfo(cell.bias),
        forget_bias=0.0, cell_clip=-1.0, use_peephole=False)  # clip < 0: no clipping
    # outputs[6] is h and outputs[1] the cell state, for every step
    return tf.transpose(outputs[6], [1, 0, 2]), outputs[6][-1], outputs[1][-1]


def loop_lstm(cell: keras.layers.LSTMCell, ids, h0, c0):
    """The Keras cell stepped in ``keras.ops.scan`` (portable; honours dropout and custom activations)."""
    def step(state, x_t):
        _, (h, c) = cell(x_t, [state[0], state[1]])
        return (h, c), (h, c)

    x = step_inputs(cell, ids, h0.dtype)
    (h, c), (hs, _) = ops.scan(step, (h0, c0), x)
    return ops.transpose(hs, [1, 0, 2]), h, c


IMPLEMENTATIONS: dict[str, Callable] = {"unrolled": unrolled_lstm, "fused": fused_lstm, "loop": loop_lstm}
"""The ways :class:`SequenceLSTM` can run; ``"auto"`` picks one per window length and backend."""
MAX_UNROLL = 128
"""Longest window the ``"auto"`` choice unrolls; longer ones use the fused kernel. An unrolled
graph grows with the window (at Tx 100, n_a 64 the first epoch ends 2.7 s later than with the
fused kernel, once) and then trains 1.6-1.9x faster (batch 256 and 32, 2 CPU cores,
docs/performance.md); at Tx 256 the graph took 8 s more to build for 1.5x."""
LARGE_UNITS = 256
"""From this many units the unrolled path, with its batched weight gradients, trains clearly
faster than the fused kernel on long windows too (1.2x at 256 units, 1.4x at 512 and 3x at
1024, Tx=100, 2 CPU cores; docs/performance.md), which pays for building the longer graph."""
MAX_UNROLL_LARGE = 256
"""Longest window the ``"auto"`` choice unrolls for layers of ``LARGE_UNITS`` or more."""
GATE_PRODUCT_UNITS = 128
"""From this many units the written-out recurrence takes each step's product as four, one per
gate (:func:`_recurrence_with_batched_gradient`): forward and backward at batch 32, Tx 30 on 2
CPU cores, 5.6 against 6.7 ms at 128 units, 46 against 65 ms at 512 (one thread per op); at
64 units the four smaller products cost more (3.5 against 2.8 ms)."""
