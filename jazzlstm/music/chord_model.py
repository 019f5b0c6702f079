"""Chords for a melody alone: a key-aware hidden Markov model decoded by forward-backward.

One hidden state per segment (a beat by default; the priors say which: a beat, a half bar in
4/4 and other bars of 4 beats or more, or a whole bar) out of 12 roots x :data:`QUALITIES`.
Three parts, all read from ``chord_priors.json`` (package data, built by
``benchmarks/build_chord_priors.py`` from the chord symbols and Roman-numeral analyses in
music21's corpus plus standard jazz cadences written as pseudo-counts; no corpus is needed at
run time):

* **transitions**, key-invariant: P(root interval, next quality | quality), one table per
  kind of boundary (on a bar line, on the half bar, on another beat), so chords change
  mostly on bar lines and the self-transition (harmonic rhythm) is learned per position;
* a **key prior**, P(root relative to the tonic, quality | major or minor), applied to every
  state with the key :func:`harmony.estimate_key` finds in the whole melody (optionally also
  a local key per segment, :func:`local_keys`; off in the shipped priors: it measured no
  better), so diatonic chords are preferred over their chromatic look-alikes;
* **emissions**: P(melody pitch class relative to the root | quality), 30% learned from the
  labelled melodies and 70% from the role of each pitch class (root, third, fifth, seventh >
  scale tones > approach tones > others); optionally one table per metric class and a
  non-chord-tone share per metric class. A segment's evidence is the sum over its notes of
  log P(pitch class) times the note's length inside the segment times a metric weight (a note
  struck on the bar line or on the half bar counts more than one struck off the beat).

Optionally (``params.learned_weight`` > 0 and an ``emission_model`` in the priors) a
**learned emission** is added: a multinomial logistic model over :func:`segment_features`
(the segment's pitch classes relative to each root by metric class, its neighbours', its
bar's, the root relative to the key), its log posterior of each state or (``learned_part``
'root') of each root, times ``learned_weight``. Off in the shipped priors: measured, it helps
classical melodies and hurts jazz ones (benchmarks/bench_chords.py).

Decoding (``params.decoding``): 'posterior' (shipped) runs forward-backward and takes, per
segment, the root with the most posterior mass (which maximizes the expected number of
right roots) and, for each run of one root, the quality with the most mass over the run; 'viterbi' takes the single best path.
Either is a few tens of milliseconds of numpy for 800 segments x 84 states.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from jazzlstm.music.harmony import _MAJOR_PROFILE as _KK_MAJOR, _MINOR_PROFILE as _KK_MINOR, estimate_key
from jazzlstm.music.score import STEPS_PER_BEAT, Note, quantize

QUALITIES = ("", "m", "7", "m7", "maj7", "m7b5", "dim7")
"""Chord qualities the model chooses from (a melody cannot tell 6 from maj7, or 9 from 7)."""

PRIORS_PATH = Path(__file__).with_name("chord_priors.json")

# Written qualities outside the model's, mapped to the states that stand for them (first
# one the model has).
_FOLD = {"6": ("maj7", ""), "sus4": ("",), "aug": ("",), "m6": ("m7", "m"), "mmaj7": ("m",),
         "7sus4": ("7", ""), "dim": ("dim7", "m7b5", "m"), "dim7": ("dim7", "dim", "m7b5", "m"),
         "m7b5": ("m7b5", "dim7", "m"), "m7": ("m7", "m"), "maj7": ("maj7", ""), "7": ("7", "")}

_STEP = 1.0 / STEPS_PER_BEAT
BOUNDARIES = ("bar", "mid", "beat")
"""Kinds of boundary before a segment: on a bar line, on the half bar, on another beat."""

SEGMENT_LENGTHS = ("bar", "half", "beat")
"""How finely a melody is cut into segments (one chord each): whole bars, half bars (bars of
4 beats or more), or beats."""


def fold_quality(quality: str, qualities: Sequence[str] = QUALITIES) -> str:
    """The model quality that stands for a written one ('sus4' -> '', 'm6' -> 'm7', 'dim' -> 'dim7')."""
    if quality in qualities:
        return quality
    return next((q for q in _FOLD.get(quality, ()) if q in qualities), "m" if "m" in quality else "")


def segment_length(value: str | bool) -> str:
    """'bar' | 'half' | 'beat' (True stands for 'half', False for 'bar', as before)."""
    if isinstance(value, bool):
        return "half" if value else "bar"
    if value not in SEGMENT_LENGTHS:
        raise ValueError(f"segment length {value!r} is none of {SEGMENT_LENGTHS}")
    return value


def melody_segments(bar_lines: Sequence[float], end: float, length: str | bool = "half"
                    ) -> list[tuple[float, float, str]]:
    """(start, stop, boundary kind) covering bar_lines[0]..end, cut by ``length``: 'bar';
    'half' (bars of 4 beats or more halved); 'beat' (every beat, a bar's last piece may be
    shorter). The boundary kind says whether a segment starts on a bar line ('bar'), on the
    half bar of a bar of 4 beats or more ('mid') or on another beat ('beat')."""
    length = segment_length(length)
    segments: list[tuple[float, float, str]] = []
    for i, start in enumerate(bar_lines):
        stop = bar_lines[i + 1] if i + 1 < len(bar_lines) else max(end, start + _STEP)
        span = stop - start
        middle = quantize(start + span / 2) if span >= 4.0 - 1e-9 else None
        if length == "bar":
            cuts = [start]
        elif length == "half":
            cuts = [start] if middle is None else [start, middle]
        else:
            cuts = [quantize(start + k) for k in range(int(np.ceil(span - 1e-9)))]
        for j, cut in enumerate(cuts):
            kind = "bar" if j == 0 else "mid" if middle is not None and abs(cut - middle) < 1e-9 else "beat"
            segments.append((cut, cuts[j + 1] if j + 1 < len(cuts) else stop, kind))
    return segments


# Metric weight of a note by where it is struck: on the bar line, on the half bar, on
# another beat, off the beat. It multiplies the note's length inside the segment; a note
# tied over from the segment before counts as struck on the segment's start.
METRIC_WEIGHTS = {"bar": 2.0, "half": 1.5, "beat": 1.0, "off": 0.6}
METRIC_CLASSES = ("bar", "half", "beat", "off")
"""Where a note is struck (see :data:`METRIC_WEIGHTS`), in the order of the class axis."""


def segment_class_weights(melody: Sequence[Note], segments: Sequence[tuple[float, float, str]],
                          bar_lines: Sequence[float]) -> np.ndarray:
    """(n segments, 4 metric classes, 12) lengths of each pitch class inside each segment,
    split by where the note is struck (:data:`METRIC_CLASSES`)."""
    out = np.zeros((len(segments), len(METRIC_CLASSES), 12))
    if not segments or not melody:
        return out
    notes = np.array([(n.start, n.duration, n.pitch) for n in melody], dtype=float).reshape(-1, 3)
    seg_start = np.array([s for s, _, _ in segments])
    seg_stop = np.array([e for _, e, _ in segments])
    starts, ends = notes[:, 0], notes[:, 0] + notes[:, 1]
    first = np.searchsorted(seg_stop, starts + 1e-9, side="right")
    last = np.searchsorted(seg_start, ends - 1e-9, side="left") - 1
    counts = np.maximum(last - first + 1, 0)
    note_idx = np.repeat(np.arange(len(notes)), counts)
    seg_idx = np.repeat(first, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    if not len(note_idx):
        return out
    overlap = np.minimum(ends[note_idx], seg_stop[seg_idx]) - np.maximum(starts[note_idx], seg_start[seg_idx])
    # Where each note is struck, relative to its bar (a held note: at the segment's start).
    onset = np.maximum(starts[note_idx], seg_start[seg_idx])
    bars = np.asarray(bar_lines, dtype=float)
    bar_idx = np.clip(np.searchsorted(bars, onset + 1e-9, side="right") - 1, 0, len(bars) - 1)
    bar_start = bars[bar_idx]
    bar_stop = np.append(bars[1:], max(float(seg_stop[-1]), bars[-1] + _STEP))[bar_idx]
    in_bar = onset - bar_start
    on_beat = np.abs(in_bar - np.round(in_bar)) < 1e-6
    half = np.abs(in_bar - (bar_stop - bar_start) / 2) < 1e-6
    kind = np.where(on_beat, 2, 3)
    kind = np.where(half & ((bar_stop - bar_start) >= 4.0 - 1e-9), 1, kind)
    kind = np.where(np.abs(in_bar) < 1e-6, 0, kind)
    np.add.at(out, (seg_idx, kind, notes[note_idx, 2].astype(int) % 12), overlap)
    return out


def segment_weights(melody: Sequence[Note], segments: Sequence[tuple[float, float, str]],
                    bar_lines: Sequence[float], metric: Mapping[str, float] | None = None) -> np.ndarray:
    """(n segments, 12) pitch-class weights: length inside the segment x metric weight."""
    metric = METRIC_WEIGHTS if metric is None else metric
    scale = np.array([metric[c] for c in METRIC_CLASSES])
    return np.einsum("ncp,c->np", segment_class_weights(melody, segments, bar_lines), scale)


_ROTATE = (np.arange(12)[:, None] + np.arange(12)[None, :]) % 12  # [root, interval] -> pitch class

FEATURE_BLOCKS = (("struck", 48), ("present", 12), ("previous", 12), ("next", 12), ("bar", 12),
                  ("key", 24), ("boundary", 3), ("silent", 1))
"""The learned emission's features of a segment for a candidate root, block by block: the
segment's pitch-class lengths relative to the root by metric class (4 x 12), which pitch
classes sound in it at all, the pitch-class lengths of the segment before and after, the
shares of its whole bar, the root relative to the melody's key (12 major + 12 minor), the
segment's boundary kind and whether the melody rests in it (those last two are the same for
every root, so they only move the quality)."""
FEATURE_SIZE = sum(size for _, size in FEATURE_BLOCKS)


def segment_features(class_weights: np.ndarray, segments: Sequence[tuple[float, float, str]],
                     bar_lines: Sequence[float], key: tuple[int, str]) -> np.ndarray:
    """(n segments, 12 roots, :data:`FEATURE_SIZE`) features of the learned emission (see
    :data:`FEATURE_BLOCKS`), from :func:`segment_class_weights`."""
    n = len(class_weights)
    out = np.zeros((n, 12, FEATURE_SIZE))
    if not n:
        return out
    pooled = class_weights.sum(axis=1)
    before = np.vstack([np.zeros((1, 12)), pooled[:-1]])
    after = np.vstack([pooled[1:], np.zeros((1, 12))])
    bars = np.asarray(bar_lines, dtype=float)
    starts = np.array([s for s, _, _ in segments])
    bar_of = np.clip(np.searchsorted(bars, starts + 1e-9, side="right") - 1, 0, None)
    per_bar = np.zeros((bar_of.max() + 1, 12))
    np.add.at(per_bar, bar_of, pooled)
    per_bar /= np.maximum(per_bar.sum(axis=1, keepdims=True), 1e-9)
    # x[..., _ROTATE] is (..., root, interval); the root axis moves to position 1.
    blocks = [np.moveaxis(class_weights[..., _ROTATE], -2, 1).reshape(n, 12, 48)]
    for x in ((pooled > 1e-9).astype(float), before, after, per_bar[bar_of]):
        blocks.append(x[:, _ROTATE])
    at = 96
    out[:, :, :at] = np.concatenate(blocks, axis=2)
    tonic, mode = key
    out[:, np.arange(12), at + (np.arange(12) - tonic) % 12 + (12 if mode == "minor" else 0)] = 1.0
    at += 24
    out[np.arange(n), :, at + np.array([BOUNDARIES.index(k) for _, _, k in segments])] = 1.0
    out[:, :, at + 3] = (pooled.sum(axis=1) <= 1e-9)[:, None]
    return out


def feature_log_posterior(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n, 12 x qualities) log P(root, quality | features) of the multinomial logistic model
    with ``weights`` (qualities, features), states ordered root-major like ChordHMM.states."""
    n = len(features)
    scores = (features.reshape(n * 12, -1) @ np.asarray(weights).T).reshape(n, -1)
    top = scores.max(axis=1, keepdims=True)
    return scores - top - np.log(np.exp(scores - top).sum(axis=1, keepdims=True))


def _pitch_class_lengths(melody: Sequence[Note]) -> dict[int, float]:
    weights: dict[int, float] = {}
    for n in melody:
        weights[n.pitch % 12] = weights.get(n.pitch % 12, 0.0) + n.duration
    return weights


def melody_key(melody: Sequence[Note]) -> tuple[int, str]:
    """(tonic, 'major' | 'minor') of a melody, its notes weighted by length."""
    return estimate_key(_pitch_class_lengths(melody))


_PROFILES = np.array([[_KK_MAJOR[(pc - t) % 12] for pc in range(12)] for t in range(12)]
                     + [[_KK_MINOR[(pc - t) % 12] for pc in range(12)] for t in range(12)])


def local_keys(lengths: np.ndarray, centers: np.ndarray, window: float) -> list[tuple[int, str]]:
    """(tonic, mode) around each segment: Krumhansl-Kessler correlation of the pitch-class
    lengths (n, 12) weighted by a Gaussian of ``window`` beats (its standard deviation)
    around each segment's centre; a segment whose window holds no note gets the key of the
    whole melody."""
    n = len(lengths)
    total = lengths.sum(axis=0)
    # Segments are near-equal in length: a Gaussian over segment indices, scaled to beats.
    spacing = float(np.median(np.diff(centers))) if n > 1 else 1.0
    sigma = max(window / max(spacing, 1e-9), 1e-3)
    half = int(min(n - 1, np.ceil(3 * sigma)))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    windowed = np.stack([np.convolve(lengths[:, pc], kernel)[half:half + n] for pc in range(12)], axis=1)
    empty = windowed.sum(axis=1) <= 1e-12
    windowed[empty] = total
    centred = windowed - windowed.mean(axis=1, keepdims=True)
    profiles = _PROFILES - _PROFILES.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(centred, axis=1, keepdims=True) * np.linalg.norm(profiles, axis=1)[None, :]
    corr = np.where(norm > 0, centred @ profiles.T / np.maximum(norm, 1e-12), 0.0)
    best = corr.argmax(axis=1)
    return [(int(b % 12), "major" if b < 12 else "minor") for b in best]


class ChordHMM:
    """The decoder built from one priors dictionary (the contents of ``chord_priors.json``)."""

    def __init__(self, priors: Mapping):
        self.qualities = tuple(priors["qualities"])
        self.segments = segment_length(priors.get("segments", bool(priors.get("half_bars", True))))
        params = priors.get("params", {})
        self.emission_scale = float(params.get("emission_scale", 1.0))
        self.key_weight = float(params.get("key_weight", 1.0))
        self.local_key_weight = float(params.get("local_key_weight", 0.0))
        self.key_window = float(params.get("key_window", 8.0))
        self.metric = dict(params.get("metric_weights", METRIC_WEIGHTS))
        self.non_chord = {c: float(v) for c, v in params.get("non_chord_tones", {}).items()}
        self.decoding = str(params.get("decoding", "viterbi"))
        learned = priors.get("emission_model")
        # The learned emission (a logistic model over segment_features), added to the table's
        # log evidence with weight ``learned_weight``; absent or 0: the table alone.
        self.learned_weight = float(params.get("learned_weight", 0.0)) if learned else 0.0
        self.learned = np.asarray(learned["weights"], dtype=float) if learned else None
        # 'root': only the root's marginal, log P(root | features), is added (the same to every
        # quality of a root), so qualities come from the table, the transitions and the key.
        self.learned_part = str(params.get("learned_part", "state"))
        mask = params.get("learned_blocks")
        self._feature_mask = None if mask is None else np.concatenate(
            [np.full(size, float(name in mask)) for name, size in FEATURE_BLOCKS])
        nq = len(self.qualities)
        self.states = tuple((root, q) for root in range(12) for q in self.qualities)
        roots = np.repeat(np.arange(12), nq)
        quals = np.tile(np.arange(nq), 12)
        interval = (roots[None, :] - roots[:, None]) % 12
        # log P(next state | state) for each boundary kind, before the key prior.
        self._log_transition = {}
        for kind in BOUNDARIES:
            # Priors cut coarser than beats have no table for the kinds they never meet.
            table = priors["transitions"].get(kind, priors["transitions"].get("mid", priors["transitions"]["bar"]))
            table = np.asarray(table, dtype=float).reshape(nq, 12, nq)
            self._log_transition[kind] = np.log(np.maximum(table[quals[:, None], interval, quals[None, :]], 1e-12))
        self._log_key = {mode: np.log(np.asarray(priors["key_prior"][mode], dtype=float).reshape(12, nq))
                         for mode in ("major", "minor")}
        if "emission_by_metric" in priors:  # one table per metric class
            emission = np.array([priors["emission_by_metric"][c] for c in METRIC_CLASSES], dtype=float)
        else:
            emission = np.repeat(np.asarray(priors["emission"], dtype=float)[None], len(METRIC_CLASSES), axis=0)
        emission = emission.reshape(len(METRIC_CLASSES), nq, 12)
        # (metric classes, 12 pitch classes, states): P(pitch class | state), by metric class.
        pcs = np.arange(12)
        self._emission = emission[:, quals[None, :], (pcs[:, None] - roots[None, :]) % 12]
        self._roots, self._quals = roots, quals
        self._metric_scale = np.array([self.metric[c] for c in METRIC_CLASSES])
        self._non_chord = np.array([self.non_chord.get(c, 0.0) for c in METRIC_CLASSES])

    def learned_emission(self, class_weights: np.ndarray, segments: Sequence[tuple[float, float, str]],
                         bar_lines: Sequence[float], key: tuple[int, str]) -> np.ndarray | None:
        """(n, states) ``learned_weight`` x log P(state | segment_features), or None when the
        priors carry no learned emission."""
        if self.learned is None or not self.learned_weight or not len(class_weights):
            return None
        features = segment_features(class_weights, segments, bar_lines, key)
        if self._feature_mask is not None:
            features = features * self._feature_mask
        log_post = feature_log_posterior(features, self.learned)
        if self.learned_part == "root":
            nq = len(self.qualities)
            by_root = log_post.reshape(len(log_post), 12, nq)
            top = by_root.max(axis=2, keepdims=True)
            log_post = np.repeat(top + np.log(np.exp(by_root - top).sum(axis=2, keepdims=True)), nq, axis=2)
            log_post = log_post.reshape(len(log_post), -1)
        return self.learned_weight * log_post

    def key_prior(self, key: tuple[int, str]) -> np.ndarray:
        """log P(state | key), one value per state."""
        tonic, mode = key
        table = self._log_key["minor" if mode == "minor" else "major"]
        return table[(self._roots - tonic) % 12, self._quals]

    def log_emissions(self, weights: np.ndarray) -> np.ndarray:
        """(n, states) log evidence of (n, 12) metric-weighted or (n, 4, 12) per-class
        pitch-class lengths. A note struck in metric class c is a chord tone with probability
        1 - non_chord_tones[c] and otherwise any tone of the melody's own distribution."""
        weights = np.asarray(weights, dtype=float)
        if weights.ndim == 2:
            return self.emission_scale * (weights @ np.log(self._emission[0]))
        lengths = weights.sum(axis=(0, 1))
        background = (lengths + 0.5) / (lengths.sum() + 6.0)
        eps = self._non_chord[:, None, None]
        log_e = np.log((1 - eps) * self._emission + eps * background[None, :, None])
        scaled = weights * self._metric_scale[None, :, None]
        return self.emission_scale * np.einsum("ncp,cps->ns", scaled, log_e)

    def _transitions(self, key_prior: np.ndarray) -> dict[str, np.ndarray]:
        """log transitions by boundary kind, reweighted by a key prior (rows renormalized, so
        the key prior reweights, not penalizes, every step)."""
        transitions = {}
        for kind, table in self._log_transition.items():
            scores = table + key_prior[None, :]
            top = scores.max(axis=1, keepdims=True)
            transitions[kind] = scores - (top + np.log(np.exp(scores - top).sum(axis=1, keepdims=True)))
        return transitions

    def _setup(self, weights, key, keys, extra=None):
        n = len(weights)
        emit = self.log_emissions(weights)
        if extra is not None:
            emit = emit + extra
        base = self.key_weight * self.key_prior(key)
        if keys is None or self.local_key_weight == 0:
            keys = [key] * n
        priors: dict[tuple[int, str], np.ndarray] = {}
        tables: dict[tuple[int, str], dict[str, np.ndarray]] = {}
        for k in dict.fromkeys(keys):
            prior = base + self.local_key_weight * self.key_prior(k)
            top = prior.max()
            priors[k] = prior - (top + np.log(np.exp(prior - top).sum()))
            tables[k] = self._transitions(prior)
        return emit, keys, priors, tables

    def decode(self, weights: np.ndarray, kinds: Sequence[str], key: tuple[int, str],
               keys: Sequence[tuple[int, str]] | None = None, extra: np.ndarray | None = None
               ) -> list[tuple[int, str]]:
        """Most likely states for (n, 12) or (n, 4, 12) weights and boundary kinds, with the
        whole melody's key and optionally a local key per segment: the Viterbi path, or
        (``decoding`` 'posterior') each segment's most probable root, then quality. ``extra``
        (n, states) is added to the log emissions (the learned emission, :meth:`learned_emission`)."""
        if len(weights) == 0:
            return []
        emit, keys, priors, tables = self._setup(weights, key, keys, extra)
        if self.decoding == "posterior":
            path = self._posterior(emit, kinds, keys, priors, tables)[0]
        else:
            path = self._viterbi(emit, kinds, keys, priors, tables)
        return [self.states[i] for i in path]

    def log_likelihood(self, weights: np.ndarray, kinds: Sequence[str], key: tuple[int, str],
                       keys: Sequence[tuple[int, str]] | None = None) -> float:
        """log P(melody evidence | model), summed over every state path (the forward pass)."""
        if len(weights) == 0:
            return 0.0
        emit, keys, priors, tables = self._setup(weights, key, keys)
        return self._posterior(emit, kinds, keys, priors, tables, backward=False)[1]

    def _viterbi(self, emit, kinds, keys, priors, tables) -> list[int]:
        n = len(emit)
        # Transposed (to state, from state), so each step reduces along contiguous rows.
        into = {k: {kind: np.ascontiguousarray(t.T) for kind, t in table.items()} for k, table in tables.items()}
        every = np.arange(len(self.states))
        delta = priors[keys[0]] + emit[0]
        back = np.zeros((n, len(self.states)), dtype=np.intp)
        for t in range(1, n):
            candidates = into[keys[t]][kinds[t]] + delta
            back[t] = candidates.argmax(axis=1)
            delta = candidates[every, back[t]] + emit[t]
        path = [int(np.argmax(delta))]
        for t in range(n - 1, 0, -1):
            path.append(int(back[t, path[-1]]))
        path.reverse()
        return path

    def _posterior(self, emit, kinds, keys, priors, tables, backward: bool = True) -> tuple[list[int], float]:
        """Forward-backward (scaled, in probabilities): per segment the root with the most
        posterior mass, then per run of that root the quality with the most mass over the
        run; and the forward log-likelihood."""
        n, m = emit.shape
        probs = {k: {kind: np.exp(t) for kind, t in table.items()} for k, table in tables.items()}
        steps = [probs[k][kind] for k, kind in zip(keys, kinds)]
        top = emit.max(axis=1, keepdims=True)
        like = np.exp(emit - top)  # each row's best state is 1, so no step sums to zero
        alpha = np.empty((n, m))
        scales = np.empty(n)
        a = np.exp(priors[keys[0]]) * like[0]
        for t in range(n):
            if t:
                a = alpha[t - 1] @ steps[t]
                a *= like[t]
            scales[t] = a.sum()
            alpha[t] = a / scales[t]
        log_like = float(top.sum() + np.log(scales).sum())
        if not backward:
            return [], log_like
        post = alpha.copy()
        beta = np.ones(m)
        for t in range(n - 1, 0, -1):
            beta = steps[t] @ (beta * like[t])
            beta /= beta.sum()
            post[t - 1] *= beta
        nq = len(self.qualities)
        by_root = post.reshape(n, 12, nq)
        roots = by_root.sum(axis=2).argmax(axis=1)
        # One quality per run of equal roots: the one with the most mass over the run (no
        # C, Cmaj7, C flicker inside a chord).
        mass = by_root[np.arange(n), roots]
        run = np.concatenate([[0], np.cumsum(roots[1:] != roots[:-1])])
        per_run = np.zeros((run[-1] + 1, nq))
        np.add.at(per_run, run, mass)
        quals = per_run.argmax(axis=1)[run]
        return (roots * nq + quals).tolist(), log_like


@lru_cache(maxsize=4)
def _load(path: str) -> ChordHMM:
    return ChordHMM(json.loads(Path(path).read_text(encoding="utf-8")))


def load_model(path: str | Path | None = None) -> ChordHMM:
    """The model of the packaged priors (or of a priors file), loaded once."""
    return _load(str(PRIORS_PATH if path is None else path))


def infer_labels(melody: Sequence[Note], bar_lines: Sequence[float], end: float,
                 model: ChordHMM | None = None) -> tuple[list[tuple[float, float, str]], list[tuple[int, str]]]:
    """(segments, one (root, quality) per segment) for a melody."""
    model = load_model() if model is None else model
    bar_lines = list(bar_lines) or [0.0]
    segments = melody_segments(bar_lines, end, model.segments)
    weights = segment_class_weights(melody, segments, bar_lines)
    keys = None
    if model.local_key_weight:
        centers = np.array([(s + e) / 2 for s, e, _ in segments])
        keys = local_keys(weights.sum(axis=1), centers, model.key_window)
    key = melody_key(melody)
    extra = model.learned_emission(weights, segments, bar_lines, key)
    labels = model.decode(weights, [kind for _, _, kind in segments], key, keys, extra)
    return segments, labels
