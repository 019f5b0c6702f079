"""Model-free generation helpers: progressions, bar filling, shaping guarantees."""
from __future__ import annotations

import random

import pytest

from jazzlstm.generation import arrange as generation
from jazzlstm.tokens.registry import make_tokenizer
from jazzlstm.errors import BadChordError
from jazzlstm.music.score import Note


def test_progression_from_names_is_one_chord_per_bar():
    chords = generation.progression_from_names("Dm7 G7 Cmaj7 Cmaj7")
    assert [(c.start, c.duration, c.label) for c in chords] == \
        [(0.0, 4.0, "Dm7"), (4.0, 4.0, "G7"), (8.0, 4.0, "Cmaj7"), (12.0, 4.0, "Cmaj7")]
    with pytest.raises(BadChordError, match="Hm7"):
        generation.progression_from_names("Dm7 Hm7")


def test_fit_progression_cycles_and_cuts():
    chords = generation.progression_from_names("Dm7 G7")
    fitted = generation.fit_progression(chords, 20.0)
    assert [c.label for c in fitted] == ["Dm7", "G7", "Dm7", "G7", "Dm7"]
    assert fitted[-1].end == 20.0


def test_pick_progression_takes_a_stretch_of_a_training_piece():
    source = generation.progression_from_names("C7 F7 C7 C7 F7 F7 C7 C7 G7 F7 C7 G7")
    picked = generation.pick_progression([source], 4, random.Random(3))
    labels = [c.label for c in source]
    window = [c.label for c in picked]
    assert len(window) == 4 and sum(c.duration for c in picked) == 16.0
    assert any(labels[i:i + 4] == window for i in range(len(labels) - 3))


def test_shape_melody_fills_empty_bars_and_keeps_onsets_unique():
    chords = generation.fit_progression(generation.progression_from_names("Dm7 G7 Cmaj7 A7"), 16.0)
    melody = [Note(0.0, 9.0, 60), Note(9.0, 0.5, 62), Note(15.0, 3.0, 64)]  # bar 1 is covered by a held note
    shaped = generation.shape_melody(melody, chords, 4)
    assert generation.empty_bars(shaped, 4) == []
    starts = [n.start for n in shaped]
    assert starts == sorted(set(starts))
    assert all(n.duration > 0 for n in shaped)
    assert shaped[-1].end <= 16.0
    filler = next(n for n in shaped if n.start == 4.0)
    assert filler.pitch % 12 in {7, 11, 2, 5}, "a G7 chord tone"


@pytest.mark.parametrize("seed", range(4))
def test_score_from_tokens_meets_the_promises(seed):
    rng = random.Random(seed)
    kinds = ["C", "S", "A", "X", "R"]
    tokens = [f"{rng.choice(kinds)},{rng.choice([0.25, 0.5, 1.0, 2.0, 4.0]):.3f}" for _ in range(40)]
    chords = generation.progression_from_names("Dm7 G7 Cmaj7 Cmaj7")
    score = generation.score_from_tokens(tokens, make_tokenizer("grammar"), chords, 8, 120.0, random.Random(seed))
    assert generation.empty_bars(score.melody, 8) == []
    starts = [n.start for n in score.melody]
    assert starts == sorted(set(starts))
    assert all(n.duration > 0 and n.end <= 32.0 for n in score.melody)
    low, high = generation.PLAYABLE_RANGE
    assert all(low <= n.pitch <= high for n in score.melody)
    assert score.chords[-1].end == 32.0


def test_notes_encoding_is_folded_into_the_playable_range():
    score = generation.score_from_tokens(["P30,1.000", "P110,1.000", "R,2.000"] * 4, make_tokenizer("notes"),
                                   generation.progression_from_names("C"), 4, 100.0, random.Random(0))
    assert all(generation.PLAYABLE_RANGE[0] <= n.pitch <= generation.PLAYABLE_RANGE[1] for n in score.melody)
    assert {n.pitch % 12 for n in score.melody[:2]} == {30 % 12, 110 % 12}


def test_tokens_needed():
    assert generation.tokens_needed(["C,1.000", "R,2.000", "<unk>", "S,1.000", "C,1.000"], make_tokenizer("grammar"), 4.0) == 4
