"""The encoders' shortcuts (issue 14: reading and encoding speed) give what the plain walk gave.

Each reference below is the earlier implementation in substance: a bar-line search and a
rest split at every event, a silence count between every two notes. The current encoders
must match it token for token on seeded random melodies: gaps, overlaps, meter changes, a
first meter that starts after beat 0, long silences and chords that change mid-bar.
"""
from __future__ import annotations

import bisect
import random

import pytest

from jazzlstm.music.harmony import note_type
from jazzlstm.music.score import STEPS_PER_BEAT, Chord, Note, Score, TimeSignature, bar_starts, quantize
from jazzlstm.tokens import grammar
from jazzlstm.tokens.base import SPLIT_SILENCE_BARS, phrase_start, phrases, rest_lengths
from jazzlstm.tokens.events import DUR, REST, duration_parts, steps_text
from jazzlstm.tokens.registry import make_tokenizer


def ref_event_tokens(tokenizer, score: Score) -> list[str]:
    """EventTokenizer.encode as it was: a bar-line search at every event."""
    melody, chords = score.melody, score.chords
    if not melody:
        return []
    bar_lines = bar_starts(score.time_signatures, melody[-1].end + 1)
    cursor = phrase_start(bar_lines, melody[0].start)
    tokens: list[str] = []
    state = {"bar": bisect.bisect_right(bar_lines, cursor + 1e-9) - 2, "chord": None, "index": 0}

    def spell(prefix: str, beats: float) -> list[str]:
        return [prefix + steps_text(part) for part in duration_parts(beats)]

    def announce(at: float) -> Chord | None:
        latest = bisect.bisect_right(bar_lines, at + 1e-9) - 1
        if tokenizer.bars and latest > state["bar"]:
            tokens.append("Bar")
        state["bar"] = max(state["bar"], latest)
        if not chords:
            return None
        i = state["index"]
        while i + 1 < len(chords) and chords[i + 1].start <= at + 1e-9:
            i += 1
        state["index"] = i
        chord = chords[i]
        if tokenizer.chords and (chord.root, chord.quality) != state["chord"]:
            tokens.append(tokenizer.chord_token(chord, state["chord"][0] if state["chord"] else None))
            state["chord"] = (chord.root, chord.quality)
        return chord

    previous = None
    for note in melody:
        rest_start = cursor
        for rest in rest_lengths(cursor, note.start, bar_lines):
            announce(rest_start)
            tokens += spell(REST, rest)
            rest_start += rest
        chord = announce(note.start)
        tokens += tokenizer.note_head(note, chord, previous)
        tokens += spell(DUR, note.duration)
        cursor, previous = note.end, note
    return tokens


def ref_grammar_tokens(score: Score) -> list[str]:
    """grammar.encode as it was: a rest split before every note."""
    bar_lines = bar_starts(score.time_signatures, score.melody[-1].end + 1)
    chords, tokens = score.chords, []
    cursor = phrase_start(bar_lines, score.melody[0].start)
    previous, previous_bar, bar, index = None, -1, 0, 0
    for note in score.melody:
        tokens += [f"R,{rest:.3f}" for rest in rest_lengths(cursor, note.start, bar_lines)]
        while bar + 1 < len(bar_lines) and bar_lines[bar + 1] <= note.start + 1e-9:
            bar += 1
        while index + 1 < len(chords) and chords[index + 1].start <= note.start + 1e-9:
            index += 1
        kind = note_type(note.pitch, chords[index].root, chords[index].quality)
        if previous is not None and bar == previous_bar:
            interval = note.pitch - previous.pitch
            tokens.append(f"{kind},{note.duration:.3f},<{interval - grammar.WIDEN},{interval + grammar.WIDEN}>")
        else:
            tokens.append(f"{kind},{note.duration:.3f}")
        cursor = note.start + note.duration
        previous, previous_bar = note, bar
    return tokens


def ref_phrase_lengths(score: Score, max_silence_bars: int) -> list[int]:
    """phrases() as it was: whole silent bars counted between every two notes."""
    bar_lines = score.bar_starts(score.end + 1)
    groups = [[score.melody[0]]]
    for previous, note in zip(score.melody, score.melody[1:]):
        silent = bisect.bisect_right(bar_lines, note.start + 1e-9) - 1 - bisect.bisect_left(bar_lines, previous.end - 1e-9)
        if silent > max_silence_bars:
            groups.append([])
        groups[-1].append(note)
    return [len(g) for g in groups]


def random_score(rng: random.Random) -> Score:
    """A melody with gaps (some of many bars), overlaps and off-grid lengths, over chords that
    change anywhere, in one to three meters (the first sometimes starting after beat 0)."""
    meters = [(4, 4), (3, 4), (6, 8), (5, 4), (2, 2), (7, 8), (1, 16)]
    first = rng.choice([0.0, 0.0, 0.0, 2.0, 4.0])
    sigs = [TimeSignature(first, *rng.choice(meters))]
    for _ in range(rng.randrange(3)):
        sigs.append(TimeSignature(sigs[-1].start + 4 * rng.randrange(1, 6), *rng.choice(meters)))
    notes, t = [], rng.choice([0.0, 0.5, 3.0, 9.0])
    for _ in range(rng.randrange(1, 60)):
        duration = quantize(rng.choice([0.25, 0.5, 1, 1.5, 2, 1 / 3, 5.0, 0.7]))
        notes.append(Note(quantize(t), duration, rng.randrange(40, 90)))
        t += duration + rng.choice([0, 0, 0, -0.25, 0.5, 1.0, 2.0 / 3, 13.0, 30.0])
        t = max(t, notes[-1].start + 1 / STEPS_PER_BEAT)
    chords, c = [], 0.0
    qualities = ["", "m", "7", "m7", "maj7", "dim7", "m7b5"]
    while c <= t + 4:
        length = rng.choice([1.0, 2.0, 4.0, 1.5])
        chords.append(Chord(c, length, rng.randrange(12), rng.choice(qualities)))
        c += length
    return Score(tuple(notes), tuple(chords), time_signatures=tuple(sigs))


@pytest.mark.parametrize("name", ["grammar-events", "degree-events", "note-events"])
def test_event_encoders_match_the_plain_walk(name):
    rng = random.Random(14)
    variants = [make_tokenizer(name), make_tokenizer(name, bars=False), make_tokenizer(name, chords=False)]
    for _ in range(150):
        score = random_score(rng)
        for tokenizer in variants:
            assert tokenizer.encode(score) == ref_event_tokens(tokenizer, score)


def test_grammar_encoder_matches_the_plain_walk():
    rng = random.Random(7)
    for _ in range(150):
        score = random_score(rng)
        assert grammar.encode(score) == ref_grammar_tokens(score)


def test_phrases_split_where_the_plain_count_splits():
    rng = random.Random(3)
    splits = 0
    for _ in range(150):
        score = random_score(rng)
        for bars in (0, 1, SPLIT_SILENCE_BARS):
            expected = ref_phrase_lengths(score, bars)
            assert [len(p.melody) for p in phrases(score, bars)] == expected
            splits += len(expected) > 1
    assert splits > 50  # the random scores do exercise the split


def test_a_first_meter_after_beat_0_still_opens_with_a_bar_token():
    score = Score((Note(0.5, 1.0, 60), Note(5.0, 1.0, 62)), (Chord(0.0, 8.0, 0, ""),),
                  time_signatures=(TimeSignature(4.0, 4, 4),))
    tokens = make_tokenizer("grammar-events").encode(score)
    assert tokens[0] == "Bar" and tokens.count("Bar") == 2
