"""Token n-gram baselines: proper distributions, the right entropy on sources whose entropy is
known, unknown tokens, order selection."""
from __future__ import annotations

import math

import numpy as np
import pytest

from jazzlstm.evaluate import ngrams
from jazzlstm.evaluate.ngrams import BOS, UNK, KneserNeyModel, UniformModel, UnigramModel

GRAMMAR = [
    ["C,0.500,<-1,5>", "S,0.500,<-3,2>", "C,1.000", "R,1.000", "A,0.250,<1,4>", "C,0.750,<-2,3>"],
    ["C,1.000", "S,0.500,<-3,2>", "C,0.500,<-1,5>", "R,0.500", "X,0.500,<2,6>"],
    ["P67,0.500", "P69,0.500", "R,1.000", "P71,1.000", "P67,0.500"],
]


def _markov_source(seed: int = 3, vocab: int = 8) -> tuple[np.ndarray, np.ndarray, float]:
    """A random bigram transition matrix, its stationary distribution and its entropy rate (bits)."""
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.full(vocab, 0.5), size=vocab)
    values, vectors = np.linalg.eig(transitions.T)
    stationary = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    stationary /= stationary.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        row_entropy = -np.where(transitions > 0, transitions * np.log2(transitions), 0).sum(axis=1)
    return transitions, stationary, float(stationary @ row_entropy)


def _sample_markov(transitions: np.ndarray, stationary: np.ndarray, length: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(transitions, axis=1)
    draws = rng.random(length)
    state = int(rng.choice(len(stationary), p=stationary))
    out = []
    for u in draws:
        out.append(f"t{state}")
        state = min(int(np.searchsorted(cumulative[state], u)), len(stationary) - 1)
    return out


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_kneser_ney_probabilities_sum_to_one_over_the_vocabulary_and_unk(order):
    model = KneserNeyModel(GRAMMAR, order)
    rng = np.random.default_rng(order)
    outcomes = sorted(model.vocabulary) + [UNK]
    candidates = sorted(model.vocabulary) + [BOS, "never seen"]
    for _ in range(25):
        context = [candidates[i] for i in rng.integers(0, len(candidates), size=int(rng.integers(0, 6)))]
        total = sum(model.prob(token, context) for token in outcomes)
        assert total == pytest.approx(1.0, abs=1e-9)
        assert model.prob("never seen", context) == pytest.approx(model.prob(UNK, context))
        assert model.prob(UNK, context) > 0


def test_kneser_ney_sums_to_one_on_a_large_random_corpus():
    rng = np.random.default_rng(11)
    corpus = [[f"w{i}" for i in rng.zipf(1.5, size=200) % 40] for _ in range(30)]
    model = KneserNeyModel(corpus, 4)
    outcomes = sorted(model.vocabulary) + [UNK]
    for sequence in corpus[:5]:
        for i in range(0, 200, 37):
            assert sum(model.prob(t, sequence[:i]) for t in outcomes) == pytest.approx(1.0, abs=1e-9)


def test_unigram_and_uniform_are_distributions_too():
    unigram, uniform = UnigramModel(GRAMMAR, k=0.5), UniformModel(GRAMMAR)
    outcomes = sorted(unigram.vocabulary) + [UNK]
    assert sum(unigram.prob(t) for t in outcomes) == pytest.approx(1.0)
    assert sum(uniform.prob(t) for t in outcomes) == pytest.approx(1.0)
    # add-k by hand: "C,1.000" appears twice among 16 tokens, V = 11
    assert unigram.prob("C,1.000") == pytest.approx((2 + 0.5) / (16 + 0.5 * 12))
    assert unigram.prob("unseen") == pytest.approx(0.5 / (16 + 0.5 * 12))


def test_bigram_kneser_ney_reaches_the_entropy_rate_of_a_bigram_source():
    transitions, stationary, entropy_rate = _markov_source()
    train = [_sample_markov(transitions, stationary, 100_000, seed=1)]
    heldout = [_sample_markov(transitions, stationary, 20_000, seed=2)]
    bits = KneserNeyModel(train, 2).bits_per_token(heldout)
    assert bits == pytest.approx(entropy_rate, rel=0.03)
    # a unigram model cannot see the dependence: it pays the stationary entropy, clearly more
    stationary_entropy = float(-(stationary * np.log2(stationary)).sum())
    unigram = UnigramModel(train).bits_per_token(heldout)
    assert unigram == pytest.approx(stationary_entropy, rel=0.01)
    assert unigram > bits * 1.1
    # higher orders have nothing more to find, and select_order may not prefer them by much
    best, by_order = ngrams.select_order(train, heldout, orders=(2, 3))
    assert by_order[3] >= by_order[2] - 0.01 and best in (2, 3)


def test_unigram_on_a_uniform_source_gives_log2_v():
    rng = np.random.default_rng(5)
    vocab = 16
    train = [[f"u{i}" for i in rng.integers(0, vocab, size=50_000)]]
    heldout = [[f"u{i}" for i in rng.integers(0, vocab, size=10_000)]]
    assert UnigramModel(train).bits_per_token(heldout) == pytest.approx(math.log2(vocab), rel=0.005)
    assert UniformModel(train).bits_per_token(heldout) == pytest.approx(math.log2(vocab + 1))


def test_sequence_bits_counts_every_token_from_the_start():
    model = UnigramModel([["a", "b", "b"]], k=1.0)           # P(a) = 2/6, P(b) = 3/6, P(unk) = 1/6
    assert model.sequence_bits(["b", "a", "zzz"]) == pytest.approx(-math.log2(3 / 6 * 2 / 6 * 1 / 6))
    kn = KneserNeyModel([["a", "b", "a", "b"]], 2)
    by_hand = -sum(math.log2(kn.prob(t, c)) for t, c in (("a", [BOS]), ("b", ["a"]), ("a", ["b"])))
    assert kn.sequence_bits(["a", "b", "a"]) == pytest.approx(by_hand)
    assert kn.bits_per_token([["a", "b"], ["a"]]) == pytest.approx(
        (kn.sequence_bits(["a", "b"]) + kn.sequence_bits(["a"])) / 3)


def test_kneser_ney_follows_the_formula_on_a_tiny_corpus():
    # Corpus "a b a c": bigrams (<s> a) (a b) (b a) (a c); every count is 1.
    model = KneserNeyModel([["a", "b", "a", "c"]], 2)
    d1_bigram, d1_unigram = model.discounts[2][0], model.discounts[1][0]
    # unigram level: continuation counts a:2 (after <s> and b), b:1, c:1 -> total 4
    p_uniform = 1 / 4
    # "a" (count 2) is discounted by D2, "b" and "c" by D1
    gamma1 = (model.discounts[1][1] * 1 + d1_unigram * 2) / 4
    p1_b = (1 - d1_unigram) / 4 + gamma1 * p_uniform
    # bigram level, context "a": (a b) and (a c), total 2
    expected = (1 - d1_bigram) / 2 + (2 * d1_bigram / 2) * p1_b
    assert model.prob("b", ["a"]) == pytest.approx(expected)


def test_discounts_follow_chen_and_goodman_and_stay_in_range():
    counts = [1] * 10 + [2] * 5 + [3] * 3 + [4] * 2 + [9] * 4   # n4 counts exactly-4s only
    y = 10 / (10 + 2 * 5)
    d1, d2, d3 = ngrams.modified_discounts(counts)
    assert d1 == pytest.approx(1 - 2 * y * 5 / 10)
    assert d2 == pytest.approx(2 - 3 * y * 3 / 5)
    assert d3 == pytest.approx(3 - 4 * y * 2 / 3)
    for c in ([], [7, 9, 12], [1, 1, 1]):
        for j, d in enumerate(ngrams.modified_discounts(c), start=1):
            assert ngrams.MIN_DISCOUNT <= d <= j


def test_unknown_tokens_cost_finite_bits_and_the_oov_rate_is_reported():
    train = GRAMMAR[:2]
    heldout = [GRAMMAR[2]]
    report = ngrams.evaluate_baselines(train, heldout, orders=(2, 3))
    assert report.oov_rate == pytest.approx(4 / 5)              # only "R,1.000" was seen in training
    assert report.heldout_tokens == 5 and report.vocabulary_size == 8
    assert all(math.isfinite(v) for v in (report.uniform, report.unigram, *report.kneser_ney.values()))
    assert report.uniform == pytest.approx(math.log2(9))
    assert ngrams.oov_rate({"a"}, [["a", "b"], ["a", "a"]]) == 0.25


def test_the_best_order_is_the_one_with_the_fewest_held_out_bits():
    # a deterministic cycle of 6 tokens with a repeated token: order 3 disambiguates, order 2 cannot
    cycle = ["x", "y", "x", "z", "w", "v"]
    train = [cycle * 200]
    heldout = [cycle * 20]
    report = ngrams.evaluate_baselines(train, heldout, orders=(2, 3, 4))
    assert report.best_order in (3, 4)
    assert report.kneser_ney[2] > 0.2 > report.kneser_ney[3]
    assert report.best_bits == min(report.kneser_ney.values())
    assert report.unigram > report.kneser_ney[2]


def test_reserved_tokens_are_refused_in_training():
    with pytest.raises(ValueError, match="reserved"):
        KneserNeyModel([["a", UNK]], 2)
