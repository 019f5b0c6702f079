"""The learned emission of the melody-to-chords HMM: segment features, the logistic model
and its training (benchmarks/build_chord_priors.py), the chorales labelled by their lower
voices, and the k-fold discipline of benchmarks/bench_chords.py."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_chords as bench  # noqa: E402
import build_chord_priors as builder  # noqa: E402
from jazzlstm.music import chord_model  # noqa: E402
from jazzlstm.music.harmony import CHORD_TEMPLATES, parse_chord  # noqa: E402
from jazzlstm.music.score import Chord, Note  # noqa: E402

NQ = len(chord_model.QUALITIES)


def block(name: str) -> slice:
    at = 0
    for block_name, size in chord_model.FEATURE_BLOCKS:
        if block_name == name:
            return slice(at, at + size)
        at += size
    raise KeyError(name)


def features_of(melody, bars=2, key=(0, "major")):
    bar_lines = [4.0 * i for i in range(bars)]
    segments = chord_model.melody_segments(bar_lines, 4.0 * bars, "beat")
    weights = chord_model.segment_class_weights(melody, segments, bar_lines)
    return segments, chord_model.segment_features(weights, segments, bar_lines, key)


def test_features_are_relative_to_each_candidate_root():
    # A G (pc 7) struck on the bar line, lasting one beat; beat 2 rests.
    segments, f = features_of([Note(0.0, 1.0, 67), Note(2.0, 1.0, 64)], key=(9, "minor"))
    assert f.shape == (len(segments), 12, chord_model.FEATURE_SIZE)
    struck = f[0, :, block("struck")].reshape(12, 4, 12)
    for root in range(12):
        assert struck[root, 0, (7 - root) % 12] == 1.0  # metric class "bar", interval 7 - root
        assert struck[root].sum() == 1.0
    # The next segment (beat 2) rests: its "previous" block holds the G, "silent" is set.
    assert f[1, 0, block("previous")][7] == 1.0 and f[1, 0, block("silent")][0] == 1.0
    assert f[0, 0, block("silent")][0] == 0.0
    # Key block: the root relative to A minor, in the minor half.
    key = f[0, :, block("key")]
    assert key[9, 12 + 0] == 1.0 and key[0, 12 + 3] == 1.0 and key.sum() == 12
    # Boundary kinds: bar line, beat, half bar, beat.
    assert [int(np.argmax(f[i, 0, block("boundary")])) for i in range(4)] == [0, 2, 1, 2]


def test_log_posterior_is_normalized_and_root_major():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(5, 12, chord_model.FEATURE_SIZE))
    weights = rng.normal(size=(NQ, chord_model.FEATURE_SIZE))
    lp = chord_model.feature_log_posterior(features, weights)
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0)
    # State root * NQ + q scores weights[q] . features[root].
    raw = features[2, 3] @ weights[1] - features[2, 5] @ weights[4]
    assert lp[2, 3 * NQ + 1] - lp[2, 5 * NQ + 4] == pytest.approx(raw)


def test_lbfgs_finds_a_quadratic_minimum():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(6, 6))
    h = a @ a.T + np.eye(6)
    b = rng.normal(size=6)
    x = builder.lbfgs(lambda x: (0.5 * x @ h @ x - b @ x, h @ x - b), np.zeros(6), 200, tolerance=1e-14)
    np.testing.assert_allclose(x, np.linalg.solve(h, b), atol=1e-5)


def arpeggio_piece(progression: str, name: str, rng) -> builder.Piece:
    """A 4/4 piece: each bar's chord spelled in random chord tones, one a beat."""
    melody, chords = [], []
    bars = progression.split("|")
    for i, label in enumerate(bars):
        root, quality = parse_chord(label.strip())
        chords.append(Chord(4.0 * i, 4.0, root, quality))
        for beat in range(4):
            tone = (root + int(rng.choice(CHORD_TEMPLATES[quality]))) % 12
            melody.append(Note(4.0 * i + beat, 1.0, 60 + tone))
    return builder.Piece(name, "chord symbols", tuple(melody), tuple(chords),
                         tuple(4.0 * i for i in range(len(bars))), 0.0, 4.0 * len(bars))


def test_the_logistic_emission_learns_roots_and_training_is_deterministic():
    rng = np.random.default_rng(2)
    names = ["C", "F", "G7", "Am", "Dm", "E7", "Bb", "Eb", "D7", "Gm"]
    train = [arpeggio_piece(" | ".join(rng.choice(names, 8)), f"t{i}", rng) for i in range(12)]
    test = [arpeggio_piece(" | ".join(rng.choice(names, 8)), f"s{i}", rng) for i in range(4)]
    examples = [builder.piece_examples(p) for p in train]
    weights = builder.train_emission_model(examples, iterations=60)
    np.testing.assert_array_equal(weights, builder.train_emission_model(examples, iterations=60))
    right = total = 0
    for piece in test:
        features, states = builder.piece_examples(piece)
        lp = chord_model.feature_log_posterior(features, weights)
        roots = np.exp(lp).reshape(len(lp), 12, NQ).sum(axis=2).argmax(axis=1)
        right += int((roots == states // NQ).sum())
        total += len(states)
    assert right / total > 0.6  # chance is 1/12; one chord tone a beat: a third or fifth alone is ambiguous
    # Untrained (zero) weights know nothing: every state equally likely.
    untrained = builder.train_emission_model([], iterations=5)
    assert not untrained.any()


def test_a_learned_emission_changes_decoding_only_with_a_weight():
    priors = builder.build([], "beat")
    melody = [Note(float(b), 1.0, 60 + (0, 4, 7, 4)[b % 4]) for b in range(16)]
    bar_lines = [0.0, 4.0, 8.0, 12.0]
    plain = chord_model.infer_labels(melody, bar_lines, 16.0, chord_model.ChordHMM(priors))[1]
    # Weights that favour the state a fifth below whatever the melody sounds: F under C-E-G.
    weights = np.zeros((NQ, chord_model.FEATURE_SIZE))
    weights[0, block("struck")] = np.tile(np.eye(12)[7] * 30.0, 4)
    learned = {**priors, "emission_model": {"weights": weights.tolist()}}
    off = chord_model.ChordHMM({**learned, "params": {**priors["params"], "learned_weight": 0.0}})
    on = chord_model.ChordHMM({**learned, "params": {**priors["params"], "learned_weight": 1.0}})
    assert chord_model.infer_labels(melody, bar_lines, 16.0, off)[1] == plain
    changed = chord_model.infer_labels(melody, bar_lines, 16.0, on)[1]
    assert changed != plain and (5, "") in changed


def test_lower_voices_name_the_chord():
    segments = chord_model.melody_segments([0.0], 4.0, "beat")
    lower = [Note(0.0, 1.0, 48), Note(0.0, 1.0, 52), Note(0.0, 1.0, 55),             # C E G
             Note(1.0, 1.0, 43), Note(1.0, 1.0, 59), Note(1.0, 1.0, 62), Note(1.0, 1.0, 65),  # G7
             Note(3.0, 1.0, 45), Note(3.0, 1.0, 60), Note(3.0, 1.0, 64)]              # Am
    assert builder.lower_voice_labels(lower, segments) == [(0, ""), (7, "7"), None, (9, "m")]


def raw_chorale(melody_pitches, lower_chords):
    melody = [[float(i), 1.0, p, 90] for i, p in enumerate(melody_pitches)]
    lower = [[float(i), 1.0, p, 90] for i, chord in enumerate(lower_chords) for p in chord]
    return {"melody": melody, "lower": lower, "sigs": [[0.0, 4, 4]], "shift": 0.0}


def test_chorales_become_pieces_and_test_tunes_are_left_out():
    tune = [72, 74, 76, 77, 79, 77, 76, 74]
    other = [67, 69, 71, 72, 74, 72, 71, 69]
    chords = [(48, 52, 55)] * 4 + [(43, 47, 50, 53)] * 4
    raw = {"bach/bwv1.6.mxl": raw_chorale(tune, chords), "bach/bwv2.6.mxl": raw_chorale(other, chords),
           "bach/bwv3.6.mxl": raw_chorale([p + 5 for p in tune], chords)}
    pieces = builder.chorale_pieces(raw)
    assert [p.name for p in pieces] == sorted(raw)
    assert pieces[0].group == "bach chorales"
    assert [(c.start, c.duration, c.root, c.quality) for c in pieces[0].chords] == [(0.0, 4.0, 0, ""), (4.0, 4.0, 7, "7")]
    # A test piece named bwv2.6, and one with bwv1.6's tune (a fourth lower): both left out,
    # bwv3.6 too (the same tune transposed).
    test_named = builder.Piece("bach/bwv2.6", "roman numerals", (), (), (0.0,), 0.0, 4.0)
    test_tune = builder.Piece("bach/bwv99", "roman numerals",
                              tuple(Note(float(i), 1.0, p - 5) for i, p in enumerate(tune)), (), (0.0,), 0.0, 8.0)
    assert builder.chorale_pieces(raw, exclude=[test_named, test_tune]) == []
    assert [p.name for p in builder.chorale_pieces(raw, exclude=[test_named])] == ["bach/bwv1.6.mxl", "bach/bwv3.6.mxl"]


def test_folds_hold_every_corpus_and_no_piece_trains_its_own_model(monkeypatch):
    rng = np.random.default_rng(3)
    pieces = [arpeggio_piece("C | G7 | C | F", f"c{i}", rng) for i in range(5)]
    pieces += [builder.Piece(f"monteverdi/m{i}", "roman numerals", p.melody, p.chords, p.bar_lines, p.start, p.end)
               for i, p in enumerate(pieces[:4])]
    folds = bench.fold_of(pieces, 3)
    assert folds == [0, 1, 2, 0, 1, 0, 1, 2, 0]
    seen = []
    monkeypatch.setattr(builder, "train_emission_model", lambda examples: seen.append(examples) or len(seen) - 1)
    monkeypatch.setattr(builder, "piece_examples", lambda piece: piece.name)
    fold, weights = bench.fold_emission_models(pieces, 3)
    assert fold == folds and weights == [0, 1, 2]
    for k, names in enumerate(seen):
        assert sorted(names) == sorted(p.name for p, f in zip(pieces, folds) if f != k)


def test_the_root_part_adds_the_same_evidence_to_every_quality_and_blocks_can_be_masked():
    priors = builder.build([], "beat")
    rng = np.random.default_rng(4)
    weights = rng.normal(size=(NQ, chord_model.FEATURE_SIZE))
    learned = {**priors, "emission_model": {"weights": weights.tolist()}}
    segments = chord_model.melody_segments([0.0], 4.0, "beat")
    class_weights = chord_model.segment_class_weights([Note(0.0, 1.0, 60), Note(1.0, 2.0, 64)], segments, [0.0])
    key = (0, "major")
    state = chord_model.ChordHMM({**learned, "params": {**priors["params"], "learned_weight": 2.0}})
    root = chord_model.ChordHMM({**learned, "params": {**priors["params"], "learned_weight": 2.0, "learned_part": "root"}})
    full = state.learned_emission(class_weights, segments, [0.0], key) / 2.0
    marginal = root.learned_emission(class_weights, segments, [0.0], key).reshape(len(segments), 12, NQ) / 2.0
    assert np.all(marginal == marginal[:, :, :1])
    np.testing.assert_allclose(np.exp(marginal[:, :, 0]), np.exp(full).reshape(len(segments), 12, NQ).sum(axis=2))
    # Masking the key block: the same as zero weights on it.
    no_key = chord_model.ChordHMM({**learned, "params": {**priors["params"], "learned_weight": 1.0,
                                                         "learned_blocks": ["struck", "present", "previous", "next",
                                                                            "bar", "boundary", "silent"]}})
    zeroed = weights.copy()
    zeroed[:, block("key")] = 0.0
    direct = chord_model.ChordHMM({**priors, "emission_model": {"weights": zeroed.tolist()},
                                   "params": {**priors["params"], "learned_weight": 1.0}})
    np.testing.assert_allclose(no_key.learned_emission(class_weights, segments, [0.0], key),
                               direct.learned_emission(class_weights, segments, [0.0], key))
    assert not np.allclose(no_key.learned_emission(class_weights, segments, [0.0], key), full)


def test_build_with_learners_packs_a_loadable_model():
    rng = np.random.default_rng(5)
    piece = arpeggio_piece("C | F | G7 | C", "a", rng)
    priors = builder.build([piece], "beat", learners=[piece])
    weights = np.asarray(priors["emission_model"]["weights"])
    assert weights.shape == (NQ, chord_model.FEATURE_SIZE) and np.abs(weights).max() > 0
    assert "emission_model" not in builder.build([piece], "beat")
    model = chord_model.ChordHMM({**priors, "params": {**priors["params"], "learned_weight": 1.0}})
    segments, labels = chord_model.infer_labels(piece.melody, piece.bar_lines, piece.end, model)
    assert len(labels) == len(segments) == 16
