"""Chord timelines: recognized from accompanying notes, or inferred from a melody alone."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from jazzlstm.music.chord_model import infer_labels
from jazzlstm.music.harmony import chord_label, recognize_chords
from jazzlstm.music.score import STEPS_PER_BEAT, Chord, Note, TimeSignature, quantize

_STEP = 1.0 / STEPS_PER_BEAT


def chord_segments(bar_lines: Sequence[float], time_signatures: Sequence[TimeSignature],
                   end: float) -> list[tuple[float, float]]:
    """Half-bar segments (whole bars in odd meters such as 3/4), covering 0..end."""
    sigs = sorted(time_signatures, key=lambda t: t.start)
    segments = []
    for i, start in enumerate(bar_lines):
        stop = bar_lines[i + 1] if i + 1 < len(bar_lines) else max(end, start + _STEP)
        sig = next((s for s in reversed(sigs) if s.start <= start + 1e-9), sigs[0])
        if sig.numerator % 2 == 0 and stop - start >= 2.0 - 1e-9:
            middle = quantize(start + (stop - start) / 2)
            segments += [(start, middle), (middle, stop)]
        else:
            segments.append((start, stop))
    return segments


def chord_timeline(notes: Sequence[Note], segments: Sequence[tuple[float, float]],
                   qualities: Sequence[str] | None = None, bass: Sequence[Note] = (),
                   bar_lines: Sequence[float] | None = None) -> tuple[Chord, ...]:
    """Recognize one chord per segment from the duration-weighted pitch classes sounding in it.

    ``bass`` notes (a bass track) do not vote with their full length: a walking line passes
    through scale tones. The bass note sounding at the segment's start (else its first one)
    names the preferred root and adds half a segment of weight. Without a bass track the
    lowest note sounding is the preferred root. Segments where nothing sounds keep the
    previous chord; equal neighbours are merged. Segments must be sorted and not overlap.

    With ``bar_lines``, a segment that starts inside a bar and whose accompaniment sounds
    the same pitch classes as the segment before it keeps that segment's chord: the comping
    did not change, only the walking bass moved on (to the fifth or a passing tone on beat
    3, which would otherwise be read as a new root: a rootless Dm7 voicing F-A-C-E over an
    A in the bass reads as Fmaj7).
    """
    if not segments:
        return ()
    seg_start = np.array([s for s, _ in segments], dtype=float)
    seg_stop = np.array([e for _, e in segments], dtype=float)
    weights = np.zeros((len(segments), 12))
    ordered = np.array(sorted(notes), dtype=float).reshape(-1, 4)
    note_idx, seg_idx = _note_segment_pairs(ordered, seg_start, seg_stop)
    starts, ends, pitches = ordered[note_idx, 0], ordered[note_idx, 0] + ordered[note_idx, 1], ordered[note_idx, 2]
    overlap = np.minimum(ends, seg_stop[seg_idx]) - np.maximum(starts, seg_start[seg_idx])
    np.add.at(weights, (seg_idx, pitches.astype(int) % 12), overlap)
    comping = weights.copy()
    lowest = np.full(len(segments), 1000.0)
    np.minimum.at(lowest, seg_idx, pitches)
    bass_pc = np.where(lowest < 1000, lowest.astype(int) % 12, -1)
    bass_line = np.array(sorted(bass), dtype=float).reshape(-1, 4)
    if len(bass_line):
        b_idx, b_seg = _note_segment_pairs(bass_line, seg_start, seg_stop)
        none = len(bass_line)
        first_any = np.full(len(segments), none)
        np.minimum.at(first_any, b_seg, b_idx)
        at_start = bass_line[b_idx, 0] <= seg_start[b_seg] + 1e-9
        first_at_start = np.full(len(segments), none)
        np.minimum.at(first_at_start, b_seg[at_start], b_idx[at_start])
        chosen = np.where(first_at_start < none, first_at_start, first_any)
        walking = chosen < none
        pcs = bass_line[np.minimum(chosen, none - 1), 2].astype(int) % 12
        bass_pc = np.where(walking, pcs, bass_pc)
        rows = np.flatnonzero(walking)
        weights[rows, pcs[rows]] += 0.5 * (seg_stop[rows] - seg_start[rows])
    labels = recognize_chords(weights, [None if pc < 0 else int(pc) for pc in bass_pc], qualities)
    if bar_lines is not None:
        labels = _hold_within_bars(labels, seg_start, comping, bar_lines)
    return _merge(segments, labels)


def _hold_within_bars(labels: list, seg_start: np.ndarray, comping: np.ndarray, bar_lines: Sequence[float]) -> list:
    """Carry a chord over a mid-bar segment whose comping pitch classes did not change."""
    # A pitch class "sounds" when it has at least a tenth of the segment's strongest weight,
    # so a legato overhang of a few ticks does not count as a new tone.
    sounding = comping >= 0.1 * comping.max(axis=1, keepdims=True)
    sounding &= comping > 0
    on_bar_line = np.isin(np.round(seg_start * STEPS_PER_BEAT), np.round(np.asarray(bar_lines) * STEPS_PER_BEAT))
    held = list(labels)
    for i in range(1, len(held)):
        if not on_bar_line[i] and sounding[i].any() and np.array_equal(sounding[i], sounding[i - 1]):
            held[i] = held[i - 1]
    return held


def _note_segment_pairs(notes: np.ndarray, seg_start: np.ndarray, seg_stop: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(note index, segment index) for every note (rows of start, duration, ...) and every
    sorted segment it sounds in for more than an instant."""
    starts, ends = notes[:, 0], notes[:, 0] + notes[:, 1]
    first = np.searchsorted(seg_stop, starts + 1e-9, side="right")
    last = np.searchsorted(seg_start, ends - 1e-9, side="left") - 1
    counts = np.maximum(last - first + 1, 0)
    note_idx = np.repeat(np.arange(len(notes)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return note_idx, np.repeat(first, counts) + offsets


def _merge(segments: Sequence[tuple[float, float]], labels: Sequence[tuple[int, str] | None]) -> tuple[Chord, ...]:
    first = next((lab for lab in labels if lab is not None), None)
    if first is None:
        return ()
    chords: list[Chord] = []
    current = first
    for (start, stop), label in zip(segments, labels):
        label = label or current
        current = label
        if chords and (chords[-1].root, chords[-1].quality) == label:
            last = chords[-1]
            chords[-1] = Chord(last.start, quantize(stop - last.start), last.root, last.quality)
        else:
            chords.append(Chord(start, quantize(stop - start), label[0], label[1]))
    return tuple(chords)


def melody_chords(melody: Sequence[Note], bar_lines: Sequence[float], end: float) -> tuple[Chord, ...]:
    """Chords inferred from the melody alone (for unaccompanied files).

    A key-aware hidden Markov model (:mod:`jazzlstm.music.chord_model`): one chord per half
    bar (per bar in meters of fewer than 4 beats) out of 12 roots x 7 qualities (major,
    minor, 7, m7, maj7, m7b5, dim7), decoded with Viterbi from the melody's pitch classes
    (weighted by length and metric position), transition priors learned from progressions,
    and a prior towards chords of the melody's key. Equal neighbours are merged.
    """
    if not melody:
        return ()
    segments, labels = infer_labels(melody, bar_lines, end)
    return chords_from_labels(segments, labels)


def chords_from_labels(segments: Sequence[tuple[float, float, str]], labels: Sequence[tuple[int, str]]
                       ) -> tuple[Chord, ...]:
    """A chord timeline from (start, stop, ...) segments and one (root, quality) each."""
    return _merge([(start, stop) for start, stop, *_ in segments], labels)


def describe_chords(chords: Sequence[Chord], limit: int = 16) -> str:
    """'Dm7 G7 Cmaj7 ...' for display."""
    labels = [chord_label(c.root, c.quality) for c in chords]
    more = f" ... (+{len(labels) - limit})" if len(labels) > limit else ""
    return " ".join(labels[:limit]) + more
