"""Held-out likelihood in units every model and encoding shares: bits per melody note.

The reference pieces are whole files the run never trained on. Each is encoded as training
encodes it (:meth:`~jazzlstm.tokens.base.MusicTokenizer.encode_variants`: one sequence per
phrase; augmentation is left out, a held-out piece is scored once, as written). Tokens the
run's vocabulary lacks are **removed** from the sequence, for every model alike, and counted
as the out-of-vocabulary (OOV) rate: a model cannot be scored on a token it cannot name, and
every model is scored on the very same tokens.

**What is scored.** Tokens 2..T of each sequence, each given the tokens before it; the first
token only conditions (the LSTM starts from its zero state as in training, see
:func:`jazzlstm.model.likelihood.token_bits`; the n-gram models see it as context after the
``<s>`` padding). Sequences of fewer than two tokens score nothing. Tokens an encoding marks
as given (:meth:`~jazzlstm.tokens.base.MusicTokenizer.is_given`: the bar lines and chord
changes of the event encodings, which generation writes from the progression) are context
for every model and scored for none: the figure is the melody's bits given its chords.

**Units.** Bits per token depend on the encoding (a grammar token and a note token carry
different information), so the headline unit is **bits per note**: the bits of a sequence
divided by its melody notes (:meth:`~jazzlstm.tokens.base.MusicTokenizer.count_notes` over the
kept sequence, as training's ``bits_per_note``), summed over the set before dividing.

**Baselines**, fitted on the training pieces' token sequences (augmentation included, as the
run trained): uniform, add-one unigram and modified Kneser-Ney of orders 2..5
(:mod:`jazzlstm.evaluate.ngrams`); the best order is picked on the reference set itself, so its
figure is slightly optimistic. Tokens the n-gram models never saw cost their ``<unk>`` share.

The model enters as a function ``ids -> bits of tokens 2..T``, so this module never imports
Keras (the caller passes ``lambda ids: token_bits(run.model, ids)``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from jazzlstm.errors import EncodingError
from jazzlstm.evaluate.ngrams import KneserNeyModel, LanguageModel, UniformModel, UnigramModel
from jazzlstm.evaluate.unsaid import PitchCode, unsaid_bits
from jazzlstm.music.analysis import melody_versions
from jazzlstm.music.score import Score
from jazzlstm.tokens.base import MusicTokenizer
from jazzlstm.tokens.vocab import Vocabulary

KN_ORDERS = (2, 3, 4, 5)
"""The Kneser-Ney orders fitted as baselines."""

ModelBits = Callable[[Sequence[int]], np.ndarray]
"""ids (T,) -> bits of tokens 2..T (T - 1 values)."""


@dataclass
class HeldoutTokens:
    """The reference set's sequences as every model scores them."""

    sequences: list[list[str]] = field(default_factory=list)  # kept tokens, one list per phrase
    unsaid: list[list[float]] = field(default_factory=list)  # per kept token: pitch bits it leaves open
    pieces: int = 0                # pieces with something to score (a sequence of two tokens or more)
    tokens: int = 0                # tokens before removal
    oov_tokens: int = 0            # tokens removed (not in the model's vocabulary)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (piece, why) not encodable

    @property
    def oov_rate(self) -> float:
        return self.oov_tokens / self.tokens if self.tokens else math.nan

    @property
    def scored(self) -> list[list[str]]:
        """The sequences with something to score (two tokens or more)."""
        return [s for s in self.sequences if len(s) >= 2]

    @property
    def scored_unsaid(self) -> list[list[float]]:
        """:attr:`unsaid` of the :attr:`scored` sequences."""
        return [u for s, u in zip(self.sequences, self.unsaid) if len(s) >= 2]


def heldout_tokenizer(tokenizer: MusicTokenizer) -> MusicTokenizer:
    """``tokenizer`` without augmentation: a held-out piece is scored once, as written."""
    if getattr(tokenizer, "augment", ()):
        return replace(tokenizer, augment=())
    return tokenizer


def encode_pieces(tokenizer: MusicTokenizer, scores: Sequence[Score], names: Sequence[str]
                  ) -> tuple[list[list[str]], list[tuple[str, str]]]:
    """(every sequence of every piece, (name, reason) of the pieces the encoding refuses)."""
    sequences: list[list[str]] = []
    skipped: list[tuple[str, str]] = []
    for score, name in zip(scores, names):
        variants = encode_piece(tokenizer, score)
        if isinstance(variants, str):
            skipped.append((name, variants))
        else:
            sequences += variants
    return sequences, skipped


def encode_piece(tokenizer: MusicTokenizer, score: Score) -> list[list[str]] | str:
    """Every sequence one piece trains on (each melodic line it was read with, each phrase), or
    the reason the encoding refuses it."""
    lines = encode_lines(tokenizer, score)
    return lines if isinstance(lines, str) else [s for _, sequences in lines for s in sequences]


def encode_lines(tokenizer: MusicTokenizer, score: Score) -> list[tuple[Score, list[list[str]]]] | str:
    """Each melodic line of a piece with its sequences (one per phrase), or the reason the
    encoding refuses the piece."""
    try:
        return [(version, [list(s) for s in tokenizer.encode_variants(version)]) for version in melody_versions(score)]
    except EncodingError as exc:
        return str(exc)


def heldout_tokens(tokenizer: MusicTokenizer, vocab: Vocabulary, scores: Sequence[Score],
                   names: Sequence[str], code: PitchCode | None = None) -> HeldoutTokens:
    """Encode the reference pieces and remove the tokens ``vocab`` lacks (counted); with
    ``code``, the pitch bits each kept token leaves open (else zeros)."""
    tokenizer = heldout_tokenizer(tokenizer)
    result = HeldoutTokens()
    for score, name in zip(scores, names):
        lines = encode_lines(tokenizer, score)
        if isinstance(lines, str):
            result.skipped.append((name, lines))
            continue
        scored = False
        for version, sequences in lines:
            unsaid = (unsaid_bits(tokenizer, version, sequences, code) if code is not None
                      else [[0.0] * len(s) for s in sequences])
            for sequence, bits in zip(sequences, unsaid):
                kept = [(t, b) for t, b in zip(sequence, bits) if t in vocab]
                result.tokens += len(sequence)
                result.oov_tokens += len(sequence) - len(kept)
                if kept:
                    result.sequences.append([t for t, _ in kept])
                    result.unsaid.append([b for _, b in kept])
                    scored = scored or len(kept) >= 2
        result.pieces += scored
    return result


def conditional_bits(model: LanguageModel, sequence: Sequence, predicted: Sequence[bool] | None = None) -> float:
    """Bits of tokens 2..T of ``sequence`` under an n-gram model, each given the tokens before
    it (the first token is context only; so is token i + 1 where ``predicted[i]`` is False)."""
    width = model.order - 1
    total = 0.0
    for i in range(1, len(sequence)):
        if predicted is not None and not predicted[i - 1]:
            continue
        context = sequence[max(0, i - width): i] if width else ()
        total -= math.log2(model.prob(sequence[i], context))
    return total


def _rates(bits: float, tokens: int, notes: int) -> dict:
    return {"bits_per_note": bits / notes if notes else math.nan,
            "bits_per_token": bits / tokens if tokens else math.nan,
            "total_bits": bits}


def heldout_likelihood(model_bits: ModelBits | None, vocab: Vocabulary, tokenizer: MusicTokenizer,
                       reference: Sequence[Score], reference_names: Sequence[str],
                       training: Sequence[Score] | None = None, training_names: Sequence[str] = (),
                       orders: Sequence[int] = KN_ORDERS,
                       progress: Callable[[str], None] | None = None) -> dict:
    """The likelihood section of an evaluation report (see docs/evaluation.md).

    ``model_bits``: the run's model as ``ids -> bits of tokens 2..T`` (None: no model row);
    ``training``: the pieces the baselines are fitted on (None: no baselines).
    """
    say = progress or (lambda message: None)
    code = PitchCode.fit(training) if training is not None and not tokenizer.spells_pitches else None
    held = heldout_tokens(tokenizer, vocab, reference, reference_names, code)
    scored = held.scored
    masks = [tokenizer.predicted(s) for s in scored]
    tokens = sum(map(sum, masks))
    notes = sum(tokenizer.count_notes(s) for s in scored)
    section: dict = {
        "reference_pieces": len(reference),
        "scored_pieces": held.pieces,
        "sequences": len(scored),
        "tokens": held.tokens,
        "oov_tokens": held.oov_tokens,
        "oov_rate": held.oov_rate,
        "scored_tokens": tokens,
        "notes": notes,
        "skipped": [{"piece": name, "reason": why} for name, why in held.skipped],
        "vocabulary_size": len(vocab),
    }
    if not scored:
        section["note"] = "no reference sequence has two tokens in the model's vocabulary: nothing to score"
    if model_bits is not None:
        say(f"scoring {len(scored)} reference sequence(s) ({tokens} tokens) with the model")
        section["model"] = _rates(model_total_bits(model_bits, vocab, scored, masks), tokens, notes)
    section["baselines"] = _baselines(scored, masks, notes, tokenizer, training, training_names, orders, say)
    if tokenizer.spells_pitches or code is not None:
        # Bits per note of the exact melody: what the tokens leave open about pitches, charged
        # to the scored notes (docs/evaluation.md); nothing for encodings that spell pitches.
        unsaid = sum(sum(b for b, m in zip(bits[1:], mask) if m) for bits, mask in zip(held.scored_unsaid, masks))
        section["unsaid_pitch_bits"] = {"total_bits": unsaid, "bits_per_note": unsaid / notes if notes else math.nan}
        for rates in _rate_rows(section):
            rates["exact_bits_per_note"] = (rates["total_bits"] + unsaid) / notes if notes else math.nan
    return section


def _rate_rows(section: dict) -> list[dict]:
    """Every rates dictionary of a likelihood section: the model's and each baseline's."""
    rows = [section["model"]] if "model" in section else []
    baselines = section["baselines"]
    if baselines.get("available"):
        rows += [baselines["uniform"], baselines["unigram"], *baselines["kneser_ney"].values()]
        if "best_kneser_ney" in baselines:
            rows.append(baselines["best_kneser_ney"])
    return rows


def model_total_bits(model_bits: ModelBits, vocab: Vocabulary, scored: Sequence[Sequence[str]],
                     masks: Sequence[Sequence[bool]]) -> float:
    """The model's bits over the scored tokens of every sequence (``masks``: which of tokens
    2..T are predictions; see :meth:`~jazzlstm.tokens.base.MusicTokenizer.predicted`)."""
    return sum(float(np.sum(np.asarray(model_bits(vocab.encode(s)))[np.asarray(mask, bool)]))
               for s, mask in zip(scored, masks))


def _baselines(scored: list[list[str]], masks: list[list[bool]], notes: int, tokenizer: MusicTokenizer,
               training: Sequence[Score] | None, training_names: Sequence[str], orders: Sequence[int],
               say: Callable[[str], None]) -> dict:
    if training is None:
        return {"available": False, "note": "training data not available"}
    names = list(training_names) or [f"#{i}" for i in range(len(training))]
    sequences, skipped = encode_pieces(tokenizer, training, names)
    sequences = [s for s in sequences if s]
    if not sequences:
        return {"available": False, "note": "training data not available (no training piece could be encoded)"}
    say(f"fitting n-gram baselines on {len(sequences)} training sequence(s) "
        f"({sum(len(s) for s in sequences)} tokens)")
    return {"training_pieces": len(training),
            **baseline_rates(sequences, scored, masks, notes, orders),
            "skipped": [{"piece": name, "reason": why} for name, why in skipped]}


def baseline_rates(sequences: Sequence[Sequence[str]], scored: Sequence[Sequence[str]],
                   masks: Sequence[Sequence[bool]], notes: int, orders: Sequence[int] = KN_ORDERS) -> dict:
    """Uniform, unigram and Kneser-Ney models fitted on ``sequences``, scored on tokens 2..T of
    ``scored`` where ``masks`` marks them predicted (given tokens are not scored), over
    ``notes`` melody notes, and the OOV rate of the scored tokens."""
    uniform = UniformModel(sequences)
    tokens = sum(map(sum, masks))
    predicted = [t for s, mask in zip(scored, masks) for t, m in zip(s[1:], mask) if m]
    out: dict = {
        "available": True,
        "training_sequences": len(sequences),
        "training_tokens": sum(len(s) for s in sequences),
        "vocabulary_size": len(uniform.vocabulary),
        "oov_rate": (sum(t not in uniform.vocabulary for t in predicted) / len(predicted)) if predicted else math.nan,
    }

    def rates(model: LanguageModel) -> dict:
        return _rates(sum(conditional_bits(model, s, mask) for s, mask in zip(scored, masks)), tokens, notes)

    out["uniform"] = rates(uniform)
    out["unigram"] = rates(UnigramModel(sequences))
    out["kneser_ney"] = {}
    for order in orders:
        out["kneser_ney"][str(order)] = rates(KneserNeyModel(sequences, order))
    if out["kneser_ney"] and scored:
        best = min(out["kneser_ney"], key=lambda n: (out["kneser_ney"][n]["total_bits"], int(n)))
        out["best_kneser_ney"] = {"order": int(best), **out["kneser_ney"][best]}
    return out
