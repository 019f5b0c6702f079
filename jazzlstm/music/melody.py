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

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Sequence

import numpy as np

from jazzlstm.errors import InputFileError
from jazzlstm.music.score import STEPS_PER_BEAT, Note

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
    return tracks_stats([track], piece_end)[0]


def tracks_stats(tracks: Sequence[Track], piece_end: float) -> list[TrackStats]:
    """:func:`track_stats` of every track, computed over all their notes at once."""
    tables = [t.table for t in tracks]
    table = np.concatenate(tables) if len(tables) > 1 else tables[0] if tables else np.zeros((0, 4))
    return table_stats(tracks, table, [len(t) for t in tables], piece_end)


def table_stats(tracks: Sequence[Track], table: np.ndarray, counts: Sequence[int], piece_end: float) -> list[TrackStats]:
    """:func:`tracks_stats` with the tracks' tables given as one: ``counts[i]`` rows of track i,
    track after track."""
    bounds = []  # (first, stop) of each track with notes
    first = 0
    for n in counts:
        if n:
            bounds.append((first, first + n))
            first += n
    starts, ends = table[:, 0], table[:, 0] + table[:, 1]
    latest = np.empty_like(ends)  # the latest end so far, within each track
    for first, stop in bounds:
        np.maximum.accumulate(ends[first:stop], out=latest[first:stop])
    firsts = [first for first, _ in bounds]
    # Overlapping notes (by more than a grid step), sorted by onset: a note overlaps an
    # earlier one when it starts before the latest end so far, and a later one exactly when
    # the next onset falls inside it.
    overlapping = np.zeros(len(table), dtype=bool)
    np.less(starts[1:], latest[:-1] - _STEP + 1e-9, out=overlapping[1:])
    later = np.zeros(len(table), dtype=bool)
    np.less(starts[1:], ends[:-1] - _STEP + 1e-9, out=later[:-1])
    later[[stop - 1 for _, stop in bounds]] = False  # a track's last note: no later note of its own
    overlapping[firsts] = False
    overlapping |= later
    # Covered length: the part of each note past the latest end before it in its track.
    latest_before = np.empty_like(latest)
    latest_before[1:] = latest[:-1]
    latest_before[firsts] = -np.inf
    spans = np.maximum(ends - np.maximum(starts, latest_before), 0.0)
    sums: list[tuple[float, int]] = []
    if bounds:
        sums = list(zip(np.add.reduceat(table[:, 2], firsts).tolist(),
                        np.add.reduceat(overlapping, firsts, dtype=np.int64).tolist()))
    stats = []
    next_sum = iter(sums)
    first = 0
    for track, n in zip(tracks, counts):
        if n:
            pitch_sum, overlaps = next(next_sum)
            # Summed per track, as one array each: pairwise summation keeps its float result.
            stats.append(_stats(track, n, pitch_sum / n, 1.0 - overlaps / n,
                                float(np.add.reduce(spans[first:first + n])), piece_end))
            first += n
        else:
            stats.append(_stats(track, 0, 0.0, 0.0, 0.0, piece_end))
    return stats


def _stats(track: Track, n: int, mean_pitch: float, monophony: float, covered: float, piece_end: float) -> TrackStats:
    coverage = covered / piece_end if piece_end > 0 else 0.0
    score: float | None = None
    if not track.is_drum and n >= MIN_MELODY_NOTES and track.program not in NOT_MELODIC_PROGRAMS:
        score = round(COVERAGE_WEIGHT * min(coverage, 1.0) + MONOPHONY_WEIGHT * monophony
                      + max(-1.0, min(1.0, (mean_pitch - 55.0) / 15.0))
                      + _density_term(n, covered) + _name_term(track.name) + _program_term(track.program), 4)
    return TrackStats(track.index, track.name, track.program, track.is_drum, n,
                      round(mean_pitch, 2), round(monophony, 4), round(min(coverage, 1.0), 4), score)


@lru_cache(maxsize=4096)
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


def choose_melody_track(tracks: Sequence[Track], override: int | str | None, path: str,
                        piece_end: float, stats: list[TrackStats] | None = None) -> tuple[int, str, list[TrackStats]]:
    """Pick the melody track: (position in ``tracks``, reason, stats of every track, computed
    here unless given)."""
    if stats is None:
        stats = tracks_stats(tracks, piece_end)
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
    return 32 <= track.program <= 39 or _bass_name(track.name)


@lru_cache(maxsize=4096)
def _bass_name(name: str) -> bool:
    return _BASS_NAME.search(name) is not None


_BASS_NAME = re.compile("bass", re.I)


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

    At each onset the highest pitch wins (the first of equal ones). A lower note that starts
    while a higher note is still sounding is dropped when the higher note covers more than
    half of it (it is an inner voice); otherwise the higher note is cut at the new onset
    (legato overlap). Every kept note is cut at the next kept onset, so onsets never collide.
    """
    return table_notes(skyline_table(np.array(notes, dtype=float).reshape(-1, 4)))


def table_notes(table: np.ndarray) -> tuple[Note, ...]:
    """Rows of (start, duration, pitch, velocity) as Notes (pitch and velocity as ints)."""
    starts, durations = table[:, :2].T.tolist()
    pitches, velocities = table[:, 2:].T.astype(np.int64).tolist()
    # tuple.__new__ straight from C: what Note._make does, without a Python call per note.
    return tuple(map(tuple.__new__, itertools.repeat(Note), zip(starts, durations, pitches, velocities)))


def skyline_table(table: np.ndarray) -> np.ndarray:
    """:func:`skyline` on rows of (start, duration, pitch, velocity), in the notes' order."""
    if not len(table):
        return table
    if not np.minimum.reduce(table[:, 1]) > 0:  # (a NaN too)
        table = table.compress(table[:, 1] > 0, axis=0)
        if not len(table):
            return table
    # By onset, highest pitch first; the sort is stable, so the first of equal notes leads.
    order = np.lexsort((-table[:, 2], table[:, 0]))
    onsets = table[:, 0][order]
    leads = np.empty(len(order), dtype=bool)
    leads[0] = True
    np.not_equal(onsets[1:], onsets[:-1], out=leads[1:])
    table = table.take(order[leads], axis=0)  # rows by take(): several times cheaper than table[...]
    starts, durations, pitches = table[:, 0], table[:, 1], table[:, 2]
    ends = starts + durations
    # An inner voice: starts under the last kept note, lower, and covered for over half its length.
    inner = ((starts[1:] < ends[:-1]) & (pitches[1:] < pitches[:-1])
             & (np.minimum(ends[:-1], ends[1:]) - starts[1:] > 0.5 * durations[1:]))
    if inner.any():
        # Tested against the note before, this holds up to the first drop; from there the
        # last kept note may be another one, so that stretch is walked note by note.
        table = table.take(_kept_after_drops(starts.tolist(), ends.tolist(), durations.tolist(), pitches.tolist(),
                                             int(inner.argmax()) + 1), axis=0)
        starts, ends = table[:, 0], table[:, 0] + table[:, 1]
    # Each note is cut at the next onset, and its length snapped to the grid.
    cut = ends.copy()
    np.minimum(ends[:-1], starts[1:], out=cut[:-1])
    lengths = np.rint((cut - starts) * STEPS_PER_BEAT) / STEPS_PER_BEAT
    kept = table.copy()
    kept[:, 1] = lengths
    return kept if np.minimum.reduce(lengths) > 0 else kept.compress(lengths > 0, axis=0)


def _kept_after_drops(starts: list[float], ends: list[float], durations: list[float], pitches: list[float],
                      first_drop: int) -> list[int]:
    """Indices of the notes the skyline keeps, all of them kept before ``first_drop``."""
    kept = list(range(first_drop))
    last = first_drop - 1
    for i in range(first_drop, len(starts)):
        if starts[i] < ends[last] and pitches[i] < pitches[last] and \
                min(ends[last], ends[i]) - starts[i] > 0.5 * durations[i]:
            continue
        kept.append(i)
        last = i
    return kept
