"""Plain note tokens: a lossless encoding of a monophonic melody.

Tokens are ``P<pitch>,<dur>`` for a note and ``R,<dur>`` for a rest, durations in beats with
three decimals (snapped back to the 12-steps-per-beat grid on decoding, so it is exact).
Gaps before notes become rests, so onsets are reproduced too. Material can be transposed by a
fixed number of semitones, to a common key (C major / A minor, by key estimation), or
augmented with several transpositions.
"""
from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import ClassVar, Sequence

from jazzlstm.music.harmony import chord_tones, estimate_key
from jazzlstm.errors import EncodingError
from jazzlstm.music.score import Chord, Note, Score, bar_starts, quantize
from jazzlstm.tokens.base import PLAYABLE_RANGE, MusicTokenizer, into_range, phrase_start, phrases, rest_lengths

_TOKEN_RE = re.compile(r"^(?:P(\d{1,3})|R),(\d+(?:\.\d+)?)$")


def encode(score: Score, transpose: int = 0) -> list[str]:
    """Melody -> note tokens, optionally transposed by ``transpose`` semitones, from the bar
    line before the first note; rests split at bar lines."""
    tokens: list[str] = []
    bar_lines = bar_starts(score.time_signatures, (score.melody[-1].end if score.melody else 0.0) + 1)
    cursor = phrase_start(bar_lines, score.melody[0].start) if score.melody else 0.0
    for note in score.melody:
        tokens += [f"R,{rest:.3f}" for rest in rest_lengths(cursor, note.start, bar_lines)]
        pitch = note.pitch + transpose
        if not 0 <= pitch <= 127:
            raise EncodingError(f"transposing pitch {note.pitch} by {transpose} leaves the MIDI range")
        tokens.append(f"P{pitch},{note.duration:.3f}")
        cursor = note.end
    return tokens


def decode(tokens: Sequence[str], strict: bool = True, velocity: int = 90) -> list[Note]:
    """Note tokens -> melody notes (exact inverse of :func:`encode`)."""
    notes: list[Note] = []
    cursor = 0.0
    for token in tokens:
        match = _TOKEN_RE.match(token)
        if not match:
            if strict:
                raise ValueError(f"not a note token: {token!r}")
            continue
        pitch, duration = match.group(1), quantize(float(match.group(2)))
        if duration <= 0:
            continue
        if pitch is not None:
            notes.append(Note(cursor, duration, int(pitch), velocity))
        cursor = quantize(cursor + duration)
    return notes


def key_transposition(score: Score) -> int:
    """Semitones (-6..5) that move the score's estimated key to C major or A minor."""
    weights: dict[int, float] = defaultdict(float)
    for note in score.melody:
        weights[note.pitch % 12] += note.duration
    for chord in score.chords:
        weights[chord.root] += chord.duration * 0.5
    tonic, mode = estimate_key(weights)
    target = 0 if mode == "major" else 9
    shift = (target - tonic) % 12
    return shift - 12 if shift > 5 else shift


def transpose_score(score: Score, semitones: int) -> Score:
    """A copy of ``score`` with melody and chords moved by ``semitones``."""
    melody = tuple(Note(n.start, n.duration, n.pitch + semitones, n.velocity) for n in score.melody)
    chords = tuple(Chord(c.start, c.duration, (c.root + semitones) % 12, c.quality) for c in score.chords)
    return Score(melody, chords, score.time_signatures, score.tempo, dict(score.info))


@dataclass(frozen=True)
class Transposing:
    """Transposition options of the absolute-pitch encodings.

    ``transpose``: 'none', 'key' (to C major / A minor) or semitones; ``augment``: extra
    transpositions (in semitones, from the transposed piece) added as more training sequences."""

    transpose: str = "none"
    augment: tuple[int, ...] = ()

    def shift(self, score: Score) -> int:
        """The transposition of ``score``, in semitones. To a key, the nearest octave of the
        shift that keeps every pitch a MIDI pitch (a melody near pitch 127 goes down)."""
        if self.transpose != "key":
            return 0 if self.transpose == "none" else int(self.transpose)
        shift = key_transposition(score)
        pitches = [n.pitch for n in score.melody] or [60]
        fitting = [s for s in (shift, shift - 12, shift + 12) if 0 <= min(pitches) + s and max(pitches) + s <= 127]
        return fitting[0] if fitting else shift

    def encode_shifted(self, score: Score, shift: int) -> list[str]:
        """``score``'s tokens transposed by ``shift`` semitones (an EncodingError outside MIDI)."""
        raise NotImplementedError

    def encode(self, score: Score) -> list[str]:
        return self.encode_shifted(score, self.shift(score))

    def encode_variants(self, score: Score) -> list[list[str]]:
        """Per phrase: the piece at its transposition, then each augmentation that stays in range."""
        shift = self.shift(score)
        variants = []
        for phrase in phrases(score, self.split_silence_bars):  # type: ignore[attr-defined]
            variants.append(self.encode_shifted(phrase, shift))
            for extra in dict.fromkeys(shift + a for a in self.augment):
                if extra == shift:
                    continue
                try:
                    variants.append(self.encode_shifted(phrase, extra))
                except EncodingError:
                    continue
        return variants


@dataclass(frozen=True)
class NoteTokenizer(Transposing, MusicTokenizer):
    """Note tokens (``P<pitch>,<dur>``, ``R,<dur>``) through the tokenizer interface."""

    name: ClassVar[str] = "notes"
    version: ClassVar[int] = 2  # 2: no leading silence, rests split at bar lines

    def encode_shifted(self, score: Score, shift: int) -> list[str]:
        return encode(score, shift)

    def decode_melody(self, tokens: Sequence[str], chords: Sequence[Chord], rng: random.Random,
                      pitch_range: tuple[int, int] = PLAYABLE_RANGE) -> list[Note]:
        return [Note(n.start, n.duration, into_range(n.pitch, pitch_range), n.velocity)
                for n in decode(tokens, strict=False)]

    def token_beats(self, token: str) -> float | None:
        match = _TOKEN_RE.match(token)
        return float(match.group(2)) if match else None

    def is_note(self, token: str) -> bool:
        match = _TOKEN_RE.match(token)
        return bool(match) and match.group(1) is not None

    def chord_tone(self, token: str, chord: Chord) -> bool | None:
        match = _TOKEN_RE.match(token)
        if not match or match.group(1) is None:
            return None
        return int(match.group(1)) % 12 in chord_tones(chord.root, chord.quality)
