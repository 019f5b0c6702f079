"""The priors builder and benchmark (benchmarks/build_chord_priors.py, bench_chords.py):
what feeds the priors, and that nothing scored is in the priors that score it."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import build_chord_priors as builder  # noqa: E402
from jazzlstm.music import chord_model  # noqa: E402
from jazzlstm.music.harmony import parse_chord  # noqa: E402
from jazzlstm.music.score import Chord, Note  # noqa: E402


def piece_from(progression: str, name: str = "p", group: str = "composed") -> builder.Piece:
    """A labelled piece in 4/4: one chord per bar ('|'), two share a bar; a melody of roots."""
    chords, melody = [], []
    bars = progression.split("|")
    for i, bar in enumerate(bars):
        names = bar.split()
        for j, label in enumerate(names):
            root, quality = parse_chord(label)
            start, length = 4.0 * i + j * 4.0 / len(names), 4.0 / len(names)
            chords.append(Chord(start, length, root, quality))
            melody.append(Note(start, length, 60 + root))
    return builder.Piece(name, group, tuple(melody), tuple(chords), tuple(4.0 * i for i in range(len(bars))),
                         0.0, 4.0 * len(bars))


def test_a_piece_that_copies_a_long_cadence_in_another_key_is_caught():
    # The jazz blues of the cadences, a fourth up (in Bb), qualities changed.
    blues = "Bb | Eb | Bb | Fm Bb | Eb | Edim7 | Bb | Dm G | Cm | F | Bb G | Cm F"
    assert builder.copied_cadences(piece_from(blues)) == ["jazz blues"]
    # Short cadences are shared vocabulary, not copies.
    assert builder.copied_cadences(piece_from("Dm7 | G7 | Cmaj7 | Cmaj7")) == []
    # A different root in one bar is no copy.
    assert builder.copied_cadences(piece_from(blues.replace("Edim7", "Eb"))) == []


def test_skipped_cadences_leave_the_counts():
    with_all = builder.count_all([], "half")
    without = builder.count_all([], "half", skip_cadences=["jazz blues"])
    total = sum(t.sum() for t in with_all.transitions.values())
    assert sum(t.sum() for t in without.transitions.values()) == pytest.approx(
        total - builder.CADENCE_WEIGHT * (2 * 12 - 1))
    assert without.sources["jazz cadences (code)"]["pieces"] == len(builder.CADENCES) - 1


def test_leave_one_out_counts_hold_no_trace_of_the_piece():
    """Counts of all pieces minus one piece's equal the counts built without it."""
    a = piece_from("C | F | G7 | C", "a", "chord symbols")
    b = piece_from("Am | Dm | E7 | Am", "b", "chord symbols")
    for segments in chord_model.SEGMENT_LENGTHS:
        total = builder.count_all([a, b], segments)
        alone = builder.Counts()
        alone.add_piece(a, segments, builder.piece_weight(a))
        held_out = total.minus(alone)
        direct = builder.count_all([b], segments)
        for kind in chord_model.BOUNDARIES:
            np.testing.assert_allclose(held_out.transitions[kind], direct.transitions[kind], atol=1e-9)
        np.testing.assert_allclose(held_out.emission, direct.emission, atol=1e-9)
        for mode in ("major", "minor"):
            np.testing.assert_allclose(held_out.key[mode], direct.key[mode], atol=1e-9)


@pytest.mark.parametrize("segments", chord_model.SEGMENT_LENGTHS)
def test_cadences_are_cut_like_melodies(segments):
    sequences = builder.cadence_sequences(segments)
    per_bar = {"bar": 1, "half": 2, "beat": 4}[segments]
    for (_, _, text), (labels, kinds, _) in zip(builder.CADENCES, sequences):
        bars = len(text.split("|"))
        assert len(labels) == len(kinds) == bars * per_bar
        assert kinds[::per_bar] == ["bar"] * bars
    priors = builder.priors_from_counts(builder.count_all([], segments), segments)
    assert priors["segments"] == segments
    assert ("beat" in priors["transitions"]) == (segments == "beat")
    assert chord_model.ChordHMM(priors).segments == segments
