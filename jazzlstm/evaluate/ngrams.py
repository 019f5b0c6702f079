"""Token n-gram language models: the baselines a neural model's bits per token must beat.

Fitted on training token sequences (grammar "C,0.500,<-1,5>" or notes "P67,0.500" strings, or
any hashable tokens), scored on held-out ones:

* :class:`UniformModel`: 1 / (V + 1) for every token.
* :class:`UnigramModel`: add-k smoothed counts, (c(w) + k) / (N + k (V + 1)).
* :class:`KneserNeyModel`: interpolated **modified** Kneser-Ney (Chen & Goodman 1999) of order n:
  three discounts per order (for counts 1, 2 and 3+) estimated from the count-of-counts and
  clipped to [0.05, j]; raw counts at the top order, continuation counts (distinct left
  neighbours) below; the unigram level interpolates with the uniform distribution over V + 1.

**Counting.** Every token of a sequence is predicted, the first one included, from a context
left-padded with n - 1 ``<s>`` tokens; no end token is added (pass one yourself if the model
should predict the end). ``<s>`` is context only, never predicted; ``<s>`` and ``<unk>`` may
not appear in training sequences.

**Unknown tokens.** The vocabulary is the set of tokens seen in training (V of them). Every
model keeps an explicit probability for one more outcome, ``<unk>``, which every unseen token
gets, so probabilities over the V known tokens plus ``<unk>`` sum to 1 in every context and an
unseen token costs a finite number of bits. Unseen tokens in a context are read as ``<unk>``.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Sequence

BOS = "<s>"
UNK = "<unk>"
MIN_DISCOUNT = 0.05

Token = Hashable


class LanguageModel(ABC):
    """A token model: P(token | context) over the training vocabulary plus ``<unk>``."""

    order: int = 1
    vocabulary: frozenset

    @abstractmethod
    def prob(self, token: Token, context: Sequence[Token] = ()) -> float:
        """P(token | context); ``context`` is the tokens before it (only the last order - 1 count,
        a shorter one is padded with ``<s>`` as at the start of a sequence)."""

    def sequence_bits(self, sequence: Sequence[Token]) -> float:
        """Total negative log2-likelihood of a sequence: every token, the first included."""
        history = [BOS] * (self.order - 1)
        total = 0.0
        for token in sequence:
            total -= math.log2(self.prob(token, history[len(history) - self.order + 1:] if self.order > 1 else ()))
            if self.order > 1:
                history.append(token)
        return total

    def bits_per_token(self, sequences: Iterable[Sequence[Token]]) -> float:
        """Total bits over all tokens of ``sequences`` / number of tokens (NaN if none)."""
        bits, tokens = 0.0, 0
        for sequence in sequences:
            bits += self.sequence_bits(sequence)
            tokens += len(sequence)
        return bits / tokens if tokens else float("nan")


def _vocabulary(sequences: Iterable[Sequence[Token]]) -> tuple[frozenset, int]:
    vocab: set = set()
    total = 0
    for sequence in sequences:
        vocab.update(sequence)
        total += len(sequence)
    reserved = vocab & {BOS, UNK}
    if reserved:
        raise ValueError(f"training sequences may not contain the reserved tokens {sorted(reserved)}")
    return frozenset(vocab), total


class UniformModel(LanguageModel):
    """Every known token and ``<unk>`` equally likely: log2(V + 1) bits per token."""

    def __init__(self, sequences: Iterable[Sequence[Token]]):
        self.vocabulary, _ = _vocabulary(sequences)

    def prob(self, token: Token, context: Sequence[Token] = ()) -> float:
        return 1.0 / (len(self.vocabulary) + 1)


class UnigramModel(LanguageModel):
    """Add-k unigram: (c(w) + k) / (N + k (V + 1)); ``<unk>`` gets k / (N + k (V + 1))."""

    def __init__(self, sequences: Iterable[Sequence[Token]], k: float = 1.0):
        if k <= 0:
            raise ValueError("k must be positive (it is the only probability <unk> gets)")
        sequences = list(sequences)
        self.vocabulary, _ = _vocabulary(sequences)
        self.counts = Counter(t for s in sequences for t in s if t in self.vocabulary)
        self.k = k
        self._denominator = sum(self.counts.values()) + k * (len(self.vocabulary) + 1)

    def prob(self, token: Token, context: Sequence[Token] = ()) -> float:
        return (self.counts.get(token, 0) + self.k) / self._denominator


def modified_discounts(counts: Iterable[int]) -> tuple[float, float, float]:
    """Chen & Goodman's D1, D2, D3+ from the count-of-counts n1..n4:
    Y = n1 / (n1 + 2 n2), Dj = j - (j + 1) Y n(j+1) / nj; each clipped to [0.05, j]
    (a count-of-counts of 0 leaves that discount at Y, or 0.5 if Y is undefined)."""
    n = Counter(c for c in counts if c <= 4)
    y = n[1] / (n[1] + 2 * n[2]) if n[1] + 2 * n[2] > 0 else 0.5
    discounts = []
    for j in (1, 2, 3):
        d = j - (j + 1) * y * n[j + 1] / n[j] if n[j] > 0 else max(y, MIN_DISCOUNT)
        discounts.append(min(max(d, MIN_DISCOUNT), float(j)))
    return discounts[0], discounts[1], discounts[2]


class KneserNeyModel(LanguageModel):
    """Interpolated modified Kneser-Ney of order ``order`` (see the module docstring).

    P_k(w | h) = max(c_k(h w) - D_k(c), 0) / c_k(h .) + gamma_k(h) P_(k-1)(w | h'),
    gamma_k(h) = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3 N3+(h .)) / c_k(h .), with h' = h less its
    first token; a context never seen at level k passes P_(k-1) through; P_0 = 1 / (V + 1).
    """

    def __init__(self, sequences: Iterable[Sequence[Token]], order: int = 3):
        if order < 1:
            raise ValueError("order must be at least 1")
        sequences = list(sequences)
        self.order = order
        self.vocabulary, _ = _vocabulary(sequences)
        # counts[k]: k-gram (context + token) -> count (raw at the top order, continuation below)
        top: Counter = Counter()
        for sequence in sequences:
            padded = [BOS] * (order - 1) + list(sequence)
            for i in range(order - 1, len(padded)):
                top[tuple(padded[i - order + 1: i + 1])] += 1
        counts: list[Counter] = [Counter() for _ in range(order + 1)]
        counts[order] = top
        for k in range(order - 1, 0, -1):
            for gram in counts[k + 1]:
                counts[k][gram[1:]] += 1
        self.counts = counts
        self.discounts: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
        # contexts[k]: context -> (total count, gamma numerator)
        self.contexts: list[dict] = [{}]
        for k in range(1, order + 1):
            discounts = modified_discounts(counts[k].values())
            self.discounts.append(discounts)
            totals: dict = defaultdict(float)
            mass: dict = defaultdict(float)
            for gram, c in counts[k].items():
                context = gram[:-1]
                totals[context] += c
                mass[context] += discounts[min(c, 3) - 1]
            self.contexts.append({h: (totals[h], mass[h]) for h in totals})

    def prob(self, token: Token, context: Sequence[Token] = ()) -> float:
        word = token if token in self.vocabulary else UNK
        width = self.order - 1
        history = [t if (t in self.vocabulary or t == BOS) else UNK for t in list(context)[-width:]] if width else []
        history = [BOS] * (width - len(history)) + history
        p = 1.0 / (len(self.vocabulary) + 1)
        for k in range(1, self.order + 1):
            h = tuple(history[len(history) - (k - 1):]) if k > 1 else ()
            stats = self.contexts[k].get(h)
            if stats is None:
                continue
            total, mass = stats
            c = self.counts[k].get(h + (word,), 0)
            own = c - self.discounts[k][min(c, 3) - 1] if c > 0 else 0.0
            p = own / total + mass / total * p
        return p


def oov_rate(vocabulary: Iterable[Token] | LanguageModel, sequences: Iterable[Sequence[Token]]) -> float:
    """Share of the tokens of ``sequences`` outside ``vocabulary`` (a model's, or a token set)."""
    known = vocabulary.vocabulary if isinstance(vocabulary, LanguageModel) else frozenset(vocabulary)
    unseen = tokens = 0
    for sequence in sequences:
        tokens += len(sequence)
        unseen += sum(1 for t in sequence if t not in known)
    return unseen / tokens if tokens else float("nan")


@dataclass(frozen=True)
class BaselineReport:
    """Held-out bits per token of every baseline; ``best_order`` is the Kneser-Ney order with the
    fewest bits (picked on the held-out data itself, so ``best_bits`` is slightly optimistic)."""

    uniform: float
    unigram: float
    kneser_ney: dict[int, float] = field(default_factory=dict)
    best_order: int = 0
    best_bits: float = float("nan")
    oov_rate: float = 0.0
    heldout_tokens: int = 0
    vocabulary_size: int = 0


def select_order(train: Sequence[Sequence[Token]], heldout: Sequence[Sequence[Token]],
                 orders: Iterable[int] = (2, 3, 4, 5)) -> tuple[int, dict[int, float]]:
    """(the Kneser-Ney order with the lowest held-out bits per token, bits per token by order)."""
    bits = {n: KneserNeyModel(train, n).bits_per_token(heldout) for n in orders}
    return min(bits, key=lambda n: (bits[n], n)), bits


def evaluate_baselines(train: Sequence[Sequence[Token]], heldout: Sequence[Sequence[Token]],
                       orders: Iterable[int] = (2, 3, 4, 5), k: float = 1.0) -> BaselineReport:
    """Uniform, add-k unigram and Kneser-Ney (each order) bits per token on ``heldout``."""
    train, heldout = [list(s) for s in train], [list(s) for s in heldout]
    uniform = UniformModel(train)
    best, bits = select_order(train, heldout, orders)
    return BaselineReport(
        uniform=uniform.bits_per_token(heldout),
        unigram=UnigramModel(train, k).bits_per_token(heldout),
        kneser_ney=bits,
        best_order=best,
        best_bits=bits[best],
        oov_rate=oov_rate(uniform, heldout),
        heldout_tokens=sum(len(s) for s in heldout),
        vocabulary_size=len(uniform.vocabulary),
    )
