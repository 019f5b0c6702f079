"""The tokenizer interface every encoding implements (the way MidiTok does it).

A tokenizer turns a piece into a token sequence (``encode``) and tokens back into a piece
(``decode``); its :meth:`Tokenizer.config` (name, version, options) is saved in every run
folder, so a run is decoded the way it was encoded. Tokenizers are frozen dataclasses: they
pickle into reader processes and their config keys the corpus cache.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Sequence

from jazzlstm.music.score import Chord, Note, Score, cover_chords

PLAYABLE_RANGE = (48, 88)
"""Pitches a decoded melody may use (C3..E6)."""


@dataclass(frozen=True)
class Tokenizer(ABC):
    """Items <-> token strings. ``name`` is the registry key; bump ``version`` when a token's
    meaning changes, so that run folders and cache entries of the old meaning are recognized."""

    name: ClassVar[str]
    version: ClassVar[int]

    def config(self) -> dict[str, Any]:
        """What to save to rebuild this tokenizer: name, version and options."""
        return {"name": self.name, "version": self.version, **asdict(self)}

    @abstractmethod
    def encode(self, item: Any) -> list[str]:
        """One item (a Score, or a text) -> its tokens."""

    @abstractmethod
    def decode(self, tokens: Sequence[str], chords: Sequence[Chord] = (), rng: random.Random | int | None = None
               ) -> Any:
        """Tokens -> an item; unknown and special tokens are skipped."""


@dataclass(frozen=True)
class MusicTokenizer(Tokenizer):
    """A tokenizer of a Score's melody (its chords give the context some encodings need)."""

    @abstractmethod
    def encode(self, score: Score) -> list[str]:
        ...

    def encode_variants(self, score: Score) -> list[list[str]]:
        """The sequences a piece contributes to training (more than one with augmentation)."""
        return [self.encode(score)]

    @abstractmethod
    def decode_melody(self, tokens: Sequence[str], chords: Sequence[Chord], rng: random.Random,
                      pitch_range: tuple[int, int] = PLAYABLE_RANGE) -> list[Note]:
        """Tokens -> melody notes over ``chords`` (kept within ``pitch_range``); tokens that are
        not of this encoding are skipped."""

    @abstractmethod
    def token_beats(self, token: str) -> float | None:
        """How many beats ``token`` advances time by (None: not a timed token)."""

    def decode(self, tokens: Sequence[str], chords: Sequence[Chord] = (), rng: random.Random | int | None = None,
               tempo: float = 120.0) -> Score:
        """Tokens -> a Score of the melody over ``chords``, the progression repeated to cover
        the melody (seeded by ``rng``: the same seed, the same pitches)."""
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        melody = self.decode_melody(tokens, chords, rng)
        end = melody[-1].end if melody else max((c.end for c in chords), default=0.0)
        return Score(tuple(melody), tuple(cover_chords(chords, end)), tempo=tempo)


def into_range(pitch: int, pitch_range: tuple[int, int] = PLAYABLE_RANGE) -> int:
    """``pitch`` moved by octaves into ``pitch_range``."""
    low, high = pitch_range
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch
