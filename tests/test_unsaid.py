"""Bits per note of the exact melody: the pitches an encoding's tokens leave open, and the code
that names them (jazzlstm/evaluate/unsaid.py)."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from jazzlstm.evaluate import heldout
from jazzlstm.evaluate.unsaid import PitchCode, unsaid_bits
from jazzlstm.music.reading import read_score
from jazzlstm.music.score import Chord, Note, Score
from jazzlstm.tokens import grammar
from jazzlstm.tokens.base import phrases
from jazzlstm.tokens.events import KIND_INTERVAL
from jazzlstm.tokens.registry import make_tokenizer
from jazzlstm.tokens.vocab import Vocabulary
from samples import sample_files

ENCODINGS = ("grammar", "grammar-events", "degree-events", "note-events", "notes")


@pytest.fixture(scope="module")
def scores() -> list[Score]:
    return [read_score(path) for path in sample_files()]


@pytest.mark.parametrize("name", ENCODINGS)
def test_every_candidate_set_holds_the_real_pitch_and_only_pitches_spelled_alike(name, scores):
    tokenizer = make_tokenizer(name)
    open_notes = 0
    for score in scores:
        for phrase in phrases(score, tokenizer.split_silence_bars):
            tokens = tokenizer.encode(phrase)
            for index, pitch, previous, candidates in tokenizer.pitch_candidates(phrase, tokens):
                assert pitch in candidates and len(candidates) > 1
                # every candidate, put in the note's place, gives the same tokens up to the end of
                # the note's head (the next note's interval then starts from it, and names it)
                head_end = index + 1 + (index + 1 < len(tokens) and _is_move(tokenizer, tokens[index + 1]))
                note = _note_index(tokenizer, tokens, index)
                for other in (candidates[0], candidates[-1]):
                    melody = tuple(n._replace(pitch=other) if i == note else n for i, n in enumerate(phrase.melody))
                    assert tokenizer.encode(replace(phrase, melody=melody))[:head_end] == tokens[:head_end]
                open_notes += 1
    if tokenizer.spells_pitches:
        assert open_notes == 0
    else:
        assert open_notes > 0


def _note_index(tokenizer, tokens, index: int) -> int:
    """Which melody note the token at ``index`` starts."""
    return sum(tokenizer.is_note(t) for t in tokens[:index])


def _is_move(tokenizer, token: str) -> bool:
    return getattr(tokenizer, "token_kind", lambda t: None)(token) == KIND_INTERVAL


def test_the_grammar_names_every_windowed_note_and_leaves_each_bars_first_note_open(scores):
    tokenizer = make_tokenizer("grammar")
    score = scores[0]
    tokens = tokenizer.encode(score)
    open_tokens = {index for index, *_ in tokenizer.pitch_candidates(score, tokens)}
    for index, token in enumerate(tokens):
        parsed = grammar.parse_token(token)
        if parsed.kind != "R":
            assert (index in open_tokens) == (parsed.low is None)


def test_the_code_is_a_probability_over_the_candidates(scores):
    code = PitchCode.fit(scores)
    for previous in (None, 60):
        candidates = [48, 55, 60, 64, 67, 72, 100]
        total = sum(2 ** -code.bits(p, previous, candidates) for p in candidates)
        assert total == pytest.approx(1.0)
    assert code.bits(60, 59, [60]) == 0.0
    # training melodies move by steps far more than by tritones two octaves up
    assert code.bits(62, 60, [62, 90]) < 0.1 < code.bits(90, 60, [62, 90])


def test_a_leap_beyond_the_widest_interval_token_is_left_open():
    chords = (Chord(0.0, 8.0, 0, "7"),)
    score = Score((Note(0.0, 1.0, 60), Note(1.0, 1.0, 79), Note(2.0, 1.0, 81)), chords)
    for name in ("grammar-events", "degree-events"):
        tokenizer = make_tokenizer(name)
        tokens = tokenizer.encode(score)
        found = tokenizer.pitch_candidates(score, tokens)
        pitches = [pitch for _, pitch, _, _ in found]
        assert pitches[0] == 60  # the first note: its register (or more) open
        assert 79 in pitches  # +19: the widest move token (Int:+12, Dir:+2) stands for wider leaps too
        assert 81 not in pitches  # a step: named exactly


def test_held_out_exact_bits_add_the_same_unsaid_bits_to_every_model(scores):
    training, reference = scores[:-3], scores[-3:]
    for name in ("grammar", "note-events"):
        tokenizer = make_tokenizer(name)
        vocab = Vocabulary(sorted({t for s in scores for seq in tokenizer.encode_variants(s) for t in seq}))
        section = heldout.heldout_likelihood(lambda ids: [2.0] * (len(ids) - 1), vocab, tokenizer, reference,
                                             ["a", "b", "c"], training)
        unsaid = section["unsaid_pitch_bits"]["bits_per_note"]
        if name == "note-events":
            assert unsaid == 0.0
        else:
            assert unsaid > 0.5  # a bar's first note among a few dozen pitches of its type
        for rates in (section["model"], section["baselines"]["unigram"], section["baselines"]["best_kneser_ney"]):
            assert rates["exact_bits_per_note"] == pytest.approx(rates["bits_per_note"] + unsaid)


def test_unsaid_bits_are_zero_where_tokens_spell_the_pitch(scores):
    tokenizer = make_tokenizer("degree-events")
    code = PitchCode.fit(scores)
    sequences = tokenizer.encode_variants(scores[0])
    bits = unsaid_bits(tokenizer, scores[0], sequences, code)
    assert [len(b) for b in bits] == [len(s) for s in sequences]
    nonzero = [(s[i], b[i]) for s, b in zip(sequences, bits) for i in range(len(s)) if b[i]]
    assert len(nonzero) == len(sequences)  # one per sequence: its first note's register
    assert all(token.startswith("Deg:") and 0 < value < math.log2(11) + 1e-9 for token, value in nonzero)
