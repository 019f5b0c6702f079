"""Chord timelines: recognized from accompanying notes, or inferred from a melody alone."""
from __future__ import annotations

import itertools
from typing import Iterable, Sequence

import numpy as np

from jazzlstm.music.chord_model import infer_labels
from jazzlstm.music.harmony import chord_label, recognize_chord_codes
from jazzlstm.music.score import STEPS_PER_BEAT, Chord, Note, TimeSignature

_STEP = 1.0 / STEPS_PER_BEAT


def chord_segments(bar_lines: Sequence[float], time_signatures: Sequence[TimeSignature],
                   end: float) -> list[tuple[float, float]]:
    """Half-bar segments (whole bars in odd meters such as 3/4), covering 0..end."""
    starts, stops = segment_arrays(bar_lines, time_signatures, end)
    return list(zip(starts.tolist(), stops.tolist()))


def segment_arrays(bar_lines: Sequence[float] | np.ndarray, time_signatures: Sequence[TimeSignature],
                   end: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`chord_segments` as two arrays: the segments' starts and stops."""
    bar_lines = np.array(bar_lines, dtype=float)
    n = len(bar_lines)
    if not n:
        return bar_lines, bar_lines.copy()
    stops = np.empty(n)
    stops[:-1] = bar_lines[1:]
    stops[-1] = max(end, float(bar_lines[-1]) + _STEP)
    lengths = stops - bar_lines
    # A bar is halved in an even meter (the signature in force: the last one starting by then,
    # else the first) when it lasts two beats or more.
    halved = lengths >= 2.0 - 1e-9
    sigs = sorted(time_signatures, key=lambda t: t.start)
    if len(sigs) > 1:
        in_force = np.array([s.start for s in sigs]).searchsorted(bar_lines + 1e-9, side="right")
        in_force -= 1
        np.maximum(in_force, 0, out=in_force)
        halved &= np.array([s.numerator % 2 == 0 for s in sigs])[in_force]
    elif sigs[0].numerator % 2:
        return bar_lines, stops
    if not halved.any():
        return bar_lines, stops
    # The middle, quantize()d: np.rint rounds as round() does, to the nearest step, a tie to the even one.
    middles = lengths[halved]
    middles /= 2
    middles += bar_lines[halved]
    middles *= STEPS_PER_BEAT
    np.rint(middles, out=middles)
    middles /= STEPS_PER_BEAT
    counts = halved + 1
    starts, ends = bar_lines.repeat(counts), stops.repeat(counts)
    second = np.add.accumulate(counts)[halved]  # where each second half is, plus one
    second -= 1
    starts[second] = middles
    ends[second - 1] = middles
    return starts, ends


def note_table(notes: Iterable[Note]) -> np.ndarray:
    """Notes sorted, as float rows of (start, duration, pitch, velocity)."""
    return np.array(sorted(notes), dtype=float).reshape(-1, 4)


def sort_table(table: np.ndarray) -> np.ndarray:
    """Rows of (start, duration, pitch, velocity) in the order ``sorted`` gives the Notes."""
    if len(table) < 2:
        return table
    return table.take(np.lexsort((table[:, 3], table[:, 2], table[:, 1], table[:, 0])), axis=0)


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
    return table_timeline(note_table(notes), np.array([s for s, _ in segments], dtype=float),
                          np.array([e for _, e in segments], dtype=float), qualities, note_table(bass),
                          None if bar_lines is None else np.asarray(bar_lines, dtype=float))


def table_timeline(ordered: np.ndarray, seg_start: np.ndarray, seg_stop: np.ndarray,
                   qualities: Sequence[str] | None = None, bass_line: np.ndarray | None = None,
                   bar_lines: np.ndarray | None = None) -> tuple[Chord, ...]:
    """:func:`chord_timeline` on sorted note tables (see :func:`note_table`) and segment arrays."""
    n_segments = len(seg_start)
    if not n_segments:
        return ()
    note_idx, seg_idx, ends = _note_segment_pairs(ordered, seg_start, seg_stop)
    pitches = ordered[:, 2][note_idx]
    overlap = np.minimum(ends[note_idx], seg_stop[seg_idx])
    overlap -= np.maximum(ordered[:, 0][note_idx], seg_start[seg_idx])
    # bincount adds each cell's weights in the pairs' order, as np.add.at does.
    cells = pitches.astype(np.int64)
    cells %= 12
    cells += seg_idx * 12
    comping = np.bincount(cells, weights=overlap, minlength=n_segments * 12).reshape(n_segments, 12)
    lowest = np.empty(n_segments)
    lowest.fill(1000.0)
    np.minimum.at(lowest, seg_idx, pitches)
    bass_pc = lowest.astype(np.int64)
    bass_pc %= 12
    bass_pc[lowest == 1000.0] = -1
    weights = comping
    if bass_line is not None and len(bass_line):
        b_idx, b_seg, _ = _note_segment_pairs(bass_line, seg_start, seg_stop)
        none = len(bass_line)
        first_any = np.full(n_segments, none)
        np.minimum.at(first_any, b_seg, b_idx)
        at_start = bass_line[b_idx, 0] <= seg_start[b_seg] + 1e-9
        first_at_start = np.full(n_segments, none)
        np.minimum.at(first_at_start, b_seg[at_start], b_idx[at_start])
        chosen = np.where(first_at_start < none, first_at_start, first_any)
        walking = chosen < none
        pcs = bass_line[np.minimum(chosen, none - 1), 2].astype(int) % 12
        bass_pc = np.where(walking, pcs, bass_pc)
        rows = walking.nonzero()[0]
        weights = comping.copy()
        weights[rows, pcs[rows]] += 0.5 * (seg_stop[rows] - seg_start[rows])
    codes, labels = recognize_chord_codes(weights, bass_pc, qualities)
    if bar_lines is not None:
        codes = _hold_within_bars(codes, seg_start, comping, bar_lines)
    return _merge_codes(seg_start, seg_stop, codes, labels)


_PC_BITS = 1 << np.arange(12, dtype=np.int64)


def _hold_within_bars(codes: np.ndarray, seg_start: np.ndarray, comping: np.ndarray, bar_lines: np.ndarray
                      ) -> np.ndarray:
    """Carry a chord over a mid-bar segment whose comping pitch classes did not change."""
    if len(codes) < 2:
        return codes
    # A pitch class "sounds" when it has at least a tenth of the segment's strongest weight,
    # so a legato overhang of a few ticks does not count as a new tone.
    sounding = comping >= 0.1 * np.maximum.reduce(comping, axis=1, keepdims=True)
    sounding &= comping > 0
    tones = sounding @ _PC_BITS  # the sounding pitch classes as 12 bits
    held = np.zeros(len(codes), dtype=bool)
    np.equal(tones[1:], tones[:-1], out=held[1:])
    held[tones == 0] = False
    candidates = held.nonzero()[0]
    if not len(candidates):
        return codes
    # Not a segment that starts on a bar line's grid step (few are held: each tested alone).
    marks = set(np.rint(np.asarray(bar_lines, dtype=float) * STEPS_PER_BEAT).tolist())
    on_bar = [i for i, step in zip(candidates.tolist(), np.rint(seg_start[candidates] * STEPS_PER_BEAT).tolist())
              if step in marks]
    if on_bar:
        held[on_bar] = False
    # A held segment takes the chord of the last segment before it that was not held.
    source = np.arange(len(codes))
    source[held] = 0
    return codes[np.maximum.accumulate(source)]


def _note_segment_pairs(notes: np.ndarray, seg_start: np.ndarray, seg_stop: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(note index, segment index) for every note (rows of start, duration, ...) and every
    sorted segment it sounds in for more than an instant; and every note's end."""
    starts = notes[:, 0]
    ends = starts + notes[:, 1]
    first = seg_stop.searchsorted(starts + 1e-9, side="right")
    counts = seg_start.searchsorted(ends - 1e-9, side="left")
    counts -= first
    np.maximum(counts, 0, out=counts)
    note_idx = np.arange(len(notes)).repeat(counts)
    # Segment index: the note's first segment, plus the pair's place among the note's pairs.
    shift = np.add.accumulate(counts)
    shift -= counts
    shift -= first
    return note_idx, np.arange(len(note_idx)) - shift.repeat(counts), ends


def _merge(segments: Sequence[tuple[float, float]], labels: Sequence[tuple[int, str] | None]) -> tuple[Chord, ...]:
    """One chord per run of equal labels (a None label keeps the chord before it)."""
    codes_of = {tuple(lab): code for code, lab in enumerate(dict.fromkeys(tuple(lab) for lab in labels if lab is not None))}
    codes = np.array([-1 if lab is None else codes_of[tuple(lab)] for lab in labels], dtype=np.int64)
    return _merge_codes(np.array([s for s, _ in segments], dtype=float), np.array([e for _, e in segments], dtype=float),
                        codes, tuple(codes_of))


def _merge_codes(seg_start: np.ndarray, seg_stop: np.ndarray, codes: np.ndarray,
                 labels: Sequence[tuple[int, str]]) -> tuple[Chord, ...]:
    """:func:`_merge` with labels as indices into ``labels`` (-1: none)."""
    n = len(codes)
    if not n:
        return ()
    if np.minimum.reduce(codes) < 0:
        known = codes >= 0
        if not known.any():
            return ()
        # A segment without a label keeps the one before it; leading ones take the first label.
        codes = codes[np.maximum.accumulate(np.where(known, np.arange(n), known.argmax()))]
    # The runs of equal codes, found as arrays: a large file has thousands of segments.
    change = np.empty(n + 1, dtype=bool)
    change[0] = change[n] = True
    np.not_equal(codes[1:], codes[:-1], out=change[1:n])
    bounds = change.nonzero()[0]
    firsts = bounds[:-1]
    starts = seg_start.take(firsts)
    # Each run's length snapped to the grid (np.rint: to the nearest step, a tie to the even one).
    lengths = seg_stop.take(bounds[1:] - 1)
    lengths -= starts
    lengths *= STEPS_PER_BEAT
    np.rint(lengths, out=lengths)
    lengths /= STEPS_PER_BEAT
    roots, qualities = zip(*map(labels.__getitem__, codes.take(firsts).tolist()))
    # tuple.__new__ straight from C: what Chord._make does, without a Python call per chord.
    return tuple(map(tuple.__new__, itertools.repeat(Chord), zip(starts.tolist(), lengths.tolist(), roots, qualities)))


def melody_chords(melody: Sequence[Note], bar_lines: Sequence[float], end: float) -> tuple[Chord, ...]:
    """Chords inferred from the melody alone (for unaccompanied files).

    A key-aware hidden Markov model (:mod:`jazzlstm.music.chord_model`): one state per beat out
    of 12 roots x 7 qualities (major, minor, 7, m7, maj7, m7b5, dim7), decoded by
    forward-backward (each beat's most probable root, one quality per run of a root) from the
    melody's pitch classes (weighted by length and metric position), transition priors
    learned from progressions per kind of boundary (bar line, half bar, beat), and a prior
    towards chords of the melody's key. Equal neighbours are merged.
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
