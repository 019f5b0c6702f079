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
from jazzlstm.music.chords import chord_segments, melody_chords, sort_table, table_timeline
from jazzlstm.music.melody import (ALL_MELODIES, choose_melody_track, is_bass, melodic_lines, skyline_table,
                                   table_notes)
from jazzlstm.music.score import Note, Score, TimeSignature, bar_starts


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


def score_from_tracks(tracks: Sequence[Track], time_signatures: Sequence[TimeSignature], tempo: float,
                      path: str, melody_track: int | str | None = None, info: dict | None = None) -> Score:
    """Choose the melody, reduce it to one voice and derive chords from everything else."""
    pitched = [t for t in tracks if len(t)]
    if not pitched:
        raise InputFileError(path, "empty (no notes)")
    tables = [t.table for t in pitched]
    every = np.concatenate(tables) if len(tables) > 1 else tables[0]
    piece_end = float(np.maximum.reduce(every[:, 0] + every[:, 1]))
    position, reason, stats = choose_melody_track(pitched, melody_track, path, piece_end)
    melody_source = pitched[position]
    top = skyline_table(melody_source.given_table)
    if not len(top):
        raise InputFileError(path, f"no melody (track {melody_source.index} has no sounding notes)")
    melody = table_notes(top)
    # Everything pitched except the melody line itself accompanies: other tracks, and the
    # notes under the top voice when melody and chords share one piano track.
    # A mostly monophonic melody track's few leftover notes are overlaps, not chords.
    own_chords = stats[position].monophony < 0.8
    accompaniment: list[np.ndarray] = []
    bass: list[np.ndarray] = []
    for track, table, track_stats_ in zip(pitched, tables, stats):
        if track.is_drum or (track is melody_source and not own_chords):
            continue
        if track is melody_source:
            table = table[~_in_line(table, top)]
        low_line = track is not melody_source and (is_bass(track) or track_stats_.mean_pitch < 48)
        (bass if low_line and track_stats_.monophony >= 0.8 else accompaniment).append(table)
    if not any(len(t) for t in accompaniment):  # a bass line alone still outlines the harmony
        accompaniment, bass = bass, []
    sigs = tuple(sorted(time_signatures, key=lambda s: s.start)) or (TimeSignature(0.0),)
    bar_lines = bar_starts(sigs, piece_end)
    seg_start, seg_stop = np.array(chord_segments(bar_lines, sigs, piece_end)).T
    chords = table_timeline(_joined(accompaniment), seg_start, seg_stop, bass_line=_joined(bass),
                            bar_lines=np.array(bar_lines))
    chord_source = "accompaniment"
    if not chords:
        chords = melody_chords(melody, bar_lines, piece_end)
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
    return (line[at, 0] == table[:, 0]) & (line[at, 2] == table[:, 2])


def _joined(tables: list[np.ndarray]) -> np.ndarray:
    """Several tracks' rows as one table, sorted as their Notes sort."""
    if not tables:
        return np.zeros((0, 4))
    return sort_table(np.concatenate(tables)) if len(tables) > 1 else tables[0]


def melody_versions(score: Score) -> list[Score]:
    """The score, then one copy per other melodic line it was read with (``--melody-track all``),
    each with that line as its melody over the same chords."""
    others = score.info.get("other_melodies", [])
    return [score, *(replace(score, melody=tuple(Note(*n) for n in line)) for line in others if line)]
