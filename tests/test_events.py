"""The factored encodings (grammar events, note events, degree events): grid, round trips, vocabulary growth,
and the guide that keeps sampled sequences decodable."""
from __future__ import annotations

import random

import numpy as np
import pytest

from jazzlstm.music.harmony import note_type
from jazzlstm.music.reading import read_score
from jazzlstm.music.score import STEPS_PER_BEAT, Chord, Note, Score, TimeSignature, chord_at
from jazzlstm.tokens.base import phrase_start
from jazzlstm.tokens.degree_events import DegreeEventTokenizer, direction_token, place
from jazzlstm.tokens.events import BAR, GRID_STEPS, KIND_DUR, KIND_NOTE, duration_parts, duration_tokens
from jazzlstm.tokens.grammar_events import GrammarEventTokenizer
from jazzlstm.tokens.guide import make_guides
from jazzlstm.tokens.note_events import NoteEventTokenizer
from jazzlstm.tokens.registry import make_tokenizer, tokenizer_from_config
from samples import sample_files

WIDE = (0, 127)


def scores() -> list[Score]:
    return [read_score(path) for path in sample_files()]


def test_every_length_on_the_grid_is_spelled_with_grid_values_that_sum_to_it():
    for steps in range(1, 400):
        parts = duration_parts(steps / STEPS_PER_BEAT)
        assert sum(parts) == steps and all(p in GRID_STEPS for p in parts)
        assert parts == sorted(parts, reverse=True)
    # Triplets and swing add no tokens: every length of up to 4 bars uses the 13 grid values.
    spelled = {t for steps in range(1, 200) for t in duration_tokens("Dur:", steps / STEPS_PER_BEAT)}
    assert len(spelled) == len(GRID_STEPS)


@pytest.mark.parametrize("name", ["grammar-events", "note-events", "degree-events"])
def test_config_round_trips_through_the_registry(name):
    tokenizer = make_tokenizer(name)
    assert tokenizer_from_config(tokenizer.config()) == tokenizer


def test_note_events_are_lossless_for_every_sample():
    tokenizer = NoteEventTokenizer(augment=())
    for score in scores():
        tokens = tokenizer.encode(score)
        notes = tokenizer.decode_melody(tokens, score.chords, random.Random(0), WIDE)
        offset = score.melody[0].start - notes[0].start  # leading silence is dropped, the bar position kept
        assert [(n.start + offset, n.duration, n.pitch) for n in notes] == \
               [(n.start, n.duration, n.pitch) for n in score.melody]


def decoded_over_own_chords(tokenizer, score: Score, seed: int = 0):
    """(tokens, shift, chords, notes): ``score`` encoded, then decoded over its own chords.
    Tokens start at the bar line before the first note (``shift`` beats into the piece), so
    the chords are decoded from there."""
    tokens = tokenizer.encode(score)
    shift = phrase_start(score.bar_starts(), score.melody[0].start)
    chords = [c._replace(start=c.start - shift) for c in score.chords if c.end > shift]
    chords[0] = chords[0]._replace(start=0.0)
    return tokens, shift, chords, tokenizer.decode_melody(tokens, chords, random.Random(seed), WIDE)


def test_degree_events_are_lossless_up_to_the_register_of_the_first_note():
    """Degree and chord fix the pitch class, the direction the octave: the decoded line is the
    written one moved by whole octaves (the first note's register is not in the tokens)."""
    tokenizer = DegreeEventTokenizer()
    for score in scores():
        _, shift, _, notes = decoded_over_own_chords(tokenizer, score)
        assert [(n.start + shift, n.duration) for n in notes] == [(n.start, n.duration) for n in score.melody]
        moved = {n.pitch - o.pitch for n, o in zip(notes, score.melody)}
        assert len(moved) == 1 and moved.pop() % 12 == 0


def test_directions_place_each_degree_in_the_octave_they_name():
    for previous in (55, 60, 66):
        for move in range(-24, 25):
            token = direction_token(move)
            assert place((previous + move) % 12, previous, int(token.split(":")[1])) == previous + move
    assert direction_token(31) == "Dir:+2"  # wider leaps fold into two octaves


def test_degree_event_chords_spell_quality_and_root_motion():
    melody = tuple(Note(float(i), 1.0, (62, 64, 65)[i % 3]) for i in range(8))
    chords = (Chord(0.0, 4.0, 2, "m7"), Chord(4.0, 2.0, 7, "7"), Chord(6.0, 2.0, 0, ""))
    tokens = DegreeEventTokenizer().encode(Score(melody, chords, (TimeSignature(0.0, 4, 4),)))
    assert [t for t in tokens if t.startswith("Chord:")] == ["Chord:m7@?", "Chord:7@5", "Chord:maj@5"]
    assert tokens[:4] == ["Bar", "Chord:m7@?", "Deg:0", "Dur:1.000"]  # D over Dm7: the root
    assert tokens[4:7] == ["Deg:2", "Dir:+1", "Dur:1.000"]  # E: a ninth, one step up


def contour(pitches) -> list[int]:
    return [(b > a) - (b < a) for a, b in zip(pitches, pitches[1:])]


def test_grammar_events_keep_rhythm_types_and_the_contour():
    """Lossy like the classic grammar (pitches are chord-relative, the register is not kept),
    but the decoded line keeps the written rhythm, every note's type, and its contour (the
    classic grammar's interval windows keep 67% of the steps' directions on these samples)."""
    tokenizer = GrammarEventTokenizer()
    kept = total = 0
    for score in scores():
        tokens, shift, chords, notes = decoded_over_own_chords(tokenizer, score, seed=1)
        original = score.melody
        assert [(n.start + shift, n.duration) for n in notes] == [(n.start, n.duration) for n in original]
        # Decoded over the piece's own chords, every note has the type its token says.
        types = [t.split(":")[1] for t in tokens if t.startswith("Type:")]
        for note, kind in zip(notes, types):
            chord = chord_at(chords, note.start)
            assert note_type(note.pitch, chord.root, chord.quality) == kind
        # ... and follows the written contour wherever the harmony allows it.
        written, decoded = contour([n.pitch for n in original]), contour([n.pitch for n in notes])
        kept += sum(a == b for a, b in zip(written, decoded))
        total += len(written)
    assert kept / total > 0.95


def test_bars_and_chords_are_announced_once_where_they_change():
    melody = tuple(Note(float(i), 1.0, 60 + i % 5) for i in range(8))
    chords = (Chord(0.0, 4.0, 2, "m7"), Chord(4.0, 2.0, 7, "7"), Chord(6.0, 2.0, 7, "7"))
    score = Score(melody, chords, (TimeSignature(0.0, 4, 4),))
    tokens = NoteEventTokenizer(augment=()).encode(score)
    assert tokens.count(BAR) == 2
    assert [t for t in tokens if t.startswith("Chord:")] == ["Chord:Dm7", "Chord:G7"]  # the repeat is not news
    assert tokens[:3] == ["Bar", "Chord:Dm7", "Pitch:60"]
    plain = NoteEventTokenizer(augment=(), chords=False, bars=False).encode(score)
    assert all(t.startswith(("Pitch:", "Dur:")) for t in plain)


def test_note_events_add_transposed_copies_for_training_by_default():
    score = scores()[0]
    variants = NoteEventTokenizer().encode_variants(score)
    assert len(variants) == 7
    pitches = [sorted({t for t in v if t.startswith("Pitch:")}) for v in variants]
    assert len({tuple(p) for p in pitches}) == 7
    assert NoteEventTokenizer(augment=()).encode_variants(score) == [variants[0]]


def test_held_out_pieces_use_far_fewer_unseen_tokens_with_events():
    """Leave each sample out in turn: the share of its tokens unseen in the others."""
    pieces = scores()
    rates = {}
    for name in ("grammar", "grammar-events", "notes", "note-events", "degree-events"):
        tokenizer = make_tokenizer(name, **({"augment": ()} if name == "note-events" else {}))
        encoded = [tokenizer.encode(s) for s in pieces]
        unseen = total = 0
        for i, tokens in enumerate(encoded):
            seen = {t for j, other in enumerate(encoded) if j != i for t in other}
            unseen += sum(t not in seen for t in tokens)
            total += len(tokens)
        rates[name] = unseen / total
    assert rates["grammar-events"] < rates["grammar"] / 5
    assert rates["note-events"] < rates["notes"] / 2
    assert rates["degree-events"] < rates["grammar"] / 5
    assert rates["grammar-events"] < 0.02  # on 16 files; the corpus benchmark measures the goal (< 1%)


# --------------------------------------------------------------------------------------------
# The guide
# --------------------------------------------------------------------------------------------
def vocabulary(tokenizer, pieces) -> list[str]:
    return sorted({t for s in pieces for t in tokenizer.encode(s)})


PROGRESSION = [Chord(0.0, 4.0, 2, "m7"), Chord(4.0, 4.0, 7, "7"), Chord(8.0, 8.0, 0, "maj7")]


@pytest.mark.parametrize("tokenizer", [GrammarEventTokenizer(), NoteEventTokenizer(augment=()), DegreeEventTokenizer()],
                         ids=lambda t: t.name)
def test_random_choices_within_the_guide_always_decode_to_the_requested_length(tokenizer):
    tokens = vocabulary(tokenizer, scores())
    rng = np.random.default_rng(0)
    for guide in make_guides(tokenizer, tokens, PROGRESSION, 20, until=16.0):
        chosen = []
        while not guide.finished() and len(chosen) < 500:
            allowed = np.flatnonzero(guide.allowed())
            token_id = int(rng.choice(allowed))
            guide.advance(token_id)
            chosen.append(tokens[token_id])
        assert guide.finished()
        # Forced tokens: a bar line every 4 beats and every chord change, in order.
        assert chosen.count(BAR) == 4
        chord_tokens = [t for t in chosen if t.startswith("Chord:")]
        roots = [None] + [c.root for c in PROGRESSION[:-1]]
        assert chord_tokens == [tokenizer.chord_token(c, r) for c, r in zip(PROGRESSION, roots)]
        # Every note has its duration (and its interval, grammar events, after the first note).
        kinds = [tokenizer.token_kind(t) for t in chosen]
        for i, kind in enumerate(kinds):
            if kind == KIND_NOTE:
                following = [k for k in kinds[i + 1:] if k not in ("bar", "chord")]
                assert following and following[0] in (KIND_DUR, "interval")
        notes = tokenizer.decode_melody(chosen, PROGRESSION, random.Random(0))
        assert notes and all(n.duration > 0 for n in notes)
        assert sum(tokenizer.token_beats(t) or 0 for t in chosen) >= 16.0 - 1e-9


def test_the_guide_counts_chord_tones_at_each_note_onset():
    tokenizer = NoteEventTokenizer(augment=())
    tokens = ["Bar", "Chord:Dm7", "Chord:G7", "Dur:1.000", "Dur:4.000", "Pitch:62", "Pitch:61", "Rest:1.000"]
    (guide,) = make_guides(tokenizer, tokens, PROGRESSION, 1, until=8.0)
    for token in ["Bar", "Chord:Dm7", "Pitch:62", "Dur:1.000", "Pitch:61", "Dur:1.000", "Rest:1.000",
                  "Rest:1.000", "Bar", "Chord:G7"]:
        assert guide.allowed()[tokens.index(token)], token
        guide.advance(tokens.index(token))
    assert (guide.notes, guide.chord_tones) == (2, 1)  # D over Dm7 is a chord tone, C# is not
