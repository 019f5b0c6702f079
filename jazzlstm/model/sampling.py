"""Generation loops, kept apart from the model: anything with a step function can be sampled.

A *step function* maps ``(ids (batch,), state) -> (logits (batch, V), new_state)``; the
model side provides one built on the shared ``LSTM_cell`` + ``densor`` weights
(:meth:`jazzlstm.model.jazz.JazzLSTM.step_fn`), and tests use small stubs. :func:`sample` runs the
whole generation - primer warm-up, then ``length`` steps of argmax / temperature / top-k
sampling for a whole batch - inside one compiled ``tf.while_loop``, so Python is not in the
loop (``benchmarks/bench_generate.py`` measures it; figures in docs/performance.md). Randomness is stateless and derived from ``seed``, so the
same seed gives the same sequences.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from jazzlstm.model.search import check_args as _check_args
from jazzlstm.model.search import prefix_ids as _prefix
from jazzlstm.model.search import seed_pair as _seed_pair

__all__ = ["Sampler", "sample", "sample_ids", "StepFn"]

StepFn = Callable[[tf.Tensor, Any], tuple]


class Sampler:
    """The compiled generation loops of one step function.

    A loop is traced once per loop shape (greedy or not, top-k or not, stop id or not) and
    reused by later calls, so keep one Sampler per model (``JazzLSTM.sampler()`` does).
    """

    def __init__(self, step_fn: StepFn, n_values: int, from_logits: bool = True):
        self.step_fn = step_fn
        self.n_values = int(n_values)
        self.from_logits = from_logits
        self._loops: dict[tuple[bool, bool, bool], Callable] = {}
        self._step: Callable | None = None

    @property
    def compiled_step(self) -> Callable:
        """``step_fn`` compiled once, for the step-by-step loops of guided sampling and beam search."""
        if self._step is None:
            self._step = tf.function(self.step_fn, reduce_retracing=True)
        return self._step

    def numpy_step(self, ids: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        """The compiled step on numpy arrays (for :mod:`jazzlstm.model.search`'s loops)."""
        state = tf.nest.map_structure(lambda s: tf.convert_to_tensor(s, tf.float32), state)
        logits, state = self.compiled_step(tf.constant(np.asarray(ids, np.int32)), state)
        return np.asarray(logits), tf.nest.map_structure(np.asarray, state)

    def sample(self, initial_state: Any, batch_size: int, length: int,
               primer: Sequence[int] | np.ndarray | None = None,
               start_ids: int | Sequence[int] | np.ndarray | None = None,
               temperature: float = 1.0, top_k: int | None = None, greedy: bool = False,
               seed: int | None = None, stop_id: int | None = None,
               ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Generate ``batch_size`` sequences of ``length`` ids at once (see :func:`sample`)."""
        _check_args(batch_size, length, self.n_values, temperature, top_k, stop_id)
        prefix = _prefix(primer, start_ids, batch_size)
        state = tf.nest.map_structure(lambda s: tf.convert_to_tensor(s, tf.float32), initial_state)
        loop = self._loop(greedy, top_k is not None, stop_id is not None)
        ids, lengths = loop(tf.constant(prefix), state, tf.constant(length, tf.int32),
                            tf.constant(temperature, tf.float32), tf.constant(top_k or 1, tf.int32),
                            tf.constant(_seed_pair(seed), tf.int32),
                            tf.constant(-1 if stop_id is None else stop_id, tf.int32))
        ids = ids.numpy()
        return (ids, lengths.numpy()) if stop_id is not None else ids

    def _loop(self, greedy: bool, use_top_k: bool, use_stop: bool) -> Callable:
        key = (greedy, use_top_k, use_stop)
        if key not in self._loops:
            self._loops[key] = tf.function(_make_loop(self.step_fn, *key, self.from_logits),
                                           reduce_retracing=True)
        return self._loops[key]


def sample(step_fn: StepFn, initial_state: Any, batch_size: int, length: int, n_values: int,
           primer: Sequence[int] | np.ndarray | None = None,
           start_ids: int | Sequence[int] | np.ndarray | None = None,
           temperature: float = 1.0, top_k: int | None = None, greedy: bool = False,
           seed: int | None = None, stop_id: int | None = None, from_logits: bool = True,
           ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Generate ``batch_size`` sequences of ``length`` ids at once (a one-off :class:`Sampler`).

    * ``primer``: ids (m,) shared by the batch, or (batch, m); they are fed teacher-forced to
      warm the state, and generation continues after the last one (not included in the output).
    * ``start_ids``: without a primer, the first input per sequence; the default -1 means an
      all-zero input, as the classic ``x0`` (the step function must map -1 to zeros).
    * ``greedy`` takes the argmax; otherwise logits / ``temperature`` are sampled, keeping only
      the ``top_k`` most likely ids when given.
    * ``stop_id``: a sequence ends when it emits this id; its later positions are filled with
      ``stop_id`` and the call returns ``(ids, lengths)``, lengths counting ids before the stop.
    * ``from_logits=False`` when ``step_fn`` returns probabilities.

    Returns an int32 array (batch_size, length) (and the lengths when ``stop_id`` is set).
    """
    return Sampler(step_fn, n_values, from_logits).sample(
        initial_state, batch_size, length, primer=primer, start_ids=start_ids, temperature=temperature,
        top_k=top_k, greedy=greedy, seed=seed, stop_id=stop_id)


def sample_ids(jazz: Any, n: int, length: int, primer: Sequence[int] | np.ndarray | None = None,
               **options: Any) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` sequences of ``length`` ids from a :class:`~jazzlstm.model.jazz.JazzLSTM`.

    Starts from zero state (and, without a primer, a zero input) like the classic inference
    model; ``options`` are those of :func:`sample`.
    """
    return jazz.sampler().sample(jazz.initial_state(n), n, length, primer=primer, **options)


# --------------------------------------------------------------------------------------------
# The compiled loop
# --------------------------------------------------------------------------------------------
def _make_loop(step_fn: StepFn, greedy: bool, use_top_k: bool, use_stop: bool,
               from_logits: bool) -> Callable:
    def pick(logits, i, temperature, top_k, seed):
        if not from_logits:
            logits = tf.math.log(tf.maximum(logits, 1e-30))
        if greedy:  # argmax ignores temperature, and the argmax is always in the top k
            return tf.argmax(logits, axis=-1, output_type=tf.int32)
        logits = logits / temperature
        if use_top_k:
            kth = tf.math.top_k(logits, k=top_k, sorted=True).values[:, -1:]
            logits = tf.where(logits < kth, tf.constant(-np.inf, logits.dtype), logits)
        step_seed = tf.random.experimental.stateless_fold_in(seed, i)
        return tf.random.stateless_categorical(logits, 1, step_seed, dtype=tf.int32)[:, 0]

    def loop(prefix, state, length, temperature, top_k, seed, stop_id):
        # Teacher-force all primer ids but the last: only the state matters there.
        def warm(j, state):
            return j + 1, step_fn(prefix[:, j], state)[1]

        _, state = tf.while_loop(lambda j, _: j < tf.shape(prefix)[1] - 1, warm, (0, state))
        batch = tf.shape(prefix)[0]

        def body(i, x, state, done, lengths, out):
            logits, state = step_fn(x, state)
            ids = pick(logits, i, temperature, top_k, seed)
            if use_stop:
                ids = tf.where(done, stop_id, ids)
                hit = tf.logical_and(tf.logical_not(done), tf.equal(ids, stop_id))
                lengths = tf.where(hit, i, lengths)
                done = tf.logical_or(done, hit)
            return i + 1, ids, state, done, lengths, out.write(i, ids)

        def cond(i, x, state, done, lengths, out):
            # Stop early once every sequence has emitted the stop id.
            return tf.logical_and(i < length, tf.logical_not(tf.reduce_all(done)))

        out = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None])
        start = (0, prefix[:, -1], state, tf.zeros([batch], tf.bool), tf.fill([batch], length), out)
        steps, _, _, _, lengths, out = tf.while_loop(cond, body, start)
        ids = tf.transpose(out.stack())
        padding = tf.fill([batch, length - steps], stop_id)  # empty unless stopped early
        return tf.concat([ids, padding], axis=1), lengths

    return loop
