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

from typing import Any, Callable, Protocol, Sequence

import numpy as np
import tensorflow as tf

from jazzlstm.config import SamplingConfig

__all__ = ["Sampler", "sample", "sample_ids", "StepFn", "Guided", "guided_sample", "beam_search"]

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
# Argument handling
# --------------------------------------------------------------------------------------------
def _check_args(batch_size: int, length: int, n_values: int, temperature: float,
                top_k: int | None, stop_id: int | None) -> None:
    if batch_size < 1 or length < 1:
        raise ValueError(f"batch_size and length must be >= 1, got {batch_size}, {length}")
    SamplingConfig(temperature=temperature, top_k=top_k)  # the settings' own checks (a ValueError)
    if top_k is not None and top_k > n_values:
        raise ValueError(f"top_k must be between 1 and {n_values}, got {top_k}")
    if stop_id is not None and not 0 <= stop_id < n_values:
        raise ValueError(f"stop_id must be an id below {n_values}, got {stop_id}")


def _prefix(primer: Any, start_ids: Any, batch_size: int) -> np.ndarray:
    """The ids fed before sampling starts, as (batch, m) int32; the last one is fed last."""
    if primer is not None:
        if start_ids is not None:
            raise ValueError("give a primer or start_ids, not both")
        prefix = np.asarray(primer, dtype=np.int32)
        if prefix.ndim == 1:
            prefix = np.broadcast_to(prefix, (batch_size, prefix.shape[0]))
    else:
        first = -1 if start_ids is None else start_ids
        prefix = np.broadcast_to(np.asarray(first, dtype=np.int32).reshape(-1, 1), (batch_size, 1))
    if prefix.ndim != 2 or prefix.shape[0] != batch_size or prefix.shape[1] < 1:
        raise ValueError(f"primer/start_ids must give {batch_size} rows of >= 1 id, "
                         f"got shape {prefix.shape}")
    return np.ascontiguousarray(prefix)


def _seed_pair(seed: int | None) -> list[int]:
    """A stateless-RNG seed pair from an int (fresh entropy when None)."""
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    seed = int(seed) % (1 << 62)
    return [seed & 0x7FFFFFFF, seed >> 31]


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


# --------------------------------------------------------------------------------------------
# Guided sampling and beam search (a Python loop around the compiled step)
# --------------------------------------------------------------------------------------------
class Guided(Protocol):
    """What guided sampling asks of a guide (see :class:`jazzlstm.tokens.guide.Guide`)."""

    def allowed(self) -> np.ndarray: ...
    def advance(self, token_id: int) -> None: ...
    def finished(self) -> bool: ...
    def copy(self) -> "Guided": ...
    chord_tones: int


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    top = np.max(logits, axis=-1, keepdims=True)
    shifted = logits - np.where(np.isfinite(top), top, 0.0)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _masked(logits: np.ndarray, guides: Sequence[Guided]) -> np.ndarray:
    """Logits with every id a guide forbids set to -inf (a guide that allows nothing: all ids)."""
    masks = np.stack([g.allowed() for g in guides])
    masks[~masks.any(axis=1)] = True
    return np.where(masks, logits, -np.inf)


def _pick(logits: np.ndarray, rng: np.random.Generator, temperature: float, top_k: int | None,
          greedy: bool) -> np.ndarray:
    """One id per row of (masked) logits: argmax, or a draw at ``temperature`` among the top k."""
    if greedy:
        return np.argmax(logits, axis=-1)
    scaled = logits / temperature
    if top_k is not None:
        kth = -np.sort(-scaled, axis=-1)[:, top_k - 1:top_k]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    probs = np.exp(_log_softmax(scaled))
    draws = rng.random((len(probs), 1))
    return np.minimum((np.cumsum(probs, axis=-1) < draws).sum(axis=-1), probs.shape[1] - 1)


def _warm(sampler: Sampler, state: Any, primer: np.ndarray | None, batch_size: int) -> tuple[Any, np.ndarray]:
    """Feed the primer (all but its last id) and return (state, first input ids)."""
    prefix = _prefix(primer, None, batch_size)
    step = sampler.compiled_step
    for j in range(prefix.shape[1] - 1):
        _, state = step(tf.constant(prefix[:, j]), state)
    return state, prefix[:, -1]


def guided_sample(sampler: Sampler, initial_state: Any, guides: Sequence[Guided], length: int,
                  primer: Sequence[int] | np.ndarray | None = None, temperature: float = 1.0,
                  top_k: int | None = None, greedy: bool = False, seed: int | None = None) -> list[list[int]]:
    """One sequence per guide, each at most ``length`` ids, ending once its guide is finished.

    Every step samples only ids its guide allows (and takes the id a guide forces), so each
    sequence follows the encoding's grammar; the rest is as :func:`sample` (the same seed, the
    same ids)."""
    batch = len(guides)
    _check_args(batch, length, sampler.n_values, temperature, top_k, None)
    rng = np.random.default_rng(_seed_pair(seed))
    state = tf.nest.map_structure(lambda s: tf.convert_to_tensor(s, tf.float32), initial_state)
    state, x = _warm(sampler, state, None if primer is None else np.asarray(primer, np.int32), batch)
    out: list[list[int]] = [[] for _ in range(batch)]
    for _ in range(length):
        live = [i for i, g in enumerate(guides) if not g.finished()]
        if not live:
            break
        logits, state = sampler.compiled_step(tf.constant(x, tf.int32), state)
        ids = _pick(_masked(np.asarray(logits, np.float64), guides), rng, temperature, top_k, greedy)
        for i in live:
            guides[i].advance(int(ids[i]))
            out[i].append(int(ids[i]))
        x = ids.astype(np.int32)
    return out


def beam_search(sampler: Sampler, initial_state: Any, guides: Sequence[Guided], length: int,
                beam_size: int, branch_factor: int = 2, steps_per_iteration: int = 8,
                harmony_weight: float = 0.0, primer: Sequence[int] | np.ndarray | None = None,
                temperature: float = 1.0, top_k: int | None = None, seed: int | None = None) -> list[list[int]]:
    """One sequence per guide by beam search, as Magenta's event models offer it.

    Each of the ``beam_size`` sequences kept per output is extended ``branch_factor`` times by
    ``steps_per_iteration`` sampled (guided) steps, and the ``beam_size`` best of the results
    are kept, scored by the model's log-likelihood (of the allowed ids) plus
    ``harmony_weight`` nats per chord tone (the chord-tone count of the guide). Returns the
    best sequence of each output."""
    if beam_size < 1 or branch_factor < 1 or steps_per_iteration < 1:
        raise ValueError("beam_size, branch_factor and steps_per_iteration must be >= 1")
    outputs = len(guides)
    _check_args(outputs, length, sampler.n_values, temperature, top_k, None)
    rng = np.random.default_rng(_seed_pair(seed))
    state = tf.nest.map_structure(lambda s: tf.convert_to_tensor(s, tf.float32), initial_state)
    state, x = _warm(sampler, state, None if primer is None else np.asarray(primer, np.int32), outputs)
    # Rows: (output, beam); start with one beam per output.
    owner = np.arange(outputs)
    rows_guides = list(guides)
    ids: list[list[int]] = [[] for _ in range(outputs)]
    loglik = np.zeros(outputs)
    state = tf.nest.map_structure(np.asarray, state)

    def rows(state, index):
        return tf.nest.map_structure(lambda s: s[index], state)

    done_steps = 0
    while done_steps < length and not all(g.finished() for g in rows_guides):
        # Branch: every beam row repeated branch_factor times.
        pick = np.repeat(np.arange(len(owner)), branch_factor)
        owner, loglik, x = owner[pick], loglik[pick], x[pick]
        rows_guides = [rows_guides[i].copy() for i in pick]
        ids = [list(ids[i]) for i in pick]
        state = rows(state, pick)
        for _ in range(min(steps_per_iteration, length - done_steps)):
            logits, new_state = sampler.compiled_step(tf.constant(x, tf.int32),
                                                      tf.nest.map_structure(tf.constant, state))
            masked = _masked(np.asarray(logits, np.float64), rows_guides)
            chosen = _pick(masked, rng, temperature, top_k, False)
            step_loglik = _log_softmax(masked)[np.arange(len(chosen)), chosen]
            live = np.array([not g.finished() for g in rows_guides])
            loglik = loglik + np.where(live, step_loglik, 0.0)
            for i in np.flatnonzero(live):
                rows_guides[i].advance(int(chosen[i]))
                ids[i].append(int(chosen[i]))
            state = tf.nest.map_structure(  # finished rows keep their state
                lambda n, s: np.where(live.reshape((-1,) + (1,) * (s.ndim - 1)), np.asarray(n), s), new_state, state)
            x = np.where(live, chosen, x).astype(np.int32)
            done_steps += 1
        # Prune: the beam_size best rows of each output.
        score = loglik + harmony_weight * np.array([g.chord_tones for g in rows_guides])
        keep = np.concatenate([np.flatnonzero(owner == o)[np.argsort(-score[owner == o], kind="stable")[:beam_size]]
                               for o in range(outputs)])
        owner, loglik, x = owner[keep], loglik[keep], x[keep]
        rows_guides = [rows_guides[i] for i in keep]
        ids = [ids[i] for i in keep]
        state = rows(state, keep)
    score = loglik + harmony_weight * np.array([g.chord_tones for g in rows_guides])
    best = [np.flatnonzero(owner == o)[np.argmax(score[owner == o])] for o in range(outputs)]
    return [ids[i] for i in best]
