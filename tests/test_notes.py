"""Plain note encoding: exact round trips, transposition, augmentation."""
from __future__ import annotations

import pytest

from jazzlstm.tokens import notes
from jazzlstm.tokens.base import phrase_start
from jazzlstm.music.reading import read_score
from jazzlstm.music.score import Chord, Note, Score

from samples import sample_files

SAMPLES = sample_files((".mid", ".mxl", ".musicxml"))


def test_samples_exist():
    assert len(sample_files()) >= 10, "midi_samples/ should hold at least 10 MIDI files"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_round_trip_is_exact_on_bundled_samples(path):
    # Exact, once the whole bars of silence before the first note (not encoded) are added back.
    score = read_score(path)
    offset = phrase_start(score.bar_starts(), score.melody[0].start)
    decoded = notes.decode(notes.encode(score))
    assert [(n.start + offset, n.duration, n.pitch) for n in decoded] == \
        [(n.start, n.duration, n.pitch) for n in score.melody]


def test_triplets_and_rests_survive():
    melody = (Note(0.5, 1 / 3, 60), Note(5 / 6, 1 / 3, 62), Note(7 / 6, 1 / 3, 64), Note(3.0, 1.0, 65))
    score = Score(melody, (Chord(0.0, 4.0, 0, ""),))
    tokens = notes.encode(score)
    assert tokens == ["R,0.500", "P60,0.333", "P62,0.333", "P64,0.333", "R,1.500", "P65,1.000"]
    assert [(n.start, n.duration, n.pitch) for n in notes.decode(tokens)] == \
        [(round(n.start * 12) / 12, round(n.duration * 12) / 12, n.pitch) for n in melody]


def test_transposition_to_a_common_key():
    # A melody in D major over D / A chords moves down two semitones to C major.
    melody = tuple(Note(float(i), 1.0, p) for i, p in enumerate([62, 64, 66, 67, 69, 71, 73, 74, 69, 66, 62]))
    score = Score(melody, (Chord(0.0, 8.0, 2, ""), Chord(8.0, 3.0, 9, "7")))
    assert notes.key_transposition(score) == -2
    moved = notes.transpose_score(score, -2)
    assert moved.melody[0].pitch == 60 and moved.chords[1].root == 7


def test_augmentation_skips_out_of_range_shifts():
    score = Score((Note(0.0, 1.0, 126),), (Chord(0.0, 1.0, 0, ""),))
    variants = notes.NoteTokenizer(augment=(-1, 1, 2)).encode_variants(score)
    assert [v[0] for v in variants] == ["P126,1.000", "P125,1.000", "P127,1.000"]


def test_decode_rejects_garbage_unless_lenient():
    with pytest.raises(ValueError):
        notes.decode(["P60,1.000", "bogus"])
    assert len(notes.decode(["P60,1.000", "bogus", "P62,0.500"], strict=False)) == 2
