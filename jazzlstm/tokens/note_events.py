"""Note events (TSD-like): ``Pitch:<midi>`` then ``Dur:`` tokens per note, ``Rest:`` tokens for
silence, ``Bar`` at each bar and ``Chord:<label>`` at each chord change (absolute, as the
pitches are). Lossless for a monophonic melody on the 12-step grid. Example::

    Bar Chord:Dm7 Pitch:62 Dur:1.000 Pitch:64 Dur:0.500 Pitch:65 Dur:0.500 Rest:2.000

As the tokens are absolute, training adds transposed copies by default (``augment``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar, Sequence

from jazzlstm.errors import EncodingError
from jazzlstm.music.harmony import chord_label
from jazzlstm.music.score import Chord, Note, Score
from jazzlstm.tokens.base import into_range
from jazzlstm.tokens.events import CHORD, KIND_NOTE, EventTokenizer, pitch_chord_tone
from jazzlstm.tokens.notes import Transposing, transpose_score

PITCH = "Pitch:"
NOTE_EVENTS_AUGMENT = (-3, -2, -1, 1, 2, 3)
"""Transpositions added for training by default: each piece in seven keys around its own."""


@dataclass(frozen=True)
class NoteEventTokenizer(Transposing, EventTokenizer):
    """Note events: ``Pitch:``, ``Dur:`` per note; ``Rest:``, ``Bar``, ``Chord:``."""

    name: ClassVar[str] = "note-events"
    version: ClassVar[int] = 1
    augment: tuple[int, ...] = NOTE_EVENTS_AUGMENT

    def encode_shifted(self, score: Score, shift: int) -> list[str]:
        if shift:
            pitches = [n.pitch + shift for n in score.melody]
            if pitches and not (0 <= min(pitches) and max(pitches) <= 127):
                raise EncodingError(f"transposing by {shift} semitones leaves the MIDI range")
            score = transpose_score(score, shift)
        return EventTokenizer.encode(self, score)

    def note_head(self, note: Note, chord: Chord | None, previous: Note | None) -> list[str]:
        return [f"{PITCH}{note.pitch}"]

    def chord_token(self, chord: Chord, previous_root: int | None = None) -> str:
        return CHORD + chord_label(chord.root, chord.quality)

    def head_kind(self, token: str) -> str | None:
        if token.startswith(PITCH):
            value = token[len(PITCH):]
            return KIND_NOTE if value.isdigit() and int(value) <= 127 else None
        return None

    def pitch_of(self, head: Sequence[str], chord: Chord, previous: int | None, rng: random.Random,
                 pitch_range: tuple[int, int]) -> int | None:
        return into_range(int(head[0][len(PITCH):]), pitch_range)

    def chord_tone(self, token: str, chord: Chord) -> bool | None:
        return pitch_chord_tone(int(token[len(PITCH):]), chord) if self.token_kind(token) == KIND_NOTE else None
