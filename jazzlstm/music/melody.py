"""Which track carries the melody, and its top voice.

Melody-track heuristic (shown per track by ``jazzlstm inspect``). A candidate is a pitched
(non-drum) track with at least ``MIN_MELODY_NOTES`` notes whose General MIDI program is not
percussive or a sound effect. Its score weighs together, as a musician listening would:

* **coverage** (x3): the share of the piece's length the track is sounding: the tune is
  heard all the way through, a horn's four-bar fill is not;
* **monophony** (x1.5): the share of notes that overlap no other note of the track;
* **register**: (mean pitch - 55) / 15, clipped to [-1, 1]: melodies sit above the bass;
* **density**: -0.5 when the track plays fewer than 0.15 or more than 6 notes per beat it
  sounds (held pads, trills and drum-like repetition);
* **name**: +2 for names that say melody (melody, vocal, voice, chant, lead vocal, tune,
  theme), +0.75 for lead instruments (lead, solo, sax, trumpet, flute, guitar, violin ...),
  -1.5 for accompaniment names (bass, drums, pad, comp, chord, strings, left, rhythm, pizz);
* **program**: -1.5 for basses (GM 32-39), -1 for pads (88-95) and pizzicato or timpani
  (45, 47), -0.5 for string and choir ensembles (48-55).

The highest score wins; ``--melody-track`` (index or name) overrides it, and
``--melody-track all`` (alias ``--melody all``) also keeps every other melodic line of the file
(:func:`melodic_lines`), as separate training sequences over the same chords, as Magenta
extracts every melody of an arrangement.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from jazzlstm.errors import InputFileError
from jazzlstm.music.score import STEPS_PER_BEAT, Note, quantize

if TYPE_CHECKING:
    from jazzlstm.music.analysis import Track

MIN_MELODY_NOTES = 8
_STEP = 1.0 / STEPS_PER_BEAT
_MELODY_NAMES = re.compile(r"melod|vocal|voice|\bvox\b|chant|sing|tune|theme|lead vocal", re.I)
_LEAD_NAMES = re.compile(r"lead|solo|sax|trumpet|horn|flute|clarinet|oboe|violin|fiddle|guitar|soprano|right", re.I)
_NOT_LEAD_NAMES = re.compile(r"bass|drum|perc|pad|comp|chord|string|left|accomp|rhythm|pizz", re.I)
NOT_MELODIC_PROGRAMS = frozenset(range(96, 104)) | frozenset(range(112, 128))
"""General MIDI programs that never carry a tune: sound effects (96-103, 120-127) and
percussive instruments (112-119: tinkle bell, agogo, steel drums, woodblock, taiko ...)."""
COVERAGE_WEIGHT, MONOPHONY_WEIGHT = 3.0, 1.5
ALL_MELODIES = "all"
"""``--melody-track all``: every melodic line of a file becomes a training sequence of its own."""
LINE_MONOPHONY, LINE_COVERAGE, LINE_LOWEST_MEAN_PITCH = 0.7, 0.2, 52.0
"""What a track needs to count as a melodic line of its own (see :func:`melodic_lines`)."""
DENSITY_RANGE = (0.15, 6.0)


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
    covered = _covered_length(starts, ends)
    coverage = covered / piece_end if piece_end > 0 else 0.0
    score: float | None = None
    if not track.is_drum and n >= MIN_MELODY_NOTES and track.program not in NOT_MELODIC_PROGRAMS:
        score = round(COVERAGE_WEIGHT * min(coverage, 1.0) + MONOPHONY_WEIGHT * monophony
                      + max(-1.0, min(1.0, (mean_pitch - 55.0) / 15.0))
                      + _density_term(n, covered) + _name_term(track.name) + _program_term(track.program), 4)
    return TrackStats(track.index, track.name, track.program, track.is_drum, n,
                      round(mean_pitch, 2), round(monophony, 4), round(min(coverage, 1.0), 4), score)


def _name_term(name: str) -> float:
    if _NOT_LEAD_NAMES.search(name) and not _MELODY_NAMES.search(name):
        return -1.5
    if _MELODY_NAMES.search(name):
        return 2.0
    return 0.75 if _LEAD_NAMES.search(name) else 0.0


def _program_term(program: int) -> float:
    if 32 <= program <= 39:
        return -1.5
    if 88 <= program <= 95 or program in (45, 47):
        return -1.0
    return -0.5 if 48 <= program <= 55 else 0.0


def _density_term(notes: int, covered: float) -> float:
    per_beat = notes / covered if covered > 0 else 0.0
    return 0.0 if DENSITY_RANGE[0] <= per_beat <= DENSITY_RANGE[1] else -0.5


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
    if override is not None and override != ALL_MELODIES:
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


def melodic_lines(tracks: Sequence[Track], stats: Sequence[TrackStats], chosen: int) -> list[int]:
    """Positions of the tracks, besides ``chosen``, that carry a melodic line of their own
    (for ``--melody-track all``): candidates that are mostly monophonic, sound through a fair
    share of the piece and sit above the bass."""
    return [i for i, (track, s) in enumerate(zip(tracks, stats))
            if i != chosen and s.score is not None and s.monophony >= LINE_MONOPHONY
            and s.coverage >= LINE_COVERAGE and s.mean_pitch >= LINE_LOWEST_MEAN_PITCH and not is_bass(track)]


def is_bass(track: Track) -> bool:
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
