"""Reading MIDI with symusic (mido with clip=True as the fallback): the pretty_midi-era meaning,
and files from the wild: bounded, musical, one plain line for what cannot be read.

Hostile files are built here byte by byte (:func:`smf`), so they can hold what no MIDI library
would write: a tempo of 0, a 4/2^64 meter, data bytes above 127, an SMPTE time division...
"""
from __future__ import annotations

import io
import json
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from jazzlstm.errors import InputFileError
from jazzlstm.music import midi
from jazzlstm.music.analysis import Track, score_from_tracks
from jazzlstm.music.midi import read_midi
from jazzlstm.music.score import MAX_BARS, Note, TimeSignature, bar_starts

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).with_name("midi_samples_pretty_midi.json")
"""What the pretty_midi-era reader (jazzlstm/music/midi.py before symusic) made of each
midi_samples/*.mid: time signatures, tempo, tempo changes and every instrument's notes in grid
steps ([start, length, pitch, velocity] flattened). Recorded with that reader, before the switch."""

INTERNALS = ("max() arg", "list index", "division by zero", "Traceback", "MiniMidi", "Get pitch",
             "Get velocity", "iostream", "object has no attribute", "NoneType", "KeyError", "IndexError")


# --- raw Standard MIDI File bytes ----------------------------------------------------------------


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def ev(delta: int, *data: int) -> bytes:
    """One event: its delta time, then its bytes as given (nothing checked)."""
    return vlq(delta) + bytes(data)


def track(*events: bytes) -> bytes:
    body = b"".join(events) + ev(0, 0xFF, 0x2F, 0)
    return b"MTrk" + len(body).to_bytes(4, "big") + body


def smf(*tracks: bytes, division: int = 480, fmt: int = 1) -> bytes:
    return (b"MThd" + (6).to_bytes(4, "big") + fmt.to_bytes(2, "big") + len(tracks).to_bytes(2, "big")
            + division.to_bytes(2, "big") + b"".join(tracks))


def line(n: int = 8, tpq: int = 480, channel: int = 0, low: int = 60) -> list[bytes]:
    """n quarter notes, one after the other, rising from ``low``."""
    events = []
    for i in range(n):
        events += [ev(0, 0x90 | channel, low + i, 90), ev(tpq, 0x80 | channel, low + i, 0)]
    return events


def read(data: bytes, name: str = "hostile.mid"):
    return read_midi(name, data=data)


def refusal(data: bytes) -> str:
    with pytest.raises(InputFileError) as caught:
        read(data)
    reason = caught.value.reason
    assert "\n" not in reason and not any(text in reason for text in INTERNALS), reason
    return reason


def timed(function, *args):
    start = time.perf_counter()
    tracemalloc.start()
    try:
        result = function(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, time.perf_counter() - start, peak


# --- the pretty_midi-era result on the bundled samples --------------------------------------------


RECORDED = json.loads(FIXTURE.read_text(encoding="utf-8"))


def _recorded_tracks(recorded: dict) -> list[Track]:
    tracks = []
    for index, t in enumerate(recorded["tracks"]):
        flat = np.array(t["notes"], dtype=np.int64).reshape(-1, 4)
        notes = tuple(sorted(Note(s / 12, d / 12, int(p), int(v)) for s, d, p, v in flat.tolist()))
        tracks.append(Track(index, t["name"], t["program"], t["is_drum"], notes))
    return tracks


def test_every_bundled_sample_is_recorded():
    assert sorted(RECORDED) == sorted(p.name for p in (ROOT / "midi_samples").glob("*.mid"))


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_bundled_samples_read_as_with_pretty_midi(name):
    """Identical instruments, meters and tempi; melody, chords and time signatures identical
    to what the pretty_midi-era tracks give. Notes may differ in one way only: a note-on or
    note-off exactly halfway between two grid steps (e.g. 1860 ticks at 480 per beat = 46.5
    steps) now goes to the even step; pretty_midi's detour through seconds let the tempo's
    rounding error decide (up at 125 BPM, down at 128)."""
    recorded = RECORDED[name]
    path = ROOT / "midi_samples" / name
    score = read_midi(path)
    assert score.info["parser"] == "symusic"
    assert [[t.start, t.numerator, t.denominator] for t in score.time_signatures] == recorded["time_signatures"]
    assert score.tempo == recorded["tempo"]
    assert score.info["tempo_changes"] == recorded["tempo_changes"]

    tpq, chunks, _ = midi.parse_midi(path.read_bytes())
    tracks = midi.midi_tracks(chunks, tpq, str(path))
    parts = [part for chunk in chunks for part in chunk.parts]
    before = _recorded_tracks(recorded)
    assert [(t.name, t.program, t.is_drum, len(t.notes)) for t in tracks] == \
           [(t.name, t.program, t.is_drum, len(t.notes)) for t in before]
    for new, old, (*_, ticks) in zip(tracks, before, parts):
        old_notes, new_notes = Counter(old.notes), Counter(new.notes)
        changed = list((new_notes - old_notes).elements())
        was = {(n.start, n.pitch, n.velocity): n for n in (old_notes - new_notes).elements()}
        assert len(changed) == len(was)
        halfway = {(int(midi.ticks_to_steps(s, tpq)), p, v) for s, e, p, v in ticks.tolist()
                   if (2 * (s * 12 % tpq) == tpq) or (2 * (e * 12 % tpq) == tpq)}
        for note in changed:
            key = (note.start, note.pitch, note.velocity)
            assert key in was and abs(was[key].duration - note.duration) < 0.09, (name, new.name, note)
            assert (round(note.start * 12), note.pitch, note.velocity) in halfway, (name, new.name, note)

    sigs = tuple(TimeSignature(*s) for s in recorded["time_signatures"])
    then = score_from_tracks(before, sigs, recorded["tempo"], str(path))
    assert score.melody == then.melody
    assert score.chords == then.chords
    assert score.time_signatures == then.time_signatures


def test_symusic_and_the_mido_fallback_read_alike(monkeypatch):
    fast = {p.name: read_midi(p) for p in sorted((ROOT / "midi_samples").glob("*.mid"))}
    monkeypatch.setattr(midi, "_symusic_chunk", lambda header, chunk: None)
    for path in sorted((ROOT / "midi_samples").glob("*.mid")):
        slow, quick = read_midi(path), fast[path.name]
        assert slow.info["parser"] == "mido (tolerant)"
        assert (slow.melody, slow.chords, slow.time_signatures, slow.tempo) == \
               (quick.melody, quick.chords, quick.time_signatures, quick.tempo), path.name
        assert {k: v for k, v in slow.info.items() if k != "parser"} == \
               {k: v for k, v in quick.info.items() if k != "parser"}, path.name


def _as_pretty_midi(data: bytes) -> list[tuple[str, int, bool, list[tuple[int, int, int, int]]]]:
    """Instruments as pretty_midi reads them, notes in grid steps (the old reader's rounding)."""
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    out = []
    for inst in pm.instruments:
        notes = []
        for n in inst.notes:
            start = round(pm.time_to_tick(n.start) * 12 / pm.resolution)
            end = round(pm.time_to_tick(n.end) * 12 / pm.resolution)
            notes.append((start, max(end - start, 1), n.pitch, n.velocity))
        out.append((inst.name, int(inst.program), bool(inst.is_drum), sorted(notes)))
    return out


def _as_read(data: bytes) -> list[tuple[str, int, bool, list[tuple[int, int, int, int]]]]:
    tpq, chunks, _ = midi.parse_midi(data)
    return [(t.name, t.program, t.is_drum, sorted((round(n.start * 12), round(n.duration * 12), n.pitch, n.velocity)
                                                  for n in t.notes))
            for t in midi.midi_tracks(chunks, tpq, "x.mid")]


def test_type0_splits_by_channel_and_program_in_pretty_midi_order():
    # One track: a lead (channel 0, program 65) whose first note ends late, piano chords
    # (channel 1) that change program mid-way, a bass (channel 2), drums (channel 10) ending first.
    # symusic lists them by channel and program; pretty_midi by first note-off, as read_midi does.
    events = [ev(0, 0xFF, 0x03, 3, *b"All"), ev(0, 0xC0, 65), ev(0, 0xC1, 0), ev(0, 0xC2, 33),
              ev(0, 0x90, 72, 90), ev(0, 0x91, 48, 70), ev(0, 0x91, 52, 70), ev(0, 0x92, 36, 80), ev(0, 0x99, 42, 60),
              ev(120, 0x89, 42, 0), ev(120, 0x82, 36, 0), ev(240, 0x81, 48, 0), ev(0, 0x81, 52, 0),
              ev(0, 0xC1, 4), ev(0, 0x91, 50, 70), ev(480, 0x80, 72, 0), ev(120, 0x81, 50, 0)]
    data = smf(track(*events), fmt=0)
    expected = _as_pretty_midi(data)  # by first note-off: drums, bass, piano, lead, piano on program 4
    assert [(program, is_drum) for _, program, is_drum, _ in expected] == [(0, True), (33, False), (0, False),
                                                                             (65, False), (4, False)]
    assert _as_read(data) == expected


def test_several_tracks_on_one_channel_program_changes_and_odd_notes_as_pretty_midi():
    lead = [ev(0, 0xFF, 0x03, 4, *b"Lead"), ev(0, 0xC0, 65)] + line(6)
    lead += [ev(0, 0x90, 70, 90), ev(0, 0x80, 70, 0)]            # on and off on one tick: no note
    lead += [ev(0, 0x90, 71, 90), ev(1, 0x80, 71, 0)]            # one tick: one grid step
    lead += [ev(0, 0x90, 72, 90)]                                  # never switched off
    low = [ev(0, 0xFF, 0x03, 3, *b"Low")] + line(4, low=40) + [ev(0, 0xC0, 32)] + line(4, low=44)
    low += [ev(0, 0x80, 99, 0)]                                    # a note-off for no note
    data = smf(track(ev(0, 0xFF, 0x51, 3, 0x07, 0xA1, 0x20)), track(*lead), track(*low))
    assert _as_read(data) == _as_pretty_midi(data)


# --- hostile values ----------------------------------------------------------------------------


def test_a_tempo_of_0_is_ignored_not_divided_by():
    data = smf(track(ev(0, 0xFF, 0x51, 3, 0, 0, 0), *line()))
    score = read(data)
    assert score.tempo == 120.0 and score.info["tempo_changes"] == [[0.0, 120.0]]
    assert [n.start for n in score.melody] == [float(i) for i in range(8)]
    assert any("tempo of 0" in reason for reason in score.info["ignored"])
    too_fast = read(smf(track(ev(0, 0xFF, 0x51, 3, 0, 0x75, 0x30), *line())))  # 30,000 us: 2,000 BPM
    assert too_fast.tempo == 120.0 and "tempo of 2,000 BPM" in too_fast.info["ignored"][0]
    kept = read(smf(track(ev(0, 0xFF, 0x51, 3, 0x0F, 0x42, 0x40), *line())))    # 1,000,000 us: 60 BPM
    assert kept.tempo == 60.0 and "ignored" not in kept.info


def test_a_meter_of_4_over_2_to_the_64_finishes_fast():
    data = smf(track(ev(0, 0xFF, 0x58, 4, 4, 64, 24, 8), *line()))
    score, seconds, _ = timed(read, data)
    assert seconds < 2.0
    assert score.time_signatures == (TimeSignature(0.0, 4, 4),)
    assert "time signature 4/2^64 at beat 0" in score.info["ignored"][0]
    assert len(score.melody) == 8


@pytest.mark.parametrize("numerator, exponent, shown", [(0, 2, "0/4"), (65, 2, "65/4"), (4, 7, "4/128"),
                                                         (1, 6, "1/64"), (4, 31, "4/2^31"), (4, 255, "4/2^255")])
def test_unmusical_meters_are_ignored_and_the_file_still_read(numerator, exponent, shown):
    data = smf(track(ev(0, 0xFF, 0x58, 4, 3, 2, 24, 8), ev(960, 0xFF, 0x58, 4, numerator, exponent, 24, 8),
                     *line(12)))
    score = read(data)
    assert score.time_signatures == (TimeSignature(0.0, 3, 4),)  # 3/4 goes on
    assert score.info["ignored"] == [f"time signature {shown} at beat 2 (a meter needs 1..64 beats of a "
                                     "power-of-2 note value up to 1/64)"]


def test_musical_meters_are_kept():
    data = smf(track(ev(0, 0xFF, 0x58, 4, 3, 2, 24, 8), ev(1440, 0xFF, 0x58, 4, 7, 3, 24, 8),
                     ev(1680, 0xFF, 0x58, 4, 64, 6, 24, 8), *line(16)))
    assert read(data).time_signatures == (TimeSignature(0.0, 3, 4), TimeSignature(3.0, 7, 8), TimeSignature(6.5, 64, 64))


def test_a_note_of_a_million_beats_at_2_ticks_per_beat_is_cut_fast_in_bounded_memory():
    data = smf(track(ev(0, 0x90, 40, 90), *line(8, tpq=2), ev(2 * 10**6 - 16, 0x80, 40, 0)), division=2)
    score, seconds, peak = timed(read, data)
    assert seconds < 2.0 and peak < 20 * 2**20
    assert [n.pitch for n in score.melody] == list(range(60, 68))
    assert score.info["bars"] == midi.MAX_NOTE_BEATS // 4  # the long note, cut to 64 bars, ends the piece
    late = smf(track(*line(8, tpq=2), ev(2 * 10**6, 0x90, 40, 90), ev(2, 0x80, 40, 0)), division=2)
    (reason, seconds, peak) = timed(refusal, late)
    assert seconds < 2.0 and peak < 20 * 2**20
    assert reason == "too long (a note starts at beat 1,000,008; the limit is 20,000 beats)"


def test_times_past_2_to_the_31_ticks_are_counted_exactly_and_refused():
    data = smf(track(*[ev(2**28 - 1, 0xFF, 0x01, 1, 65) for _ in range(10)], *line()))
    assert refusal(data).startswith("too long (a note starts at beat 5,592,4")


def test_a_data_byte_above_127_is_read_by_the_tolerant_fallback():
    data = smf(track(ev(0, 0x90, 70, 200), ev(480, 0x80, 70, 0), *line()))
    score = read(data)
    assert score.info["parser"] == "mido (tolerant)"
    assert score.melody[0] == Note(0.0, 1.0, 70, 127)  # velocity 200 clipped to 127
    assert [n.pitch for n in score.melody[1:]] == list(range(60, 68))


def test_a_file_symusic_refuses_and_mido_with_clip_reads():
    import symusic

    bad_bend = smf(track(ev(0, 0xE0, 0x00, 0xFF), *line()))  # a pitch-bend data byte of 255
    with pytest.raises(Exception, match="pitch_bend"):
        symusic.Score.from_midi(bad_bend)
    score = read(bad_bend)
    assert score.info["parser"] == "mido (tolerant)"
    assert [n.pitch for n in score.melody] == list(range(60, 68))
    # Only the chunk symusic refuses is read by mido; the fast reading of the others stands.
    two = smf(track(ev(0, 0xFF, 0x58, 4, 3, 2, 24, 8)), track(ev(0, 0xE0, 0x00, 0xFF), *line()))
    assert read(two).time_signatures == (TimeSignature(0.0, 3, 4),)


def test_one_bad_key_signature_does_not_reject_the_file():
    key = ev(0, 0xFF, 0x59, 2, 100, 7)  # 100 sharps, mode 7: mido alone refuses the whole file
    assert read(smf(track(key, *line()))).info["parser"] == "symusic"
    both = read(smf(track(key, ev(0, 0x90, 70, 200), ev(480, 0x80, 70, 0), *line())))  # and a byte above 127
    assert both.info["parser"] == "mido (tolerant)" and len(both.melody) == 9


def test_tempo_and_meter_events_of_the_wrong_length_are_ignored():
    score = read(smf(track(ev(0, 0xFF, 0x51, 1, 5), ev(0, 0xFF, 0x58, 2, 3, 2), *line())))
    assert score.tempo == 120.0
    assert score.time_signatures == (TimeSignature(0.0, 3, 4),)  # mido reads the first two bytes
    assert score.info["ignored"] == ["a tempo event of 1 byte (3 needed) at beat 0"]


def test_smpte_time_division_is_refused_plainly():
    assert refusal(smf(track(*line()), division=0xE728)).startswith("SMPTE time division is not supported")
    assert refusal(smf(track(*line()), division=0)) == "0 ticks per quarter note (the file has no beat)"


@pytest.mark.parametrize("data, reason", [
    (smf(track(*line(40)))[:200], "corrupt MIDI file: truncated track chunk"),
    (smf(track(*line()))[:12], "corrupt MIDI file: truncated header chunk"),
    (b"MThd\x00\x00\x00\x02\x00\x01", "corrupt MIDI file: truncated header chunk"),
    (smf(track(ev(0, 60, 90), *line())), "corrupt MIDI file: a data byte without a status byte in track chunk 1"),
    (smf(track(ev(0, 0xF4), *line())), "corrupt MIDI file: undefined status byte 0xf4 (track chunk 1)"),
    (smf(track(*line())[:-4] + b"\x00\x90\x3c"), "corrupt MIDI file"),
    (smf(track(ev(0, 0xF0, *vlq(2_000_000)), *line())),
     "corrupt MIDI file: a system-exclusive or meta event of 2,000,000 bytes in track chunk 1"),
    (smf(), "empty (no notes)"),
    (smf(track(ev(0, 0xFF, 0x51, 3, 0, 0, 0))), "empty (no notes)"),
    (smf(track(ev(0, 0x99, 36, 90), ev(480, 0x89, 36, 0))), "drums only (no pitched track)"),
], ids=["truncated-track", "truncated-header", "short-header", "running-status", "undefined-status",
        "event-past-chunk", "huge-sysex", "no-tracks", "tempo-only", "drums-only"])
def test_unreadable_files_give_one_plain_line(data, reason):
    assert refusal(data).startswith(reason)


def test_too_many_tracks_or_instruments_are_refused_fast():
    empty = track()
    many = smf(track(*line()), *[empty] * midi.MAX_TRACK_CHUNKS)
    reason, seconds, _ = timed(refusal, many)
    assert reason == "too many tracks (more than 4,096 track chunks)" and seconds < 2.0
    one_note = track(ev(0, 0x90, 60, 90), ev(480, 0x80, 60, 0))
    reason, seconds, _ = timed(refusal, smf(*[one_note] * (midi.MAX_INSTRUMENTS + 1)))
    assert reason == "too many instruments (1,025; the limit is 1,024)" and seconds < 2.0
    assert len(read(smf(track(*line()), *[empty] * 100)).melody) == 8


def test_a_foreign_chunk_and_bytes_after_the_last_track_are_skipped():
    data = smf(track(*line()))
    score = read(data[:14] + b"XFIR\x00\x00\x00\x03abc" + data[14:] + b"\x00\x00junk")
    assert score.info["parser"] == "symusic" and len(score.melody) == 8


# --- bar lines: bounded ---------------------------------------------------------------------------


def test_time_signatures_must_be_meters():
    for numerator, denominator in ((0, 4), (4, 0), (-3, 4), (256, 4), (4, 2**64)):
        with pytest.raises(ValueError, match="not a time signature"):
            TimeSignature(0.0, numerator, denominator)
    with pytest.raises(ValueError):
        TimeSignature(float("nan"), 4, 4)
    assert TimeSignature(0.0, 3, 5).bar_beats == 2.4  # ABC's M:3/5 stays (it cannot go to MIDI)


def test_bar_starts_is_bounded():
    start = time.perf_counter()
    with pytest.raises(ValueError, match="shorter than one grid step"):
        bar_starts((TimeSignature(0.0, 1, 128),), 100.0)
    with pytest.raises(ValueError, match=f"more than {MAX_BARS:,} bars"):
        bar_starts((TimeSignature(0.0, 4, 4),), 1e12)
    with pytest.raises(ValueError, match="more than"):  # a bar too short to move a huge position on
        bar_starts((TimeSignature(0.0, 4, 4), TimeSignature(1e300, 4, 4)), 1e301)
    assert time.perf_counter() - start < 5.0
    assert bar_starts((TimeSignature(0.0, 3, 4), TimeSignature(6.0, 7, 8)), 13.0) == [0.0, 3.0, 6.0, 9.5]
