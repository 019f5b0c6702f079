"""From sampled token ids to a melody over chords: the music side of ``jazzlstm generate``.

Model-free: it takes token sequences (already sampled) and a chord progression, and builds
Scores that satisfy what a musician expects of the output: every bar has notes, onsets
never collide, durations are positive, pitches stay in a playable range.
"""
from __future__ import annotations

import random
from typing import Sequence

from jazzlstm.music.harmony import chord_tones, parse_progression
from jazzlstm.music.score import Chord, Note, Score, TimeSignature, quantize
from jazzlstm.tokens.base import PLAYABLE_RANGE, MusicTokenizer



def progression_from_names(text: str, beats_per_chord: float = 4.0) -> list[Chord]:
    """'Dm7 G7 Cmaj7 Cmaj7' -> one chord per bar of 4/4 (a BadChordError names a bad chord)."""
    return [Chord(i * beats_per_chord, beats_per_chord, root, quality)
            for i, (root, quality) in enumerate(parse_progression(text))]


def fit_progression(chords: Sequence[Chord], beats: float) -> list[Chord]:
    """Cycle or cut ``chords`` so that they cover exactly ``beats`` from 0."""
    chords = sorted(chords)
    if not chords:
        raise ValueError("empty chord progression")
    offset = chords[0].start
    length = chords[-1].end - offset
    out: list[Chord] = []
    shift = 0.0
    while True:
        for chord in chords:
            start = chord.start - offset + shift
            if start >= beats - 1e-9:
                return out
            end = min(start + chord.duration, beats)
            out.append(Chord(quantize(start), quantize(end - start), chord.root, chord.quality))
        shift += length


def pick_progression(progressions: Sequence[Sequence[Chord]], bars: int, rng: random.Random,
                     beats_per_bar: float = 4.0) -> list[Chord]:
    """A stretch of ``bars`` bars from one of the training pieces' chord timelines."""
    usable = [p for p in progressions if p]
    if not usable:
        raise ValueError("no chord progressions to choose from")
    source = sorted(usable[rng.randrange(len(usable))])
    total = source[-1].end - source[0].start
    span = bars * beats_per_bar
    if total <= span:
        return fit_progression(source, span)
    # Start on a bar line of the source so the harmonic rhythm stays musical.
    start_bar = rng.randrange(int((total - span) // beats_per_bar) + 1)
    start = source[0].start + start_bar * beats_per_bar
    window = [Chord(max(c.start, start) - start, min(c.end, start + span) - max(c.start, start), c.root, c.quality)
              for c in source if c.end > start + 1e-9 and c.start < start + span - 1e-9]
    return fit_progression(window, span)


def empty_bars(melody: Sequence[Note], bars: int, beats_per_bar: float = 4.0) -> list[int]:
    """Indices of bars in which no note starts."""
    filled = {int(n.start // beats_per_bar + 1e-9) for n in melody}
    return [b for b in range(bars) if b not in filled]


def shape_melody(melody: Sequence[Note], chords: Sequence[Chord], bars: int,
                 beats_per_bar: float = 4.0) -> list[Note]:
    """Cut to ``bars`` bars and give every empty bar a chord tone on its downbeat.

    The fallback note is a beat long (shorter if the next note comes sooner) and takes the
    chord tone nearest the previous pitch, so it sounds like a held guide tone.
    """
    end = bars * beats_per_bar
    kept = [Note(n.start, quantize(min(n.duration, end - n.start)), n.pitch, n.velocity)
            for n in sorted(melody) if n.start < end - 1e-9]
    for bar in empty_bars(kept, bars, beats_per_bar):
        start = bar * beats_per_bar
        previous = [n for n in kept if n.start < start]
        following = [n.start for n in kept if n.start > start]
        if previous and previous[-1].end > start:  # a note held over the bar line: cut it
            last = previous[-1]
            kept[kept.index(last)] = Note(last.start, quantize(start - last.start), last.pitch, last.velocity)
        chord = next((c for c in reversed(sorted(chords)) if c.start <= start + 1e-9), chords[0])
        reference = previous[-1].pitch if previous else 67
        tones = [p for p in range(PLAYABLE_RANGE[0], PLAYABLE_RANGE[1] + 1) if p % 12 in chord_tones(chord.root, chord.quality)]
        pitch = min(tones, key=lambda p: (abs(p - reference), p))
        length = min(1.0, (min(following) if following else end) - start)
        kept.append(Note(start, quantize(length), pitch, 80))
        kept.sort()
    return kept


def score_from_tokens(tokens: Sequence[str], tokenizer: MusicTokenizer, chords: Sequence[Chord], bars: int,
                      tempo: float, rng: random.Random, beats_per_bar: float = 4.0) -> Score:
    """Tokens -> a Score of exactly ``bars`` bars over ``chords`` (fitted to that length).

    ``info["filled_bars"]`` lists the bars that got a fallback note.
    """
    fitted = fit_progression(chords, bars * beats_per_bar)
    melody = tokenizer.decode_melody(tokens, fitted, rng)
    filled = empty_bars([n for n in melody if n.start < bars * beats_per_bar], bars, beats_per_bar)
    shaped = shape_melody(melody, fitted, bars, beats_per_bar)
    return Score(tuple(shaped), tuple(fitted), (TimeSignature(0.0, 4, 4),), tempo, {"filled_bars": filled})


def tokens_needed(tokens: Sequence[str], tokenizer: MusicTokenizer, beats: float) -> int:
    """How many of ``tokens`` it takes to cover ``beats`` (all of them if they fall short)."""
    total = 0.0
    for i, token in enumerate(tokens):
        total += tokenizer.token_beats(token) or 0.0
        if total >= beats - 1e-9:
            return i + 1
    return len(tokens)
