"""The tokenizer interface every encoding implements (the way MidiTok does it).

A tokenizer turns a piece into a token sequence (``encode``) and tokens back into a piece
(``decode``); its :meth:`Tokenizer.config` (name, version, options) is saved in every run
folder, so a run is decoded the way it was encoded. Tokenizers are frozen dataclasses: they
pickle into reader processes and their config keys the corpus cache.
"""
from __future__ import annotations

import bisect
import random
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar, Iterator, Sequence

from jazzlstm.config import SPLIT_SILENCE_BARS
from jazzlstm.music.score import Chord, Note, Score, cover_chords, quantize

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
    """A tokenizer of a Score's melody (its chords give the context some encodings need).

    Tokens start at the bar line before the first note (leading silence is dropped, the
    first note keeps its place in the bar), end with the last note (trailing silence is
    dropped), and rests are split at bar lines, so no rest token is longer than a bar.
    ``split_silence_bars``: for training, silence of more than that many bars splits a piece
    into separate sequences (:func:`phrases`)."""

    split_silence_bars: int = SPLIT_SILENCE_BARS
    tokens_per_note: ClassVar[int] = 1
    """About how many tokens a note takes (sampling budgets scale with it)."""
    window_stride: ClassVar[int] = 1
    """Tokens between training window starts unless ``--stride`` says otherwise."""
    spells_pitches: ClassVar[bool] = True
    """Whether the tokens name every melody pitch exactly (else see :meth:`pitch_candidates`)."""

    @abstractmethod
    def encode(self, score: Score) -> list[str]:
        ...

    def encode_variants(self, score: Score) -> list[list[str]]:
        """The sequences a piece contributes to training: one per phrase (see :func:`phrases`)."""
        return [self.encode(phrase) for phrase in phrases(score, self.split_silence_bars)]

    @abstractmethod
    def decode_melody(self, tokens: Sequence[str], chords: Sequence[Chord], rng: random.Random,
                      pitch_range: tuple[int, int] = PLAYABLE_RANGE) -> list[Note]:
        """Tokens -> melody notes over ``chords`` (kept within ``pitch_range``); tokens that are
        not of this encoding are skipped."""

    @abstractmethod
    def token_beats(self, token: str) -> float | None:
        """How many beats ``token`` advances time by (None: not a timed token)."""

    @abstractmethod
    def is_note(self, token: str) -> bool:
        """Whether ``token`` starts a melody note (not a rest, bar or special token)."""

    def chord_tone(self, token: str, chord: Chord) -> bool | None:
        """Whether the note ``token`` starts, sounding over ``chord``, is a chord tone (None:
        ``token`` starts no note). Beam search's harmony term counts these."""
        return None

    def is_given(self, token: str) -> bool:
        """Whether ``token`` is context the melody is conditioned on (a bar line, a chord) rather
        than part of it: generation writes such tokens where the progression puts them, and
        likelihoods do not charge for them."""
        return False

    def predicted(self, tokens: Sequence[str]) -> list[bool]:
        """For tokens 2..T of a sequence: which are predictions (scored), not given context."""
        return [not self.is_given(token) for token in tokens[1:]]

    def note_onsets(self, phrase: Score, tokens: Sequence[str]) -> Iterator[tuple[int, Note, int | None]]:
        """(index of the token, the note, the previous note's pitch or None) for each token of
        ``tokens`` (the encoding of ``phrase``) that starts a melody note, in order."""
        notes = iter(phrase.melody)
        previous: int | None = None
        for index, token in enumerate(tokens):
            if not self.is_note(token):
                continue
            note = next(notes, None)
            if note is None:
                return
            yield index, note, previous
            previous = note.pitch

    def pitch_candidates(self, phrase: Score, tokens: Sequence[str]
                         ) -> list[tuple[int, int, int | None, list[int]]]:
        """For each note of ``phrase`` whose pitch its encoding ``tokens`` leave open: (index of
        the token that starts the note, its pitch, the previous note's pitch or None, every MIDI
        pitch that would have been spelled the same in its place). Empty for encodings that
        spell every pitch; the held-out evaluation charges the rest (docs/evaluation.md)."""
        return []

    def count_notes(self, tokens: Sequence[str]) -> int:
        """Melody notes in ``tokens``: the denominator of bits per note."""
        return sum(self.is_note(token) for token in tokens)

    def decode(self, tokens: Sequence[str], chords: Sequence[Chord] = (), rng: random.Random | int | None = None,
               tempo: float = 120.0) -> Score:
        """Tokens -> a Score of the melody over ``chords``, the progression repeated to cover
        the melody (seeded by ``rng``: the same seed, the same pitches)."""
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        melody = self.decode_melody(tokens, chords, rng)
        end = melody[-1].end if melody else max((c.end for c in chords), default=0.0)
        return Score(tuple(melody), tuple(cover_chords(chords, end)), tempo=tempo)


def phrase_start(bar_lines: Sequence[float], beat: float) -> float:
    """The bar line at or before ``beat``: where a piece's (or a phrase's) tokens start, so that
    leading silence is dropped and the first note keeps its place in the bar."""
    index = bisect.bisect_right(bar_lines, beat + 1e-9) - 1
    return bar_lines[index] if index >= 0 else 0.0


def rest_lengths(start: float, end: float, bar_lines: Sequence[float]) -> list[float]:
    """The rests that fill ``start..end``, split at bar lines: no rest token is longer than a bar."""
    if end <= start:  # no gap: most notes follow the one before directly
        return []
    cuts = bar_lines[bisect.bisect_right(bar_lines, start + 1e-9):bisect.bisect_left(bar_lines, end - 1e-9)]
    edges = [start, *cuts, end]
    return [quantize(b - a) for a, b in zip(edges, edges[1:]) if quantize(b - a) > 0]


def phrases(score: Score, max_silence_bars: int = SPLIT_SILENCE_BARS) -> list[Score]:
    """``score`` cut wherever the melody is silent for more than ``max_silence_bars`` whole
    bars (each phrase keeps the chords and meter; empty melodies give no phrase)."""
    melody = score.melody
    if not melody:
        return []
    bar_lines = score.bar_starts(score.end + 1)
    # A gap no longer than max_silence_bars of the shortest bar cannot hold more whole bars
    # than that, so only longer gaps (few) are counted bar line by bar line.
    shortest_bar = min((b - a for a, b in zip(bar_lines, bar_lines[1:])), default=0.0)
    short_gap = max_silence_bars * shortest_bar
    groups: list[list[Note]] = [[melody[0]]]
    for previous, note in zip(melody, melody[1:]):
        if note.start - (previous.start + previous.duration) > short_gap:
            # whole bars between the end of one note and the start of the next
            silent_bars = (bisect.bisect_right(bar_lines, note.start + 1e-9) - 1
                           - bisect.bisect_left(bar_lines, previous.end - 1e-9))
            if silent_bars > max_silence_bars:
                groups.append([])
        groups[-1].append(note)
    return [replace(score, melody=tuple(group)) for group in groups]


def into_range(pitch: int, pitch_range: tuple[int, int] = PLAYABLE_RANGE) -> int:
    """``pitch`` moved by octaves into ``pitch_range``."""
    low, high = pitch_range
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch
