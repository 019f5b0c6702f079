"""Copying of training material: shares of copied note n-grams and the longest copied span."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from jazzlstm.evaluate import memorization as mz
from jazzlstm.music.score import Note, Score, TimeSignature

_DURATIONS = (0.25, 0.5, 0.5, 1.0, 1 / 3, 0.75, 1.5)


def _random_melody(rng: np.random.Generator, n_notes: int, name: str = "", start_pitch: int = 64,
                   time_signature: TimeSignature | None = None) -> Score:
    """Random rhythm (a rest before one note in ten), a random walk of leaps up to a fifth in 48..84."""
    durations = rng.choice(np.array(_DURATIONS), size=n_notes)
    gaps = np.where(rng.random(n_notes) < 0.1, 0.5, 0.0)
    starts = np.cumsum(gaps + np.concatenate([[0.0], durations[:-1]]))
    walk = (start_pitch - 48 + np.concatenate([[0], np.cumsum(rng.integers(-7, 8, size=n_notes - 1))])) % 72
    pitches = 48 + np.where(walk <= 36, walk, 72 - walk)      # reflected at the ends of the range
    notes = tuple(Note(float(s), float(d), int(p)) for s, d, p in zip(starts, durations, pitches))
    sigs = (time_signature,) if time_signature else (TimeSignature(0.0),)
    return Score(melody=notes, time_signatures=sigs, info={"name": name} if name else {})


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(2024)
    pieces = [_random_melody(rng, int(rng.integers(40, 120)), f"tune{i}") for i in range(200)]
    return pieces, mz.TrainingIndex(pieces)


def _shifted(score: Score, beats: float, semitones: int) -> tuple[Note, ...]:
    return tuple(n._replace(start=n.start + beats, pitch=n.pitch + semitones) for n in score.melody)


def test_a_copied_training_piece_is_fully_memorized_with_its_source(corpus):
    pieces, index = corpus
    source = pieces[17]
    copy = Score(melody=_shifted(source, 8.0, 5))        # later and in another key: still a copy
    result = index.memorization(copy)
    assert result.shares == {4: 1.0, 8: 1.0, 16: 1.0}
    assert result.ngrams[4] == len(source.melody) - 3
    span = result.longest
    assert (span.notes, span.source, span.source_name, span.start, span.source_start) == (
        len(source.melody), 17, "tune17", 0, 0)
    assert span.start_beat == source.melody[0].start + 8.0
    assert span.bars == pytest.approx((source.melody[-1].end - source.melody[0].start) / 4)


def test_a_random_piece_is_not_memorized(corpus):
    _, index = corpus
    rng = np.random.default_rng(99)
    results = [index.memorization(_random_melody(rng, 100)) for _ in range(5)]
    for result in results:
        assert result.shares[8] == 0.0 and result.shares[16] == 0.0
        assert result.shares[4] < 0.05
        assert result.longest is None or result.longest.notes < 8
    summary = mz.summarize(results)
    assert summary["share_16"] == 0.0 and summary["pieces_with_8_note_copy"] == 0.0


def test_one_copied_span_of_eight_notes_is_found_where_it_came_from(corpus):
    pieces, index = corpus
    rng = np.random.default_rng(5)
    fresh = _random_melody(rng, 60)
    source = pieces[42]
    borrowed = source.melody[10:18]                      # 8 notes from tune42, moved and transposed
    offset = fresh.melody[29].end + 0.5 - borrowed[0].start
    pasted = tuple(n._replace(start=n.start + offset, pitch=n.pitch - 3) for n in borrowed)
    tail_start = pasted[-1].end + 0.5 - fresh.melody[30].start
    # (seeded: the notes around the paste happen not to continue it)
    notes = fresh.melody[:30] + pasted + tuple(n._replace(start=n.start + tail_start) for n in fresh.melody[30:])
    piece = Score(melody=notes, time_signatures=(TimeSignature(0.0, 3, 4),))
    result = index.memorization(piece)
    span = result.longest
    assert (span.notes, span.source, span.source_start, span.start) == (8, 42, 10, 30)
    assert span.start_beat == pasted[0].start
    assert span.bars == pytest.approx((pasted[-1].end - pasted[0].start) / 3)   # 3/4 bars
    assert result.shares[8] == pytest.approx(1 / (len(notes) - 7))               # exactly one 8-gram
    assert result.shares[16] == 0.0


def test_rhythm_and_rests_are_part_of_an_ngram():
    base = Score(melody=tuple(Note(float(i), 1.0, 60 + 2 * i) for i in range(8)))
    index = mz.TrainingIndex([base], names=["scale"], sizes=(4, 8))
    swung = Score(melody=tuple(n._replace(duration=0.5) for n in base.melody))
    rest = Score(melody=base.melody[:4] + tuple(n._replace(start=n.start + 1) for n in base.melody[4:]))
    assert index.memorization(swung).shares[4] == 0.0
    rested = index.memorization(rest)
    assert rested.shares[8] == 0.0 and rested.shares[4] == pytest.approx(2 / 5)  # notes 0-3 and 4-7 only
    assert rested.longest.notes == 4 and rested.longest.source_name == "scale"


def test_short_pieces_and_ties():
    a = Score(melody=tuple(Note(float(i), 1.0, 60 + i) for i in range(6)))
    index = mz.TrainingIndex([a, a], names=["first", "second"])
    result = index.memorization(a)
    assert math.isnan(result.shares[8]) and result.ngrams[16] == 0
    assert result.longest.source == 0 and result.longest.notes == 6   # the earlier of equal sources
    assert index.memorization(Score(melody=a.melody[:3])).longest is None
    assert mz.memorization([a], [a])[0].shares[4] == 1.0


def test_repeated_material_is_fast_and_exact():
    riff = [Note(0.5 * i, 0.5, 60 + (i % 4)) for i in range(400)]     # one riff, 100 times
    index = mz.TrainingIndex([Score(melody=tuple(riff))] * 3)
    started = time.perf_counter()
    result = index.memorization(Score(melody=tuple(riff[:200])))
    assert time.perf_counter() - started < 2.0
    assert result.longest.notes == 200 and result.shares[16] == 1.0


def test_a_corpus_of_thousands_of_pieces_is_indexed_quickly():
    rng = np.random.default_rng(1)
    pieces = [_random_melody(rng, 150) for _ in range(2000)]
    started = time.perf_counter()
    index = mz.TrainingIndex(pieces)
    results = [index.memorization(p) for p in pieces[:20]]
    elapsed = time.perf_counter() - started
    assert all(r.shares[16] == 1.0 for r in results)
    assert elapsed < 10.0
