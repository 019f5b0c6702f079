"""From raw note tracks to a Score: the melody (see :mod:`jazzlstm.music.melody`), its chords
(see :mod:`jazzlstm.music.chords`).

Pure functions over :class:`Track` lists (already in quantized beats); the readers in
``music.midi`` and ``music.musicxml`` feed them, so both formats share one set of rules.
The work is done on note tables (float rows of start, duration, pitch, velocity, sorted as
the Notes sort), a few array operations per file rather than a few per note.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from jazzlstm.errors import InputFileError
from jazzlstm.music.chords import melody_chords, segment_arrays, sort_table, table_timeline
from jazzlstm.music.melody import (ALL_MELODIES, choose_melody_track, is_bass, melodic_lines, skyline_table,
                                   table_notes, table_stats)
from jazzlstm.music.score import Note, Score, TimeSignature, bar_start_array


class Track:
    """One source track: its position among the file's note tracks, name, program and notes.

    Built from Notes, or from a note table (rows of start, duration, pitch, velocity in
    beats, sorted): a reader's tracks stay tables, and the Notes of the few that become the
    melody are the only ones made.
    """

    def __init__(self, index: int, name: str, program: int, is_drum: bool,
                 notes: Sequence[Note] | None = None, *, table: np.ndarray | None = None):
        if (notes is None) == (table is None):
            raise TypeError("a Track takes notes or a table")
        self.index, self.name, self.program, self.is_drum = index, name, program, is_drum
        self._notes = None if notes is None else tuple(notes)
        self._table = table
        self._joint: _Joint | None = None

    @property
    def notes(self) -> tuple[Note, ...]:
        if self._notes is None:
            self._notes = table_notes(self._table)
        return self._notes

    @property
    def table(self) -> np.ndarray:
        """The notes, sorted, as float rows of (start, duration, pitch, velocity)."""
        if self._table is None:
            self._table = np.array(sorted(self._notes), dtype=float).reshape(-1, 4)
        return self._table

    @property
    def given_table(self) -> np.ndarray:
        """The notes as float rows in the order they were given (the skyline's tie order)."""
        if self._table is not None:
            return self._table
        return np.array(self._notes, dtype=float).reshape(-1, 4)

    def __len__(self) -> int:
        return len(self._notes) if self._table is None else len(self._table)

    def __repr__(self) -> str:
        return (f"Track(index={self.index!r}, name={self.name!r}, program={self.program!r}, "
                f"is_drum={self.is_drum!r}, notes={len(self)})")


class _Joint:
    """Tracks whose tables are consecutive slices of one table, in order, covering it (a reader
    made them so); ``keys``: per row of it an integer that orders rows as their Notes sort."""

    __slots__ = ("tracks", "table", "keys", "counts")

    def __init__(self, tracks: list[Track], table: np.ndarray, keys: np.ndarray | None):
        self.tracks, self.table, self.keys = tracks, table, keys
        self.counts = [len(t) for t in tracks]


def joint_tracks(tracks: Sequence[Track], table: np.ndarray, keys: np.ndarray | None = None) -> list[Track]:
    """``tracks``, marked as consecutive slices of ``table`` (each non-empty, together all of it):
    :func:`score_from_tracks` then works on that one table instead of joining theirs again.
    ``keys`` (optional): per row an integer that orders the rows as their Notes sort."""
    tracks = list(tracks)
    joint = _Joint(tracks, table, keys)
    for track in tracks:
        track._joint = joint
    return tracks


def score_from_tracks(tracks: Sequence[Track], time_signatures: Sequence[TimeSignature], tempo: float,
                      path: str, melody_track: int | str | None = None, info: dict | None = None) -> Score:
    """Choose the melody, reduce it to one voice and derive chords from everything else."""
    pitched = [t for t in tracks if len(t)]
    if not pitched:
        raise InputFileError(path, "empty (no notes)")
    joint = pitched[0]._joint
    if joint is not None and joint.tracks == pitched:
        every, keys, counts = joint.table, joint.keys, joint.counts
        tables = [t._table for t in pitched]
    else:
        tables = [t.table for t in pitched]
        every = np.concatenate(tables) if len(tables) > 1 else tables[0]
        keys, counts = None, [len(t) for t in tables]
    piece_end = float(np.maximum.reduce(every[:, 0] + every[:, 1]))
    stats = table_stats(pitched, every, counts, piece_end)
    position, reason, stats = choose_melody_track(pitched, melody_track, path, piece_end, stats)
    melody_source = pitched[position]
    top = skyline_table(melody_source.given_table)
    if not len(top):
        raise InputFileError(path, f"no melody (track {melody_source.index} has no sounding notes)")
    melody = table_notes(top)
    # Everything pitched except the melody line itself accompanies: other tracks, and the
    # notes under the top voice when melody and chords share one piano track.
    # A mostly monophonic melody track's few leftover notes are overlaps, not chords.
    own_chords = stats[position].monophony < 0.8
    accompaniment: list[tuple[int, np.ndarray, np.ndarray | None]] = []
    bass: list[tuple[int, np.ndarray, np.ndarray | None]] = []
    first = 0
    for track, table, n, track_stats_ in zip(pitched, tables, counts, stats):
        first += n
        if track.is_drum or (track is melody_source and not own_chords):
            continue
        if track is melody_source:
            accompaniment.append((first - n, table, ~_in_line(table, top)))
            continue
        low_line = is_bass(track) or track_stats_.mean_pitch < 48
        (bass if low_line and track_stats_.monophony >= 0.8 else accompaniment).append((first - n, table, None))
    if not any(len(t) if keep is None else keep.any() for _, t, keep in accompaniment):
        accompaniment, bass = bass, []  # a bass line alone still outlines the harmony
    sigs = tuple(sorted(time_signatures, key=lambda s: s.start)) or (TimeSignature(0.0),)
    bar_lines = bar_start_array(sigs, piece_end)
    seg_start, seg_stop = segment_arrays(bar_lines, sigs, piece_end)
    chords = table_timeline(_joined(accompaniment, every, keys), seg_start, seg_stop,
                            bass_line=_joined(bass, every, keys), bar_lines=bar_lines)
    chord_source = "accompaniment"
    if not chords:
        chords = melody_chords(melody, bar_lines.tolist(), piece_end)
        chord_source = "inferred from the melody (no accompaniment)"
    details = dict(info or {})
    if melody_track == ALL_MELODIES:
        lines = melodic_lines(pitched, stats, position)
        details["other_melody_tracks"] = [pitched[i].index for i in lines]
        details["other_melodies"] = [[list(n) for n in table_notes(skyline_table(pitched[i].given_table))] for i in lines]
    details.update({
        "tracks": [s.to_dict() for s in stats],
        "melody_track": melody_source.index,
        "melody_track_name": melody_source.name,
        "melody_reason": reason,
        "chord_source": chord_source,
        "bars": len(bar_lines),
    })
    return Score(melody=melody, chords=chords, time_signatures=sigs, tempo=tempo, info=details)


def _in_line(table: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Which rows of ``table`` share onset and pitch with a note of ``line`` (one note per onset, sorted)."""
    at = np.minimum(line[:, 0].searchsorted(table[:, 0]), len(line) - 1)
    return (line[:, 0][at] == table[:, 0]) & (line[:, 2][at] == table[:, 2])  # column, then rows: cheaper


def _joined(parts: list[tuple[int, np.ndarray, np.ndarray | None]], every: np.ndarray,
            keys: np.ndarray | None) -> np.ndarray:
    """Several tracks' rows (first row in ``every``, table, rows kept or None for all) as one
    table, sorted as their Notes sort (by ``keys`` when there are, else by the columns)."""
    if not parts:
        return np.zeros((0, 4))
    if len(parts) == 1:
        _, table, keep = parts[0]
        return table if keep is None else table.compress(keep, axis=0)
    if keys is None:
        return sort_table(np.concatenate([table if keep is None else table.compress(keep, axis=0) for _, table, keep in parts]))
    rows = np.concatenate([np.arange(first, first + len(table)) if keep is None else keep.nonzero()[0] + first
                           for first, table, keep in parts])
    rows = rows[keys[rows].argsort()]
    return every.take(rows, axis=0)  # rows by take(): fancy indexing of 2-D arrays costs several times more


def melody_versions(score: Score) -> list[Score]:
    """The score, then one copy per other melodic line it was read with (``--melody-track all``),
    each with that line as its melody over the same chords."""
    others = score.info.get("other_melodies", [])
    return [score, *(replace(score, melody=tuple(Note(*n) for n in line)) for line in others if line)]
