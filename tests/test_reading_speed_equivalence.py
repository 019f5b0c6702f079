"""The vectorized reading path (issue 14) gives what the note-by-note code gave.

Each reference below is the earlier implementation, kept here verbatim in substance; the
current functions must match it exactly (floats included) on random input: on the grid and
off it, with ties, overlaps, inner voices and several tracks. Deterministic (seeded), not timed.
"""
from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from jazzlstm.music import midi
from jazzlstm.music.analysis import Track
from jazzlstm.music.chords import chord_segments, chord_timeline
from jazzlstm.music.harmony import CHORD_TEMPLATES, recognize_chords
from jazzlstm.music.melody import skyline, track_stats, tracks_stats
from jazzlstm.music.score import MAX_BARS, STEPS_PER_BEAT, Chord, Note, TimeSignature, bar_starts, quantize

ROOT = Path(__file__).resolve().parents[1]
_STEP = 1.0 / STEPS_PER_BEAT


# --- the earlier implementations ----------------------------------------------------------------


def ref_bar_starts(time_signatures, until):
    sigs = sorted(time_signatures, key=lambda t: t.start) or [TimeSignature(0.0)]
    for sig in sigs:
        if not float(Fraction(sig.numerator * 4, sig.denominator)) >= 1 / STEPS_PER_BEAT:
            raise ValueError("short bar")
    starts, position = [], 0.0
    for i, sig in enumerate(sigs):
        position = max(position, sig.start)
        limit = sigs[i + 1].start if i + 1 < len(sigs) else until
        while position < limit - 1e-9 and position < until - 1e-9:
            if len(starts) >= MAX_BARS:
                raise ValueError("too many bars")
            starts.append(quantize(position))
            position += float(Fraction(sig.numerator * 4, sig.denominator))
    return starts or [0.0]


def ref_chord_segments(bar_lines, time_signatures, end):
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


def ref_recognize_chords(weights, bass_pcs, qualities=None):
    weights = np.asarray(weights, dtype=float).reshape(-1, 12)
    empty = weights.sum(axis=1) <= 0
    vector = np.round(weights * 12) / 12
    total = vector.sum(axis=1, keepdims=True)
    rows, labels = [], []
    for quality in (tuple(CHORD_TEMPLATES) if qualities is None else tuple(qualities)):
        for root in range(12):
            row = np.zeros(12)
            row[[(root + i) % 12 for i in CHORD_TEMPLATES[quality]]] = 1.0
            rows.append(row)
            labels.append((root, quality))
    matrix = np.array(rows)
    roots = np.array([root for root, _ in labels])
    inside = vector @ matrix.T
    missing = (vector <= 0) @ matrix.T / matrix.sum(axis=1)
    score = inside - 0.6 * (total - inside) - 0.25 * total * missing + 0.1 * vector[:, roots]
    bass = np.array([-1 if pc is None else pc % 12 for pc in bass_pcs])[:, None]
    score += 0.3 * total * (roots[None, :] == bass)
    best = np.argmax(score - 1e-9 * np.arange(score.shape[1]), axis=1)
    return [None if is_empty else labels[int(i)] for i, is_empty in zip(best, empty)]


def ref_skyline(notes):
    by_onset = {}
    for note in notes:
        if note.duration <= 0:
            continue
        current = by_onset.get(note.start)
        if current is None or note.pitch > current.pitch:
            by_onset[note.start] = note
    kept = []
    for note in (by_onset[k] for k in sorted(by_onset)):
        if kept:
            last = kept[-1]
            if note.start < last.end and note.pitch < last.pitch:
                if min(last.end, note.end) - note.start > 0.5 * note.duration:
                    continue
        kept.append(note)
    result = []
    for i, note in enumerate(kept):
        end = note.end if i + 1 == len(kept) else min(note.end, kept[i + 1].start)
        result.append(Note(note.start, quantize(end - note.start), note.pitch, note.velocity))
    return tuple(n for n in result if n.duration > 0)


def ref_track_stats(track, piece_end):
    """(notes, mean pitch, monophony, coverage, density-relevant covered length) as before."""
    n = len(track.notes)
    notes = np.array(sorted(track.notes), dtype=float).reshape(-1, 4) if n else np.zeros((0, 4))
    starts, ends, pitches = notes[:, 0], notes[:, 0] + notes[:, 1], notes[:, 2]
    mean_pitch = float(pitches.mean()) if n else 0.0
    overlapping = 0
    if n >= 2:
        latest_before = np.maximum.accumulate(ends)[:-1]
        earlier = np.concatenate([[False], starts[1:] < latest_before - _STEP + 1e-9])
        later = np.concatenate([starts[1:] < ends[:-1] - _STEP + 1e-9, [False]])
        overlapping = int(np.count_nonzero(earlier | later))
    monophony = 1.0 - overlapping / n if n else 0.0
    covered = 0.0
    if n:
        latest = np.concatenate([[-np.inf], np.maximum.accumulate(ends)[:-1]])
        covered = float(np.clip(ends - np.maximum(starts, latest), 0.0, None).sum())
    coverage = covered / piece_end if piece_end > 0 else 0.0
    return n, round(mean_pitch, 2), round(monophony, 4), round(min(coverage, 1.0), 4)


def ref_chord_timeline(notes, segments, bass=(), bar_lines=None):
    seg_start = np.array([s for s, _ in segments], dtype=float)
    seg_stop = np.array([e for _, e in segments], dtype=float)
    weights = np.zeros((len(segments), 12))
    ordered = np.array(sorted(notes), dtype=float).reshape(-1, 4)

    def pairs(rows):
        starts, ends = rows[:, 0], rows[:, 0] + rows[:, 1]
        first = np.searchsorted(seg_stop, starts + 1e-9, side="right")
        last = np.searchsorted(seg_start, ends - 1e-9, side="left") - 1
        counts = np.maximum(last - first + 1, 0)
        idx = np.repeat(np.arange(len(rows)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return idx, np.repeat(first, counts) + offsets

    note_idx, seg_idx = pairs(ordered)
    starts, ends, pitches = ordered[note_idx, 0], ordered[note_idx, 0] + ordered[note_idx, 1], ordered[note_idx, 2]
    overlap = np.minimum(ends, seg_stop[seg_idx]) - np.maximum(starts, seg_start[seg_idx])
    np.add.at(weights, (seg_idx, pitches.astype(int) % 12), overlap)
    comping = weights.copy()
    lowest = np.full(len(segments), 1000.0)
    np.minimum.at(lowest, seg_idx, pitches)
    bass_pc = np.where(lowest < 1000, lowest.astype(int) % 12, -1)
    bass_line = np.array(sorted(bass), dtype=float).reshape(-1, 4)
    if len(bass_line):
        b_idx, b_seg = pairs(bass_line)
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
    labels = ref_recognize_chords(weights, [None if pc < 0 else int(pc) for pc in bass_pc])
    if bar_lines is not None:
        sounding = comping >= 0.1 * comping.max(axis=1, keepdims=True)
        sounding &= comping > 0
        on_bar = np.isin(np.round(seg_start * STEPS_PER_BEAT), np.round(np.asarray(bar_lines) * STEPS_PER_BEAT))
        labels = list(labels)
        for i in range(1, len(labels)):
            if not on_bar[i] and sounding[i].any() and np.array_equal(sounding[i], sounding[i - 1]):
                labels[i] = labels[i - 1]
    current = next((lab for lab in labels if lab is not None), None)
    if current is None:
        return ()
    chords = []
    for (start, stop), label in zip(segments, labels):
        label = label or current
        current = label
        if chords and (chords[-1].root, chords[-1].quality) == label:
            chords[-1] = Chord(chords[-1].start, quantize(stop - chords[-1].start), *label)
        else:
            chords.append(Chord(start, quantize(stop - start), *label))
    return tuple(chords)


def ref_midi_tracks(chunks, tpq):
    """Instruments from each chunk's ordered parts, note by note (without the limit checks)."""
    tracks = []
    for index, (name, program, is_drum, notes) in enumerate(p for chunk in chunks for p in chunk.parts):
        ends = np.minimum(notes[:, 1], notes[:, 0] + (midi.MAX_NOTE_BEATS + 1) * tpq)
        steps = midi.ticks_to_steps(np.stack([notes[:, 0], ends], axis=1), tpq)
        lengths = np.clip(steps[:, 1] - steps[:, 0], 1, midi.MAX_NOTE_BEATS * STEPS_PER_BEAT)
        track_notes = tuple(sorted(map(Note._make, zip((steps[:, 0] / STEPS_PER_BEAT).tolist(),
                                                       (lengths / STEPS_PER_BEAT).tolist(),
                                                       notes[:, 2].tolist(), notes[:, 3].tolist()))))
        tracks.append((index, program, is_drum, track_notes))
    return tracks


# --- random material ----------------------------------------------------------------------------


def _time(rng: random.Random, on_grid: bool, span: float = 32.0) -> float:
    return quantize(rng.uniform(0, span)) if on_grid else round(rng.uniform(0, span), rng.choice((1, 2, 3, 7)))


def random_notes(rng: random.Random, count: int, on_grid: bool = True) -> list[Note]:
    notes = []
    for _ in range(count):
        start = _time(rng, on_grid)
        if notes and rng.random() < 0.3:  # chords and repeated onsets: ties to break
            start = rng.choice(notes).start
        duration = rng.choice((_STEP, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0)) if on_grid else round(rng.uniform(0.01, 3), 3)
        notes.append(Note(start, duration, rng.randint(30, 90), rng.randint(1, 127)))
    if notes and rng.random() < 0.2:
        notes.append(Note(notes[0].start, 0.0, 70, 80))  # a note without length
    return notes


def random_signatures(rng: random.Random) -> tuple[TimeSignature, ...]:
    sigs = [TimeSignature(0.0 if rng.random() < 0.8 else _time(rng, True, 4), rng.randint(1, 13),
                          rng.choice((1, 2, 4, 8, 16, 5, 3)))]
    for _ in range(rng.randint(0, 3)):
        sigs.append(TimeSignature(_time(rng, rng.random() < 0.8), rng.randint(1, 9), rng.choice((2, 4, 8, 6))))
    return tuple(sigs)


SEEDS = range(60)


# --- the comparisons ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_bar_lines_and_segments(seed):
    rng = random.Random(seed)
    sigs = random_signatures(rng)
    until = rng.uniform(0, 200)
    bars = bar_starts(sigs, until)
    assert bars == ref_bar_starts(sigs, until)
    assert chord_segments(bars, sigs, until) == ref_chord_segments(bars, sigs, until)


def test_long_pieces_bar_lines():
    """Thousands of inexact bars (7/5: 5.6 beats) summed as the loop summed them; exactly
    MAX_BARS bars are made, one more is refused."""
    sigs = (TimeSignature(0.0, 7, 5), TimeSignature(1000.3, 3, 5), TimeSignature(9000.0, 5, 8))
    assert bar_starts(sigs, 20_000.0) == ref_bar_starts(sigs, 20_000.0)
    shortest = (TimeSignature(0.0, 1, 16),)
    assert bar_starts(shortest, MAX_BARS / 4) == ref_bar_starts(shortest, MAX_BARS / 4)
    with pytest.raises(ValueError, match="bars"):
        bar_starts(shortest, MAX_BARS / 4 + 0.01)


def test_too_many_bars_is_still_refused():
    with pytest.raises(ValueError, match="bars"):
        bar_starts((TimeSignature(0.0, 1, 16),), MAX_BARS)


@pytest.mark.parametrize("seed", SEEDS)
def test_chord_recognition(seed):
    rng = np.random.default_rng(seed)
    # Weights in twelfths with many exact ties (the same voicing twice), some rows empty.
    rows = rng.integers(0, 4, size=(40, 12)) * rng.integers(0, 2, size=(40, 12)) / 12 * rng.choice([1, 6, 24])
    rows[::7] = rows[1::7][: len(rows[::7])]
    rows[5] = 0
    bass = [None if b < 0 else int(b) for b in rng.integers(-3, 14, size=40)]
    assert recognize_chords(rows, bass) == ref_recognize_chords(rows, bass)
    assert recognize_chords(rows, bass, ("m7", "7", "maj7")) == ref_recognize_chords(rows, bass, ("m7", "7", "maj7"))


@pytest.mark.parametrize("seed", range(5))
def test_chord_recognition_of_many_rows(seed):
    """More rows than one product block of harmony._best_columns, the last block partial."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 4, size=(1001, 12)) * rng.integers(0, 2, size=(1001, 12)) / 12 * rng.choice([1, 6, 24])
    rows[::9] = 0
    bass = [None if b < 0 else int(b) for b in rng.integers(-3, 14, size=1001)]
    assert recognize_chords(rows, bass) == ref_recognize_chords(rows, bass)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("on_grid", [True, False])
def test_skyline(seed, on_grid):
    notes = random_notes(random.Random(seed), 60, on_grid)
    assert skyline(notes) == ref_skyline(notes)
    assert skyline(sorted(notes)) == ref_skyline(sorted(notes))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("on_grid", [True, False])
def test_track_stats(seed, on_grid):
    rng = random.Random(seed)
    tracks = [Track(i, name, rng.choice((0, 33, 65, 90)), i == 3, random_notes(rng, rng.choice((0, 1, 2, 9, 40)), on_grid))
              for i, name in enumerate(("Melody", "Bass", "Piano", "Drums", ""))]
    piece_end = max((n.end for t in tracks for n in t.notes), default=0.0)
    together = tracks_stats(tracks, piece_end)
    for track, stats in zip(tracks, together):
        assert stats == track_stats(track, piece_end)
        assert (stats.notes, stats.mean_pitch, stats.monophony, stats.coverage) == ref_track_stats(track, piece_end)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("on_grid", [True, False])
def test_chord_timeline(seed, on_grid):
    rng = random.Random(seed)
    sigs = random_signatures(rng)
    comp, bass = random_notes(rng, 80, on_grid), random_notes(rng, rng.choice((0, 20)), on_grid)
    end = max(n.end for n in comp)
    bars = bar_starts(sigs, end)
    segments = chord_segments(bars, sigs, end)
    assert chord_timeline(comp, segments, bass=bass, bar_lines=bars) == \
           ref_chord_timeline(comp, segments, bass=bass, bar_lines=bars)
    assert chord_timeline(comp, segments) == ref_chord_timeline(comp, segments)


@pytest.mark.parametrize("path", sorted((ROOT / "midi_samples").glob("*.mid")), ids=lambda p: p.name)
def test_midi_tracks_as_instrument_by_instrument(path):
    tpq, chunks, _ = midi.parse_midi(path.read_bytes())
    tracks = midi.midi_tracks(chunks, tpq, str(path))
    assert [(t.index, t.program, t.is_drum, t.notes) for t in tracks] == ref_midi_tracks(chunks, tpq)
