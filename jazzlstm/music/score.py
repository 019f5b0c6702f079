"""The in-memory musical score every encoder and decoder works on.

All times are in quarter-note beats from the start of the piece, already quantized to
:data:`STEPS_PER_BEAT` (12 steps per beat: sixteenths and eighth/sixteenth triplets fit).
This module owns the data types and the grid arithmetic; it does no I/O.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from jazzlstm.music.harmony import chord_label

STEPS_PER_BEAT = 12
"""Grid resolution: 12 steps per quarter note (3 per sixteenth, 4 per eighth triplet)."""


def quantize(beats: float, steps_per_beat: int = STEPS_PER_BEAT) -> float:
    """Snap a time in beats to the nearest grid step."""
    return round(beats * steps_per_beat) / steps_per_beat


def to_steps(beats: float, steps_per_beat: int = STEPS_PER_BEAT) -> int:
    """Beats -> integer grid steps (exact for values already on the grid)."""
    return int(round(beats * steps_per_beat))


class Note(NamedTuple):
    """One melody note: onset and length in beats, MIDI pitch, velocity.

    A NamedTuple rather than a dataclass: corpora hold millions of notes, and tuples are
    cheaper to build, sort and compare.
    """

    start: float
    duration: float
    pitch: int
    velocity: int = 90

    @property
    def end(self) -> float:
        return self.start + self.duration


class Chord(NamedTuple):
    """A chord over a time span: root pitch class (0 = C) and a quality from ``harmony``."""

    start: float
    duration: float
    root: int
    quality: str

    @property
    def end(self) -> float:
        return self.start + self.duration

    @property
    def label(self) -> str:
        return chord_label(self.root, self.quality)


MAX_METER_NUMERATOR = 255
"""Largest time-signature numerator (what a MIDI file can store); the denominator may reach 256."""
MAX_METER_DENOMINATOR = 256


@dataclass(frozen=True)
class TimeSignature:
    """A time signature in force from ``start`` (beats): ``numerator`` 1..255 beats of a
    1/``denominator`` note, denominator 1..256 (any, not only a power of 2: ABC allows ``M:3/5``)."""

    start: float
    numerator: int = 4
    denominator: int = 4

    def __post_init__(self):
        if not (1 <= self.numerator <= MAX_METER_NUMERATOR and 1 <= self.denominator <= MAX_METER_DENOMINATOR):
            raise ValueError(f"meter {self.numerator}/{self.denominator} is not a time signature "
                             f"(1..{MAX_METER_NUMERATOR} beats of a 1/1..1/{MAX_METER_DENOMINATOR} note)")
        if not math.isfinite(self.start):
            raise ValueError(f"a time signature at beat {self.start} (not a position in the piece)")

    @property
    def bar_beats(self) -> float:
        # int / int is correctly rounded in Python: the float of Fraction(numerator * 4, denominator).
        return self.numerator * 4 / self.denominator


@dataclass(frozen=True)
class Score:
    """Melody notes (monophonic, sorted) and a chord timeline, in beats."""

    melody: tuple[Note, ...]
    chords: tuple[Chord, ...] = ()
    time_signatures: tuple[TimeSignature, ...] = (TimeSignature(0.0),)
    tempo: float = 120.0
    info: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def end(self) -> float:
        """End of the last melody note or chord, in beats."""
        ends = [n.end for n in self.melody[-1:]] + [c.end for c in self.chords[-1:]]
        return max(ends, default=0.0)

    def bar_starts(self, until: float | None = None) -> list[float]:
        """Bar-line positions in beats from 0 up to ``until`` (default: the score's end)."""
        until = self.end if until is None else until
        return bar_starts(self.time_signatures, until)


MAX_BARS = 250_000
"""Most bar lines :func:`bar_starts` makes: a 20,000-beat piece (the longest MIDI file read) in
bars of one grid step, the shortest it accepts."""


def bar_starts(time_signatures: tuple[TimeSignature, ...], until: float) -> list[float]:
    """Bar lines for a list of time signatures, up to (not including) ``until``.

    Raises ValueError for a meter whose bar is shorter than one grid step (no bar line could
    fall on the grid) and when more than :data:`MAX_BARS` bars would be needed.
    """
    return bar_start_array(time_signatures, until).tolist()


def bar_start_array(time_signatures: tuple[TimeSignature, ...], until: float) -> np.ndarray:
    """:func:`bar_starts` as a float array.

    Each meter's bar lines are its start plus the bar length added again and again, in order
    (``np.add.accumulate``: the very sums a loop makes), then snapped to the grid; a run is
    never longer than the bars :data:`MAX_BARS` still allows.
    """
    sigs = sorted(time_signatures, key=lambda t: t.start) or [TimeSignature(0.0)]
    bars = [sig.bar_beats for sig in sigs]
    for sig, bar in zip(sigs, bars):
        if not bar >= 1 / STEPS_PER_BEAT:
            raise ValueError(f"meter {sig.numerator}/{sig.denominator}: a bar of {bar:.3g} beats "
                             f"is shorter than one grid step (1/{STEPS_PER_BEAT} beat)")
    runs: list[np.ndarray] = []
    total, position = 0, 0.0
    for i, (sig, bar) in enumerate(zip(sigs, bars)):
        position = max(position, sig.start)
        limit = sigs[i + 1].start - 1e-9 if i + 1 < len(sigs) else until - 1e-9
        bound = limit if limit < until - 1e-9 else until - 1e-9  # (a NaN ``until`` stays NaN: no bars)
        while position < bound:
            room = MAX_BARS - total
            if room <= 0:
                raise ValueError(f"more than {MAX_BARS:,} bars up to beat {until:,.6g}")
            # Two bars more than the division says, so one bar line past ``bound`` ends the run.
            run = np.full(int(min(room, (bound - position) / bar + 2)), bar)
            run[0] = position
            np.add.accumulate(run, out=run)
            inside = int(run.searchsorted(bound))
            runs.append(run[:inside])
            total += inside
            position = float(run[inside]) if inside < len(run) else float(run[-1]) + bar
    if not total:
        return np.zeros(1)
    starts = np.concatenate(runs) if len(runs) > 1 else runs[0]
    # quantize() on each: np.rint rounds as round() does, to the nearest step, a tie to the even one.
    starts *= STEPS_PER_BEAT
    np.rint(starts, out=starts)
    starts /= STEPS_PER_BEAT
    return starts


def chord_at(chords: tuple[Chord, ...] | list[Chord], beat: float) -> Chord | None:
    """The chord sounding at ``beat`` (the last one starting at or before it)."""
    i = bisect.bisect_right(chords, beat + 1e-9, key=lambda c: c.start) - 1
    return chords[i] if i >= 0 else (chords[0] if chords else None)


def score_to_dict(score: Score) -> dict:
    """JSON-ready form of a Score (used by the corpus cache and run folders)."""
    return {
        "melody": [[n.start, n.duration, n.pitch, n.velocity] for n in score.melody],
        "chords": [[c.start, c.duration, c.root, c.quality] for c in score.chords],
        "time_signatures": [[t.start, t.numerator, t.denominator] for t in score.time_signatures],
        "tempo": score.tempo,
        "info": score.info,
    }


def score_from_dict(data: dict) -> Score:
    """Inverse of :func:`score_to_dict`."""
    return Score(
        melody=tuple(Note(float(s), float(d), int(p), int(v)) for s, d, p, v in data["melody"]),
        chords=tuple(Chord(float(s), float(d), int(r), str(q)) for s, d, r, q in data["chords"]),
        time_signatures=tuple(TimeSignature(float(s), int(n), int(d)) for s, n, d in data["time_signatures"]),
        tempo=float(data.get("tempo", 120.0)),
        info=dict(data.get("info", {})),
    )


def cover_chords(chords: Sequence[Chord], end: float) -> list[Chord]:
    """Repeat a progression until it reaches ``end`` beats."""
    chords = sorted(chords)
    if not chords:
        return []
    length = chords[-1].end - chords[0].start
    out: list[Chord] = []
    offset = 0.0
    while True:
        for c in chords:
            start = c.start + offset
            if start >= end - 1e-9 and out:
                return out
            out.append(Chord(quantize(start), c.duration, c.root, c.quality))
        offset += length
        if length <= 0:
            return out
