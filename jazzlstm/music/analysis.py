"""From raw note tracks to a Score: the melody (see :mod:`jazzlstm.music.melody`), its chords
(see :mod:`jazzlstm.music.chords`).

Pure functions over :class:`Track` lists (already in quantized beats); the readers in
``music.midi`` and ``music.musicxml`` feed them, so both formats share one set of rules.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from jazzlstm.errors import InputFileError
from jazzlstm.music.chords import chord_segments, chord_timeline, melody_chords
from jazzlstm.music.melody import ALL_MELODIES, choose_melody_track, is_bass, melodic_lines, skyline
from jazzlstm.music.score import Note, Score, TimeSignature, bar_starts


@dataclass(frozen=True)
class Track:
    """One source track: its position among the file's note tracks, name, program and notes."""

    index: int
    name: str
    program: int
    is_drum: bool
    notes: tuple[Note, ...]


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
        low_line = track is not melody_source and (is_bass(track) or track_stats_.mean_pitch < 48)
        (bass if low_line and track_stats_.monophony >= 0.8 else accompaniment).extend(kept)
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
    if melody_track == ALL_MELODIES:
        lines = melodic_lines(pitched, stats, position)
        details["other_melody_tracks"] = [pitched[i].index for i in lines]
        details["other_melodies"] = [[[n.start, n.duration, n.pitch, n.velocity] for n in skyline(pitched[i].notes)]
                                     for i in lines]
    details.update({
        "tracks": [s.to_dict() for s in stats],
        "melody_track": melody_source.index,
        "melody_track_name": melody_source.name,
        "melody_reason": reason,
        "chord_source": chord_source,
        "bars": len(bar_lines),
    })
    return Score(melody=melody, chords=chords, time_signatures=sigs, tempo=tempo, info=details)


def melody_versions(score: Score) -> list[Score]:
    """The score, then one copy per other melodic line it was read with (``--melody-track all``),
    each with that line as its melody over the same chords."""
    others = score.info.get("other_melodies", [])
    return [score, *(replace(score, melody=tuple(Note(*n) for n in line)) for line in others if line)]
