"""The chord HMM's decoding (chord_model.py): forward-backward against brute force, the
per-metric-class evidence, local keys and per-class emission tables."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from jazzlstm.music import chord_model
from jazzlstm.music.score import Note


def packaged_priors() -> dict:
    return json.loads(chord_model.PRIORS_PATH.read_text(encoding="utf-8"))


def small_model(decoding: str = "posterior") -> chord_model.ChordHMM:
    """The packaged priors restricted to two qualities (24 states), so every path of a few
    segments can be enumerated."""
    priors = packaged_priors()
    nq = len(priors["qualities"])
    keep = [0, 1]  # "" and "m"
    transitions = {}
    for kind, table in priors["transitions"].items():
        t = np.asarray(table).reshape(nq, 12, nq)[np.ix_(keep, range(12), keep)]
        transitions[kind] = (t / t.sum(axis=(1, 2), keepdims=True)).reshape(len(keep), -1).tolist()
    key_prior = {mode: (np.asarray(row).reshape(12, nq)[:, keep] / np.asarray(row).reshape(12, nq)[:, keep].sum())
                 .reshape(-1).tolist() for mode, row in priors["key_prior"].items()}
    emission = np.asarray(priors["emission"])[keep].tolist()
    return chord_model.ChordHMM({"qualities": ["", "m"], "segments": "beat", "transitions": transitions,
                                 "key_prior": key_prior, "emission": emission,
                                 "params": {**priors["params"], "decoding": decoding}})


def brute_force(model: chord_model.ChordHMM, weights: np.ndarray, kinds, key) -> tuple[float, np.ndarray]:
    """(log-likelihood, (n, states) posteriors) by summing over every state path."""
    emit, keys, priors, tables = model._setup(weights, key, None)
    n, m = emit.shape
    scores = {}
    for path in itertools.product(range(m), repeat=n):
        s = priors[keys[0]][path[0]] + emit[0, path[0]]
        for t in range(1, n):
            s += tables[keys[t]][kinds[t]][path[t - 1], path[t]] + emit[t, path[t]]
        scores[path] = s
    values = np.array(list(scores.values()))
    top = values.max()
    total = top + np.log(np.exp(values - top).sum())
    post = np.zeros((n, m))
    for path, s in scores.items():
        for t, state in enumerate(path):
            post[t, state] += np.exp(s - total)
    return float(total), post


def test_forward_backward_matches_brute_force():
    model = small_model()
    rng = np.random.default_rng(3)
    weights = rng.uniform(0, 1, size=(3, len(chord_model.METRIC_CLASSES), 12)) * (rng.uniform(size=(3, 4, 12)) < 0.3)
    kinds = ["bar", "beat", "mid"]
    key = (7, "major")
    total, post = brute_force(model, weights, kinds, key)
    assert model.log_likelihood(weights, kinds, key) == pytest.approx(total, rel=1e-9, abs=1e-9)
    # Posterior decoding: per segment the root with the most mass, then per run of one root
    # the quality with the most mass over the run.
    nq = len(model.qualities)
    by_root = post.reshape(3, 12, nq)
    roots = [int(r) for r in by_root.sum(axis=2).argmax(axis=1)]
    expected = []
    for t, r in enumerate(roots):
        run = [u for u in range(3) if roots[u] == r and all(roots[v] == r for v in range(min(t, u), max(t, u) + 1))]
        expected.append((r, model.qualities[int(sum(by_root[u, r] for u in run).argmax())]))
    assert model.decode(weights, kinds, key) == expected


def test_viterbi_matches_the_best_path():
    model = small_model("viterbi")
    rng = np.random.default_rng(5)
    weights = rng.uniform(0, 1, size=(3, 12)) * (rng.uniform(size=(3, 12)) < 0.4)
    kinds = ["bar", "beat", "beat"]
    emit, keys, priors, tables = model._setup(weights, (0, "minor"), None)
    best, best_path = -np.inf, None
    for path in itertools.product(range(len(model.states)), repeat=3):
        s = priors[keys[0]][path[0]] + sum(emit[t, path[t]] for t in range(3)) + sum(
            tables[keys[t]][kinds[t]][path[t - 1], path[t]] for t in (1, 2))
        if s > best:
            best, best_path = s, path
    assert model.decode(weights, kinds, (0, "minor")) == [model.states[i] for i in best_path]


def test_class_weights_split_the_metric_weights():
    melody = [Note(0.0, 1.0, 60), Note(1.0, 0.5, 62), Note(1.5, 0.5, 64), Note(2.0, 3.0, 65)]
    segments = chord_model.melody_segments([0.0, 4.0], 8.0, "half")
    classes = chord_model.segment_class_weights(melody, segments, [0.0, 4.0])
    assert classes.shape == (4, len(chord_model.METRIC_CLASSES), 12)
    bar, half, beat, off = (chord_model.METRIC_CLASSES.index(c) for c in ("bar", "half", "beat", "off"))
    assert classes[0, bar, 0] == 1.0 and classes[0, beat, 2] == 0.5 and classes[0, off, 4] == 0.5
    assert classes[1, half, 5] == 2.0 and classes[2, bar, 5] == 1.0  # tied over the bar line
    np.testing.assert_allclose(
        np.einsum("ncp,c->np", classes, [chord_model.METRIC_WEIGHTS[c] for c in chord_model.METRIC_CLASSES]),
        chord_model.segment_weights(melody, segments, [0.0, 4.0]))


def test_local_keys_follow_a_modulation():
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    c_major = [Note(i * 1.0, 1.0, 60 + scale[i % 8]) for i in range(32)]
    a_flat = [Note(32.0 + i, 1.0, 68 + scale[i % 8]) for i in range(32)]
    segments = chord_model.melody_segments([4.0 * i for i in range(16)], 64.0, "beat")
    lengths = chord_model.segment_class_weights(c_major + a_flat, segments, [4.0 * i for i in range(16)]).sum(axis=1)
    keys = chord_model.local_keys(lengths, np.array([(s + e) / 2 for s, e, _ in segments]), 4.0)
    assert keys[4] == (0, "major") and keys[-4] == (8, "major")
    # A window wider than the piece finds one key (the whole melody's correlation winner).
    wide = chord_model.local_keys(lengths, np.array([(s + e) / 2 for s, e, _ in segments]), 1000.0)
    assert len(set(wide)) == 1


def test_a_local_key_weight_changes_what_is_decoded_and_stays_deterministic():
    priors = packaged_priors()
    melody = [Note(float(i), 1.0, 60 + [0, 4, 7, 4][i % 4]) for i in range(16)] + \
             [Note(16.0 + i, 1.0, 66 + [0, 4, 7, 4][i % 4]) for i in range(16)]
    bars = [4.0 * i for i in range(8)]
    local = chord_model.ChordHMM({**priors, "params": {**priors["params"], "local_key_weight": 1.0, "key_window": 4.0}})
    first = chord_model.infer_labels(melody, bars, 32.0, local)
    assert chord_model.infer_labels(melody, bars, 32.0, local) == first
    assert first[1][0][0] == 0 and first[1][-1][0] == 6  # C, then F# (a tritone away)


def test_per_class_emission_tables_are_used():
    priors = packaged_priors()
    nq = len(priors["qualities"])
    flat = np.full((nq, 12), 1 / 12).tolist()
    sharp = priors["emission"]
    # Off-beat notes say nothing under these tables; the others use the packaged emission.
    by_metric = {c: (flat if c == "off" else sharp) for c in chord_model.METRIC_CLASSES}
    model = chord_model.ChordHMM({**priors, "emission_by_metric": by_metric})
    weights = np.zeros((1, len(chord_model.METRIC_CLASSES), 12))
    weights[0, chord_model.METRIC_CLASSES.index("off"), [1, 6, 11]] = 1.0
    emit = model.log_emissions(weights)
    assert np.ptp(emit) == pytest.approx(0.0, abs=1e-12)
    weights[0, chord_model.METRIC_CLASSES.index("bar"), 7] = 1.0
    assert np.ptp(model.log_emissions(weights)) > 0.1
