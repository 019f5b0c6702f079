"""symusic reads a whole MIDI file in one call (issue 14) with the meaning of reading it one
track chunk at a time: the same instruments in the same order, the same tempo and meters.

Each file is read twice, the second time with the one-call read switched off, and the Scores
(info included) must be equal. The files are made to hit what one call cannot see: where a
chunk ends (unnamed chunks whose first note-offs decrease), tempo or meter events in several
chunks, several instruments in one chunk. Deterministic (seeded), not timed.
"""
from __future__ import annotations

import random

import pytest

import midi_mutations as mm
from jazzlstm.music import midi
from jazzlstm.music.midi import read_midi


def _both(data: bytes, monkeypatch) -> tuple:
    whole = read_midi("x.mid", data=data)
    with monkeypatch.context() as patched:
        patched.setattr(midi, "_symusic_file", lambda division, chunks: None)
        chunked = read_midi("x.mid", data=data)
    return whole, chunked


def _same(whole, chunked) -> None:
    assert (whole.melody, whole.chords, whole.time_signatures, whole.tempo) == \
           (chunked.melody, chunked.chords, chunked.time_signatures, chunked.tempo)
    assert whole.info == chunked.info


def _counting(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = midi._instruments_per_chunk

    def counted(division, chunks):
        calls.append(len(chunks))
        return original(division, chunks)

    monkeypatch.setattr(midi, "_instruments_per_chunk", counted)
    return calls


def _line(pitch: int, first: int, count: int, length: int = 480) -> list[tuple[int, int, int]]:
    return [(pitch + (i % 5), first + i * length, length) for i in range(count)]


def test_unnamed_chunks_whose_first_note_offs_decrease_are_counted_chunk_by_chunk(monkeypatch):
    # Two unnamed chunks: the first one's first note ends after the second one's. Read as one
    # run of one name, they could be one chunk (then ordered by first note-off) or two.
    late = mm.notes_track(_line(72, 960, 16))
    early = mm.notes_track(_line(48, 0, 16, 960), channel=1)
    data = mm.smf([[[0, mm.tempo(500000)]], late, early])
    calls = _counting(monkeypatch)
    whole, chunked = _both(data, monkeypatch)
    _same(whole, chunked)
    assert calls == [3]
    assert [t["index"] for t in whole.info["tracks"]] == [0, 1]
    assert whole.info["parser"] == "symusic"


def test_a_type0_file_is_ordered_by_first_note_off(monkeypatch):
    events = mm.notes_track(_line(72, 960, 12) + _line(40, 0, 6, 1920))
    events += [[0, bytes([0xC1, 33])]]
    data = mm.smf([events])
    _same(*_both(data, monkeypatch))


@pytest.mark.parametrize("where", [(0, 1), (1, 2), (2,), (1,)])
def test_tempo_and_meter_events_in_several_chunks(monkeypatch, where):
    tracks = [[], mm.notes_track(_line(70, 0, 24), name=b"Lead"), mm.notes_track(_line(45, 0, 12, 960), 1, b"Bass")]
    for number, (bpm, meter) in zip(where, ((100, (3, 2)), (140, (6, 3)))):
        tracks[number] = [[0, mm.tempo(60_000_000 // bpm)], [0, mm.time_signature(*meter)]] + tracks[number]
    data = mm.smf(tracks)
    _same(*_both(data, monkeypatch))


def _chunk(notes: list[tuple[int, int, int, int]], name: bytes) -> list:
    """Events of (pitch, start tick, length, channel) notes, note-offs first on one tick."""
    timed = sorted([(s, 1, mm.note_on(p, 90, c)) for p, s, n, c in notes] +
                   [(s + n, 0, mm.note_off(p, c)) for p, s, n, c in notes], key=lambda e: (e[0], e[1]))
    events, last = ([[0, mm.meta(0x03, name)]] if name else []), 0
    for tick, _, raw in timed:
        events.append([tick - last, raw])
        last = tick
    return events


@pytest.mark.parametrize("seed", range(60))
def test_random_arrangements_read_alike(monkeypatch, seed):
    rng = random.Random(seed)
    tracks = []
    for _ in range(rng.randint(1, 6)):
        events: list = []
        if rng.random() < 0.3:
            events.append([rng.choice((0, 240)), mm.tempo(rng.choice((400000, 500000, 600000)))])
        if rng.random() < 0.3:
            events.append([0, mm.time_signature(rng.choice((2, 3, 4, 6)), rng.choice((2, 3)))])
        if rng.random() < 0.2:
            events.append([0, bytes([0xC0 | rng.randint(0, 3), rng.choice((0, 33, 65))])])
        notes = []
        for channel in rng.sample(range(4), rng.randint(0, 3)):
            notes += [(p, s, n, channel) for p, s, n in _line(rng.randint(36, 84), rng.choice((0, 120, 480, 960)),
                                                               rng.randint(1, 20), rng.choice((240, 480, 960)))]
        tracks.append(events + _chunk(notes, rng.choice((b"", b"", b"Piano", b"Lead"))))
    data = mm.smf(tracks)
    try:
        whole = read_midi("x.mid", data=data)
    except Exception as exc:  # the same refusal either way
        with monkeypatch.context() as patched:
            patched.setattr(midi, "_symusic_file", lambda division, chunks: None)
            with pytest.raises(type(exc)) as again:
                read_midi("x.mid", data=data)
        assert str(again.value) == str(exc)
        return
    with monkeypatch.context() as patched:
        patched.setattr(midi, "_symusic_file", lambda division, chunks: None)
        chunked = read_midi("x.mid", data=data)
    _same(whole, chunked)
