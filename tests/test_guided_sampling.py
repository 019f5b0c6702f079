"""Guided sampling and beam search (numpy, no TensorFlow) on a stub step function and the event
encodings' guides."""
from __future__ import annotations

import random

import numpy as np
import pytest

from jazzlstm.model.search import beam_search, guided_sample
from jazzlstm.music.score import Chord
from jazzlstm.tokens.guide import make_guides
from jazzlstm.tokens.note_events import NoteEventTokenizer

TOKENIZER = NoteEventTokenizer(augment=())
TOKENS = sorted({"Bar", "Chord:C", "Chord:G7", "Dur:0.500", "Dur:1.000", "Rest:1.000",
                 *(f"Pitch:{p}" for p in range(60, 72))})
PROGRESSION = [Chord(0.0, 4.0, 0, ""), Chord(4.0, 4.0, 7, "7")]


TABLE = np.random.default_rng(7).normal(size=(len(TOKENS) + 1, len(TOKENS))) * 2
V = len(TOKENS)


def random_step(ids, state):
    """Logits that depend on the input id (a fixed, seedless 'model'); the state counts steps."""
    return TABLE[np.asarray(ids) + 1], state + 1.0


def guides(n: int):
    return make_guides(TOKENIZER, TOKENS, PROGRESSION, n, until=8.0)


def decode(ids):
    return TOKENIZER.decode_melody([TOKENS[i] for i in ids], PROGRESSION, random.Random(0))


def test_guided_sampling_follows_the_grammar_and_stops_at_the_requested_length():
    rows = guided_sample(random_step, V, np.zeros(6), guides(6), 200, seed=3)
    for row in rows:
        tokens = [TOKENS[i] for i in row]
        assert tokens[:2] == ["Bar", "Chord:C"] and tokens.count("Bar") == 2 and "Chord:G7" in tokens
        beats = sum(TOKENIZER.token_beats(t) or 0 for t in tokens)
        assert 8.0 <= beats < 9.01
        assert decode(row)
    assert guided_sample(random_step, V, np.zeros(6), guides(6), 200, seed=3) == rows  # the seed decides
    assert guided_sample(random_step, V, np.zeros(6), guides(6), 200, seed=4) != rows


def test_beam_search_prefers_chord_tones_when_weighted_and_is_seeded():
    plain = beam_search(random_step, V, np.zeros(8), guides(8), 200, beam_size=4, branch_factor=3, seed=1)
    harmonic = beam_search(random_step, V, np.zeros(8), guides(8), 200, beam_size=4, branch_factor=3,
                           harmony_weight=20.0, seed=1)
    assert beam_search(random_step, V, np.zeros(8), guides(8), 200, beam_size=4, branch_factor=3, seed=1) == plain

    def ratio(rows):
        notes = [n for row in rows for n in decode_with_chords(row)]
        return sum(tone for _, tone in notes) / len(notes)

    assert ratio(harmonic) > ratio(plain) + 0.2


def decode_with_chords(row):
    """(note, is a chord tone) for each decoded note."""
    from jazzlstm.music.harmony import chord_tones
    from jazzlstm.tokens.grammar import progression_chord

    out = []
    for note in decode(row):
        chord = progression_chord(PROGRESSION, note.start)
        out.append((note, note.pitch % 12 in chord_tones(chord.root, chord.quality)))
    return out


def test_beam_search_scores_higher_likelihood_than_sampling():
    """With no harmony term, the kept sequences are more likely under the model than samples."""
    def loglik(rows):
        total = 0.0
        for row in rows:
            (guide,) = guides(1)
            x = -1
            for token_id in row:
                logits = random_step(np.array([x]), np.zeros(1))[0][0].astype(np.float64)
                allowed = guide.allowed()
                masked = np.where(allowed, logits, -np.inf)
                total += masked[token_id] - np.log(np.exp(masked[allowed] - masked[allowed].max()).sum()) \
                    - masked[allowed].max()
                guide.advance(token_id)
                x = token_id
        return total / len(rows)

    sampled = guided_sample(random_step, V, np.zeros(8), guides(8), 200, seed=2)
    beamed = beam_search(random_step, V, np.zeros(8), guides(8), 200, beam_size=6, branch_factor=3, seed=2)
    assert loglik(beamed) > loglik(sampled)
