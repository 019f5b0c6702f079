"""Objective per-piece metrics of a Score's melody (and chords), and their mean and std over a set.

Pure numpy, one pass over the notes. The definitions follow MusPy (Dong et al. 2020), the Jazz
Transformer's metrics (Wu & Yang 2020, their MusDr code) and Yang & Lerch (2018):

* **Notes are counted, not weighted by duration**, in every pitch histogram and share
  (pitch-class histogram, entropy, scale consistency, chord-tone ratio), as MusPy and MusDr
  do; ``weighted=True`` gives the duration-weighted variant where it exists.
* **The piece spans beat 0 to ``Score.end``** (last melody note or chord): bars come from
  ``Score.bar_starts()`` (time-signature changes included), so a melody that stops before
  its chords leaves empty beats and empty bars. A note belongs to the bar of its onset.
* **Undefined values are NaN** (no notes, no chords, a single bar); histograms of a piece
  with nothing to count are all zeros. :func:`set_metrics` skips both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jazzlstm.music.harmony import CHORD_TEMPLATES
from jazzlstm.music.score import STEPS_PER_BEAT, Score, TimeSignature

LENGTH_CLASSES = np.array([1 / 4, 1 / 3, 3 / 8, 1 / 2, 2 / 3, 3 / 4, 1.0, 4 / 3, 3 / 2, 2.0, 3.0, 4.0])
"""Note-length / inter-onset classes in beats (Yang & Lerch's 12): sixteenth, eighth triplet,
dotted sixteenth, eighth, quarter triplet, dotted eighth, quarter, half triplet, dotted quarter,
half, dotted half, whole. A length goes to the class nearest in log scale, so the first class
also holds anything shorter and the last anything longer."""
LENGTH_CLASS_NAMES = ("16th", "8th triplet", "dotted 16th", "8th", "quarter triplet", "dotted 8th",
                      "quarter", "half triplet", "dotted quarter", "half", "dotted half", "whole")
MAX_INTERVAL = 12
"""Interval histogram bins: -12..+12 semitones; larger leaps go to the end bins."""

_MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=bool)
_MINOR = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], dtype=bool)
_EPS = 1e-9

HISTOGRAM_FEATURES = ("pitch_class_histogram", "interval_histogram", "note_length_histogram", "ioi_histogram")
SCALAR_FEATURES = ("n_notes", "pitch_range", "pitches_per_bar", "pitch_class_entropy_1", "pitch_class_entropy_4",
                   "scale_consistency", "chord_tone_ratio", "empty_beat_rate", "groove_consistency")
PITCH_FEATURES = ("pitch_class_histogram", "interval_histogram", "pitch_range", "pitches_per_bar",
                  "pitch_class_entropy_1", "pitch_class_entropy_4", "scale_consistency", "chord_tone_ratio")
RHYTHM_FEATURES = ("note_length_histogram", "ioi_histogram", "n_notes", "empty_beat_rate", "groove_consistency")


# --- shared helpers -------------------------------------------------------------------------

def _melody(score: Score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(onsets, durations, pitches) of the melody, sorted by onset."""
    if not score.melody:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=int)
    data = np.array([(n.start, n.duration, n.pitch) for n in score.melody], dtype=float)
    data = data[np.argsort(data[:, 0], kind="stable")]
    return data[:, 0], data[:, 1], data[:, 2].astype(int)


def time_signature_at(score: Score, beat: float) -> TimeSignature:
    """The time signature in force at ``beat`` (the first one before the first change)."""
    sigs = sorted(score.time_signatures, key=lambda t: t.start) or [TimeSignature(0.0)]
    return next((s for s in reversed(sigs) if s.start <= beat + _EPS), sigs[0])


def bar_spans(score: Score) -> np.ndarray:
    """(bars, 2) array of [start, end) in beats covering 0..``Score.end``."""
    starts = np.array(score.bar_starts(), dtype=float)
    last = time_signature_at(score, starts[-1]).bar_beats
    ends = np.append(starts[1:], starts[-1] + last)
    return np.stack([starts, ends], axis=1)


def _bar_index(spans: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(spans[:, 0], onsets + _EPS, side="right") - 1, 0, len(spans) - 1)


def _normalized(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts, dtype=float)


def _entropy_bits(counts: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row of non-negative counts (rows must not be all zero)."""
    prob = counts / counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(prob > 0, -prob * np.log2(prob), 0.0)
    return terms.sum(axis=-1)


def _length_class(beats: np.ndarray) -> np.ndarray:
    """Index into LENGTH_CLASSES of the class nearest in log scale (non-positive -> the first)."""
    logs = np.log2(np.maximum(beats, 1.0 / STEPS_PER_BEAT / 4))
    return np.argmin(np.abs(logs[:, None] - np.log2(LENGTH_CLASSES)[None, :]), axis=1)


# --- pitch --------------------------------------------------------------------------------------

def pitch_class_histogram(score: Score, weighted: bool = False) -> np.ndarray:
    """Normalized 12-bin pitch-class histogram of the melody: note counts, or beats if ``weighted``."""
    _, durations, pitches = _melody(score)
    counts = np.bincount(pitches % 12, weights=durations if weighted else None, minlength=12)
    return _normalized(counts.astype(float))


def pitch_range(score: Score) -> float:
    """Highest minus lowest melody pitch, in semitones (NaN without notes)."""
    _, _, pitches = _melody(score)
    return float(pitches.max() - pitches.min()) if len(pitches) else float("nan")


def pitches_per_bar(score: Score) -> float:
    """Mean over all bars of the number of distinct MIDI pitches with an onset in the bar
    (bars without onsets count 0; NaN without notes)."""
    onsets, _, pitches = _melody(score)
    if not len(pitches):
        return float("nan")
    spans = bar_spans(score)
    bars = _bar_index(spans, onsets)
    distinct = len(set(zip(bars.tolist(), pitches.tolist())))
    return distinct / len(spans)


def interval_histogram(score: Score) -> np.ndarray:
    """Normalized histogram of intervals between consecutive melody notes (rests ignored),
    25 bins for -12..+12 semitones; leaps beyond an octave fall in the end bins."""
    _, _, pitches = _melody(score)
    intervals = np.clip(np.diff(pitches), -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL
    return _normalized(np.bincount(intervals, minlength=2 * MAX_INTERVAL + 1).astype(float))


def pitch_class_entropy(score: Score, bars: int = 1) -> float:
    """Mean pitch-class entropy in bits over windows of ``bars`` bars (Jazz Transformer's H1/H4).

    Windows slide by one bar (all ``n_bars - bars + 1`` of them; the whole piece if it is
    shorter); each window's histogram counts note onsets; windows without notes are skipped.
    NaN without notes.
    """
    onsets, _, pitches = _melody(score)
    if not len(pitches):
        return float("nan")
    spans = bar_spans(score)
    per_bar = np.zeros((len(spans), 12))
    np.add.at(per_bar, (_bar_index(spans, onsets), pitches % 12), 1.0)
    window = min(max(int(bars), 1), len(spans))
    cumulative = np.vstack([np.zeros((1, 12)), np.cumsum(per_bar, axis=0)])
    windows = cumulative[window:] - cumulative[:-window]
    windows = windows[windows.sum(axis=1) > 0]
    return float(_entropy_bits(windows).mean())


def scale_consistency(score: Score) -> float:
    """Largest share of melody notes inside one major or (natural) minor scale (MusPy's
    definition; a natural minor scale is a major one's rotation, so the minors never win).
    NaN without notes."""
    _, _, pitches = _melody(score)
    if not len(pitches):
        return float("nan")
    counts = np.bincount(pitches % 12, minlength=12)
    scales = np.array([np.roll(mode, root) for mode in (_MAJOR, _MINOR) for root in range(12)])
    return float((scales @ counts).max() / counts.sum())


def chord_tone_ratio(score: Score, weighted: bool = False) -> float:
    """Share of melody notes (beats if ``weighted``) whose pitch class is a tone of the chord
    sounding at their onset (the last chord starting at or before it, as
    :func:`jazzlstm.music.score.chord_at`; notes before the first chord take the first).
    NaN without notes or without chords."""
    onsets, durations, pitches = _melody(score)
    if not len(pitches) or not score.chords:
        return float("nan")
    chords = sorted(score.chords, key=lambda c: c.start)
    starts = np.array([c.start for c in chords])
    tones = np.zeros((len(chords), 12), dtype=bool)
    for i, chord in enumerate(chords):
        tones[i, [(chord.root + step) % 12 for step in CHORD_TEMPLATES[chord.quality]]] = True
    which = np.clip(np.searchsorted(starts, onsets + _EPS, side="right") - 1, 0, len(chords) - 1)
    inside = tones[which, pitches % 12]
    weights = durations if weighted else np.ones_like(durations)
    total = weights.sum()
    return float(weights[inside].sum() / total) if total > 0 else float("nan")


# --- rhythm ---------------------------------------------------------------------------------------

def note_length_histogram(score: Score) -> np.ndarray:
    """Normalized histogram of note lengths over :data:`LENGTH_CLASSES`."""
    _, durations, _ = _melody(score)
    return _normalized(np.bincount(_length_class(durations), minlength=len(LENGTH_CLASSES)).astype(float))


def ioi_histogram(score: Score) -> np.ndarray:
    """Normalized histogram of inter-onset intervals of consecutive notes (rests included in the
    interval) over :data:`LENGTH_CLASSES`; simultaneous onsets are skipped."""
    onsets, _, _ = _melody(score)
    gaps = np.diff(onsets)
    gaps = gaps[gaps > _EPS]
    return _normalized(np.bincount(_length_class(gaps), minlength=len(LENGTH_CLASSES)).astype(float))


def empty_beat_rate(score: Score) -> float:
    """Share of the piece's beats in which no melody note sounds (MusPy's definition: a beat is
    empty when no note overlaps it; a note ending on a beat line does not reach the next beat).
    The piece has ceil(``Score.end``) beats; NaN if that is 0."""
    n_beats = int(np.ceil(score.end - _EPS))
    if n_beats <= 0:
        return float("nan")
    onsets, durations, _ = _melody(score)
    first = np.floor(onsets + _EPS).astype(int)
    last = np.ceil(onsets + durations - _EPS).astype(int)  # exclusive
    keep = last > first
    marks = np.zeros(n_beats + 1)
    np.add.at(marks, np.clip(first[keep], 0, n_beats), 1)
    np.add.at(marks, np.clip(last[keep], 0, n_beats), -1)
    sounding = np.cumsum(marks)[:n_beats] > 0
    return float(1.0 - sounding.mean())


def groove_consistency(score: Score) -> float:
    """1 - mean Hamming distance (over the bar's grid positions) between the binary onset
    grids of all pairs of bars (the Jazz Transformer's grooving similarity; MusPy compares only
    neighbouring bars). Grids have 12 steps per beat; bars of different lengths are compared
    on the longest bar's grid. Empty bars count. NaN with fewer than two bars."""
    spans = bar_spans(score)
    if len(spans) < 2:
        return float("nan")
    lengths = np.round((spans[:, 1] - spans[:, 0]) * STEPS_PER_BEAT).astype(int)
    width = int(lengths.max())
    grids = np.zeros((len(spans), width), dtype=np.int64)
    onsets, _, _ = _melody(score)
    if len(onsets):
        bars = _bar_index(spans, onsets)
        steps = np.clip(np.round((onsets - spans[bars, 0]) * STEPS_PER_BEAT).astype(int), 0, width - 1)
        grids[bars, steps] = 1
    filled = grids.sum(axis=1)
    hamming = filled[:, None] + filled[None, :] - 2 * (grids @ grids.T)
    upper = np.triu_indices(len(spans), k=1)
    return float(1.0 - (hamming[upper] / width).mean())


# --- all at once ----------------------------------------------------------------------------------

def piece_metrics(score: Score) -> dict[str, float | np.ndarray]:
    """Every metric of one piece, keyed by the names in HISTOGRAM_FEATURES and SCALAR_FEATURES."""
    return {
        "pitch_class_histogram": pitch_class_histogram(score),
        "interval_histogram": interval_histogram(score),
        "note_length_histogram": note_length_histogram(score),
        "ioi_histogram": ioi_histogram(score),
        "n_notes": float(len(score.melody)),
        "pitch_range": pitch_range(score),
        "pitches_per_bar": pitches_per_bar(score),
        "pitch_class_entropy_1": pitch_class_entropy(score, 1),
        "pitch_class_entropy_4": pitch_class_entropy(score, 4),
        "scale_consistency": scale_consistency(score),
        "chord_tone_ratio": chord_tone_ratio(score),
        "empty_beat_rate": empty_beat_rate(score),
        "groove_consistency": groove_consistency(score),
    }


@dataclass(frozen=True)
class FeatureStats:
    """Mean and (population) std of one feature over the pieces where it is defined."""

    mean: float | np.ndarray
    std: float | np.ndarray
    count: int


def is_defined(value: float | np.ndarray) -> bool:
    """False for NaN scalars and all-zero (nothing counted) histograms."""
    value = np.asarray(value, dtype=float)
    return bool(np.all(np.isfinite(value)) and (value.ndim == 0 or value.any()))


def set_metrics(scores: Sequence[Score] | Sequence[dict]) -> dict[str, FeatureStats]:
    """Mean and std of every feature over a set of pieces (Scores or :func:`piece_metrics` dicts);
    histograms are averaged bin by bin. A feature undefined everywhere has NaN mean and std."""
    rows = [s if isinstance(s, dict) else piece_metrics(s) for s in scores]
    stats: dict[str, FeatureStats] = {}
    for name in HISTOGRAM_FEATURES + SCALAR_FEATURES:
        values = [np.asarray(r[name], dtype=float) for r in rows if is_defined(r[name])]
        if values:
            stacked = np.stack(values)
            mean, std = stacked.mean(axis=0), stacked.std(axis=0)
            stats[name] = FeatureStats(float(mean) if mean.ndim == 0 else mean,
                                       float(std) if std.ndim == 0 else std, len(values))
        else:
            stats[name] = FeatureStats(float("nan"), float("nan"), 0)
    return stats
