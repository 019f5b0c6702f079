"""Chords for a melody alone: a key-aware hidden Markov model decoded with Viterbi.

One hidden state per segment (a half bar in 4/4 and other bars of 4 beats or more, else a
whole bar) out of 12 roots x :data:`QUALITIES`. Three parts, all read from
``chord_priors.json`` (package data, built by ``benchmarks/build_chord_priors.py`` from the
chord symbols and Roman-numeral analyses in music21's corpus plus standard jazz cadences
written as pseudo-counts; no corpus is needed at run time):

* **transitions**, key-invariant: P(root interval, next quality | quality), one table for a
  boundary on a bar line and one for a boundary in the middle of a bar (chords mostly change
  on bar lines);
* a **key prior**, P(root relative to the tonic, quality | major or minor), applied to every
  state with the key :func:`harmony.estimate_key` finds in the whole melody, so diatonic
  chords are preferred over their chromatic look-alikes;
* **emissions**: P(melody pitch class relative to the root | quality), 30% learned from the
  labelled melodies and 70% from the role of each pitch class (root, third, fifth, seventh >
  scale tones > approach tones > others). A segment's evidence is the sum over its notes of
  log P(pitch class) times the note's length inside the segment times a metric weight (a note
  struck on the bar line or on the half bar counts more than one struck off the beat).

Viterbi over ~200 segments x 84 states is a few milliseconds of numpy.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from jazzlstm.music.harmony import estimate_key
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


def segment_weights(melody: Sequence[Note], segments: Sequence[tuple[float, float, str]],
                    bar_lines: Sequence[float], metric: Mapping[str, float] | None = None) -> np.ndarray:
    """(n segments, 12) pitch-class weights: length inside the segment x metric weight."""
    metric = METRIC_WEIGHTS if metric is None else metric
    weights = np.zeros((len(segments), 12))
    if not segments or not melody:
        return weights
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
        return weights
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
    weight = np.where(on_beat, metric["beat"], metric["off"])
    weight = np.where(half & ((bar_stop - bar_start) >= 4.0 - 1e-9), metric["half"], weight)
    weight = np.where(np.abs(in_bar) < 1e-6, metric["bar"], weight)
    np.add.at(weights, (seg_idx, notes[note_idx, 2].astype(int) % 12), overlap * weight)
    return weights


def _pitch_class_lengths(melody: Sequence[Note]) -> dict[int, float]:
    weights: dict[int, float] = {}
    for n in melody:
        weights[n.pitch % 12] = weights.get(n.pitch % 12, 0.0) + n.duration
    return weights


def melody_key(melody: Sequence[Note]) -> tuple[int, str]:
    """(tonic, 'major' | 'minor') of a melody, its notes weighted by length."""
    return estimate_key(_pitch_class_lengths(melody))


class ChordHMM:
    """The decoder built from one priors dictionary (the contents of ``chord_priors.json``)."""

    def __init__(self, priors: Mapping):
        self.qualities = tuple(priors["qualities"])
        self.segments = segment_length(priors.get("segments", bool(priors.get("half_bars", True))))
        params = priors.get("params", {})
        self.emission_scale = float(params.get("emission_scale", 1.0))
        self.key_weight = float(params.get("key_weight", 1.0))
        self.metric = dict(params.get("metric_weights", METRIC_WEIGHTS))
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
        emission = np.asarray(priors["emission"], dtype=float).reshape(nq, 12)
        # (12 pitch classes, states): log P(pitch class | state).
        pcs = np.arange(12)
        self._log_emission = np.log(emission[quals[None, :], (pcs[:, None] - roots[None, :]) % 12])
        self._roots, self._quals = roots, quals

    def key_prior(self, key: tuple[int, str]) -> np.ndarray:
        """log P(state | key), one value per state."""
        tonic, mode = key
        table = self._log_key["minor" if mode == "minor" else "major"]
        return table[(self._roots - tonic) % 12, self._quals]

    def _scores(self, weights: np.ndarray, key: tuple[int, str]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(log initial, (n, states) log emissions, log transitions by boundary kind)."""
        emit = self.emission_scale * (np.asarray(weights, dtype=float) @ self._log_emission)
        key_prior = self.key_weight * self.key_prior(key)
        transitions = {}
        for kind, table in self._log_transition.items():
            scores = table + key_prior[None, :]
            # Renormalize each row so the key prior reweights, not penalizes, every step.
            top = scores.max(axis=1, keepdims=True)
            transitions[kind] = scores - (top + np.log(np.exp(scores - top).sum(axis=1, keepdims=True)))
        return key_prior, emit, transitions

    def decode(self, weights: np.ndarray, kinds: Sequence[str], key: tuple[int, str]) -> list[tuple[int, str]]:
        """Most likely state sequence (Viterbi) for (n, 12) weights and boundary kinds."""
        n = len(weights)
        if n == 0:
            return []
        initial, emit, transitions = self._scores(weights, key)
        # Transposed (to state, from state), so each step reduces along contiguous rows.
        into = {kind: np.ascontiguousarray(table.T) for kind, table in transitions.items()}
        every = np.arange(len(self.states))
        delta = initial + emit[0]
        back = np.zeros((n, len(self.states)), dtype=np.intp)
        for t in range(1, n):
            candidates = into[kinds[t]] + delta
            back[t] = candidates.argmax(axis=1)
            delta = candidates[every, back[t]] + emit[t]
        path = [int(np.argmax(delta))]
        for t in range(n - 1, 0, -1):
            path.append(int(back[t, path[-1]]))
        path.reverse()
        return [self.states[i] for i in path]


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
    weights = segment_weights(melody, segments, bar_lines, model.metric)
    labels = model.decode(weights, [kind for _, _, kind in segments], melody_key(melody))
    return segments, labels
