"""What an encoding's tokens leave unsaid about the melody's pitches, in bits.

Bits per note compare encodings fairly only when their tokens carry the same information. The
classic grammar's token names a bar's first note by its type alone (any chord tone, say), and
the event encodings name a sequence's first note without its register; the note encodings
name every pitch. So the held-out evaluation also reports **bits per note of the exact
melody**: the model's bits plus, for each scored note its tokens leave open, the bits of a
simple code that picks the pitch among those its tokens allow
(:meth:`~jazzlstm.tokens.base.MusicTokenizer.pitch_candidates`).

The code (:class:`PitchCode`) is fitted on the training pieces, like the n-gram baselines:
after a previous note, the candidates are weighed by how often training melodies move by
that interval; with none, by how often they use that pitch (add-one counts either way). It is
the same for every model of an encoding, so it shifts a model and its baselines alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from jazzlstm.music.analysis import melody_versions
from jazzlstm.music.score import Score
from jazzlstm.tokens.base import MusicTokenizer, phrases

MIDI_PITCHES = 128


@dataclass(frozen=True)
class PitchCode:
    """Add-one counts of melodic intervals (-127..127) and of pitches (0..127) in training
    melodies: the weights of the candidates a note's tokens leave open."""

    interval_counts: np.ndarray
    pitch_counts: np.ndarray

    @classmethod
    def fit(cls, scores: Iterable[Score]) -> "PitchCode":
        intervals = np.ones(2 * MIDI_PITCHES - 1)
        pitches = np.ones(MIDI_PITCHES)
        for score in scores:
            for version in melody_versions(score):
                line = np.array([note.pitch for note in version.melody], dtype=np.int64)
                np.add.at(pitches, line, 1)
                np.add.at(intervals, np.diff(line) + MIDI_PITCHES - 1, 1)
        return cls(intervals, pitches)

    def bits(self, pitch: int, previous: int | None, candidates: Sequence[int]) -> float:
        """Bits to name ``pitch`` among ``candidates`` (which hold it), after ``previous``."""
        if len(candidates) <= 1:
            return 0.0
        options = np.asarray(candidates)
        if previous is None:
            weights, own = self.pitch_counts[options], self.pitch_counts[pitch]
        else:
            offset = MIDI_PITCHES - 1 - previous
            weights, own = self.interval_counts[options + offset], self.interval_counts[pitch + offset]
        return math.log2(float(weights.sum()) / float(own))


def unsaid_bits(tokenizer: MusicTokenizer, score: Score, sequences: Sequence[Sequence[str]],
                code: PitchCode) -> list[list[float]]:
    """Per token of each of ``sequences`` (one melodic line of ``score``, encoded phrase by
    phrase as :meth:`~jazzlstm.tokens.base.MusicTokenizer.encode_variants` does), the bits the
    code spends on the pitch of the note that token starts (0 elsewhere)."""
    out = [[0.0] * len(tokens) for tokens in sequences]
    if tokenizer.spells_pitches:
        return out
    for bits, phrase, tokens in zip(out, phrases(score, tokenizer.split_silence_bars), sequences):
        for index, pitch, previous, candidates in tokenizer.pitch_candidates(phrase, tokens):
            bits[index] = code.bits(pitch, previous, candidates)
    return out
