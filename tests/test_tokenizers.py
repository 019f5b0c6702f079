"""The tokenizer interface: every encoding round-trips through it, and the registry is the one
place encodings are found by name (configs saved with their version)."""
from __future__ import annotations

import random

import pytest

from jazzlstm.errors import JazzLSTMError
from jazzlstm.music.reading import read_score
from jazzlstm.music.score import Chord, Note, Score
from jazzlstm.tokens.base import MusicTokenizer, Tokenizer
from jazzlstm.tokens.registry import TOKENIZERS, make_tokenizer, music_tokenizer_names, tokenizer_from_config
from samples import SAMPLES_DIR


def two_bar_score() -> Score:
    chords = (Chord(0.0, 4.0, 2, "m7"), Chord(4.0, 4.0, 7, "7"))
    melody = (Note(0.0, 1.0, 65), Note(1.0, 0.5, 69), Note(2.0, 1.0, 72), Note(4.5, 1.5, 71), Note(6.0, 2.0, 65))
    return Score(melody, chords)


def test_the_registry_knows_every_encoding():
    assert set(TOKENIZERS) == {"grammar", "grammar-events", "notes", "note-events", "degree-events", "chars"}
    assert music_tokenizer_names() == ("grammar", "grammar-events", "notes", "note-events", "degree-events")
    for name, cls in TOKENIZERS.items():
        assert cls.name == name and issubclass(cls, Tokenizer)


@pytest.mark.parametrize("name", ["grammar", "notes"])
def test_config_round_trips_with_its_version(name):
    tokenizer = make_tokenizer(name)
    config = tokenizer.config()
    assert config["name"] == name and config["version"] == type(tokenizer).version
    assert tokenizer_from_config(config) == tokenizer


def test_a_newer_version_or_unknown_encoding_is_one_clear_error():
    config = make_tokenizer("grammar").config()
    with pytest.raises(JazzLSTMError, match="grammar version 99 is newer than this jazzlstm"):
        tokenizer_from_config({**config, "version": 99}, where="run/config.json")
    with pytest.raises(JazzLSTMError, match="unknown encoding 'remi'"):
        make_tokenizer("remi")


def test_notes_round_trip_exactly_and_keep_their_options():
    tokenizer = make_tokenizer("notes", transpose="2", augment=(-1, 1))
    assert tokenizer_from_config(tokenizer.config()) == tokenizer
    score = two_bar_score()
    tokens = tokenizer.encode(score)
    assert tokens[0] == "P67,1.000"
    decoded = make_tokenizer("notes").decode(tokens, score.chords, rng=0)
    assert [(n.start, n.duration, n.pitch - 2) for n in decoded.melody] == \
        [(n.start, n.duration, n.pitch) for n in score.melody]
    variants = tokenizer.encode_variants(score)
    assert len(variants) == 3 and variants[0] == tokens


def test_grammar_decodes_over_the_chords_deterministically():
    tokenizer = make_tokenizer("grammar")
    score = read_score(SAMPLES_DIR / "blues_in_f.mid")
    tokens = tokenizer.encode(score)
    first = tokenizer.decode(tokens, score.chords, rng=3)
    assert first == tokenizer.decode(tokens, score.chords, rng=3)
    assert [n.duration for n in first.melody] == [n.duration for n in score.melody]
    assert first.chords[0] == score.chords[0] and first.chords[-1].end >= first.melody[-1].end


@pytest.mark.parametrize("name", ["grammar", "notes"])
def test_every_music_tokenizer_times_its_tokens(name):
    tokenizer = make_tokenizer(name)
    assert isinstance(tokenizer, MusicTokenizer)
    score = two_bar_score()
    tokens = tokenizer.encode(score)
    assert sum(tokenizer.token_beats(t) for t in tokens) == pytest.approx(score.melody[-1].end)
    assert tokenizer.token_beats("<unk>") is None
    melody = tokenizer.decode_melody(["<unk>", *tokens], score.chords, random.Random(0))
    assert len(melody) == len(score.melody)  # the unknown token is skipped


def test_characters_decode_up_to_the_end_token():
    tokenizer = make_tokenizer("chars", end_token="<end>")
    assert tokenizer.encode("ab\nc") == ["a", "b", "\n", "c"]
    assert tokenizer.decode(["T", "i", "<unk>", "m", "<end>", "x"]) == "Tim"


@pytest.mark.parametrize("name", ["grammar", "notes"])
def test_leading_silence_is_dropped_and_the_pickup_keeps_its_place(name):
    # Three silent bars, then a pickup on beat 4 of bar 4: tokens start at bar 4's line.
    chords = tuple(Chord(4.0 * b, 4.0, 0, "") for b in range(6))
    score = Score((Note(15.0, 1.0, 67), Note(16.0, 2.0, 64)), chords)
    tokens = make_tokenizer(name).encode(score)
    assert tokens[0] == "R,3.000" and len(tokens) == 3


@pytest.mark.parametrize("name", ["grammar", "notes"])
def test_rests_are_split_at_bar_lines(name):
    chords = tuple(Chord(4.0 * b, 4.0, 0, "") for b in range(4))
    score = Score((Note(0.0, 2.5, 67), Note(9.0, 1.0, 64)), chords)
    tokens = make_tokenizer(name).encode(score)
    assert [t for t in tokens if t.startswith("R,")] == ["R,1.500", "R,4.000", "R,1.000"]


@pytest.mark.parametrize("name", ["grammar", "notes"])
def test_long_silence_splits_a_piece_into_phrases(name):
    chords = tuple(Chord(4.0 * b, 4.0, 7, "7") for b in range(40))
    phrase = [Note(float(i), 1.0, 67 + i) for i in range(8)]
    later = [Note(n.start + 4 * 14, 1.0, n.pitch) for n in phrase]    # 12 silent bars between
    close = [Note(n.start + 4 * 5, 1.0, n.pitch) for n in phrase]     # 3 silent bars between
    tokenizer = make_tokenizer(name)
    split = tokenizer.encode_variants(Score(tuple(phrase + later), chords))
    assert len(split) == 2 and split[0] == split[1] == tokenizer.encode(Score(tuple(phrase), chords))
    assert len(tokenizer.encode_variants(Score(tuple(phrase + close), chords))) == 1
    assert len(make_tokenizer(name, split_silence_bars=20).encode_variants(Score(tuple(phrase + later), chords))) == 1


@pytest.mark.parametrize("name", ["grammar", "notes"])
def test_notes_are_counted_without_rests_or_specials(name):
    tokenizer = make_tokenizer(name)
    score = two_bar_score()
    tokens = tokenizer.encode(score)
    assert any(t.startswith("R,") for t in tokens)
    assert tokenizer.count_notes(["<unk>", *tokens]) == len(score.melody)


def test_phrases_split_on_whole_silent_bars_only():
    from jazzlstm.tokens.base import phrases

    chords = tuple(Chord(4.0 * b, 4.0, 0, "") for b in range(8))
    # Beat 3 to beat 13: bar lines 4, 8 and 12 lie inside the gap, but only two bars are silent whole.
    two = Score((Note(2.0, 1.0, 60), Note(13.0, 1.0, 62)), chords)
    three = Score((Note(2.0, 1.0, 60), Note(17.0, 1.0, 62)), chords)
    assert len(phrases(two, 2)) == 1 and len(phrases(three, 2)) == 2
