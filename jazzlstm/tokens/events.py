"""What the factored ("event") encodings share: a duration grid, the walk through a melody
that places bar and chord tokens, and the syntax a sampler enforces.

An event encoding spells each note as several consecutive sub-tokens (what it is, then
``Dur:`` tokens), rests as ``Rest:`` tokens, a ``Bar`` token at the first event of each bar
and a ``Chord:`` token at the first event after each chord change. Each factor is a small
closed set seen thousands of times, so a new tune is spelled almost entirely with tokens
seen in training (the single-token grammar's type x duration x interval product is not).

Durations live on a musical grid (:data:`GRID_STEPS`: straight and triplet values from a
sixth of a beat up to a 4/4 bar); a length off the grid or longer than a bar is the sum of
consecutive ``Dur:`` (or ``Rest:``) tokens, largest first. Swing and triplets therefore add
no tokens: a triplet eighth is ``Dur:0.333`` wherever it occurs.
"""
from __future__ import annotations

import bisect
import random
from abc import abstractmethod
from functools import lru_cache
from dataclasses import dataclass
from typing import ClassVar, Sequence

from jazzlstm.errors import EncodingError
from jazzlstm.music.harmony import chord_tones
from jazzlstm.music.score import STEPS_PER_BEAT, Chord, Note, Score, bar_starts, chord_at, to_steps
from jazzlstm.tokens.base import PLAYABLE_RANGE, MusicTokenizer, phrase_start, rest_lengths
from jazzlstm.tokens.grammar import progression_chord

GRID_STEPS = (48, 36, 24, 18, 16, 12, 9, 8, 6, 4, 3, 2, 1)
"""Grid durations in steps of 1/12 beat, largest first: 4, 3, 2, 1.5, 4/3, 1, 3/4, 2/3, 1/2,
1/3, 1/4, 1/6 and 1/12 beat. Every length on the 12-step grid is a sum of them."""

BAR = "Bar"
DUR = "Dur:"
REST = "Rest:"
CHORD = "Chord:"

# Kinds of token, as the syntax sees them.
KIND_BAR, KIND_CHORD, KIND_NOTE, KIND_INTERVAL, KIND_DUR, KIND_REST = "bar", "chord", "note", "interval", "dur", "rest"


def duration_parts(beats: float) -> list[int]:
    """A length in beats -> grid values in steps that sum to it, largest first (greedy)."""
    steps = to_steps(beats)
    parts = []
    for value in GRID_STEPS:
        while steps >= value:
            parts.append(value)
            steps -= value
    return parts


def steps_text(steps: int) -> str:
    return f"{steps / STEPS_PER_BEAT:.3f}"


def duration_tokens(prefix: str, beats: float) -> list[str]:
    """``Dur:`` (or ``Rest:``) tokens that spell ``beats`` on the grid."""
    return list(_grid_spelling(prefix, to_steps(beats)))


@lru_cache(maxsize=4096)
def _grid_spelling(prefix: str, steps: int) -> tuple[str, ...]:
    """:func:`duration_tokens` of a length in steps (cached: a melody has few distinct lengths)."""
    return tuple(prefix + steps_text(part) for part in duration_parts(steps / STEPS_PER_BEAT))


def bounded_int(token: str, prefix: str, limit: int) -> int | None:
    """The signed integer after ``prefix`` in ``token`` if its size is at most ``limit``, else None."""
    try:
        value = int(token[len(prefix):])
    except ValueError:
        return None
    return value if abs(value) <= limit else None


def grid_beats(token: str) -> float | None:
    """Beats of a ``Dur:``/``Rest:`` token; None for any other token (or a value off the grid)."""
    for prefix in (DUR, REST):
        if token.startswith(prefix):
            try:
                steps = to_steps(float(token[len(prefix):]))
            except ValueError:
                return None
            return steps / STEPS_PER_BEAT if steps in GRID_STEPS else None
    return None


@dataclass(frozen=True)
class EventTokenizer(MusicTokenizer):
    """Base of the event encodings: subclasses spell a note's head (the tokens before its
    ``Dur:`` tokens), a chord, and decode note heads back to pitches.

    ``chords``: put ``Chord:`` tokens in the stream (chord-conditioned); ``bars``: put
    ``Bar`` tokens in it."""

    tokens_per_note: ClassVar[int] = 2
    window_stride: ClassVar[int] = 2  # a note spans several tokens: about as many windows per note
    requires_chords: ClassVar[bool] = False
    chords: bool = True
    bars: bool = True

    # -- what subclasses provide ------------------------------------------------------------
    @abstractmethod
    def note_head(self, note: Note, chord: Chord | None, previous: Note | None) -> list[str]:
        """The tokens before a note's durations (e.g. its pitch, or its type and interval)."""

    @abstractmethod
    def chord_token(self, chord: Chord, previous_root: int | None = None) -> str:
        """The token announcing ``chord``; ``previous_root``: the root of the chord announced
        before it (None at the start), for encodings that spell the root's motion."""

    @abstractmethod
    def head_kind(self, token: str) -> str | None:
        """The kind of a note-head token of this encoding (``KIND_NOTE``, ``KIND_INTERVAL``), else None."""

    def token_kind(self, token: str) -> str | None:
        """The syntax kind of ``token`` (see the ``KIND_*`` names); None: not of this encoding."""
        if token == BAR:
            return KIND_BAR
        if token.startswith(CHORD):
            return KIND_CHORD
        if token.startswith((DUR, REST)):
            if grid_beats(token) is None:
                return None
            return KIND_DUR if token.startswith(DUR) else KIND_REST
        return self.head_kind(token)

    @abstractmethod
    def pitch_of(self, head: Sequence[str], chord: Chord, previous: int | None, rng: random.Random,
                 pitch_range: tuple[int, int]) -> int | None:
        """A note's pitch from its head tokens over ``chord`` (None: the head is incomplete)."""

    def needs_interval(self, has_previous: bool) -> bool:
        """Whether a note head continues with an interval token (see :class:`ChordRelativeEvents`)."""
        return False

    # -- encoding ---------------------------------------------------------------------------
    def encode(self, score: Score) -> list[str]:
        """Melody -> event tokens, from the bar line before the first note to the last note."""
        if self.chords and not score.chords and self.requires_chords:
            raise EncodingError(f"the {self.name} encoding needs chords: the score has none")
        melody = score.melody
        if not melody:
            return []
        bar_lines = bar_starts(score.time_signatures, melody[-1].end + 1)
        chords = score.chords
        cursor = phrase_start(bar_lines, melody[0].start)
        tokens: list[str] = []
        bar = bisect.bisect_right(bar_lines, cursor + 1e-9) - 2  # the last bar announced
        # The next bar line after ``bar`` (inf past the last; -inf before the first, so the
        # first event searches): an event before it needs no search, which is most events.
        next_line = (bar_lines[bar + 1] if 0 <= bar + 1 < len(bar_lines)
                     else float("-inf") if bar + 1 < 0 else float("inf"))
        announced: tuple[int, str] | None = None  # the chord announced last
        chord_index = 0
        bars, with_chords, n_chords = self.bars, self.chords, len(chords)

        def announce(at: float) -> Chord | None:
            """Bar and chord tokens due at ``at`` (an event's onset); returns the chord there."""
            nonlocal bar, next_line, announced, chord_index
            if at + 1e-9 >= next_line:
                latest = bisect.bisect_right(bar_lines, at + 1e-9) - 1
                if latest > bar:
                    if bars:
                        tokens.append(BAR)
                    bar = latest
                    next_line = bar_lines[bar + 1] if bar + 1 < len(bar_lines) else float("inf")
            if not n_chords:
                return None
            i = chord_index
            while i + 1 < n_chords and chords[i + 1].start <= at + 1e-9:
                i += 1
            chord_index = i
            chord = chords[i]
            if with_chords and (chord.root, chord.quality) != announced:
                tokens.append(self.chord_token(chord, announced[0] if announced else None))
                announced = (chord.root, chord.quality)
            return chord

        previous: Note | None = None
        for note in melody:
            rest_start = cursor
            for rest in rest_lengths(cursor, note.start, bar_lines):
                announce(rest_start)
                tokens += _grid_spelling(REST, to_steps(rest))
                rest_start += rest
            chord = announce(note.start)
            tokens += self.note_head(note, chord, previous)
            tokens += _grid_spelling(DUR, to_steps(note.duration))
            cursor, previous = note.end, note
        return tokens

    # -- decoding ---------------------------------------------------------------------------
    def decode_melody(self, tokens: Sequence[str], chords: Sequence[Chord], rng: random.Random,
                      pitch_range: tuple[int, int] = PLAYABLE_RANGE) -> list[Note]:
        """Event tokens -> notes over ``chords`` (the progression cycled); ``Bar`` and ``Chord:``
        tokens are skipped (the chords played are the ones given), as are tokens out of place."""
        chords = sorted(chords)
        notes: list[Note] = []
        cursor_steps = 0
        head: list[str] = []
        head_start = 0
        length = 0
        previous: int | None = None

        def close() -> None:
            nonlocal previous, head, length
            if head and length > 0:
                onset = head_start / STEPS_PER_BEAT
                chord = progression_chord(chords, onset) if chords else Chord(0.0, 4.0, 0, "")
                pitch = self.pitch_of(head, chord, previous, rng, pitch_range)
                if pitch is not None:
                    notes.append(Note(onset, length / STEPS_PER_BEAT, pitch))
                    previous = pitch
            head, length = [], 0

        for token in tokens:
            kind = self.token_kind(token)
            if kind == KIND_DUR:
                if head:
                    steps = to_steps(grid_beats(token) or 0.0)
                    length += steps
                    cursor_steps += steps
                continue
            if kind == KIND_INTERVAL:
                if head and length == 0:
                    head.append(token)
                continue
            close()
            if kind == KIND_NOTE:
                head, head_start = [token], cursor_steps
            elif kind == KIND_REST:
                cursor_steps += to_steps(grid_beats(token) or 0.0)
        close()
        return notes

    # -- the rest of the interface ----------------------------------------------------------
    def token_beats(self, token: str) -> float | None:
        return grid_beats(token)

    def is_note(self, token: str) -> bool:
        return self.token_kind(token) == KIND_NOTE

    def is_given(self, token: str) -> bool:
        return self.token_kind(token) in (KIND_BAR, KIND_CHORD)


@dataclass(frozen=True)
class ChordRelativeEvents(EventTokenizer):
    """Event encodings whose note head is a token relative to the chord at the note's onset,
    then (every note but a sequence's first) a token for its move from the previous note:
    three tokens a note, and chords required."""

    tokens_per_note: ClassVar[int] = 3
    window_stride: ClassVar[int] = 3  # a window per note, as the grammar's stride 1 gives
    requires_chords: ClassVar[bool] = True

    @abstractmethod
    def chord_relative_token(self, pitch: int, chord: Chord) -> str:
        """The head's first token: ``pitch`` against ``chord``."""

    @abstractmethod
    def move_token(self, semitones: int) -> str:
        """The head's second token: a move of ``semitones`` from the previous note."""

    def note_head(self, note: Note, chord: Chord | None, previous: Note | None) -> list[str]:
        assert chord is not None  # encode() refuses chordless scores
        head = [self.chord_relative_token(note.pitch, chord)]
        if previous is not None:
            head.append(self.move_token(note.pitch - previous.pitch))
        return head

    def needs_interval(self, has_previous: bool) -> bool:
        return has_previous

    spells_pitches: ClassVar[bool] = False  # a sequence's first note, and the widest leaps

    def pitch_candidates(self, phrase: Score, tokens: Sequence[str]
                         ) -> list[tuple[int, int, int | None, list[int]]]:
        """The pitches whose head tokens over the note's chord, after the previous pitch, are
        the note's own: one, except for a sequence's first note (no move token) and leaps
        beyond the widest move token."""
        out = []
        for index, note, previous in self.note_onsets(phrase, tokens):
            chord = chord_at(phrase.chords, note.start)
            move = tokens[index + 1] if index + 1 < len(tokens) and \
                self.token_kind(tokens[index + 1]) == KIND_INTERVAL else None
            same = [p for p in range(128) if self.chord_relative_token(p, chord) == tokens[index]
                    and (move is None or previous is None or self.move_token(p - previous) == move)]
            if len(same) > 1:
                out.append((index, note.pitch, previous, same))
        return out


def pitch_chord_tone(pitch: int, chord: Chord) -> bool:
    return pitch % 12 in chord_tones(chord.root, chord.quality)
