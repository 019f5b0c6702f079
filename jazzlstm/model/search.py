"""Sampling loops in numpy around any step function: guided sampling and beam search.

A *numpy step* maps ``(ids (batch,) int array, state) -> (logits (batch, V) array, new state)``,
the state a numpy array or a tuple of them (one row per sequence). The numpy model
(:class:`jazzlstm.model.numpy_lstm.NumpyLSTM`) gives one directly; a Keras model gives one
through :meth:`jazzlstm.model.sampling.Sampler.numpy_step`. Each step can consult a *guide*
(:mod:`jazzlstm.tokens.guide`): only the ids it allows are sampled, a forced id is taken, and a
sequence ends when its guide is finished. Without guides every id is allowed and every
sequence runs ``length`` steps. Randomness comes from a numpy generator seeded by ``seed``:
the same seed, the same ids. No TensorFlow here.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import numpy as np

from jazzlstm.config import SamplingConfig

NumpyStep = Callable[[np.ndarray, Any], tuple]


# --------------------------------------------------------------------------------------------
# Argument handling
# --------------------------------------------------------------------------------------------
def check_args(batch_size: int, length: int, n_values: int, temperature: float,
                top_k: int | None, stop_id: int | None) -> None:
    if batch_size < 1 or length < 1:
        raise ValueError(f"batch_size and length must be >= 1, got {batch_size}, {length}")
    SamplingConfig(temperature=temperature, top_k=top_k)  # the settings' own checks (a ValueError)
    if top_k is not None and top_k > n_values:
        raise ValueError(f"top_k must be between 1 and {n_values}, got {top_k}")
    if stop_id is not None and not 0 <= stop_id < n_values:
        raise ValueError(f"stop_id must be an id below {n_values}, got {stop_id}")


def prefix_ids(primer: Any, start_ids: Any, batch_size: int) -> np.ndarray:
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


def seed_pair(seed: int | None) -> list[int]:
    """A stateless-RNG seed pair from an int (fresh entropy when None)."""
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    seed = int(seed) % (1 << 62)
    return [seed & 0x7FFFFFFF, seed >> 31]


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


class StopAt:
    """A guide for free text: every id allowed, finished once ``stop_id`` has been sampled (none:
    never), as the compiled sampler's ``stop_id`` ends a sequence."""

    chord_tones = 0

    def __init__(self, n_values: int, stop_id: int | None = None):
        self.n_values, self.stop_id, self.stopped = int(n_values), stop_id, False

    def allowed(self) -> np.ndarray:
        return np.ones(self.n_values, dtype=bool)

    def advance(self, token_id: int) -> None:
        self.stopped = self.stopped or token_id == self.stop_id

    def finished(self) -> bool:
        return self.stopped

    def copy(self) -> "StopAt":
        twin = StopAt(self.n_values, self.stop_id)
        twin.stopped = self.stopped
        return twin


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


def _map(fn: Callable, state: Any, *others: Any) -> Any:
    """``fn`` over the arrays of a state (an array, or a tuple or list of them)."""
    if isinstance(state, (tuple, list)):
        return type(state)(_map(fn, *parts) for parts in zip(state, *others))
    return fn(state, *others)


def _warm(step: NumpyStep, state: Any, primer: Any, batch_size: int) -> tuple[Any, np.ndarray]:
    """Feed the primer (all but its last id) and return (state, first input ids)."""
    prefix = prefix_ids(primer, None, batch_size)
    for j in range(prefix.shape[1] - 1):
        _, state = step(prefix[:, j], state)
    return state, prefix[:, -1]


class _Free:
    """The guide of an unguided sequence: every id allowed, never finished before ``length``."""

    chord_tones = 0

    def __init__(self, n_values: int):
        self.mask = np.ones(n_values, bool)

    def allowed(self) -> np.ndarray:
        return self.mask

    def advance(self, token_id: int) -> None:
        pass

    def finished(self) -> bool:
        return False

    def copy(self) -> "_Free":
        return self


def _start(step: NumpyStep, n_values: int, initial_state: Any, guides: Sequence[Guided] | int, length: int,
           primer: Any, temperature: float, top_k: int | None, seed: int | None) -> tuple:
    """(guides, random generator, state after the primer, first input ids) for a sampling loop;
    a count of guides means that many unguided sequences."""
    if isinstance(guides, int):
        guides = [_Free(n_values) for _ in range(guides)]
    check_args(len(guides), length, n_values, temperature, top_k, None)
    state, x = _warm(step, initial_state, primer, len(guides))
    return list(guides), np.random.default_rng(seed_pair(seed)), state, x


def guided_sample(step: NumpyStep, n_values: int, initial_state: Any, guides: Sequence[Guided] | int,
                  length: int, primer: Sequence[int] | np.ndarray | None = None, temperature: float = 1.0,
                  top_k: int | None = None, greedy: bool = False, seed: int | None = None) -> list[list[int]]:
    """One sequence per guide (or ``guides`` unguided sequences, given a count), each at most
    ``length`` ids, ending once its guide is finished.

    Every step samples only ids its guide allows (and takes the id a guide forces), so each
    sequence follows the encoding's grammar: argmax (``greedy``), or a draw at
    ``temperature`` among the ``top_k`` most likely ids. The same seed gives the same ids."""
    guides, rng, state, x = _start(step, n_values, initial_state, guides, length, primer, temperature, top_k, seed)
    out: list[list[int]] = [[] for _ in range(len(guides))]
    for _ in range(length):
        live = [i for i, g in enumerate(guides) if not g.finished()]
        if not live:
            break
        logits, state = step(x, state)
        ids = _pick(_masked(np.asarray(logits, np.float64), guides), rng, temperature, top_k, greedy)
        for i in live:
            guides[i].advance(int(ids[i]))
            out[i].append(int(ids[i]))
        x = ids.astype(np.int32)
    return out


def beam_search(step: NumpyStep, n_values: int, initial_state: Any, guides: Sequence[Guided] | int, length: int,
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
    guides, rng, state, x = _start(step, n_values, initial_state, guides, length, primer, temperature, top_k, seed)
    outputs = len(guides)
    # Rows: (output, beam); start with one beam per output.
    owner = np.arange(outputs)
    rows_guides = list(guides)
    ids: list[list[int]] = [[] for _ in range(outputs)]
    loglik = np.zeros(outputs)
    state = _map(np.asarray, state)

    def rows(state, index):
        return _map(lambda s: s[index], state)

    done_steps = 0
    while done_steps < length and not all(g.finished() for g in rows_guides):
        # Branch: every beam row repeated branch_factor times.
        pick = np.repeat(np.arange(len(owner)), branch_factor)
        owner, loglik, x = owner[pick], loglik[pick], x[pick]
        rows_guides = [rows_guides[i].copy() for i in pick]
        ids = [list(ids[i]) for i in pick]
        state = rows(state, pick)
        for _ in range(min(steps_per_iteration, length - done_steps)):
            logits, new_state = step(x, state)
            masked = _masked(np.asarray(logits, np.float64), rows_guides)
            chosen = _pick(masked, rng, temperature, top_k, False)
            step_loglik = _log_softmax(masked)[np.arange(len(chosen)), chosen]
            live = np.array([not g.finished() for g in rows_guides])
            loglik = loglik + np.where(live, step_loglik, 0.0)
            for i in np.flatnonzero(live):
                rows_guides[i].advance(int(chosen[i]))
                ids[i].append(int(chosen[i]))
            state = _map(  # finished rows keep their state
                lambda s, n: np.where(live.reshape((-1,) + (1,) * (s.ndim - 1)), np.asarray(n), s), state, new_state)
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
