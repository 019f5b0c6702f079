"""Shortcuts of the faster MIDI reading (issue 14) that must not change a Score.

* Tempo and meter lists are read once per (events, ticks per quarter note) and reused: a file
  read again gives the same Score, and the events it ignores are reported on every read.
* Notes that the parser gives already in order skip the sort; others are sorted: the order in
  which a chord's notes are written does not change the Score.
* The note tables are joined once per file, for the wrap-around test and the tracks alike.

Deterministic, not timed.
"""
from __future__ import annotations

import pytest

import midi_mutations as mm
from jazzlstm.music import midi
from jazzlstm.music.midi import read_midi


def _fields(score) -> tuple:
    return score.melody, score.chords, score.time_signatures, score.tempo, score.info


@pytest.mark.parametrize("case", ["tempo 0", "meter 0/4", "meter 255/2^0", "meter 4/2^64", "meter 4/2^255"])
def test_ignored_events_are_reported_on_every_read(case):
    data = mm.HOSTILE_CASES[case]()
    midi._cached_read.cache_clear()
    first = read_midi("x.mid", data=data)
    again = read_midi("x.mid", data=data)
    assert first.info.get("ignored")
    assert _fields(again) == _fields(first)


def test_reused_tempo_and_meter_readings_match_fresh_ones(monkeypatch):
    cases = [data for _, data in mm.sample_bytes()] + [mm.HOSTILE_CASES[name]() for name in
                                                       ("tempo 0", "meter 0/4", "1 tick per beat")]
    cached = [_fields(read_midi("x.mid", data=data)) for data in cases]
    monkeypatch.setattr(midi, "_CACHED_EVENTS", -1)  # every list read afresh
    assert [_fields(read_midi("x.mid", data=data)) for data in cases] == cached


def _chord_file(high_first: bool) -> bytes:
    """A melody over one chord a bar, each chord's notes written low to high or high to low."""
    pitches = (67, 64, 60, 48) if high_first else (48, 60, 64, 67)
    comping = mm.notes_track(((p, bar * 1920, 1920) for bar in range(4) for p in pitches),
                             1, b"Piano")
    return mm.smf([[[0, mm.meta(0x03, b"conductor")]], mm.simple_melody(480), comping], 1, 480)


def test_the_order_notes_are_written_in_does_not_matter():
    low_first, high_first = read_midi("x.mid", data=_chord_file(False)), read_midi("x.mid", data=_chord_file(True))
    assert _fields(low_first) == _fields(high_first)
    assert low_first.chords


def test_tracks_are_sorted_whichever_order_the_parser_gives():
    for high_first in (False, True):
        tpq, chunks, _ = midi.parse_midi(_chord_file(high_first))
        for track in midi.midi_tracks(chunks, tpq, "x.mid"):
            rows = [tuple(row) for row in track.table.tolist()]
            assert rows == sorted(rows)


def test_the_note_tables_are_joined_once_per_file(monkeypatch):
    data = dict(mm.sample_bytes())["blues_in_f.mid"]
    calls = []
    original = midi._joined_columns

    def counted(chunks):
        result = original(chunks)
        calls.append(result)
        return result

    monkeypatch.setattr(midi, "_joined_columns", counted)
    tpq, chunks, _ = midi.parse_midi(data)
    midi.midi_tracks(chunks, tpq, "x.mid")
    assert len(calls) >= 2 and all(columns is calls[0] for columns in calls)
