"""Jazz grammar: token format, encode -> decode round trips over the same chords."""
from __future__ import annotations

import random

import pytest

from jazzlstm.tokens import grammar
from jazzlstm.music.harmony import note_type, parse_chord
from jazzlstm.music.score import Chord, Note, Score, TimeSignature, chord_at

from samples import sample_files


def _score(notes, chords=("Dm7", "G7", "Cmaj7", "Cmaj7"), bar=4.0) -> Score:
    timeline = tuple(Chord(i * bar, bar, *parse_chord(name)) for i, name in enumerate(chords))
    return Score(tuple(Note(s, d, p) for s, d, p in notes), timeline)


def test_token_format_and_interval_pair():
    score = _score([(0.0, 1.0, 62), (1.0, 0.5, 65), (2.0, 1.0, 64), (4.0, 4.0, 67)])
    tokens = grammar.encode(score)
    # D over Dm7 is a chord tone, first note of the bar has no pair; F is a chord tone a minor third up;
    # a rest fills 1.5..2.0; E over Dm7 is a scale tone one semitone below F; a rest fills 3..4;
    # G opens bar 2 over G7 (chord tone, no pair).
    assert tokens == ["C,1.000", "C,0.500,<0,6>", "R,0.500", "S,1.000,<-4,2>", "R,1.000", "C,4.000"]


def test_parse_token_rejects_garbage():
    with pytest.raises(ValueError):
        grammar.parse_token("Q,1.000")
    with pytest.raises(ValueError):
        grammar.parse_token("R,1.000,<1,2>")
    assert grammar.parse_token("A,0.333,<-5,1>") == grammar.GrammarToken("A", 0.333, -5, 1)


def _random_score(seed: int) -> Score:
    rng = random.Random(seed)
    notes, step, pitch = [], 0, 67
    while step < 16 * 48:
        length = rng.choice([3, 4, 6, 8, 12, 24])
        if rng.random() < 0.15:
            step += length
            continue
        pitch = min(84, max(55, pitch + rng.randint(-7, 7)))
        notes.append((step / 12, length / 12, pitch))
        step += length
    return _score(notes, chords=["Dm7", "G7", "Cmaj7", "A7", "Bm7b5", "E7", "Am7", "Ebdim7"] * 2)


@pytest.mark.parametrize("seed", range(5))
def test_round_trip_preserves_rhythm_and_types(seed):
    score = _random_score(seed)
    tokens = grammar.encode(score)
    decoded = grammar.decode(tokens, score.chords, rng=seed, pitch_range=(40, 96))
    assert [(n.start, n.duration) for n in decoded] == [(n.start, n.duration) for n in score.melody]
    for original, new in zip(score.melody, decoded):
        chord = chord_at(score.chords, original.start)
        assert note_type(new.pitch, chord.root, chord.quality) == note_type(original.pitch, chord.root, chord.quality)


@pytest.mark.parametrize("seed", range(3))
def test_interval_pairs_contain_the_real_interval(seed):
    score = _random_score(seed)
    tokens = [grammar.parse_token(t) for t in grammar.encode(score) if not t.startswith("R")]
    assert len(tokens) == len(score.melody)
    pairs = 0
    for previous, note, token in zip(score.melody, score.melody[1:], tokens[1:]):
        if token.low is not None:
            pairs += 1
            assert token.low <= note.pitch - previous.pitch <= token.high
            assert token.high - token.low == 2 * grammar.WIDEN
    assert pairs > len(tokens) // 2


def test_first_note_of_each_bar_has_no_pair_in_three_four():
    notes = [(0.0, 1.0, 60), (1.0, 1.0, 62), (2.0, 1.0, 64), (3.0, 1.0, 65), (4.0, 2.0, 67)]
    score = Score(tuple(Note(s, d, p) for s, d, p in notes), (Chord(0.0, 6.0, 0, ""),), (TimeSignature(0.0, 3, 4),))
    tokens = grammar.encode(score)
    assert [("<" in t) for t in tokens] == [False, True, True, False, True]


def test_decode_is_seeded_and_stays_in_range():
    score = _random_score(7)
    tokens = grammar.encode(score)
    first = grammar.decode(tokens, score.chords, rng=3)
    assert first == grammar.decode(tokens, score.chords, rng=3)
    assert first != grammar.decode(tokens, score.chords, rng=4)
    assert all(grammar.PLAYABLE_RANGE[0] <= n.pitch <= grammar.PLAYABLE_RANGE[1] for n in first)


def test_decode_cycles_a_short_progression_and_falls_back_for_impossible_types():
    chords = (Chord(0.0, 4.0, *parse_chord("Cdim7")),)
    # X never occurs over a diminished seventh chord (C, S and A cover all twelve pitch classes):
    notes = grammar.decode(["X,1.000"] * 8, chords, rng=0)
    assert [n.start for n in notes] == [float(i) for i in range(8)]
    assert all(note_type(n.pitch, 0, "dim7") == "C" for n in notes)


def test_decode_skips_unknown_tokens_only_when_not_strict():
    chords = (Chord(0.0, 4.0, 0, "maj7"),)
    with pytest.raises(ValueError):
        grammar.decode(["C,1.000", "<unk>"], chords)
    assert len(grammar.decode(["C,1.000", "<unk>", "S,1.000"], chords, strict=False)) == 2


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_round_trip_on_bundled_samples(path):
    from jazzlstm.music.reading import read_score

    from jazzlstm.tokens.base import phrase_start

    # Exact timing once the whole bars of silence before the first note (not encoded) are
    # added back; decoded over the chords from that bar line on.
    score = read_score(path)
    offset = phrase_start(score.bar_starts(), score.melody[0].start)
    tokens = grammar.encode(score)
    chords = [Chord(c.start - offset, c.duration, c.root, c.quality) for c in score.chords if c.end > offset]
    decoded = [Note(n.start + offset, n.duration, n.pitch) for n in
               grammar.decode(tokens, chords, rng=0, pitch_range=(0, 127))]
    assert [(n.start, n.duration) for n in decoded] == [(n.start, n.duration) for n in score.melody]
    for original, new in zip(score.melody, decoded):
        chord = chord_at(score.chords, original.start)
        assert note_type(new.pitch, chord.root, chord.quality) == note_type(original.pitch, chord.root, chord.quality)
