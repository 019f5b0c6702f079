"""A numpy reference implementation of the RNN and the LSTM, forward and backward, written to be read.

It is the tests' oracle: the Keras layers, the fast training path and the sampler's step function
must compute what these few lines compute, and the backward pass here must agree with numerical
differentiation. Plain numpy only (no Keras, no TensorFlow), so it can be read, and run, alone.

Conventions (Keras's, so weights carry over unchanged):

* rows are examples: ``x`` is (batch, n_x), ``a`` and ``c`` are (batch, n_a), a sequence is
  (batch, T, features);
* a step computes ``x @ kernel + a_prev @ recurrent_kernel + bias``, with ``kernel`` (n_x, k*n_a),
  ``recurrent_kernel`` (n_a, k*n_a) and ``bias`` (k*n_a,), where ``k`` is 1 for the RNN and 4 for
  the LSTM, whose four gates lie side by side in Keras's order: input ``i``, forget ``f``,
  candidate ``g`` (Keras calls it ``c``) and output ``o``;
* the output layer is ``softmax(a @ dense_kernel + dense_bias)``, ``dense_kernel`` (n_a, V).

Parameters are a plain ``dict`` of those five arrays; gradients come back in a dict with the
same keys (plus ``x``, ``a0``, ``c0`` for the inputs and the initial states).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

Params = dict[str, np.ndarray]
Grads = dict[str, np.ndarray]

WEIGHTS = ("kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias")
"""Parameter names, in the order of ``JazzLSTM.weights`` (LSTM kernel, recurrent kernel, bias,
then the dense layer's kernel and bias)."""


# --------------------------------------------------------------------------------------------
# Small pieces
# --------------------------------------------------------------------------------------------

def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z), computed without overflow for large negative z."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (shifted by the max, which changes nothing but the overflow)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def one_hot(ids: np.ndarray, depth: int, dtype: type = np.float64) -> np.ndarray:
    """Integer ids (any shape) -> one-hot (..., depth); an id of -1 gives an all-zero row, the
    classic ``x0`` that starts a generated sequence."""
    ids = np.asarray(ids)
    return (ids[..., None] == np.arange(depth)).astype(dtype)


def params_from_keras(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray,
                      dense_kernel: np.ndarray | None = None, dense_bias: np.ndarray | None = None,
                      dtype: type = np.float64) -> Params:
    """A parameter dict from Keras's weight arrays (``[v.numpy() for v in jazz.weights]`` in
    that order), as ``dtype`` (float64 by default, so the reference adds no rounding of its own).

    Works for an LSTM (4 * n_a columns) and a SimpleRNN (n_a columns) alike."""
    arrays = dict(zip(WEIGHTS, (kernel, recurrent_kernel, bias, dense_kernel, dense_bias)))
    params = {name: np.array(value, dtype=dtype) for name, value in arrays.items() if value is not None}
    n_a = params["recurrent_kernel"].shape[0]
    if params["kernel"].shape[1] != params["recurrent_kernel"].shape[1] or params["bias"].shape != (
            params["kernel"].shape[1],) or params["kernel"].shape[1] not in (n_a, 4 * n_a):
        raise ValueError("kernel, recurrent_kernel and bias must have n_a or 4 * n_a columns alike; got "
                         f"{[params[k].shape for k in WEIGHTS[:3]]}")
    return params


def init_params(n_x: int, n_a: int, n_values: int, cell: str = "lstm", seed: int = 0, scale: float = 0.5) -> Params:
    """Random parameters (normal, times ``scale``) for a ``cell`` of "lstm" or "rnn"."""
    rng = np.random.default_rng(seed)
    k = {"lstm": 4, "rnn": 1}[cell]
    shapes = {"kernel": (n_x, k * n_a), "recurrent_kernel": (n_a, k * n_a), "bias": (k * n_a,),
              "dense_kernel": (n_a, n_values), "dense_bias": (n_values,)}
    return {name: scale * rng.standard_normal(shape) for name, shape in shapes.items()}


# --------------------------------------------------------------------------------------------
# The simple RNN: a<t> = tanh(x<t> Wx + a<t-1> Wa + b)
# --------------------------------------------------------------------------------------------

def rnn_cell_forward(x: np.ndarray, a_prev: np.ndarray, params: Params) -> tuple[np.ndarray, tuple]:
    """One step of the RNN: ``a = tanh(x @ kernel + a_prev @ recurrent_kernel + bias)``.

    Returns ``a`` and the cache the backward step needs."""
    a = np.tanh(x @ params["kernel"] + a_prev @ params["recurrent_kernel"] + params["bias"])
    return a, (x, a_prev, a, params)


def rnn_cell_backward(da: np.ndarray, cache: tuple) -> Grads:
    """Gradients of one RNN step, given ``da`` = dLoss/da (everything that flows into ``a``).

    With z the pre-activation, a = tanh(z) gives dz = da * (1 - a^2); z is linear in x, a_prev
    and the weights, so each gradient is dz multiplied by the other factor (summed over the batch
    for the weights)."""
    x, a_prev, a, params = cache
    dz = da * (1.0 - a ** 2)
    return {"x": dz @ params["kernel"].T, "a_prev": dz @ params["recurrent_kernel"].T,
            "kernel": x.T @ dz, "recurrent_kernel": a_prev.T @ dz, "bias": dz.sum(axis=0)}


def rnn_forward(x: np.ndarray, a0: np.ndarray, params: Params) -> tuple[np.ndarray, list]:
    """The RNN over a sequence ``x`` (batch, T, n_x) from ``a0``: every step's ``a`` (batch, T, n_a),
    and the caches."""
    a, states, caches = a0, [], []
    for t in range(x.shape[1]):
        a, cache = rnn_cell_forward(x[:, t], a, params)
        states.append(a)
        caches.append(cache)
    return np.stack(states, axis=1), caches


def rnn_backward(da: np.ndarray, caches: list) -> Grads:
    """Backpropagation through time for :func:`rnn_forward`.

    ``da`` (batch, T, n_a) is the gradient of the loss with respect to each step's ``a`` from
    outside the recurrence (e.g. from the output layer). Walking back from the last step, each
    step's ``a`` also receives ``a_prev``'s gradient from the step after it; the weights, shared by
    every step, add up their gradients over the steps. Returns the gradients of ``kernel``,
    ``recurrent_kernel``, ``bias``, the inputs ``x`` (batch, T, n_x) and ``a0``."""
    params = caches[0][3]
    grads = {name: np.zeros_like(params[name]) for name in ("kernel", "recurrent_kernel", "bias")}
    dx = np.zeros(da.shape[:2] + (params["kernel"].shape[0],), dtype=da.dtype)
    da_next = np.zeros_like(da[:, 0])
    for t in reversed(range(da.shape[1])):
        step = rnn_cell_backward(da[:, t] + da_next, caches[t])
        dx[:, t] = step["x"]
        da_next = step["a_prev"]
        for name in grads:
            grads[name] += step[name]
    return {**grads, "x": dx, "a0": da_next}


# --------------------------------------------------------------------------------------------
# The LSTM
# --------------------------------------------------------------------------------------------

def _gates(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split the 4 * n_a pre-activations into Keras's gate order: i, f, g (candidate), o."""
    return tuple(np.split(z, 4, axis=-1))  # type: ignore[return-value]


def lstm_cell_forward(x: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray,
                      params: Params) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One LSTM step (Keras's ``LSTMCell`` with its default tanh / sigmoid activations)::

        z = x @ kernel + a_prev @ recurrent_kernel + bias     (batch, 4 n_a), split into
        i = sigmoid(z_i)      input gate: how much of the candidate to write
        f = sigmoid(z_f)      forget gate: how much of the old memory to keep
        g = tanh(z_g)         candidate memory
        o = sigmoid(z_o)      output gate: how much of the memory to show
        c = f * c_prev + i * g
        a = o * tanh(c)

    Returns ``a``, ``c`` and the cache the backward step needs."""
    z = x @ params["kernel"] + a_prev @ params["recurrent_kernel"] + params["bias"]
    z_i, z_f, z_g, z_o = _gates(z)
    i, f, g, o = sigmoid(z_i), sigmoid(z_f), np.tanh(z_g), sigmoid(z_o)
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    a = o * tanh_c
    return a, c, (x, a_prev, c_prev, i, f, g, o, tanh_c, params)


def lstm_cell_backward(da: np.ndarray, dc: np.ndarray, cache: tuple) -> Grads:
    """Gradients of one LSTM step, given ``da`` and ``dc`` (dLoss/da and dLoss/dc from outside
    this step: the output layer and the next step).

    The chain rule, line by line against :func:`lstm_cell_forward`:

    * a = o * tanh(c): do = da * tanh(c), and c gets da * o * (1 - tanh(c)^2) on top of ``dc``;
    * c = f * c_prev + i * g: df = dc * c_prev, di = dc * g, dg = dc * i, dc_prev = dc * f;
    * through the activations: sigmoid' = s (1 - s), tanh' = 1 - t^2, giving dz (batch, 4 n_a);
    * z is linear: dx = dz @ kernel^T, da_prev = dz @ recurrent_kernel^T, and the weights'
      gradients are the inputs' transposes times dz (summed over the batch)."""
    x, a_prev, c_prev, i, f, g, o, tanh_c, params = cache
    dc = dc + da * o * (1.0 - tanh_c ** 2)
    do = da * tanh_c
    di, df, dg = dc * g, dc * c_prev, dc * i
    dz = np.concatenate([di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g ** 2), do * o * (1.0 - o)],
                        axis=-1)
    return {"x": dz @ params["kernel"].T, "a_prev": dz @ params["recurrent_kernel"].T, "c_prev": dc * f,
            "kernel": x.T @ dz, "recurrent_kernel": a_prev.T @ dz, "bias": dz.sum(axis=0)}


def lstm_forward(x: np.ndarray, a0: np.ndarray, c0: np.ndarray,
                 params: Params) -> tuple[np.ndarray, np.ndarray, list]:
    """The LSTM over a sequence ``x`` (batch, T, n_x) from ``(a0, c0)``.

    Returns every step's ``a`` (batch, T, n_a), the last memory ``c`` (batch, n_a), and the
    caches; the last ``a`` is ``a_seq[:, -1]`` (what ``LSTM(return_state=True)`` returns)."""
    a, c, states, caches = a0, c0, [], []
    for t in range(x.shape[1]):
        a, c, cache = lstm_cell_forward(x[:, t], a, c, params)
        states.append(a)
        caches.append(cache)
    return np.stack(states, axis=1), c, caches


def lstm_backward(da: np.ndarray, caches: list, dc_last: np.ndarray | None = None) -> Grads:
    """Backpropagation through time for :func:`lstm_forward`.

    ``da`` (batch, T, n_a): dLoss/da<t> from outside the recurrence; ``dc_last``: dLoss/dc of
    the last memory, if the loss reads it (zero otherwise). Each step, walking back, adds the
    ``a_prev`` and ``c_prev`` gradients of the step after it; the shared weights sum theirs over
    the steps. Returns the gradients of ``kernel``, ``recurrent_kernel``, ``bias``, the inputs
    ``x`` (batch, T, n_x) and the initial states ``a0``, ``c0``."""
    params = caches[0][-1]
    grads = {name: np.zeros_like(params[name]) for name in ("kernel", "recurrent_kernel", "bias")}
    dx = np.zeros(da.shape[:2] + (params["kernel"].shape[0],), dtype=da.dtype)
    da_next = np.zeros_like(da[:, 0])
    dc_next = np.zeros_like(da[:, 0]) if dc_last is None else dc_last
    for t in reversed(range(da.shape[1])):
        step = lstm_cell_backward(da[:, t] + da_next, dc_next, caches[t])
        dx[:, t] = step["x"]
        da_next, dc_next = step["a_prev"], step["c_prev"]
        for name in grads:
            grads[name] += step[name]
    return {**grads, "x": dx, "a0": da_next, "c0": dc_next}


# --------------------------------------------------------------------------------------------
# The output layer and the loss
# --------------------------------------------------------------------------------------------

def dense_forward(a: np.ndarray, params: Params) -> np.ndarray:
    """Logits ``a @ dense_kernel + dense_bias`` (any leading axes); softmax of them is what
    ``densor`` outputs."""
    return a @ params["dense_kernel"] + params["dense_bias"]


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy ``-log softmax(logits)[target]`` over every position, and its
    gradient with respect to the logits.

    ``logits`` (..., V), integer ``targets`` (...). For one position, d(-log p_y)/dz = p - onehot(y)
    (the softmax's Jacobian and the log's 1/p cancel); the mean divides by the count."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, np.asarray(targets)[..., None], axis=-1)[..., 0]
    count = picked.size
    dlogits = (np.exp(log_probs) - one_hot(targets, logits.shape[-1], logits.dtype)) / count
    return float(-picked.mean()), dlogits


def dense_backward(dlogits: np.ndarray, a: np.ndarray, params: Params) -> Grads:
    """Gradients of the dense layer: ``dense_kernel``, ``dense_bias``, and ``a`` (what flows
    back into the LSTM). Leading axes (batch, time) are summed over for the weights."""
    flat_a = a.reshape(-1, a.shape[-1])
    flat_d = dlogits.reshape(-1, dlogits.shape[-1])
    return {"dense_kernel": flat_a.T @ flat_d, "dense_bias": flat_d.sum(axis=0),
            "a": dlogits @ params["dense_kernel"].T}


# --------------------------------------------------------------------------------------------
# The whole jazz LSTM: ids in, per-step probabilities (and the loss's gradients) out
# --------------------------------------------------------------------------------------------

def _zeros_state(batch: int, params: Params) -> np.ndarray:
    return np.zeros((batch, params["recurrent_kernel"].shape[0]), dtype=params["kernel"].dtype)


def sequence_probabilities(ids: np.ndarray, params: Params) -> np.ndarray:
    """What ``JazzLSTM.training_model`` and ``djmodel`` compute: ids (batch, T) -> per-step softmax
    (batch, T, V), one-hot inputs, the LSTM from zero state, the dense softmax on every step."""
    x = one_hot(ids, params["kernel"].shape[0], params["kernel"].dtype)
    zeros = _zeros_state(x.shape[0], params)
    a_seq, _, _ = lstm_forward(x, zeros, zeros, params)
    return softmax(dense_forward(a_seq, params))


def sequence_loss_and_grads(ids: np.ndarray, targets: np.ndarray, params: Params) -> tuple[float, Grads]:
    """The mean cross-entropy of predicting ``targets`` (batch, T) from ``ids`` (batch, T) and
    its gradient for every weight (keys of :data:`WEIGHTS`) and the one-hot inputs (``x``).

    Forward: one-hot, LSTM from zero state, dense, softmax cross-entropy. Backward in the
    reverse order: loss -> logits -> (dense weights, a<t>) -> through time -> LSTM weights."""
    x = one_hot(ids, params["kernel"].shape[0], params["kernel"].dtype)
    zeros = _zeros_state(x.shape[0], params)
    a_seq, _, caches = lstm_forward(x, zeros, zeros, params)
    loss, dlogits = softmax_cross_entropy(dense_forward(a_seq, params), targets)
    dense = dense_backward(dlogits, a_seq, params)
    lstm = lstm_backward(dense["a"], caches)
    grads = {name: lstm[name] for name in ("kernel", "recurrent_kernel", "bias", "x")}
    grads.update(dense_kernel=dense["dense_kernel"], dense_bias=dense["dense_bias"])
    return loss, grads


def step_logits(ids: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray,
                params: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One generation step, what the sampler's ``make_step_fn`` computes: ids (batch,) (-1 for
    the all-zero first input) and the state -> pre-softmax logits (batch, V) and the new state."""
    x = one_hot(ids, params["kernel"].shape[0], params["kernel"].dtype)
    a, c, _ = lstm_cell_forward(x, a_prev, c_prev, params)
    return dense_forward(a, params), a, c


# --------------------------------------------------------------------------------------------
# Stacked LSTMs: each layer's states are the next layer's inputs
# --------------------------------------------------------------------------------------------

def stacked_sequence_probabilities(ids: np.ndarray, layers: list[Params]) -> np.ndarray:
    """:func:`sequence_probabilities` for a stack of LSTM layers (bottom first; the top one's
    dict also holds the dense layer): layer k's ``a`` sequence is layer k+1's input ``x``.
    Dropout between layers is a training-time thing and absent here, as at inference."""
    x = one_hot(ids, layers[0]["kernel"].shape[0], layers[0]["kernel"].dtype)
    for params in layers:
        zeros = _zeros_state(x.shape[0], params)
        x, _, _ = lstm_forward(x, zeros, zeros, params)
    return softmax(dense_forward(x, layers[-1]))


def stacked_step_logits(ids: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray,
                        layers: list[Params]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`step_logits` for a stack: ``a_prev`` and ``c_prev`` hold every layer's state side
    by side (batch, layers x n_a), bottom layer first, as the sampler's state does."""
    x = one_hot(ids, layers[0]["kernel"].shape[0], layers[0]["kernel"].dtype)
    a_parts, c_parts = [], []
    for params, a, c in zip(layers, np.split(a_prev, len(layers), axis=-1), np.split(c_prev, len(layers), axis=-1)):
        x, c, _ = lstm_cell_forward(x, a, c, params)
        a_parts.append(x)
        c_parts.append(c)
    return dense_forward(x, layers[-1]), np.concatenate(a_parts, axis=-1), np.concatenate(c_parts, axis=-1)


# --------------------------------------------------------------------------------------------
# Checking a backward pass
# --------------------------------------------------------------------------------------------

def numerical_gradient(loss: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences (L(w + eps) - L(w - eps)) / (2 eps), one entry of ``array`` at a time.

    ``array`` is changed in place and restored; ``loss`` must read it. The error is O(eps^2) plus
    rounding of order 1e-16 / eps, so use float64."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        plus = loss()
        array[index] = saved - eps
        minus = loss()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||analytic - numeric|| / (||analytic|| + ||numeric||): scale-free, 0 when they agree."""
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / denominator) if denominator else 0.0
