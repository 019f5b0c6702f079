"""Grammar events: the jazz grammar with each note factored into sub-tokens.

A note is ``Type:<C|S|A|X>`` (how its pitch relates to the chord sounding at its onset, as in
:mod:`jazzlstm.tokens.grammar`), then ``Int:<semitones>`` (the interval from the previous
note, -12..+12, wider leaps clamped; the first note of a sequence has none), then one or more
``Dur:`` tokens on the duration grid. Rests are ``Rest:`` tokens, ``Bar`` starts a bar and
``Chord:<quality>`` announces a chord change (the quality is what conditions the types; the
root does not matter to chord-relative tokens). Example, a D minor seventh bar::

    Bar Chord:m7 Type:C Dur:1.000 Type:S Int:+2 Dur:0.500 Type:C Int:+1 Dur:0.500 Rest:2.000

Decoding picks, over the target chord, the pitch of the right type nearest the previous
pitch plus the interval (ties broken by the seeded generator), so a decoded melody follows
the contour exactly where the harmony allows it.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar, Sequence

from jazzlstm.music.harmony import NOTE_TYPES, note_type
from jazzlstm.music.score import Chord
from jazzlstm.tokens.events import CHORD, KIND_INTERVAL, KIND_NOTE, ChordRelativeEvents, bounded_int

TYPE = "Type:"
INTERVAL = "Int:"
INTERVAL_LIMIT = 12
"""Largest interval token, in semitones (an octave); wider leaps are clamped to it."""
FIRST_PITCH_CENTRE = 67
"""Where a sequence's first note is placed when nothing precedes it (G4, mid-register)."""


def interval_token(semitones: int) -> str:
    return f"{INTERVAL}{max(-INTERVAL_LIMIT, min(INTERVAL_LIMIT, semitones)):+d}"


@dataclass(frozen=True)
class GrammarEventTokenizer(ChordRelativeEvents):
    """The jazz grammar as events: ``Type:``, ``Int:``, ``Dur:`` per note; ``Rest:``, ``Bar``, ``Chord:``."""

    name: ClassVar[str] = "grammar-events"
    version: ClassVar[int] = 1

    def chord_relative_token(self, pitch: int, chord: Chord) -> str:
        return TYPE + note_type(pitch, chord.root, chord.quality)

    def move_token(self, semitones: int) -> str:
        return interval_token(semitones)

    def chord_token(self, chord: Chord, previous_root: int | None = None) -> str:
        return CHORD + (chord.quality or "maj")

    def head_kind(self, token: str) -> str | None:
        if token.startswith(TYPE):
            return KIND_NOTE if token[len(TYPE):] in NOTE_TYPES else None
        if token.startswith(INTERVAL):
            return KIND_INTERVAL if bounded_int(token, INTERVAL, INTERVAL_LIMIT) is not None else None
        return None

    def pitch_of(self, head: Sequence[str], chord: Chord, previous: int | None, rng: random.Random,
                 pitch_range: tuple[int, int]) -> int | None:
        kind = head[0][len(TYPE):]
        low, high = pitch_range
        candidates = [p for p in range(low, high + 1) if note_type(p, chord.root, chord.quality) == kind]
        if not candidates:  # this type cannot occur over this chord (X over a diminished chord)
            candidates = [p for p in range(low, high + 1) if note_type(p, chord.root, chord.quality) == "C"]
        if previous is not None and len(head) > 1:
            target = previous + int(head[1][len(INTERVAL):])
            best = min(abs(p - target) for p in candidates)
            return rng.choice([p for p in candidates if abs(p - target) == best])
        centre = FIRST_PITCH_CENTRE if previous is None else previous
        window = [p for p in candidates if abs(p - centre) <= 7]  # within a fifth of where we are
        return rng.choice(window) if window else min(candidates, key=lambda p: (abs(p - centre), p))

    def chord_tone(self, token: str, chord: Chord) -> bool | None:
        return token == TYPE + "C" if self.token_kind(token) == KIND_NOTE else None
