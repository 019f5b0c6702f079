"""Melody-track choice, skyline and chord timeline on MIDI files built in code."""
from __future__ import annotations

import pytest

from jazzlstm.data.corpus import load_corpus
from jazzlstm.music.reading import read_score
from jazzlstm.errors import InputFileError
from jazzlstm.music.score import Note, chord_at, to_steps
from midi_factory import (TrackSpec, bass_notes, chord_notes, drum_notes, lead_notes, melody_notes,
                          progression_labels, write_drums_only, write_tracks, write_trio)


def note_keys(notes) -> list[tuple[int, int, int]]:
    """(onset step, duration steps, pitch) for Score notes or factory (pitch, start, dur) tuples."""
    out = []
    for n in notes:
        if not isinstance(n, Note):
            pitch, start, duration = n
        else:
            pitch, start, duration = n.pitch, n.start, n.duration
        out.append((to_steps(start), to_steps(duration), int(pitch)))
    return sorted(out)


def bar_labels(score, bars: int = 8) -> list[str]:
    """The chord label sounding in the middle of each half bar, two per bar."""
    labels = []
    for bar in range(bars):
        for beat in (0.5, 2.5):
            chord = chord_at(score.chords, bar * 4 + beat)
            labels.append(chord.label if chord else None)
    return labels


def written_labels(bars: int = 8) -> list[str]:
    return [label for label in progression_labels(bars) for _ in range(2)]


# --- melody track choice -----------------------------------------------------------------------


def test_melody_on_track_0_with_piano_and_bass(tmp_path):
    path = write_trio(tmp_path / "trio.mid", seed=1)
    score = read_score(path)
    assert score.info["melody_track"] == 0
    assert score.info["melody_track_name"] == "Lead"
    assert note_keys(score.melody) == note_keys(melody_notes(1))
    assert score.info["chord_source"] == "accompaniment"


def test_chords_from_accompaniment_match_written_progression(tmp_path):
    score = read_score(write_trio(tmp_path / "trio.mid", seed=3))
    assert bar_labels(score) == written_labels()
    # Equal neighbours are merged: Cmaj7 Cmaj7 is one chord of two bars.
    assert [c.label for c in score.chords] == ["Dm7", "G7", "Cmaj7", "Fmaj7", "Bm7b5", "E7", "Am7"]
    cmaj = score.chords[2]
    assert (cmaj.start, cmaj.duration) == (8.0, 8.0)
    assert score.info["bars"] == 8


def test_melody_on_track_0_unnamed_tracks(tmp_path):
    """Without helpful names the heuristic still prefers the high monophonic line."""
    path = write_tracks(tmp_path / "plain.mid", [
        TrackSpec("", melody_notes(4), program=0),
        TrackSpec("", chord_notes(), program=0),
        TrackSpec("", bass_notes(), program=0),
    ])
    score = read_score(path)
    assert score.info["melody_track"] == 0
    assert note_keys(score.melody) == note_keys(melody_notes(4))


def test_melody_on_track_5_after_five_accompaniment_tracks(tmp_path):
    path = write_tracks(tmp_path / "band.mid", [
        TrackSpec("Piano", chord_notes(), program=0),
        TrackSpec("Bass", bass_notes(), program=33),
        TrackSpec("Strings", chord_notes(low=55), program=48),
        TrackSpec("Vibes", chord_notes(low=62), program=11),  # a second chord instrument, up high
        TrackSpec("Drums", drum_notes(), is_drum=True),
        TrackSpec("Track 6", melody_notes(5), program=0),
    ])
    score = read_score(path)
    assert score.info["melody_track"] == 5, score.info["melody_reason"]
    assert note_keys(score.melody) == note_keys(melody_notes(5))
    assert "highest melody score" in score.info["melody_reason"]
    stats = {t["index"]: t for t in score.info["tracks"]}
    assert sorted(stats) == [0, 1, 2, 3, 4, 5]
    assert stats[4]["is_drum"] and stats[4]["score"] is None
    assert bar_labels(score) == written_labels()


def test_melody_inside_piano_track_is_its_top_voice(tmp_path):
    melody = lead_notes(seed=2, low=60)
    chords = chord_notes(low=36)  # voiced below the melody: top chord tone <= 57
    assert max(p for p, _, _ in chords) < min(p for p, _, _ in melody)
    path = write_tracks(tmp_path / "piano.mid", [TrackSpec("Piano", melody + chords, program=0)])
    score = read_score(path)
    assert score.info["melody_track"] == 0
    assert note_keys(score.melody) == note_keys(melody)
    # The notes under the top voice are the accompaniment: chords are found, not inferred.
    assert score.info["chord_source"] == "accompaniment"
    matches = sum(a == b for a, b in zip(bar_labels(score), written_labels()))
    assert matches >= 14, (bar_labels(score), written_labels())


def test_piano_top_voice_with_chords_at_low_40(tmp_path):
    """The brief's voicing (chord_notes(low=40)) with a line kept above the chords."""
    melody = lead_notes(seed=7, low=64)
    path = write_tracks(tmp_path / "piano40.mid", [TrackSpec("Piano", chord_notes(low=40) + melody)])
    score = read_score(path)
    assert note_keys(score.melody) == note_keys(melody)
    assert all(n.pitch >= 64 for n in score.melody)
    matches = sum(a == b for a, b in zip(bar_labels(score), written_labels()))
    assert matches >= 14


def test_drums_only_is_an_input_error(tmp_path):
    path = write_drums_only(tmp_path / "drums.mid")
    with pytest.raises(InputFileError) as info:
        read_score(path)
    assert "drums only" in info.value.reason
    assert str(path) in str(info.value)


def test_drum_track_is_never_the_melody(tmp_path):
    path = write_tracks(tmp_path / "dr.mid", [
        TrackSpec("Lead drums", drum_notes(), is_drum=True),
        TrackSpec("Melody", melody_notes(6), program=0),
    ])
    score = read_score(path)
    assert score.info["melody_track"] == 1


def test_melody_without_accompaniment_infers_chords(tmp_path):
    path = write_tracks(tmp_path / "solo.mid", [TrackSpec("Sax", melody_notes(4), program=65)])
    score = read_score(path)
    assert score.chords
    assert "melody" in score.info["chord_source"]
    assert score.info["chord_source"] != "accompaniment"
    assert note_keys(score.melody) == note_keys(melody_notes(4))
    # Only the common qualities are allowed when chords come from a melody.
    assert {c.quality for c in score.chords} <= {"", "m", "7", "m7", "maj7"}
    assert score.chords[0].start == 0.0


# --- --melody-track override -------------------------------------------------------------------


def test_override_by_index(tmp_path):
    path = write_trio(tmp_path / "trio.mid", seed=1)
    score = read_score(path, melody_track=2)
    assert score.info["melody_track"] == 2
    assert score.info["melody_track_name"] == "Bass"
    assert "--melody-track" in score.info["melody_reason"]
    assert note_keys(score.melody) == note_keys(bass_notes())


def test_override_by_index_as_string(tmp_path):
    score = read_score(write_trio(tmp_path / "trio.mid"), melody_track="2")
    assert score.info["melody_track"] == 2


@pytest.mark.parametrize("name", ["bass", "BASS", "Bass", " bass "])
def test_override_by_name_case_insensitive(tmp_path, name):
    score = read_score(write_trio(tmp_path / "trio.mid", seed=1), melody_track=name)
    assert score.info["melody_track"] == 2
    assert {n.pitch for n in score.melody} == {p for p, _, _ in bass_notes()}


def test_override_by_name_picks_polyphonic_track_top_voice(tmp_path):
    score = read_score(write_trio(tmp_path / "trio.mid"), melody_track="piano")
    assert score.info["melody_track"] == 1
    top = {}
    for pitch, start, _ in chord_notes():
        top[start] = max(top.get(start, 0), pitch)
    assert [(n.start, n.pitch) for n in score.melody] == sorted(top.items())


def test_override_through_load_corpus(tmp_path):
    write_trio(tmp_path / "trio.mid", seed=1)
    corpus = load_corpus(tmp_path, melody_track="Bass", cache=False, progress=False, workers=1)
    assert corpus.pieces[0].score.info["melody_track"] == 2


@pytest.mark.parametrize("override", ["Trumpet", 7])
def test_override_naming_missing_track_lists_tracks(tmp_path, override):
    path = write_trio(tmp_path / "trio.mid")
    with pytest.raises(InputFileError) as info:
        read_score(path, melody_track=override)
    message = str(info.value)
    assert str(path) in message
    assert repr(override) in message or str(override) in message
    for name in ("Lead", "Piano", "Bass"):
        assert name in message
    assert "0 'Lead'" in message and "1 'Piano'" in message and "2 'Bass'" in message


def test_override_on_drum_track_is_refused(tmp_path):
    path = write_tracks(tmp_path / "dr.mid", [
        TrackSpec("Melody", melody_notes(0)),
        TrackSpec("Drums", drum_notes(), is_drum=True),
    ])
    with pytest.raises(InputFileError) as info:
        read_score(path, melody_track=1)
    assert "drum" in info.value.reason
