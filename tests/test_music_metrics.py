"""Objective music metrics on small Scores built in code, checked against values worked out by
hand; and Yang & Lerch's set comparison on sets with planted differences."""
from __future__ import annotations

import math

import numpy as np
import pytest

from jazzlstm.evaluate import distances, music_metrics as mm
from jazzlstm.music.score import Chord, Note, Score, TimeSignature

# Two bars of 4/4 over Cmaj7 | G7:  C E G(half) | C'(8th) B(8th) rest(1) C(half)
PHRASE = Score(
    melody=(Note(0, 1, 60), Note(1, 1, 64), Note(2, 2, 67), Note(4, 0.5, 72), Note(4.5, 0.5, 71), Note(6, 2, 60)),
    chords=(Chord(0, 4, 0, "maj7"), Chord(4, 4, 7, "7")),
)
EMPTY = Score(melody=(), chords=(Chord(0, 4, 0, ""),))


def test_pitch_class_histogram_counts_notes_or_beats():
    expected = np.zeros(12)
    expected[[0, 4, 7, 11]] = [3, 1, 1, 1]
    assert np.allclose(mm.pitch_class_histogram(PHRASE), expected / 6)
    weighted = np.zeros(12)
    weighted[[0, 4, 7, 11]] = [1 + 0.5 + 2, 1, 2, 0.5]
    assert np.allclose(mm.pitch_class_histogram(PHRASE, weighted=True), weighted / 7)
    assert not mm.pitch_class_histogram(EMPTY).any()


def test_pitch_range_and_pitches_per_bar():
    assert mm.pitch_range(PHRASE) == 12
    assert mm.pitches_per_bar(PHRASE) == 3.0          # {60, 64, 67} and {72, 71, 60}
    repeated = Score(melody=(Note(0, 1, 60), Note(1, 1, 60), Note(2, 1, 62)), chords=(Chord(0, 8, 0, ""),))
    assert mm.pitches_per_bar(repeated) == pytest.approx((2 + 0) / 2)   # the second bar is empty
    assert math.isnan(mm.pitch_range(EMPTY)) and math.isnan(mm.pitches_per_bar(EMPTY))


def test_interval_histogram_clips_leaps_to_the_end_bins():
    hist = mm.interval_histogram(PHRASE)            # +4 +3 +5 -1 -11
    assert hist.shape == (25,)
    for interval in (4, 3, 5, -1, -11):
        assert hist[interval + 12] == pytest.approx(0.2)
    leap = Score(melody=(Note(0, 1, 40), Note(1, 1, 80), Note(2, 1, 60)))
    assert mm.interval_histogram(leap)[[0, 24]].tolist() == [0.5, 0.5]


def test_note_length_and_ioi_histograms_on_the_musical_grid():
    lengths = mm.note_length_histogram(PHRASE)      # 1 1 2 .5 .5 2
    names = dict(zip(mm.LENGTH_CLASS_NAMES, lengths))
    assert names["quarter"] == names["half"] == names["8th"] == pytest.approx(1 / 3)
    iois = dict(zip(mm.LENGTH_CLASS_NAMES, mm.ioi_histogram(PHRASE)))  # 1 1 2 .5 1.5
    assert iois["quarter"] == pytest.approx(0.4)
    assert iois["half"] == iois["8th"] == iois["dotted quarter"] == pytest.approx(0.2)
    odd = Score(melody=(Note(0, 1 / 3, 60), Note(1 / 3, 1 / 12, 62), Note(1, 7.0, 64), Note(8, 2 / 3, 65)))
    classes = dict(zip(mm.LENGTH_CLASS_NAMES, mm.note_length_histogram(odd)))
    assert classes["8th triplet"] == classes["16th"] == classes["whole"] == classes["quarter triplet"] == 0.25


def test_pitch_class_entropy_over_one_and_four_bar_windows():
    # bar 1: three classes once each -> log2(3); bar 2: C twice, B once -> H(2/3, 1/3)
    h_bar2 = -(2 / 3) * math.log2(2 / 3) - (1 / 3) * math.log2(1 / 3)
    assert mm.pitch_class_entropy(PHRASE, 1) == pytest.approx((math.log2(3) + h_bar2) / 2)
    # a 4-bar window is longer than the piece: the whole piece, C 3/6 and E, G, B 1/6 each
    whole = -0.5 * math.log2(0.5) - 3 * (1 / 6) * math.log2(1 / 6)
    assert mm.pitch_class_entropy(PHRASE, 4) == pytest.approx(whole)
    # five bars, one note each (C C C C G): 4-bar windows are [C C C C] and [C C C G]
    five = Score(melody=tuple(Note(4.0 * i, 1, p) for i, p in enumerate((60, 60, 60, 60, 67))))
    assert mm.pitch_class_entropy(five, 1) == 0.0
    h_window2 = -0.75 * math.log2(0.75) - 0.25 * math.log2(0.25)
    assert mm.pitch_class_entropy(five, 4) == pytest.approx((0 + h_window2) / 2)
    # empty bars are no windows: C | (empty) | E, 1-bar windows give 0 and 0
    gap = Score(melody=(Note(0, 1, 60), Note(8, 1, 64)))
    assert mm.pitch_class_entropy(gap, 1) == 0.0
    assert math.isnan(mm.pitch_class_entropy(EMPTY, 1))


def test_scale_consistency_is_the_best_major_or_minor_scale_share():
    assert mm.scale_consistency(PHRASE) == 1.0
    chromatic = Score(melody=tuple(Note(i, 1, 60 + i) for i in range(12)))
    assert mm.scale_consistency(chromatic) == pytest.approx(7 / 12)
    blues = Score(melody=tuple(Note(i, 1, p) for i, p in enumerate((60, 63, 65, 66, 67, 70))))  # C Eb F Gb G Bb
    assert mm.scale_consistency(blues) == pytest.approx(5 / 6)
    assert math.isnan(mm.scale_consistency(EMPTY))


def test_chord_tone_ratio_uses_the_chord_sounding_at_each_onset():
    # Cmaj7 (C E G B): C E G in; G7 (G B D F): C' out, B in, C out
    assert mm.chord_tone_ratio(PHRASE) == pytest.approx(4 / 6)
    # weighted by beats: 1 + 1 + 2 + 0.5 in, of 7
    assert mm.chord_tone_ratio(PHRASE, weighted=True) == pytest.approx(4.5 / 7)
    # a pickup before the first chord takes the first chord
    pickup = Score(melody=(Note(0, 1, 62), Note(1, 1, 64)), chords=(Chord(1, 4, 2, "m7"),))
    assert mm.chord_tone_ratio(pickup) == 0.5                      # D (root) in, E out
    assert math.isnan(mm.chord_tone_ratio(Score(melody=PHRASE.melody)))


def test_empty_beat_rate_counts_beats_where_nothing_sounds():
    assert mm.empty_beat_rate(PHRASE) == pytest.approx(1 / 8)     # beat 5 (4-indexed from 0) is silent
    # a note ending on a beat line does not fill the next beat (MusPy's code does: off by one)
    on_the_line = Score(melody=(Note(0, 1, 60), Note(3, 1, 60)))
    assert mm.empty_beat_rate(on_the_line) == pytest.approx(2 / 4)
    # a note across beats fills every beat it touches; the chords make the piece 8 beats long
    held = Score(melody=(Note(0.5, 2, 60),), chords=(Chord(0, 8, 0, ""),))
    assert mm.empty_beat_rate(held) == pytest.approx(5 / 8)
    assert mm.empty_beat_rate(EMPTY) == 1.0
    assert math.isnan(mm.empty_beat_rate(Score(melody=())))


def test_groove_consistency_averages_all_pairs_of_bars():
    # bar onset grids (48 steps in 4/4): bar 1 at 0, 12, 24; bar 2 at 0, 6, 24 -> 2 differences
    assert mm.groove_consistency(PHRASE) == pytest.approx(1 - 2 / 48)
    # three bars: A, A, B where B differs from A in 4 positions: pairs (A,A)=0, (A,B)=4, (A,B)=4
    bar_a = [0, 1, 2, 3]
    bar_b = [0, 0.5, 1.5, 2, 3.5, 3]              # differs at 0.5, 1, 1.5, 3.5
    notes = [Note(b * 4.0 + t, 0.25, 60) for b, pattern in enumerate((bar_a, bar_a, bar_b)) for t in sorted(pattern)]
    three = Score(melody=tuple(notes))
    assert mm.groove_consistency(three) == pytest.approx(1 - (0 + 4 + 4) / 3 / 48)
    # MusPy's neighbouring-bar version would give 1 - (0 + 4) / 2 / 48: all pairs is the definition here
    assert mm.groove_consistency(three) != pytest.approx(1 - 4 / 2 / 48)
    assert math.isnan(mm.groove_consistency(Score(melody=(Note(0, 1, 60),))))


def test_bars_follow_the_time_signature():
    waltz = Score(melody=tuple(Note(float(i), 1, 60 + 7 * (i % 3 == 0)) for i in range(6)),
                  time_signatures=(TimeSignature(0.0, 3, 4),))
    assert mm.bar_spans(waltz).tolist() == [[0, 3], [3, 6]]
    assert mm.groove_consistency(waltz) == 1.0
    assert mm.pitch_class_entropy(waltz, 1) == pytest.approx(-(1 / 3) * math.log2(1 / 3) - (2 / 3) * math.log2(2 / 3))


def test_piece_and_set_metrics():
    row = mm.piece_metrics(PHRASE)
    assert set(row) == set(mm.HISTOGRAM_FEATURES + mm.SCALAR_FEATURES)
    assert set(mm.PITCH_FEATURES + mm.RHYTHM_FEATURES) == set(row)
    shifted = Score(melody=tuple(n._replace(pitch=n.pitch + 2) for n in PHRASE.melody[:3]), chords=PHRASE.chords)
    stats = mm.set_metrics([PHRASE, shifted, EMPTY])
    assert stats["pitch_range"].count == 2                         # EMPTY has none
    assert stats["pitch_range"].mean == pytest.approx((12 + 7) / 2)
    assert stats["pitch_range"].std == pytest.approx(2.5)
    assert stats["n_notes"].count == 3 and stats["n_notes"].mean == pytest.approx(3)
    assert stats["pitch_class_histogram"].mean.shape == (12,)
    assert stats["pitch_class_histogram"].mean.sum() == pytest.approx(1)


# --- Yang & Lerch set comparison ------------------------------------------------------------------

_DURATIONS = np.array([0.5, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0, 1 / 3])
_C_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])


def _random_piece(rng: np.random.Generator, bars: int = 8) -> Score:
    """A diatonic (C major, tonic-heavy) melody with random rhythm."""
    weights = rng.dirichlet(np.full(7, 2.0)) + np.array([0.3, 0, 0.15, 0, 0.2, 0, 0])
    notes, t = [], 0.0
    while t < bars * 4:
        d = float(rng.choice(_DURATIONS))
        if rng.random() < 0.1:                       # a rest
            t += d
            continue
        pc = int(rng.choice(_C_MAJOR, p=weights / weights.sum()))
        notes.append(Note(t, d, 60 + pc + 12 * int(rng.integers(0, 2))))
        t += d
    return Score(melody=tuple(notes), chords=(Chord(0, bars * 4.0, 0, "maj7"),))


def _pitch_shuffled(score: Score, rng: np.random.Generator) -> Score:
    """The same rhythm with the 12 pitch classes permuted at random (octaves kept)."""
    perm = rng.permutation(12)
    return Score(melody=tuple(n._replace(pitch=n.pitch - n.pitch % 12 + int(perm[n.pitch % 12])) for n in score.melody),
                 chords=score.chords)


@pytest.fixture(scope="module")
def planted_sets():
    rng = np.random.default_rng(7)
    pieces = [_random_piece(rng) for _ in range(60)]
    shuffled = [_pitch_shuffled(p, rng) for p in pieces]
    return [mm.piece_metrics(p) for p in pieces], [mm.piece_metrics(p) for p in shuffled]


def test_distances_are_euclidean_for_histograms_and_absolute_for_scalars():
    a, b = np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[0.0, 1.0]])
    assert distances.inter_set_distances(a, b).tolist() == pytest.approx([1.0, math.sqrt(9 + 9)])
    assert distances.intra_set_distances(a).tolist() == pytest.approx([5.0])
    assert distances.intra_set_distances(np.array([1.0, 4.0, 6.0])).tolist() == pytest.approx([3, 5, 2])


def test_overlap_and_kl_of_known_distributions():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, 4000), rng.normal(0, 1, 4000)
    assert distances.overlap_area(x, y) > 0.95
    assert distances.kl_divergence(x, y) < 0.02
    # N(0,1) against N(1,1): true overlap 2 * Phi(-1/2) = 0.617, KL = 1/2 nat
    shifted = rng.normal(1, 1, 4000)
    assert distances.overlap_area(x, shifted) == pytest.approx(0.617, abs=0.04)
    assert distances.kl_divergence(x, shifted) == pytest.approx(0.5, abs=0.08)
    assert distances.overlap_area(x, x + 100) < 1e-3
    density = distances.kde_on_grid(x, np.linspace(-8, 8, 1001), distances.scott_bandwidth(x))
    assert density.sum() * 16 / 1000 == pytest.approx(1.0)


def test_a_set_against_itself_overlaps_completely(planted_sets):
    original, _ = planted_sets
    for feature in ("pitch_class_histogram", "note_length_histogram", "ioi_histogram", "pitch_range"):
        result = distances.compare_sets(original, original, [feature])[feature]
        assert result.overlap_a >= 0.95, feature
        assert result.kl_a < 0.1, feature
        assert result.overlap_a == pytest.approx(result.overlap_b)


def test_a_pitch_shuffled_copy_differs_on_pitch_but_not_on_rhythm(planted_sets):
    original, shuffled = planted_sets
    results = distances.compare_sets(original, shuffled)
    pitch = results["pitch_class_histogram"]
    assert pitch.overlap_a < 0.6 and pitch.kl_a > 0.5
    assert results["scale_consistency"].overlap_a < 0.6
    for feature in ("note_length_histogram", "ioi_histogram", "groove_consistency", "empty_beat_rate"):
        assert results[feature].overlap_a >= 0.9, feature
    # the samples are what the summaries were computed from
    assert len(pitch.intra_a) == 60 * 59 // 2 and len(pitch.inter) == 60 * 60


def test_set_comparison_is_deterministic(planted_sets):
    original, shuffled = planted_sets
    first = distances.compare_sets(original, shuffled, ["interval_histogram"])["interval_histogram"]
    second = distances.compare_sets(original, shuffled, ["interval_histogram"])["interval_histogram"]
    assert (first.overlap_a, first.kl_a) == (second.overlap_a, second.kl_a)


def test_features_undefined_everywhere_give_nan():
    result = distances.compare_sets([EMPTY, EMPTY], [PHRASE, PHRASE], ["pitch_range"])["pitch_range"]
    assert math.isnan(result.overlap_a) and len(result.inter) == 0


def test_a_melody_of_chord_tones_only_has_chord_tone_ratio_one():
    from jazzlstm.music.harmony import chord_tones, parse_progression

    chords = tuple(Chord(4.0 * i, 4.0, root, quality)
                   for i, (root, quality) in enumerate(parse_progression("Dm7 G7 Cmaj7 A7 Dm7 G7")))
    melody = tuple(Note(c.start + beat, 1.0, 60 + sorted(chord_tones(c.root, c.quality))[beat % 3])
                   for c in chords for beat in range(4))
    assert mm.chord_tone_ratio(Score(melody=melody, chords=chords)) == 1.0
    # The same melody one semitone up leaves the chords: almost no chord tone is left.
    moved = tuple(Note(n.start, n.duration, n.pitch + 1) for n in melody)
    assert mm.chord_tone_ratio(Score(melody=moved, chords=chords)) < 0.3
