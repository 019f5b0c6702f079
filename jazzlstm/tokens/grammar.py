"""The jazz grammar: melody notes over chords <-> chord-relative tokens.

Each note or rest becomes one token ``TYPE,DUR[,<LOW,HIGH>]``:

* ``TYPE`` says how the pitch relates to the chord sounding at its onset: ``C`` chord tone,
  ``S`` tone of the chord's scale, ``A`` approach tone (a semitone from a chord tone), ``X``
  anything else, ``R`` rest (see :func:`jazzlstm.music.harmony.note_type`).
* ``DUR`` is the length in beats with three decimals (``0.333`` is a triplet eighth);
  decoding snaps it back to the 12-steps-per-beat grid, so rhythm survives exactly.
* ``<LOW,HIGH>`` is the signed interval in semitones from the previous note, widened by a
  minor third (3 semitones) each way: a step up of 2 becomes ``<-1,5>``. The first note of
  each bar has no pair, which lets a model restart its register at bar lines. Semitone
  integers (not interval names) keep decoding free of music21 and unambiguous.

Decoding picks, for each note token, a pitch of the right TYPE over the target chord inside
the interval window, at random with a seeded generator. Fallbacks, in order: the pitch of
that TYPE nearest the window's centre; if the chord has no pitch of that TYPE at all (``X``
over a diminished chord), the nearest chord tone. Pitches always stay in ``pitch_range``.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import ClassVar, Sequence

from jazzlstm.music.harmony import note_type
from jazzlstm.music.score import Chord, Note, Score, bar_starts, chord_at, quantize
from jazzlstm.errors import EncodingError
from jazzlstm.tokens.base import PLAYABLE_RANGE, MusicTokenizer, phrase_start, rest_lengths

WIDEN = 3
"""Semitones added on each side of the real interval (a minor third)."""
_FIRST_PITCH_CENTRE = 67
_TOKEN_RE = re.compile(r"^([CSAXR]),(\d+(?:\.\d+)?)(?:,<(-?\d+),(-?\d+)>)?$")


@dataclass(frozen=True)
class GrammarToken:
    """A parsed grammar token."""

    kind: str
    duration: float
    low: int | None = None
    high: int | None = None

    def __str__(self) -> str:
        text = f"{self.kind},{self.duration:.3f}"
        if self.low is not None and self.high is not None:
            text += f",<{self.low},{self.high}>"
        return text


def parse_token(token: str) -> GrammarToken:
    """'C,0.250,<-5,1>' -> GrammarToken('C', 0.25, -5, 1). Raises ValueError if malformed."""
    match = _TOKEN_RE.match(token)
    if not match:
        raise ValueError(f"not a grammar token: {token!r}")
    kind, duration, low, high = match.groups()
    if kind == "R" and low is not None:
        raise ValueError(f"a rest has no interval: {token!r}")
    return GrammarToken(kind, float(duration), None if low is None else int(low), None if high is None else int(high))


def encode(score: Score) -> list[str]:
    """Melody of ``score`` -> grammar tokens, from the bar line before the first note; rests
    fill gaps, split at bar lines (see :class:`~jazzlstm.tokens.base.MusicTokenizer`)."""
    if not score.chords:
        raise EncodingError("the grammar needs chords: the score has none")
    bar_lines = bar_starts(score.time_signatures, (score.melody[-1].end if score.melody else 0.0) + 1)
    chords = score.chords
    tokens: list[str] = []
    cursor = phrase_start(bar_lines, score.melody[0].start) if score.melody else 0.0
    previous: Note | None = None
    previous_bar = -1
    bar = chord_index = 0
    for note in score.melody:
        tokens += [f"R,{rest:.3f}" for rest in rest_lengths(cursor, note.start, bar_lines)]
        # The melody is sorted, so bar and chord pointers only move forward.
        while bar + 1 < len(bar_lines) and bar_lines[bar + 1] <= note.start + 1e-9:
            bar += 1
        while chord_index + 1 < len(chords) and chords[chord_index + 1].start <= note.start + 1e-9:
            chord_index += 1
        chord = chords[chord_index]
        kind = note_type(note.pitch, chord.root, chord.quality)
        if previous is not None and bar == previous_bar:
            interval = note.pitch - previous.pitch
            tokens.append(f"{kind},{note.duration:.3f},<{interval - WIDEN},{interval + WIDEN}>")
        else:
            tokens.append(f"{kind},{note.duration:.3f}")
        cursor = note.start + note.duration
        previous, previous_bar = note, bar
    return tokens


def progression_chord(chords: Sequence[Chord], beat: float) -> Chord:
    """Chord at ``beat``, cycling the progression when ``beat`` is past its end."""
    length = chords[-1].end - chords[0].start
    if length > 0 and beat >= chords[-1].end:
        beat = chords[0].start + (beat - chords[0].start) % length
    return chord_at(chords, beat)


def decode(tokens: Sequence[str], chords: Sequence[Chord], rng: random.Random | int | None = None,
           pitch_range: tuple[int, int] = PLAYABLE_RANGE, start_pitch: int | None = None,
           strict: bool = True) -> list[Note]:
    """Grammar tokens over a chord progression -> concrete melody notes.

    ``rng`` (a seed or ``random.Random``) makes the result reproducible. With
    ``strict=False`` malformed tokens (say, special tokens of a vocabulary) are skipped.
    """
    if not chords:
        raise ValueError("decoding needs at least one chord")
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    low_limit, high_limit = pitch_range
    chords = sorted(chords)
    notes: list[Note] = []
    cursor = 0.0
    previous = start_pitch
    for raw in tokens:
        try:
            token = parse_token(raw)
        except ValueError:
            if strict:
                raise
            continue
        duration = quantize(token.duration)
        if duration <= 0:
            continue
        if token.kind == "R":
            cursor = quantize(cursor + duration)
            continue
        chord = progression_chord(chords, cursor)
        pitch = _choose_pitch(token, chord, previous, rng, low_limit, high_limit)
        notes.append(Note(cursor, duration, pitch))
        cursor = quantize(cursor + duration)
        previous = pitch
    return notes


def _choose_pitch(token: GrammarToken, chord: Chord, previous: int | None, rng: random.Random,
                  low_limit: int, high_limit: int) -> int:
    candidates = [p for p in range(low_limit, high_limit + 1) if note_type(p, chord.root, chord.quality) == token.kind]
    if not candidates:  # this TYPE cannot occur over this chord: fall back to chord tones
        candidates = [p for p in range(low_limit, high_limit + 1) if note_type(p, chord.root, chord.quality) == "C"]
    if previous is not None and token.low is not None and token.high is not None:
        lo, hi = previous + token.low, previous + token.high
        centre = previous + (token.low + token.high) / 2
    else:
        centre = previous if previous is not None else _FIRST_PITCH_CENTRE
        lo, hi = centre - 7, centre + 7  # no interval given: stay within a fifth of where we are
    window = [p for p in candidates if lo <= p <= hi]
    if window:
        return rng.choice(window)
    return min(candidates, key=lambda p: (abs(p - centre), p))


@dataclass(frozen=True)
class GrammarTokenizer(MusicTokenizer):
    """The jazz grammar (``TYPE,DUR[,<LOW,HIGH>]``) through the tokenizer interface."""

    name: ClassVar[str] = "grammar"
    version: ClassVar[int] = 2  # 2: no leading silence, rests split at bar lines

    def encode(self, score: Score) -> list[str]:
        return encode(score)

    def decode_melody(self, tokens: Sequence[str], chords: Sequence[Chord], rng: random.Random,
                      pitch_range: tuple[int, int] = PLAYABLE_RANGE) -> list[Note]:
        return decode(tokens, chords, rng, pitch_range=pitch_range, strict=False)

    spells_pitches: ClassVar[bool] = False  # the first note of a bar has a type, no interval

    def pitch_candidates(self, phrase: Score, tokens: Sequence[str]
                         ) -> list[tuple[int, int, int | None, list[int]]]:
        """A note with an interval window is named exactly (the window is the interval widened
        by WIDEN each way); a bar's first note is any pitch of its type over its chord."""
        out = []
        for index, note, previous in self.note_onsets(phrase, tokens):
            kind, _, low, _ = _TOKEN_RE.match(tokens[index]).groups()
            if low is None:  # no interval window: a bar's first note
                chord = chord_at(phrase.chords, note.start)
                out.append((index, note.pitch, previous,
                            [p for p in range(128) if note_type(p, chord.root, chord.quality) == kind]))
        return out

    def token_beats(self, token: str) -> float | None:
        match = _TOKEN_RE.match(token)
        return float(match.group(2)) if match else None

    def is_note(self, token: str) -> bool:
        match = _TOKEN_RE.match(token)
        return bool(match) and match.group(1) != "R"

    def chord_tone(self, token: str, chord: Chord) -> bool | None:
        return (token[0] == "C") if self.is_note(token) else None
