"""Melody choice on arrangements where the tune is not the most monophonic track: coverage,
names and programs weigh in as a musician would (the cases real files showed)."""
from __future__ import annotations

import pytest

from jazzlstm.music.reading import read_score
from midi_factory import TrackSpec, bass_notes, chord_notes, drum_notes, melody_notes, write_tracks

BARS = 16


def with_double_stops(notes, every: int = 3):
    """A guitar-like line: every ``every``-th note doubled a third below (monophony ~0.6)."""
    out = list(notes)
    for i, (pitch, start, duration) in enumerate(notes):
        if i % every == 0:
            out.append((pitch - 4, start, duration))
    return out


def fill(bars: range, seed: int):
    """A short monophonic fill over ``bars`` only (a horn's four bars)."""
    return [n for n in melody_notes(seed, BARS) if bars.start * 4 <= n[1] < bars.stop * 4]


def backing() -> list[TrackSpec]:
    return [TrackSpec("Piano", chord_notes(BARS), 0), TrackSpec("Bass", bass_notes(BARS), 33),
            TrackSpec("Drums", drum_notes(BARS), 0, True)]


CASES = {
    # The tune on a guitar with double stops, all the way through, against a monophonic horn fill.
    "guitar tune vs horn fill": ([TrackSpec("French Horn", fill(range(4, 6), 5), 60),
                                  TrackSpec("Guitar", with_double_stops(melody_notes(1, BARS)), 26)], "Guitar"),
    # A track named Melody against a short lead guitar.
    "melody vs lead guitar": ([TrackSpec("Lead Guitar", fill(range(2, 4), 7), 29),
                               TrackSpec("Melody", with_double_stops(melody_notes(2, BARS), 4), 73)], "Melody"),
    # A vocal line against an agogo (GM 113) pattern that is monophonic and high.
    "vocal vs agogo": ([TrackSpec("Agogo", [(76 + (i % 2), i * 0.5, 0.25) for i in range(BARS * 8)], 113),
                        TrackSpec("Vocal", with_double_stops(melody_notes(3, BARS)), 52)], "Vocal"),
    # A French "Chant" against pizzicato strings covering part of the song.
    "chant vs pizzicato": ([TrackSpec("Pizz", fill(range(0, 3), 9), 45),
                            TrackSpec("Chant", with_double_stops(melody_notes(4, BARS)), 54)], "Chant"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_written_melody_track_is_chosen(case, tmp_path):
    tracks, melody_name = CASES[case]
    path = write_tracks(tmp_path / "song.mid", [*backing(), *tracks])
    score = read_score(path)
    assert score.info["melody_track_name"] == melody_name, score.info["melody_reason"]


def test_a_percussive_program_is_never_the_melody(tmp_path):
    path = write_tracks(tmp_path / "perc.mid", [TrackSpec("Woodblock", melody_notes(0, BARS), 115),
                                                TrackSpec("Flute", melody_notes(1, BARS)[::3], 73)])
    stats = {t["name"]: t for t in read_score(path).info["tracks"]}
    assert stats["Woodblock"]["score"] is None and stats["Flute"]["score"] is not None


def test_all_melodies_keeps_every_melodic_line_over_the_same_chords(tmp_path):
    from jazzlstm.music.analysis import melody_versions

    path = write_tracks(tmp_path / "duet.mid", [*backing(), TrackSpec("Flute", melody_notes(1, BARS), 73),
                                                TrackSpec("Violin", melody_notes(2, BARS), 40),
                                                TrackSpec("Horn fill", fill(range(4, 6), 5), 60)])
    best = read_score(path)
    versions = melody_versions(read_score(path, "all"))
    assert len(melody_versions(best)) == 1
    assert [v.melody for v in versions][0] == best.melody
    assert sorted(v.melody[0].pitch for v in versions) == sorted({melody_notes(1, BARS)[0][0], melody_notes(2, BARS)[0][0]})
    assert all(v.chords == best.chords for v in versions)  # the fill covers too little to count


def test_a_corpus_read_with_melody_all_trains_on_every_line(tmp_path):
    from jazzlstm.cli import build_parser
    from jazzlstm.data.corpus import load_corpus

    folder = tmp_path / "songs"
    folder.mkdir()
    write_tracks(folder / "duet.mid", [*backing(), TrackSpec("Flute", melody_notes(1, BARS), 73),
                                       TrackSpec("Violin", melody_notes(2, BARS), 40)])
    best = load_corpus(folder, cache=False, progress=False)
    every = load_corpus(folder, melody_track="all", cache=False, progress=False)
    assert len(best.sequences) == 1 and len(every.sequences) == 2
    assert every.sequences[0] == best.sequences[0]
    assert build_parser().parse_args(["train", "--melody", "all"]).melody_track == "all"
