"""Reading details (tempo changes, type 0, zero-length notes) and writing MIDI back."""
from __future__ import annotations

import mido
import pretty_midi
import pytest

from jazzlstm.tokens import grammar
from jazzlstm.errors import OutputExistsError
from jazzlstm.music.harmony import parse_chord
from jazzlstm.music.midi import read_midi, write_midi
from jazzlstm.music.score import Chord, Note, Score

from midi_factory import TrackSpec, bass_notes, chord_notes, melody_notes, write_tracks


def _trio(path, tempo=120.0):
    return write_tracks(path, [TrackSpec("Piano", chord_notes(), 0), TrackSpec("Bass", bass_notes(), 33),
                               TrackSpec("Lead", melody_notes(3), 66)], tempo=tempo)


def test_tempo_change_keeps_rhythm_in_beats(tmp_path):
    steady = read_midi(_trio(tmp_path / "steady.mid"))
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "steady.mid"))
    # Re-time the second half at a slower tempo by editing the MIDI events directly.
    midi = mido.MidiFile(str(tmp_path / "steady.mid"))
    half = 16 * pm.resolution
    track = midi.tracks[0]
    absolute, events = 0, []
    for msg in track:
        absolute += msg.time
        events.append((absolute, msg))
    events.append((half, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(80))))
    events.sort(key=lambda e: (e[0], e[1].type == "end_of_track"))
    rebuilt, last = mido.MidiTrack(), 0
    for when, msg in events:
        rebuilt.append(msg.copy(time=when - last))
        last = when
    midi.tracks[0] = rebuilt
    midi.save(str(tmp_path / "slower.mid"))
    slower = read_midi(tmp_path / "slower.mid")
    assert [(n.start, n.duration, n.pitch) for n in slower.melody] == [(n.start, n.duration, n.pitch) for n in steady.melody]
    assert len(slower.info["tempo_changes"]) == 2


def test_type0_file_reads_like_type1(tmp_path):
    path = _trio(tmp_path / "type1.mid")
    midi = mido.MidiFile(str(path))
    merged = mido.MidiFile(type=0, ticks_per_beat=midi.ticks_per_beat)
    merged.tracks.append(mido.merge_tracks(midi.tracks))
    merged.save(str(tmp_path / "type0.mid"))
    one, zero = read_midi(path), read_midi(tmp_path / "type0.mid")
    assert zero.melody == one.melody
    assert [c.label for c in zero.chords] == [c.label for c in one.chords]


def _mido_file(path, events, ticks_per_beat=480):
    """A one-track file from (beat, 'on'|'off', pitch) events, written with mido as given."""
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    last = 0
    for beat, kind, pitch in events:
        tick = int(round(beat * ticks_per_beat))
        msg_type = "note_on" if kind == "on" else "note_off"
        track.append(mido.Message(msg_type, note=pitch, velocity=90 if kind == "on" else 0, time=tick - last))
        last = tick
    midi.save(str(path))
    return path


def test_zero_length_and_overlapping_notes(tmp_path):
    events = [(0.0, "on", 60), (1.0, "off", 60),
              (1.0, "on", 64), (1.0 + 1 / 480, "off", 64),  # one tick: zero length on the grid
              (1.25, "on", 66), (1.25, "off", 66),           # on and off on one tick (pretty_midi drops it)
              (1.5, "on", 62), (2.0, "on", 65), (2.5, "off", 62), (3.0, "off", 65)]  # overlap
    events += [e for b in range(3, 12) for e in ((float(b), "on", 67), (b + 0.5, "off", 67))]
    score = read_midi(_mido_file(tmp_path / "odd.mid", events))
    starts = [n.start for n in score.melody]
    assert starts == sorted(set(starts)), "onsets never collide"
    assert all(n.duration > 0 for n in score.melody)
    assert score.melody[1] == Note(1.0, 1 / 12, 64, 90), "a note shorter than the grid lasts one step"
    assert 66 not in [n.pitch for n in score.melody]
    assert score.melody[2] == Note(1.5, 0.5, 62, 90), "an overlapped note is cut at the next onset"


def test_several_tracks_on_one_channel_stay_apart(tmp_path):
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    for name, pitches in (("Lead", [72, 74, 76, 77, 79, 77, 76, 74, 72, 71]), ("Low", [48] * 10)):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
        for pitch in pitches:  # both tracks on channel 0
            track += [mido.Message("note_on", note=pitch, velocity=90, time=0),
                      mido.Message("note_off", note=pitch, velocity=0, time=480)]
        midi.tracks.append(track)
    midi.save(str(tmp_path / "one_channel.mid"))
    score = read_midi(tmp_path / "one_channel.mid")
    assert [t["name"] for t in score.info["tracks"]] == ["Lead", "Low"]
    assert [n.pitch for n in score.melody] == [72, 74, 76, 77, 79, 77, 76, 74, 72, 71]


def _score() -> Score:
    chords = tuple(Chord(i * 4.0, 4.0, *parse_chord(n)) for i, n in enumerate(["Dm7", "G7", "Cmaj7", "A7"]))
    return Score(tuple(Note(s / 2, 0.5, 60 + (s * 5) % 19) for s in range(0, 32, 1)), chords, tempo=140)


def test_write_reopens_in_pretty_midi_and_music21(tmp_path):
    from music21 import converter

    path = write_midi(_score(), tmp_path / "out.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    assert [i.name for i in pm.instruments] == ["Melody", "Chords", "Bass"]
    assert round(pm.get_tempo_changes()[1][0]) == 140
    parsed = converter.parse(str(path))
    assert len(parsed.parts) == 3
    again = read_midi(path, melody_track="Melody")
    assert [(n.start, n.duration, n.pitch) for n in again.melody] == [(n.start, n.duration, n.pitch) for n in _score().melody]
    assert [c.label for c in again.chords] == ["Dm7", "G7", "Cmaj7", "A7"]


def test_write_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "mine.mid"
    path.write_bytes(b"user data")
    with pytest.raises(OutputExistsError, match="--force"):
        write_midi(_score(), path)
    assert path.read_bytes() == b"user data"
    write_midi(_score(), path, force=True)
    assert path.read_bytes().startswith(b"MThd")
    assert [p.name for p in tmp_path.iterdir()] == ["mine.mid"], "no temporary file left behind"


def test_grammar_tokens_to_midi_file(tmp_path):
    source = _score()
    decoded = grammar.GrammarTokenizer().decode(grammar.encode(source), source.chords, rng=1, tempo=100)
    path = write_midi(decoded, tmp_path / "decoded.mid")
    assert len(pretty_midi.PrettyMIDI(str(path)).instruments[0].notes) == len(source.melody)


def test_a_meter_midi_cannot_store_is_one_clear_error(tmp_path):
    from jazzlstm.errors import JazzLSTMError
    from jazzlstm.music.midi import meter_problem
    from jazzlstm.music.score import TimeSignature

    notes = tuple(Note(float(i), 1.0, 60 + i, 90) for i in range(8))
    assert meter_problem(Score(notes, (), (TimeSignature(0.0, 6, 8),))) is None
    odd = Score(notes, (), (TimeSignature(0.0, 3, 5),))
    assert "3/5" in meter_problem(odd)
    with pytest.raises(JazzLSTMError, match="out.mid: meter 3/5 cannot be stored in MIDI"):
        write_midi(odd, tmp_path / "out.mid")
    assert not (tmp_path / "out.mid").exists()
