"""From raw note tracks to a Score: melody-track choice, skyline, chord timeline.

Pure functions over :class:`Track` lists (already in quantized beats); the readers in
``midi_io`` and ``musicxml_io`` feed them, so both formats share one set of rules.

Melody-track heuristic (documented for ``jazzlstm inspect``): a candidate is a pitched
(non-drum) track with at least ``MIN_MELODY_NOTES`` notes. Its score is
``2 * monophony + pitch term + name term + program term + 0.5 * coverage`` where monophony is
the share of notes that do not overlap another note of the track, the pitch term rewards a
high mean pitch ((mean - 55) / 15, clipped to [-1, 1]), the name term is +1 for names such as
lead/melody/solo/sax/trumpet/voice/vocal/flute/guitar and -1.5 for bass/drum/pad/comp/chord/
strings/left, the program term is -1.5 for General MIDI bass programs (32-39), and coverage is
the share of the piece's length the track is sounding. The highest score wins; a user override
(``--melody-track`` index or name) beats the heuristic.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jazzlstm.errors import InputFileError
from jazzlstm.music.harmony import chord_label, recognize_chords
from jazzlstm.music.score import STEPS_PER_BEAT, Chord, Note, Score, TimeSignature, bar_starts, quantize

MIN_MELODY_NOTES = 8
MELODY_CHORD_QUALITIES = ("", "m", "7", "m7", "maj7")
_STEP = 1.0 / STEPS_PER_BEAT
_LEAD_NAMES = re.compile(r"lead|melod|solo|sax|trumpet|horn|voice|vocal|sing|flute|clarinet|violin|fiddle|guitar|soprano|tune|theme|right", re.I)
_NOT_LEAD_NAMES = re.compile(r"bass|drum|perc|pad|comp|chord|string|left|accomp|rhythm", re.I)


@dataclass(frozen=True)
class Track:
    """One source track: its position among the file's note tracks, name, program and notes."""

    index: int
    name: str
    program: int
    is_drum: bool
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class TrackStats:
    """What the melody heuristic saw in one track (shown by ``jazzlstm inspect``)."""

    index: int
    name: str
    program: int
    is_drum: bool
    notes: int
    mean_pitch: float
    monophony: float
    coverage: float
    score: float | None  # None: not a candidate (drums or too few notes)

    def to_dict(self) -> dict:
        return dict(vars(self))


def track_stats(track: Track, piece_end: float) -> TrackStats:
    """Monophony, mean pitch, coverage and the melody score of one track."""
    n = len(track.notes)
    notes = np.array(sorted(track.notes), dtype=float).reshape(-1, 4) if n else np.zeros((0, 4))
    starts, ends, pitches = notes[:, 0], notes[:, 0] + notes[:, 1], notes[:, 2]
    mean_pitch = float(pitches.mean()) if n else 0.0
    monophony = 1.0 - _overlapping_count(starts, ends) / n if n else 0.0
    coverage = _covered_length(starts, ends) / piece_end if piece_end > 0 else 0.0
    score: float | None = None
    if not track.is_drum and n >= MIN_MELODY_NOTES:
        pitch_term = max(-1.0, min(1.0, (mean_pitch - 55.0) / 15.0))
        name_term = 0.0
        if _NOT_LEAD_NAMES.search(track.name):
            name_term = -1.5
        elif _LEAD_NAMES.search(track.name):
            name_term = 1.0
        program_term = -1.5 if 32 <= track.program <= 39 else 0.0
        score = round(2.0 * monophony + pitch_term + name_term + program_term + 0.5 * coverage, 4)
    return TrackStats(track.index, track.name, track.program, track.is_drum, n,
                      round(mean_pitch, 2), round(monophony, 4), round(min(coverage, 1.0), 4), score)


def _overlapping_count(starts: np.ndarray, ends: np.ndarray) -> int:
    """Notes (sorted by onset) that overlap another note of the track by more than a grid step."""
    if len(starts) < 2:
        return 0
    latest_before = np.maximum.accumulate(ends)[:-1]
    overlaps_earlier = np.concatenate([[False], starts[1:] < latest_before - _STEP + 1e-9])
    # Sorted by onset, a note overlaps a later one exactly when the next onset falls inside it.
    overlaps_later = np.concatenate([starts[1:] < ends[:-1] - _STEP + 1e-9, [False]])
    return int(np.count_nonzero(overlaps_earlier | overlaps_later))


def _covered_length(starts: np.ndarray, ends: np.ndarray) -> float:
    """Length of the union of the notes' spans (sorted by onset)."""
    if len(starts) == 0:
        return 0.0
    latest_before = np.concatenate([[-np.inf], np.maximum.accumulate(ends)[:-1]])
    return float(np.clip(ends - np.maximum(starts, latest_before), 0.0, None).sum())


def choose_melody_track(tracks: Sequence[Track], override: int | str | None, path: str,
                        piece_end: float) -> tuple[int, str, list[TrackStats]]:
    """Pick the melody track: (position in ``tracks``, reason, stats of every track)."""
    stats = [track_stats(t, piece_end) for t in tracks]
    if override is not None:
        position = _resolve_override(tracks, override, path)
        return position, f"chosen by --melody-track {override!r}", stats
    candidates = [(s.score, -i, i) for i, s in enumerate(stats) if s.score is not None]
    if not candidates:
        if all(t.is_drum for t in tracks):
            raise InputFileError(path, "drums only (no pitched track)")
        raise InputFileError(path, f"no melody (no pitched track with at least {MIN_MELODY_NOTES} notes)")
    _, _, best = max(candidates)
    s = stats[best]
    reason = (f"highest melody score {s.score:.2f} (monophony {s.monophony:.2f}, "
              f"mean pitch {s.mean_pitch:.1f}, coverage {s.coverage:.2f}"
              + (f", name {s.name!r}" if s.name else "") + ")")
    return best, reason, stats


def _is_bass(track: Track) -> bool:
    """A bass by General MIDI program (32-39) or by name."""
    return 32 <= track.program <= 39 or bool(re.search(r"bass", track.name, re.I))


def _resolve_override(tracks: Sequence[Track], override: int | str, path: str) -> int:
    listing = ", ".join(f"{t.index} {t.name!r}" for t in tracks)
    if isinstance(override, int) or (isinstance(override, str) and override.strip().lstrip("-").isdigit()):
        index = int(override)
        for position, track in enumerate(tracks):
            if track.index == index:
                if track.is_drum:
                    raise InputFileError(path, f"--melody-track {index} is a drum track (tracks: {listing})")
                return position
        raise InputFileError(path, f"--melody-track {index}: no such track (tracks: {listing})")
    wanted = str(override).strip().lower()
    exact = [p for p, t in enumerate(tracks) if t.name.strip().lower() == wanted]
    partial = [p for p, t in enumerate(tracks) if wanted in t.name.lower()]
    matches = exact or partial
    if not matches:
        raise InputFileError(path, f"--melody-track {override!r}: no track of that name (tracks: {listing})")
    return matches[0]


def skyline(notes: Sequence[Note]) -> tuple[Note, ...]:
    """Reduce a polyphonic line to its top voice, monophonic and sorted.

    At each onset the highest pitch wins. A lower note that starts while a higher note is
    still sounding is dropped when the higher note covers more than half of it (it is an
    inner voice); otherwise the higher note is cut at the new onset (legato overlap). Every
    kept note is cut at the next kept onset, so onsets never collide.
    """
    by_onset: dict[float, Note] = {}
    for note in notes:
        if note.duration <= 0:
            continue
        current = by_onset.get(note.start)
        if current is None or note.pitch > current.pitch:
            by_onset[note.start] = note
    kept: list[Note] = []
    for note in (by_onset[k] for k in sorted(by_onset)):
        if kept:
            last = kept[-1]
            if note.start < last.end and note.pitch < last.pitch:
                covered = min(last.end, note.end) - note.start
                if covered > 0.5 * note.duration:
                    continue
        kept.append(note)
    result = []
    for i, note in enumerate(kept):
        end = note.end
        if i + 1 < len(kept):
            end = min(end, kept[i + 1].start)
        result.append(Note(note.start, quantize(end - note.start), note.pitch, note.velocity))
    return tuple(n for n in result if n.duration > 0)


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
    """Chords inferred from the melody alone, one per bar (for unaccompanied files).

    Only the five common qualities are allowed: passing tones in a melody would otherwise
    turn into exotic chords.
    """
    segments = [(s, bar_lines[i + 1] if i + 1 < len(bar_lines) else max(end, s + _STEP))
                for i, s in enumerate(bar_lines)]
    return chord_timeline(melody, segments, MELODY_CHORD_QUALITIES)


def score_from_tracks(tracks: Sequence[Track], time_signatures: Sequence[TimeSignature], tempo: float,
                path: str, melody_track: int | str | None = None, info: dict | None = None) -> Score:
    """Choose the melody, reduce it to one voice and derive chords from everything else."""
    pitched = [t for t in tracks if t.notes]
    if not pitched:
        raise InputFileError(path, "empty (no notes)")
    piece_end = max(n.end for t in pitched for n in t.notes)
    position, reason, stats = choose_melody_track(pitched, melody_track, path, piece_end)
    melody_source = pitched[position]
    melody = skyline(melody_source.notes)
    if not melody:
        raise InputFileError(path, f"no melody (track {melody_source.index} has no sounding notes)")
    melody_keys = {(n.start, n.pitch) for n in melody}
    # Everything pitched except the melody line itself accompanies: other tracks, and the
    # notes under the top voice when melody and chords share one piano track.
    # A mostly monophonic melody track's few leftover notes are overlaps, not chords.
    own_chords = stats[position].monophony < 0.8
    accompaniment: list[Note] = []
    bass: list[Note] = []
    for track, track_stats_ in zip(pitched, stats):
        if track.is_drum or (track is melody_source and not own_chords):
            continue
        kept = [n for n in track.notes if not (track is melody_source and (n.start, n.pitch) in melody_keys)]
        is_bass = track is not melody_source and (_is_bass(track) or track_stats_.mean_pitch < 48)
        (bass if is_bass and track_stats_.monophony >= 0.8 else accompaniment).extend(kept)
    if not accompaniment:  # a bass line alone still outlines the harmony
        accompaniment, bass = bass, []
    sigs = tuple(sorted(time_signatures, key=lambda s: s.start)) or (TimeSignature(0.0),)
    bar_lines = bar_starts(sigs, piece_end)
    chords = chord_timeline(accompaniment, chord_segments(bar_lines, sigs, piece_end), bass=bass,
                            bar_lines=bar_lines)
    chord_source = "accompaniment"
    if not chords:
        chords = melody_chords(melody, bar_lines, piece_end)
        chord_source = "inferred from the melody (no accompaniment)"
    details = dict(info or {})
    details.update({
        "tracks": [s.to_dict() for s in stats],
        "melody_track": melody_source.index,
        "melody_track_name": melody_source.name,
        "melody_reason": reason,
        "chord_source": chord_source,
        "bars": len(bar_lines),
    })
    return Score(melody=melody, chords=chords, time_signatures=sigs, tempo=tempo, info=details)


def describe_chords(chords: Sequence[Chord], limit: int = 16) -> str:
    """'Dm7 G7 Cmaj7 ...' for display."""
    labels = [chord_label(c.root, c.quality) for c in chords]
    more = f" ... (+{len(labels) - limit})" if len(labels) > limit else ""
    return " ".join(labels[:limit]) + more
