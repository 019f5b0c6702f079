"""Degree events: each note as its degree over the chord's root and the direction it moves in.

A note is ``Deg:<0..11>`` (its pitch class in semitones above the root of the chord sounding
at its onset), then ``Dir:<step>`` (how it lies from the previous note: ``Dir:0`` the same
pitch, ``Dir:+1`` / ``Dir:-1`` up / down by at most an octave, ``Dir:+2`` / ``Dir:-2`` by
more than an octave and at most two; wider leaps are folded into two octaves; the first note
of a sequence has none), then ``Dur:`` tokens on the duration grid. Rests are ``Rest:``
tokens, ``Bar`` starts a bar, and ``Chord:<quality>@<motion>`` announces a chord change with
its quality and the semitones its root lies above the previous chord's root
(``Chord:m7@5``; ``Chord:m7@?`` for the first chord of a sequence). Example, Dm7 to G7::

    Bar Chord:m7@? Deg:0 Dur:1.000 Deg:2 Dir:+1 Dur:1.000 Chord:7@5 Deg:10 Dir:+1 Dur:2.000

Like the jazz grammar's types, every token is relative to the chords, so the encoding is the
same in every key and needs no transposed copies. Unlike them it is lossless (up to leaps of
two octaves): the degree and the chord fix the pitch class, the direction fixes the octave.
The degree also tells what the grammar's type tells (a chord tone is a degree of the
chord), and the root motion in the chord token lets the model follow a melody line through
a chord change, which chord qualities alone cannot.

Decoding over any progression places each degree over the chord given at that time, in the
octave the direction asks for, so a decoded melody plays the same chord tones, tensions and
contour over new changes.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar, Sequence

from jazzlstm.music.harmony import chord_tones
from jazzlstm.music.score import Chord
from jazzlstm.tokens.base import into_range
from jazzlstm.tokens.events import CHORD, KIND_INTERVAL, KIND_NOTE, ChordRelativeEvents, bounded_int

DEGREE = "Deg:"
DIRECTION = "Dir:"
OCTAVES = 2
"""Largest ``Dir:`` step, in octaves: leaps wider than this many octaves are folded into it."""
FIRST_PITCH_CENTRE = 67
"""Where a sequence's first note is placed when nothing precedes it (G4, mid-register)."""
UNKNOWN_MOTION = "?"


def direction_token(semitones: int) -> str:
    """``Dir:`` token of a move of ``semitones`` from the previous note."""
    if semitones == 0:
        return DIRECTION + "0"
    octaves = min(OCTAVES, (abs(semitones) + 11) // 12)  # 1..12 -> 1, 13..24 -> 2
    return f"{DIRECTION}{octaves if semitones > 0 else -octaves:+d}"


def place(pitch_class: int, previous: int, step: int) -> int:
    """The pitch of ``pitch_class`` that lies ``step`` (a ``Dir:`` value) from ``previous``:
    0 the nearest (the same pitch when the class matches), +k within (previous + 12(k-1),
    previous + 12k], -k within [previous - 12k, previous - 12(k-1))."""
    if step == 0:
        below = previous - (previous - pitch_class) % 12
        return below if previous - below <= 6 else below + 12
    up = (pitch_class - previous) % 12 or 12  # 1..12 semitones above previous
    if step > 0:
        return previous + up + 12 * (step - 1)
    down = (previous - pitch_class) % 12 or 12
    return previous - down - 12 * (-step - 1)


@dataclass(frozen=True)
class DegreeEventTokenizer(ChordRelativeEvents):
    """Degree events: ``Deg:``, ``Dir:``, ``Dur:`` per note; ``Rest:``, ``Bar``, ``Chord:<quality>@<motion>``."""

    name: ClassVar[str] = "degree-events"
    version: ClassVar[int] = 1

    def chord_relative_token(self, pitch: int, chord: Chord) -> str:
        return f"{DEGREE}{(pitch - chord.root) % 12}"

    def move_token(self, semitones: int) -> str:
        return direction_token(semitones)

    def chord_token(self, chord: Chord, previous_root: int | None = None) -> str:
        motion = UNKNOWN_MOTION if previous_root is None else str((chord.root - previous_root) % 12)
        return f"{CHORD}{chord.quality or 'maj'}@{motion}"

    def head_kind(self, token: str) -> str | None:
        if token.startswith(DEGREE):
            value = token[len(DEGREE):]
            return KIND_NOTE if value.isdigit() and int(value) < 12 else None
        if token.startswith(DIRECTION):
            return KIND_INTERVAL if bounded_int(token, DIRECTION, OCTAVES) is not None else None
        return None

    def pitch_of(self, head: Sequence[str], chord: Chord, previous: int | None, rng: random.Random,
                 pitch_range: tuple[int, int]) -> int | None:
        pitch_class = (chord.root + int(head[0][len(DEGREE):])) % 12
        if previous is None or len(head) < 2:
            centre = FIRST_PITCH_CENTRE if previous is None else previous
            return into_range(place(pitch_class, centre, 0), pitch_range)
        return into_range(place(pitch_class, previous, int(head[1][len(DIRECTION):])), pitch_range)

    def chord_tone(self, token: str, chord: Chord) -> bool | None:
        if self.token_kind(token) != KIND_NOTE:
            return None
        return int(token[len(DEGREE):]) in chord_tones(0, chord.quality)
