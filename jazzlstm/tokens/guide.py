"""What a sampler may emit next, token by token, so every sampled sequence decodes.

A :class:`Guide` follows one sequence being generated over a known chord progression. For an
event encoding it enforces the grammar of sub-tokens (a note start is followed by its
interval where the encoding has one, then by ``Dur:`` tokens; ``Bar`` and ``Chord:`` tokens
are not sampled but written where the progression puts them, so the model is conditioned on
the chords the melody will be played over). For the one-token encodings every token is
allowed. In both cases it keeps the time position and counts chord tones, the harmony term
of beam search.

Guides are plain Python over vocabulary ids (no TensorFlow): the sampler asks
:meth:`Guide.allowed` before each step and reports the chosen id with :meth:`Guide.advance`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from jazzlstm.music.score import STEPS_PER_BEAT, Chord, to_steps
from jazzlstm.tokens.base import MusicTokenizer
from jazzlstm.tokens.events import (KIND_BAR, KIND_CHORD, KIND_DUR, KIND_INTERVAL, KIND_NOTE, KIND_REST,
                                    EventTokenizer)
from jazzlstm.tokens.grammar import progression_chord

# Where a sequence stands between tokens.
START, NEED_INTERVAL, NEED_DUR, AFTER_DUR = "start", "need-interval", "need-dur", "after-dur"


@dataclass
class GuideTables:
    """Per-vocabulary facts every guide of one generation shares (built once)."""

    tokens: tuple[str, ...]
    kinds: list[str | None]
    steps: np.ndarray                 # grid steps each id advances time by (0 for untimed ids)
    masks: dict[str, np.ndarray]      # phase -> allowed ids
    chord_ids: dict[str, int]         # chord token -> id
    bar_id: int | None
    constrained: bool

    @classmethod
    def build(cls, tokenizer: MusicTokenizer, tokens: Sequence[str]) -> "GuideTables":
        tokens = tuple(tokens)
        steps = np.array([to_steps(tokenizer.token_beats(t) or 0.0) for t in tokens], np.int64)
        if not isinstance(tokenizer, EventTokenizer):
            kinds: list[str | None] = [None] * len(tokens)
            everything = np.array([tokenizer.token_beats(t) is not None for t in tokens])
            if not everything.any():
                everything[:] = True
            masks = {phase: everything for phase in (START, NEED_INTERVAL, NEED_DUR, AFTER_DUR)}
            return cls(tokens, kinds, steps, masks, {}, None, False)
        kinds = [tokenizer.token_kind(t) for t in tokens]
        kind_array = np.array([k or "" for k in kinds])

        def of(*wanted: str) -> np.ndarray:
            return np.isin(kind_array, wanted)

        masks = {START: of(KIND_NOTE, KIND_REST), NEED_INTERVAL: of(KIND_INTERVAL), NEED_DUR: of(KIND_DUR),
                 AFTER_DUR: of(KIND_NOTE, KIND_REST, KIND_DUR)}
        chord_ids = {t: i for i, (t, k) in enumerate(zip(tokens, kinds)) if k == KIND_CHORD}
        bar_id = next((i for i, k in enumerate(kinds) if k == KIND_BAR), None)
        return cls(tokens, kinds, steps, masks, chord_ids, bar_id, True)


@dataclass
class Guide:
    """One sequence's position in the grammar, in time and in the progression.

    ``chords``: the progression the melody will be decoded over (cycled past its end);
    ``beats_per_bar``: where ``Bar`` tokens fall; ``until``: the beats to fill (the sequence is
    :meth:`finished` once a note or rest ends there)."""

    tokenizer: MusicTokenizer
    tables: GuideTables
    chords: Sequence[Chord]
    beats_per_bar: float = 4.0
    until: float | None = None
    phase: str = START
    steps: int = 0                     # time in grid steps
    bar: int = -1                      # last bar announced
    chord: tuple[int, str] | None = None
    has_previous: bool = False         # a note came before (grammar events: it needs an interval)
    notes: int = 0
    chord_tones: int = 0
    _due: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chords = sorted(self.chords)
        self._schedule()

    def copy(self) -> "Guide":
        twin = Guide.__new__(Guide)
        twin.__dict__.update(self.__dict__)
        twin._due = list(self._due)
        return twin

    @property
    def beats(self) -> float:
        return self.steps / STEPS_PER_BEAT

    def finished(self) -> bool:
        """Whether the requested beats are filled and no note is waiting for its duration."""
        return self.until is not None and self.beats >= self.until - 1e-9 and self.phase in (START, AFTER_DUR)

    def allowed(self) -> np.ndarray:
        """Ids the next token may be: exactly one when a bar line or chord change is due."""
        if self._due:
            mask = np.zeros(len(self.tables.tokens), bool)
            mask[self._due[0]] = True
            return mask
        return self.tables.masks[self.phase]

    def advance(self, token_id: int) -> None:
        """Record the token chosen next (normally one :meth:`allowed` allowed)."""
        tables = self.tables
        if self._due and token_id == self._due[0]:
            self._due.pop(0)
            return
        token = tables.tokens[token_id]
        kind = tables.kinds[token_id]
        timed = int(tables.steps[token_id])
        if tables.constrained:
            if kind == KIND_NOTE:
                self._count_note(token)
                needs = self.tokenizer.needs_interval(self.has_previous)  # type: ignore[attr-defined]
                self.phase = NEED_INTERVAL if needs else NEED_DUR
                self.has_previous = True
            elif kind == KIND_INTERVAL:
                self.phase = NEED_DUR
            elif kind == KIND_DUR:
                self.steps += timed
                self.phase = AFTER_DUR
            elif kind == KIND_REST:
                self.steps += timed
                self.phase = START
            if self.phase in (START, AFTER_DUR):
                self._schedule()
            return
        if self.tokenizer.is_note(token):
            self._count_note(token)
        self.steps += timed

    def _count_note(self, token: str) -> None:
        if not self.chords:
            return
        tone = self.tokenizer.chord_tone(token, progression_chord(self.chords, self.beats))
        if tone is not None:
            self.notes += 1
            self.chord_tones += bool(tone)

    def _schedule(self) -> None:
        """Queue the ``Bar`` and ``Chord:`` tokens due at the current time."""
        tables = self.tables
        if not tables.constrained:
            return
        bar = int((self.beats + 1e-9) // self.beats_per_bar)
        if bar > self.bar:
            if self.tokenizer.bars and tables.bar_id is not None:  # type: ignore[attr-defined]
                self._due.append(tables.bar_id)
            self.bar = bar
        if self.chords and self.tokenizer.chords:  # type: ignore[attr-defined]
            chord = progression_chord(self.chords, self.beats)
            key = (chord.root, chord.quality)
            if key != self.chord:
                previous_root = self.chord[0] if self.chord else None
                self.chord = key
                token_id = tables.chord_ids.get(  # type: ignore[attr-defined]
                    self.tokenizer.chord_token(chord, previous_root))
                if token_id is not None:  # a chord never seen in training is not announced
                    self._due.append(token_id)


def make_guides(tokenizer: MusicTokenizer, tokens: Sequence[str], chords: Sequence[Chord], count: int,
                until: float | None = None, beats_per_bar: float = 4.0,
                primer: Sequence[int] = ()) -> list[Guide]:
    """``count`` fresh guides over ``chords`` for a vocabulary of ``tokens``, to fill ``until``
    beats. After a ``primer`` (ids fed before sampling) generation starts again at beat 0 (the
    primer only warms the model's state), continuing its melody: the next note has a
    previous one."""
    tables = GuideTables.build(tokenizer, tokens)
    guides = [Guide(tokenizer, tables, chords, beats_per_bar, until) for _ in range(count)]
    if any(tokenizer.is_note(tables.tokens[int(i)]) for i in primer):
        for guide in guides:
            guide.has_previous = True
    return guides
