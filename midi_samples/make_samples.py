#!/usr/bin/env python3
"""Rebuild every sample file in ``midi_samples/`` deterministically.

Two kinds of samples are produced:

* small jazz-style pieces composed here from chord changes (melody, piano
  comping, walking bass, optionally drums), driven by a seeded
  ``random.Random`` so the notes never change between runs;
* short renderings of public-domain scores from music21's bundled corpus
  (a Bach chorale, a Joplin rag, two fiddle tunes and a lead sheet with chord
  symbols), plus a byte-for-byte copy of that lead sheet as MusicXML.

All note times are exact fractions of a quarter note and are written with mido
on a 480-ticks-per-quarter grid, so two runs produce byte-identical files.

Usage::

    python midi_samples/make_samples.py            # write into this folder
    python midi_samples/make_samples.py --out DIR  # write somewhere else
    python midi_samples/make_samples.py --verify   # also re-open and tabulate
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import random
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Sequence

import mido
from music21 import chord as m21chord
from music21 import corpus, expressions, harmony, key, meter, note, stream

# 480 is divisible by 3, 4, 5 and 16, so eighth/quarter triplets and
# sixteenths all land exactly on a tick.
TICKS_PER_QUARTER = 480

MELODY_LOW, MELODY_HIGH = 60, 84
BASS_LOW, BASS_HIGH = 28, 55
# Bass roots stay in the middle of the bass range so approach notes fit on
# both sides of them.
BASS_ROOT_LOW, BASS_ROOT_HIGH = 33, 50
PIANO_LOW, PIANO_HIGH = 50, 74

DRUM_CHANNEL = 9
KICK, SNARE, PEDAL_HAT, CRASH, RIDE = 36, 38, 44, 49, 51

# ---------------------------------------------------------------------------
# Data model
# ---------------------------------------------------------------------------

Rhythm = tuple[tuple[Fraction, Fraction], ...]


@dataclass(frozen=True)
class Note:
    """One note; times are in quarter notes from the start of the piece."""

    start: Fraction
    duration: Fraction
    pitch: int
    velocity: int

    @property
    def end(self) -> Fraction:
        """When the note is released."""
        return self.start + self.duration


@dataclass
class Part:
    """One instrument: becomes one MIDI track (and one channel)."""

    name: str
    program: int
    channel: int
    notes: list[Note] = field(default_factory=list)
    is_drum: bool = False


@dataclass
class Song:
    """Everything needed to write one MIDI file."""

    title: str
    parts: list[Part]
    tempos: list[tuple[Fraction, float]]  # (quarter-note time, bpm)
    meters: list[tuple[Fraction, int, int]]  # (time, numerator, denominator)
    keys: list[tuple[Fraction, str]]  # (time, mido key name such as "Bb" or "F#m")
    midi_type: int = 1
    melody_part: int = 0  # index into parts of the melody


def rhythm(spec: str) -> Rhythm:
    """Parse ``"onset:duration ..."`` (beats, as decimals or a/b) into exact fractions."""
    pairs = []
    for item in spec.split():
        onset, duration = item.split(":")
        pairs.append((Fraction(onset), Fraction(duration)))
    return tuple(pairs)


# ---------------------------------------------------------------------------
# MIDI writing
# ---------------------------------------------------------------------------


def to_ticks(time: Fraction) -> int:
    """Convert a quarter-note time to ticks, refusing anything off the grid."""
    ticks = Fraction(time) * TICKS_PER_QUARTER
    if ticks.denominator != 1:
        raise ValueError(f"time {time} is not on the {TICKS_PER_QUARTER}-tick grid")
    return int(ticks)


def snap(value: float | Fraction) -> Fraction:
    """Round a music21 offset/duration (float or Fraction) to the nearest tick."""
    return Fraction(round(Fraction(value) * TICKS_PER_QUARTER), TICKS_PER_QUARTER)


# Events at the same tick are written metas first, then program changes,
# then note-offs before note-ons so a repeated pitch is released before it is
# struck again.
_ORDER_META, _ORDER_PROGRAM, _ORDER_OFF, _ORDER_ON = range(4)


def _events_to_track(events: list[tuple[int, int, int, mido.Message | mido.MetaMessage]]) -> mido.MidiTrack:
    """Turn (tick, order, tiebreak, message) tuples into a delta-time track."""
    track = mido.MidiTrack()
    now = 0
    for tick, _, _, message in sorted(events, key=lambda e: e[:3]):
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _time_signature_message(numerator: int, denominator: int) -> mido.MetaMessage:
    """Time-signature meta; compound meters click on the dotted beat."""
    compound = denominator == 8 and numerator % 3 == 0 and numerator > 3
    clocks = 24 * 4 // denominator * (3 if compound else 1)
    return mido.MetaMessage(
        "time_signature",
        numerator=numerator,
        denominator=denominator,
        clocks_per_click=clocks,
        notated_32nd_notes_per_beat=8,
    )


def conductor_track(song: Song) -> mido.MidiTrack:
    """Track 0: title, tempo map, time and key signatures (no notes)."""
    events: list = [(0, _ORDER_META, 0, mido.MetaMessage("track_name", name=song.title))]
    for time, numerator, denominator in song.meters:
        events.append((to_ticks(time), _ORDER_META, 1, _time_signature_message(numerator, denominator)))
    for time, name in song.keys:
        events.append((to_ticks(time), _ORDER_META, 2, mido.MetaMessage("key_signature", key=name)))
    for time, bpm in song.tempos:
        events.append((to_ticks(time), _ORDER_META, 3, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))))
    return _events_to_track(events)


def part_track(part: Part) -> mido.MidiTrack:
    """One instrument track: name, program change and its notes."""
    channel = DRUM_CHANNEL if part.is_drum else part.channel
    events: list = [(0, _ORDER_META, 0, mido.MetaMessage("track_name", name=part.name))]
    if not part.is_drum:
        events.append((0, _ORDER_PROGRAM, 0, mido.Message("program_change", channel=channel, program=part.program)))
    for n in part.notes:
        events.append((to_ticks(n.start), _ORDER_ON, n.pitch,
                       mido.Message("note_on", channel=channel, note=n.pitch, velocity=n.velocity)))
        events.append((to_ticks(n.end), _ORDER_OFF, n.pitch,
                       mido.Message("note_off", channel=channel, note=n.pitch, velocity=64)))
    return _events_to_track(events)


def song_to_midifile(song: Song) -> mido.MidiFile:
    """Build a type-1 file (conductor + one track per part) or merge it to type 0."""
    tracks = [conductor_track(song)] + [part_track(p) for p in song.parts]
    if song.midi_type == 0:
        # A real type-0 file has one track and one name; channels keep the
        # instruments apart, so per-part track names are dropped.
        tracks = tracks[:1] + [_drop_names(track) for track in tracks[1:]]
        midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_QUARTER)
        midi.tracks.append(mido.merge_tracks(tracks))
        return midi
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.extend(tracks)
    return midi


def _drop_names(track: mido.MidiTrack) -> mido.MidiTrack:
    """Remove track_name metas while keeping the absolute timing of the rest."""
    kept = mido.MidiTrack()
    carry = 0
    for message in track:
        if message.type == "track_name":
            carry += message.time
            continue
        kept.append(message.copy(time=message.time + carry))
        carry = 0
    return kept


def midifile_bytes(midi: mido.MidiFile) -> bytes:
    """Serialise a MidiFile in memory (so unchanged files need not be rewritten)."""
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` unless the file already holds exactly these bytes."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.write_bytes(data)
    return True


# ---------------------------------------------------------------------------
# Harmony
# ---------------------------------------------------------------------------

IONIAN = (0, 2, 4, 5, 7, 9, 11)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
MIXOLYDIAN = (0, 2, 4, 5, 7, 9, 10)
AEOLIAN = (0, 2, 3, 5, 7, 8, 10)
LOCRIAN = (0, 1, 3, 5, 6, 8, 10)
MELODIC_MINOR = (0, 2, 3, 5, 7, 9, 11)
PHRYGIAN_DOMINANT = (0, 1, 4, 5, 7, 8, 10)
DIMINISHED = (0, 2, 3, 5, 6, 8, 9, 11)
BLUES = (0, 3, 5, 6, 7, 10)

# suffix -> (chord tones, colour tones allowed on strong beats, piano voicing
# as semitones above the root, chord scale).  Voicings are the usual
# "3-5-7-9" / "3-13-7-9" left-hand shapes rather than root-position stacks.
QUALITIES = MappingProxyType({
    "maj7": ((0, 4, 7, 11), (2,), (4, 7, 11, 14), IONIAN),
    "6": ((0, 4, 7, 9), (2,), (4, 7, 9, 14), IONIAN),
    "7": ((0, 4, 7, 10), (2, 9), (4, 9, 10, 14), MIXOLYDIAN),
    "7b9": ((0, 4, 7, 10), (1,), (4, 7, 10, 13), PHRYGIAN_DOMINANT),
    "m7": ((0, 3, 7, 10), (2,), (3, 7, 10, 14), DORIAN),
    "m6": ((0, 3, 7, 9), (2,), (3, 7, 9, 14), MELODIC_MINOR),
    "m7b5": ((0, 3, 6, 10), (), (0, 3, 6, 10), LOCRIAN),
    "dim7": ((0, 3, 6, 9), (), (0, 3, 6, 9), DIMINISHED),
    "": ((0, 4, 7), (), (0, 4, 7), IONIAN),
    "m": ((0, 3, 7), (), (0, 3, 7), AEOLIAN),
})
NOTE_CLASSES = MappingProxyType({"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11})

MAJOR_KEYS = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")
MINOR_KEYS = ("Abm", "Ebm", "Bbm", "Fm", "Cm", "Gm", "Dm", "Am", "Em", "Bm", "F#m", "C#m", "G#m", "D#m", "A#m")


@dataclass(frozen=True)
class Chord:
    """A chord symbol reduced to what the generators need (pitch classes)."""

    symbol: str
    root: int
    tones: frozenset[int]
    colours: frozenset[int]
    voicing: tuple[int, ...]
    scale: frozenset[int]


@dataclass(frozen=True)
class ChordSpan:
    """A chord sounding from ``start`` for ``duration`` quarter notes."""

    start: Fraction
    duration: Fraction
    chord: Chord


def parse_chord(symbol: str) -> Chord:
    """Parse a lead-sheet symbol such as ``Bbmaj7``, ``F#m7b5`` or ``G7b9``."""
    match = re.fullmatch(r"([A-G])([b#]?)(.*)", symbol)
    if match is None or match.group(3) not in QUALITIES:
        raise ValueError(f"unsupported chord symbol {symbol!r}")
    letter, accidental, suffix = match.groups()
    root = (NOTE_CLASSES[letter] + {"": 0, "b": -1, "#": 1}[accidental]) % 12
    tones, colours, voicing, scale = QUALITIES[suffix]
    return Chord(
        symbol=symbol,
        root=root,
        tones=frozenset((root + t) % 12 for t in tones),
        colours=frozenset((root + c) % 12 for c in colours),
        voicing=voicing,
        scale=frozenset((root + s) % 12 for s in scale),
    )


def changes_from_bars(bars: Sequence[str], beats_per_bar: int) -> list[ChordSpan]:
    """One string per bar; several symbols in a bar share it equally."""
    spans = []
    for index, bar in enumerate(bars):
        symbols = bar.split()
        length = Fraction(beats_per_bar, len(symbols))
        for position, symbol in enumerate(symbols):
            spans.append(ChordSpan(index * beats_per_bar + position * length, length, parse_chord(symbol)))
    return spans


def chord_at(changes: Sequence[ChordSpan], time: Fraction) -> Chord:
    """The chord sounding at ``time`` (the last one past the end)."""
    current = changes[0]
    for span in changes:
        if span.start > time:
            break
        current = span
    return current.chord


def key_name(sharps: int, minor: bool) -> str:
    """mido's key-signature name for a number of sharps (negative = flats)."""
    return (MINOR_KEYS if minor else MAJOR_KEYS)[sharps + 7]


def nearest_with_class(pitch_classes: frozenset[int] | set[int], reference: int, low: int, high: int) -> int:
    """The pitch in [low, high] nearest to ``reference`` whose class is allowed."""
    candidates = [p for p in range(low, high + 1) if p % 12 in pitch_classes]
    return min(candidates, key=lambda p: (abs(p - reference), p))


def scale_step(pitch: int, direction: int, pitch_classes: frozenset[int] | set[int]) -> int:
    """The next pitch above (direction 1) or below (-1) whose class is allowed."""
    candidate = pitch + direction
    while candidate % 12 not in pitch_classes:
        candidate += direction
    return candidate


# ---------------------------------------------------------------------------
# Melody
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MelodyStyle:
    """Rhythm vocabulary and phrasing of a melody."""

    bar_rhythms: tuple[Rhythm, ...]
    cadence_rhythms: tuple[Rhythm, ...]
    final_rhythm: Rhythm
    phrase_bars: int = 4
    motif_bars: int = 2
    restate_probability: float = 0.5
    blues_tonic: int | None = None
    low: int = MELODY_LOW
    high: int = MELODY_HIGH


SWING_BARS = tuple(map(rhythm, (
    "0:.5 .5:.5 1:.5 1.5:.5 2:.5 2.5:.5 3:.5 3.5:.5",
    "0:1 1:.5 1.5:.5 2:.5 2.5:.5 3:1",
    ".5:.5 1:.5 1.5:.5 2:.5 2.5:1.5",
    "0:1.5 1.5:.5 2:.5 2.5:1.5",
    "1:.5 1.5:.5 2:1 3:.5 3.5:.5",
    "0:.5 .5:1 1.5:.5 2:1 3:1",
    "0:1 1:1 2:.5 2.5:.5 3:.5 3.5:.5",
    "0:.5 .5:.5 1:.5 1.5:.5 2:2",
    "0:2 2:.5 2.5:.5 3:.5 3.5:1",
    "0:.5 .5:.5 1:1 2:.5 2.5:.5 3.5:.5",
)))
SWING_CADENCES = tuple(map(rhythm, (
    "0:2",
    "0:1 1:2",
    "0:.5 .5:.5 1:2",
    "0:3",
    "0:2 3:.5 3.5:.5",
    "0:1.5",
)))
TRIPLET_BARS = tuple(map(rhythm, (
    "0:1/3 1/3:1/3 2/3:1/3 1:1 2:.5 2.5:.5 3:1",
    "0:2/3 2/3:2/3 4/3:2/3 2:1/3 7/3:1/3 8/3:1/3 3:1",
    "0:.5 .5:.5 1:1/3 4/3:1/3 5/3:1/3 2:1.5 3.5:.5",
    "0:1 1:1/3 4/3:1/3 5/3:1/3 2:2/3 8/3:2/3 10/3:2/3",
    ".5:.5 1:.5 1.5:.5 2:1/3 7/3:1/3 8/3:1/3 3:1/3 10/3:1/3 11/3:1/3",
    "0:2/3 2/3:2/3 4/3:2/3 2:2/3 8/3:2/3 10/3:2/3",
    "0:1/3 1/3:1/3 2/3:1/3 1:1/3 4/3:1/3 5/3:1/3 2:2",
)))
TRIPLET_STYLE_BARS = TRIPLET_BARS * 3 + SWING_BARS[:4]  # mostly triplets
WALTZ_BARS = tuple(map(rhythm, (
    "0:1 1:.5 1.5:.5 2:1",
    "0:2 2:1",
    "0:.5 .5:.5 1:.5 1.5:.5 2:.5 2.5:.5",
    "0:1.5 1.5:1.5",
    "1:.5 1.5:.5 2:1",
    "0:.5 .5:1 1.5:.5 2:1",
    "0:1 1:2",
    "0:.5 .5:.5 1:1 2:.5 2.5:1",
)))
WALTZ_CADENCES = tuple(map(rhythm, ("0:3", "0:2", "0:1 1:2", "0:2 2:.5 2.5:.5")))
BOSSA_BARS = tuple(map(rhythm, (
    "0:1.5 1.5:2.5",
    "0:1 1:1 2:1.5 3.5:.5",
    "0:.5 .5:1 1.5:1 2.5:1.5",
    "0:2 2:1 3:1",
    ".5:1 1.5:1 2.5:1 3.5:1",
    "0:1 1:.5 1.5:.5 2:.5 2.5:1.5",
)))
BOSSA_CADENCES = tuple(map(rhythm, ("0:3", "0:2", "0:1 1:2", "0:4")))
FINAL_4 = rhythm("0:4")
FINAL_3 = rhythm("0:3")


def is_strong(start: Fraction, duration: Fraction, previous_end: Fraction | None) -> bool:
    """Strong notes get chord tones: on the beat, long, or first after a rest."""
    return start.denominator == 1 or duration >= 1 or start != previous_end


def harmonic_time(start: Fraction, duration: Fraction, changes: Sequence[ChordSpan]) -> Fraction:
    """An off-beat note tied over a chord change anticipates the next chord."""
    next_beat = Fraction(math.ceil(start))
    if next_beat != start and start + duration > next_beat and chord_at(changes, next_beat) != chord_at(changes, start):
        return next_beat
    return start


def melody_classes(chord: Chord, style: MelodyStyle) -> frozenset[int]:
    """Pitch classes for passing tones: the chord scale, plus blue notes in a blues."""
    if style.blues_tonic is None:
        return chord.scale
    return chord.scale | frozenset((style.blues_tonic + b) % 12 for b in BLUES)


def choose_strong_pitch(previous: int, chord: Chord, direction: int, style: MelodyStyle,
                        rng: random.Random, prefer_root: bool = False) -> int:
    """A chord tone near ``previous``, favouring small leaps in ``direction``."""
    classes = set(chord.tones)
    if rng.random() < 0.15:
        classes |= chord.colours  # an occasional 9th/13th on the beat
    candidates = [p for p in range(style.low, style.high + 1) if p % 12 in classes and abs(p - previous) <= 9]
    if not candidates:
        return nearest_with_class(classes, previous, style.low, style.high)
    weights = []
    for pitch in candidates:
        leap = abs(pitch - previous)
        weight = 0.3 if leap == 0 else 1.0 / (1.0 + 0.5 * abs(leap - 3))
        if (pitch - previous) * direction > 0:
            weight *= 2.5
        if prefer_root and pitch % 12 == chord.root:
            weight *= 6.0
        weights.append(weight)
    return rng.choices(candidates, weights)[0]


def fill_weak_notes(start_pitch: int, target: int | None, slots: Sequence[tuple[Fraction, Fraction]],
                    changes: Sequence[ChordSpan], style: MelodyStyle, rng: random.Random) -> list[int]:
    """Scale runs toward the next strong note, often ending on a chromatic approach."""
    pitches: list[int] = []
    current = start_pitch
    drift = rng.choice((-1, 1))
    for index, (start, _) in enumerate(slots):
        classes = melody_classes(chord_at(changes, start), style)
        last = index == len(slots) - 1
        if last and target is not None and rng.random() < 0.4:
            approach = target - 1 if current < target else target + 1
            if approach != current and style.low <= approach <= style.high:
                pitches.append(approach)
                current = approach
                continue
        if target is None or target == current:
            toward = drift
        else:
            toward = 1 if target > current else -1
        far = target is not None and abs(target - current) > 2 * (len(slots) - index) + 2
        direction = toward
        if index == 0 and not far and rng.random() < 0.2:
            direction = -toward  # neighbour tone instead of a straight run
        step = scale_step(current, direction, classes)
        if far:
            step = scale_step(step, direction, classes)  # skip a third to catch up
        if not style.low <= step <= style.high:
            drift = -direction
            step = scale_step(current, -direction, classes)
        pitches.append(step)
        current = step
    return pitches


def assign_pitches(slots: Sequence[tuple[Fraction, Fraction]], changes: Sequence[ChordSpan], style: MelodyStyle,
                   rng: random.Random, previous_pitch: int, previous_end: Fraction | None,
                   piece_end: Fraction) -> list[int]:
    """Chord tones on strong notes first, then runs/approach tones between them."""
    strong = []
    end = previous_end
    for index, (start, duration) in enumerate(slots):
        if is_strong(start, duration, end):
            strong.append(index)
        end = start + duration
    pitches: list[int | None] = [None] * len(slots)
    direction = rng.choice((-1, 1))
    current = previous_pitch
    centre = (style.low + style.high) // 2
    for index in strong:
        start, duration = slots[index]
        if current > style.high - 5:
            direction = -1
        elif current < style.low + 5:
            direction = 1
        elif rng.random() < 0.3:
            direction = -direction
        elif abs(current - centre) > 6 and rng.random() < 0.5:
            direction = -1 if current > centre else 1  # drift back to the middle register
        chord = chord_at(changes, harmonic_time(start, duration, changes))
        final = start + duration >= piece_end
        current = choose_strong_pitch(current, chord, direction, style, rng, prefer_root=final)
        pitches[index] = current
    # Fill each run of weak notes between the strong notes around it.
    index = 0
    before = previous_pitch
    while index < len(slots):
        if pitches[index] is not None:
            before = pitches[index]
            index += 1
            continue
        run_end = index
        while run_end < len(slots) and pitches[run_end] is None:
            run_end += 1
        target = pitches[run_end] if run_end < len(slots) else None
        pitches[index:run_end] = fill_weak_notes(before, target, slots[index:run_end], changes, style, rng)
        index = run_end
    return [p for p in pitches if p is not None]


def restate_motif(motif: Sequence[Note], offset: Fraction, changes: Sequence[ChordSpan], style: MelodyStyle,
                  previous_end: Fraction | None) -> list[Note]:
    """Repeat the opening motif's rhythm and contour, bent to the chords under it."""
    first_chord = chord_at(changes, offset + motif[0].start)
    anchor = nearest_with_class(first_chord.tones, motif[0].pitch, style.low, style.high)
    shift = anchor - motif[0].pitch
    result: list[Note] = []
    end = previous_end
    for n in motif:
        start = offset + n.start
        if end is not None and start < end:
            continue
        chord = chord_at(changes, harmonic_time(start, n.duration, changes))
        classes = chord.tones if is_strong(start, n.duration, end) else melody_classes(chord, style)
        pitch = nearest_with_class(classes, n.pitch + shift, style.low, style.high)
        result.append(Note(start, n.duration, pitch, n.velocity))
        end = start + n.duration
    return result


def melody_velocity(start: Fraction, duration: Fraction, phrase_position: float, rng: random.Random) -> int:
    """Accent beats and syncopations, swell towards mid-phrase, add a little noise."""
    velocity = 76 + 10 * math.sin(math.pi * phrase_position)
    if start.denominator == 1:
        velocity += 6
    elif duration >= 1:
        velocity += 10  # a long off-beat note is a syncopation: push it
    else:
        velocity -= 8  # ghost the weak eighths a little
    velocity += rng.randint(-7, 7)
    return int(min(118, max(42, velocity)))


def phrase_rhythm(first_bar: int, bar_count: int, total_bars: int, beats_per_bar: int,
                  style: MelodyStyle, rng: random.Random) -> list[tuple[Fraction, Fraction]]:
    """Pick one rhythm per bar: free bars, then a cadence bar with a rest."""
    slots = []
    for bar in range(first_bar, first_bar + bar_count):
        if bar == total_bars - 1:
            template = style.final_rhythm
        elif bar == first_bar + bar_count - 1:
            template = rng.choice(style.cadence_rhythms)
        else:
            template = rng.choice(style.bar_rhythms)
        slots.extend((bar * beats_per_bar + onset, duration) for onset, duration in template)
    return slots


def drop_overlaps(slots: Sequence[tuple[Fraction, Fraction]], previous_end: Fraction | None,
                  piece_end: Fraction) -> list[tuple[Fraction, Fraction]]:
    """Keep the line monophonic: a note tied over the bar line swallows what it covers."""
    kept = []
    end = previous_end
    for start, duration in slots:
        if end is not None and start < end:
            continue
        duration = min(duration, piece_end - start)
        kept.append((start, duration))
        end = start + duration
    return kept


def compose_melody(changes: Sequence[ChordSpan], total_bars: int, beats_per_bar: int, style: MelodyStyle,
                   rng: random.Random) -> list[Note]:
    """Phrase by phrase: restate the opening motif now and then, otherwise invent."""
    piece_end = Fraction(total_bars * beats_per_bar)
    notes: list[Note] = []
    motif: list[Note] | None = None
    previous_pitch = nearest_with_class(changes[0].chord.tones, 67, style.low, style.high)
    for first_bar in range(0, total_bars, style.phrase_bars):
        bar_count = min(style.phrase_bars, total_bars - first_bar)
        offset = Fraction(first_bar * beats_per_bar)
        previous_end = notes[-1].end if notes else None
        phrase: list[Note] = []
        free_from = first_bar
        if motif and bar_count > style.motif_bars and rng.random() < style.restate_probability:
            phrase = restate_motif(motif, offset, changes, style, previous_end)
            free_from = first_bar + style.motif_bars
        slots = phrase_rhythm(free_from, first_bar + bar_count - free_from, total_bars, beats_per_bar, style, rng)
        last_end = phrase[-1].end if phrase else previous_end
        slots = drop_overlaps(slots, last_end, piece_end)
        last_pitch = phrase[-1].pitch if phrase else previous_pitch
        pitches = assign_pitches(slots, changes, style, rng, last_pitch, last_end, piece_end)
        span = Fraction(bar_count * beats_per_bar)
        for (start, duration), pitch in zip(slots, pitches):
            position = float((start - offset) / span)
            phrase.append(Note(start, duration, pitch, melody_velocity(start, duration, position, rng)))
        if motif is None:
            motif_end = offset + style.motif_bars * beats_per_bar
            motif = [Note(n.start - offset, n.duration, n.pitch, n.velocity) for n in phrase if n.start < motif_end]
        notes.extend(phrase)
        if notes:
            previous_pitch = notes[-1].pitch
    return notes


# ---------------------------------------------------------------------------
# Accompaniment
# ---------------------------------------------------------------------------


def voice_chord(root: int, intervals: Sequence[int], previous: Sequence[int] | None,
                low: int, high: int) -> tuple[int, ...]:
    """Pick the inversion/octave of a voicing that moves least from the previous one."""
    shape = sorted(intervals)
    candidates = []
    for inversion in range(len(shape)):
        rotated = shape[inversion:] + [i + 12 for i in shape[:inversion]]
        for bottom in range(low, high + 1):
            if bottom % 12 != (root + rotated[0]) % 12:
                continue
            voicing = tuple(bottom + i - rotated[0] for i in rotated)
            if voicing[-1] <= high:
                candidates.append(voicing)
    if previous is None:
        centre = (low + high) / 2
        return min(candidates, key=lambda v: abs(sum(v) / len(v) - centre))
    if len(previous) == len(shape):
        return min(candidates, key=lambda v: sum(abs(a - b) for a, b in zip(v, previous)))
    mean = sum(previous) / len(previous)
    return min(candidates, key=lambda v: abs(sum(v) / len(v) - mean))


def comp_hits(duration: Fraction, pattern: str, last: bool, rng: random.Random) -> list[tuple[Fraction, Fraction]]:
    """When the chord is struck within its span; released an eighth early for air."""
    release = Fraction(1, 8)
    if last:
        return [(Fraction(0), duration)]
    if pattern == "bossa" and duration == 4:
        return [(Fraction(0), Fraction(3, 2) - release), (Fraction(3, 2), Fraction(5, 2) - release)]
    if pattern == "swing" and duration == 4 and rng.random() < 0.4:
        return [(Fraction(0), 2 - release), (Fraction(2), 2 - release)]
    return [(Fraction(0), duration - release)]


def comp_piano(changes: Sequence[ChordSpan], pattern: str, rng: random.Random,
               low: int = PIANO_LOW, high: int = PIANO_HIGH) -> list[Note]:
    """Voice-led 3- or 4-note chords held for their half bar or bar."""
    notes: list[Note] = []
    previous: tuple[int, ...] | None = None
    for index, span in enumerate(changes):
        intervals = list(span.chord.voicing)
        if len(intervals) == 4 and rng.random() < 0.3:
            # Thin to three notes: the fifth adds least, else drop the top.
            if 7 in intervals:
                intervals.remove(7)
            else:
                intervals.pop()
        voicing = voice_chord(span.chord.root, intervals, previous, low, high)
        previous = voicing
        for onset, duration in comp_hits(span.duration, pattern, index == len(changes) - 1, rng):
            velocity = rng.randint(56, 76)
            notes.extend(Note(span.start + onset, duration, p, velocity) for p in voicing)
    return notes


def bass_approach(current: int, target: int, chord: Chord, rng: random.Random) -> int:
    """Last beat before a chord change: chromatic, dominant or scale approach."""
    fifth_above = target + 7 if target + 7 <= BASS_HIGH else target - 5
    options = [
        (target - 1, 3.0),
        (target + 1, 3.0),
        (fifth_above, 1.5),
        (scale_step(target, 1, chord.scale), 1.0),
        (scale_step(target, -1, chord.scale), 1.0),
    ]
    options = [(p, w) for p, w in options if BASS_LOW <= p <= BASS_HIGH and p not in (current, target)]
    return rng.choices([p for p, _ in options], [w for _, w in options])[0]


def bass_passing(current: int, target: int, chord: Chord, rng: random.Random) -> int:
    """Inner beats: chord tones or scale steps, leaning toward the next root."""
    candidates, weights = [], []
    for pitch in range(max(BASS_LOW, current - 7), min(BASS_HIGH, current + 7) + 1):
        if pitch in (current, target):
            continue
        if pitch % 12 in chord.tones:
            weight = 2.0
        elif pitch % 12 in chord.scale and abs(pitch - current) <= 2:
            weight = 1.0
        else:
            continue
        if abs(target - pitch) < abs(target - current):
            weight *= 2.0
        candidates.append(pitch)
        weights.append(weight)
    return rng.choices(candidates, weights)[0]


def walking_bass(changes: Sequence[ChordSpan], rng: random.Random) -> list[Note]:
    """Quarter notes: root on the change, passing notes, approach to the next root."""
    notes: list[Note] = []
    previous = 40
    for index, span in enumerate(changes):
        root = nearest_with_class({span.chord.root}, previous, BASS_ROOT_LOW, BASS_ROOT_HIGH)
        if index == len(changes) - 1:
            notes.append(Note(span.start, span.duration, root, 96))
            break
        target = nearest_with_class({changes[index + 1].chord.root}, root, BASS_ROOT_LOW, BASS_ROOT_HIGH)
        line = [root]
        beats = int(span.duration)
        for beat in range(1, beats):
            if beat == beats - 1:
                line.append(bass_approach(line[-1], target, span.chord, rng))
            else:
                line.append(bass_passing(line[-1], target, span.chord, rng))
        for beat, pitch in enumerate(line):
            velocity = (92 if beat == 0 else 80) + rng.randint(-5, 5)
            notes.append(Note(span.start + beat, Fraction(1), pitch, velocity))
        previous = line[-1]
    return notes


def bossa_bass(changes: Sequence[ChordSpan], rng: random.Random) -> list[Note]:
    """Bossa-nova bass: dotted-quarter root, eighth fifth (root-fifth-fifth-root per bar)."""
    notes: list[Note] = []
    previous = 40
    for index, span in enumerate(changes):
        root = nearest_with_class({span.chord.root}, previous, BASS_ROOT_LOW, BASS_ROOT_HIGH)
        fifth = root + 7 if root + 7 <= BASS_HIGH else root - 5
        if index == len(changes) - 1:
            pattern = [(0, span.duration, root)]
        elif span.duration == 4:
            pattern = [(0, 1.5, root), (1.5, 0.5, fifth), (2, 1.5, fifth), (3.5, 0.5, root)]
        else:
            pattern = [(0, 1.5, root), (1.5, span.duration - Fraction(3, 2), fifth)]
        for onset, duration, pitch in pattern:
            velocity = (90 if onset == 0 else 76) + rng.randint(-4, 4)
            notes.append(Note(span.start + Fraction(onset), Fraction(duration), pitch, velocity))
        previous = root
    return notes


def swing_drums(total_bars: int, beats_per_bar: int, rng: random.Random) -> list[Note]:
    """Ride "spang-a-lang" (swung on the triplet), hi-hat on 2 and 4, sparse snare."""
    hit = Fraction(1, 4)
    third = Fraction(2, 3)
    notes: list[Note] = []
    for bar in range(total_bars):
        t0 = Fraction(bar * beats_per_bar)
        if bar == total_bars - 1:
            notes += [Note(t0, hit, CRASH, 100), Note(t0, hit, KICK, 90)]
            break
        if bar % 12 == 0:
            notes.append(Note(t0, hit, CRASH, 88))
        for beat in range(beats_per_bar):
            t = t0 + beat
            notes.append(Note(t, hit, RIDE, (86 if beat % 2 else 74) + rng.randint(-4, 4)))
            notes.append(Note(t, hit, KICK, 42))  # feathered four-on-the-floor
            if beat % 2:
                notes.append(Note(t, hit, PEDAL_HAT, 72))
                notes.append(Note(t + third, hit, RIDE, 64 + rng.randint(-4, 4)))
            if rng.random() < 0.18:
                notes.append(Note(t + third, hit, SNARE, rng.randint(48, 70)))
    return notes


# ---------------------------------------------------------------------------
# Composed pieces
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ComboSpec:
    """A composed piece: form, feel and instrumentation."""

    title: str
    bars: tuple[str, ...]
    seed: int
    style: MelodyStyle
    melody_name: str
    melody_program: int
    tempos: tuple[tuple[int, float], ...]  # (bar index, bpm)
    keys: tuple[tuple[int, str], ...]  # (bar index, mido key name)
    meter: tuple[int, int] = (4, 4)
    comping: str = "swing"
    bass: str = "walking"
    bass_program: int = 32
    drums: bool = False
    midi_type: int = 1


def compose_combo(spec: ComboSpec) -> Song:
    """Melody + piano + bass (+ drums) over the spec's chord changes."""
    numerator, denominator = spec.meter
    beats_per_bar = numerator * 4 // denominator
    changes = changes_from_bars(spec.bars, beats_per_bar)
    total = len(spec.bars)
    # Separate generators per instrument so changing one never reshuffles the others.
    melody = compose_melody(changes, total, beats_per_bar, spec.style, random.Random(spec.seed))
    piano = comp_piano(changes, spec.comping, random.Random(spec.seed + 1))
    bass_line = (walking_bass if spec.bass == "walking" else bossa_bass)(changes, random.Random(spec.seed + 2))
    parts = [
        Part(spec.melody_name, spec.melody_program, 0, melody),
        Part("Piano", 0, 1, piano),
        Part("Bass", spec.bass_program, 2, bass_line),
    ]
    if spec.drums:
        drums = swing_drums(total, beats_per_bar, random.Random(spec.seed + 3))
        parts.append(Part("Drums", 0, DRUM_CHANNEL, drums, is_drum=True))
    return Song(
        title=spec.title,
        parts=parts,
        tempos=[(Fraction(bar * beats_per_bar), bpm) for bar, bpm in spec.tempos],
        meters=[(Fraction(0), numerator, denominator)],
        keys=[(Fraction(bar * beats_per_bar), name) for bar, name in spec.keys],
        midi_type=spec.midi_type,
    )


SWING = MelodyStyle(SWING_BARS, SWING_CADENCES, FINAL_4)

F_BLUES = ("F7", "Bb7", "F7", "Cm7 F7", "Bb7", "Bdim7", "F7", "Am7 D7", "Gm7", "C7", "F7 D7", "Gm7 C7")
C_MINOR_BLUES = ("Cm7", "Cm7", "Cm7", "Cm7", "Fm7", "Fm7", "Cm7", "Cm7", "Ab7", "G7", "Cm7", "Dm7b5 G7b9")
RHYTHM_A = ("Bbmaj7 G7", "Cm7 F7", "Dm7 G7", "Cm7 F7", "Fm7 Bb7", "Ebmaj7 Ab7", "Dm7 G7", "Cm7 F7")
G_MINOR_CYCLE = ("Cm7", "F7", "Bbmaj7", "Ebmaj7", "Am7b5", "D7b9", "Gm6", "Gm6")

# Every tempo divides 60,000,000, so the microseconds-per-quarter value in the
# file is exact and readers get the integer bpm back (90 bpm would read back
# as 89.99996).
COMBOS = (
    ("blues_in_f.mid", ComboSpec(
        title="Blues in F", bars=F_BLUES + F_BLUES[:-1] + ("F7",), seed=101,
        style=MelodyStyle(SWING_BARS, SWING_CADENCES, FINAL_4, blues_tonic=5),
        melody_name="Tenor Sax", melody_program=66, tempos=((0, 128),), keys=((0, "F"),))),
    ("ii_v_i_in_c.mid", ComboSpec(
        title="ii-V-I in C, Bb and Ab",
        bars=("Dm7", "G7", "Cmaj7", "Cmaj7", "Cm7", "F7", "Bbmaj7", "Bbmaj7",
              "Bbm7", "Eb7", "Abmaj7", "Abmaj7", "Dm7", "G7", "Cmaj7", "Cmaj7"),
        seed=202, style=SWING, melody_name="Trumpet", melody_program=56, tempos=((0, 160),),
        keys=((0, "C"), (4, "Bb"), (8, "Ab"), (12, "C")))),
    ("rhythm_changes_bb.mid", ComboSpec(
        title="Rhythm changes A sections in Bb", bars=RHYTHM_A + RHYTHM_A[:-1] + ("Bb6",), seed=303,
        style=SWING, melody_name="Alto Sax", melody_program=65, tempos=((0, 192),), keys=((0, "Bb"),))),
    ("minor_blues_c.mid", ComboSpec(
        title="Minor blues in C", bars=C_MINOR_BLUES + C_MINOR_BLUES[:-1] + ("Cm6",), seed=404,
        style=MelodyStyle(SWING_BARS, SWING_CADENCES, FINAL_4, blues_tonic=0),
        melody_name="Melody", melody_program=64, tempos=((0, 120),), keys=((0, "Cm"),), drums=True)),
    ("fifths_cycle_g_minor.mid", ComboSpec(
        title="Cycle of fifths in G minor", bars=G_MINOR_CYCLE + G_MINOR_CYCLE, seed=505,
        style=MelodyStyle(SWING_BARS, SWING_CADENCES, FINAL_4, restate_probability=0.7),
        melody_name="Clarinet", melody_program=71, tempos=((0, 125),), keys=((0, "Gm"),))),
    ("triplet_swing.mid", ComboSpec(
        title="Triplet swing in Eb",
        bars=("Ebmaj7", "Cm7", "Fm7", "Bb7", "Gm7", "C7", "Fm7", "Bb7",
              "Ebmaj7", "Eb7", "Abmaj7", "Abm6", "Gm7", "C7", "Fm7 Bb7", "Eb6"),
        seed=606, style=MelodyStyle(TRIPLET_STYLE_BARS, SWING_CADENCES, FINAL_4, restate_probability=0.3),
        melody_name="Soprano Sax", melody_program=64, tempos=((0, 100),), keys=((0, "Eb"),))),
    ("tempo_change.mid", ComboSpec(
        title="Tempo change 120 to 80",
        bars=("Gm7", "C7", "Fmaj7", "Dm7", "Gm7", "C7", "Fmaj7", "Fmaj7",
              "Cm7", "F7", "Bbmaj7", "Bbmaj7", "Gm7", "C7", "F6", "F6"),
        seed=707, style=SWING, melody_name="Lead", melody_program=81, tempos=((0, 120), (8, 80)),
        keys=((0, "F"),), bass_program=33)),
    ("waltz_3_4.mid", ComboSpec(
        title="Jazz waltz in F",
        bars=("Fmaj7", "Fmaj7", "Gm7", "C7", "Am7", "D7", "Gm7", "C7",
              "Fmaj7", "Bbmaj7", "Em7b5", "A7b9", "Dm7", "G7", "C7", "Fmaj7"),
        seed=808, style=MelodyStyle(WALTZ_BARS, WALTZ_CADENCES, FINAL_3),
        melody_name="Flute", melody_program=73, tempos=((0, 150),), keys=((0, "F"),), meter=(3, 4),
        comping="waltz")),
    ("type0_bossa.mid", ComboSpec(
        title="Bossa in C (type 0)",
        bars=("Dm7", "G7", "Cmaj7", "Am7", "Dm7", "G7", "Em7 A7b9", "Dm7 G7",
              "Fmaj7", "Fm6", "Em7", "A7b9", "Dm7", "G7", "Cmaj7", "Cmaj7"),
        seed=909, style=MelodyStyle(BOSSA_BARS, BOSSA_CADENCES, FINAL_4),
        melody_name="Tenor Sax", melody_program=66, tempos=((0, 128),), keys=((0, "C"),),
        comping="bossa", bass="bossa", midi_type=0)),
)


# ---------------------------------------------------------------------------
# music21 corpus renderings
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusSpec:
    """A public-domain score from music21's corpus and how to render it."""

    title: str
    work: str  # path understood by music21.corpus.parse
    part_names: tuple[str, ...]
    programs: tuple[int, ...]
    tempo: float  # quarter notes per minute
    max_bars: int | None = None
    expand_repeats: bool = False
    melody_part: int = 0
    chord_track: bool = False  # realise ChordSymbols as an extra "Chords" track


CORPUS_PIECES = (
    ("bach_chorale_bwv66_6.mid", CorpusSpec(
        title="J.S. Bach, chorale BWV 66.6", work="bach/bwv66.6",
        part_names=("Soprano", "Alto", "Tenor", "Bass"), programs=(52, 52, 52, 52), tempo=96)),
    ("ragtime_maple_leaf_rag.mid", CorpusSpec(
        title="Scott Joplin, Maple Leaf Rag (A strain)", work="joplin/maple_leaf_rag.mxl",
        part_names=("Piano RH", "Piano LH"), programs=(0, 0), tempo=100, max_bars=16)),
    ("fiddle_soldiers_joy.mid", CorpusSpec(
        title="Soldier's Joy (reel)", work="ryansMammoth/SoldiersJoy.abc",
        part_names=("Fiddle",), programs=(40,), tempo=100, expand_repeats=True)),
    ("fiddle_haste_to_the_wedding.mid", CorpusSpec(
        title="Haste to the Wedding (jig)", work="ryansMammoth/HasteToTheWeddingJig.abc",
        part_names=("Fiddle",), programs=(40,), tempo=150, expand_repeats=True)),
    ("leadsheet_jeanie_light_brown_hair.mid", CorpusSpec(
        title="Stephen Foster, Jeanie with the Light Brown Hair (lead sheet)",
        work="leadSheet/fosterBrownHair.mxl", part_names=("Melody",), programs=(73,), tempo=75,
        max_bars=33, expand_repeats=True, chord_track=True)),  # first pass, up to the 1st ending
)
# The lead sheet is also copied verbatim (compressed MusicXML) for MusicXML readers.
LEADSHEET_COPY = ("leadsheet_jeanie_light_brown_hair.mxl", "leadSheet/fosterBrownHair.mxl")
LEADSHEET_CHORD_LOW, LEADSHEET_CHORD_HIGH = 48, 67


def sounding_elements(measure: stream.Measure) -> list[note.Note | m21chord.Chord]:
    """Notes and chords of a measure (all voices), without chord symbols or grace notes."""
    found = []
    for element in measure.recurse().getElementsByClass((note.Note, m21chord.Chord)):
        if isinstance(element, harmony.Harmony) or element.duration.isGrace:
            continue
        found.append(element)
    return found


def select_measures(score: stream.Score, max_bars: int | None) -> list[int]:
    """Indices of the measures to render: skip empty leading measures, then truncate.

    A pickup measure does not count towards ``max_bars``.
    """
    parts = list(score.parts)
    measures = [list(p.getElementsByClass(stream.Measure)) for p in parts]
    first = 0
    while not any(sounding_elements(ms[first]) for ms in measures):
        first += 1  # e.g. the Maple Leaf Rag opens with a rest-only measure 0
    count = len(measures[0]) - first
    if max_bars is not None:
        opening = measures[0][first]
        pickup = opening.duration.quarterLength < opening.barDuration.quarterLength
        count = min(count, max_bars + (1 if pickup else 0))
    return list(range(first, first + count))


def pickup_padding(measure: stream.Measure) -> Fraction:
    """Silence to put before a short opening measure so bar lines fall on MIDI bars."""
    missing = measure.barDuration.quarterLength - measure.duration.quarterLength
    return snap(missing) if missing > 0 else Fraction(0)


def active_time_signature(measure: stream.Measure) -> meter.TimeSignature | None:
    """The time signature in force in a measure.

    ``getContextByClass`` does not look inside the measure itself, so the
    measure's own signature has to be checked first.
    """
    return measure.timeSignature or measure.getContextByClass(meter.TimeSignature)


def active_key_signature(measure: stream.Measure) -> key.KeySignature | None:
    """The key signature in force in a measure (own one first, as above)."""
    return measure.keySignature or measure.getContextByClass(key.KeySignature)


def corpus_velocity(offset_in_bar: Fraction, beat: Fraction, melody: bool) -> int:
    """Plain metric accents (the scores carry few dynamics)."""
    if offset_in_bar == 0:
        velocity = 92
    elif offset_in_bar % beat == 0:
        velocity = 80
    else:
        velocity = 70
    return velocity + (6 if melody else 0)


def render_part_notes(part: stream.Part, indices: Sequence[int], origin: Fraction, end: Fraction,
                      melody: bool) -> list[Note]:
    """Flatten the selected measures of one part into Notes (ties already stripped)."""
    measures = list(part.getElementsByClass(stream.Measure))
    notes = []
    for index in indices:
        measure = measures[index]
        time_signature = active_time_signature(measure) or meter.TimeSignature("4/4")
        beat = snap(time_signature.beatDuration.quarterLength)
        bar = snap(time_signature.barDuration.quarterLength)
        measure_start = snap(measure.offset) - origin
        for element in sounding_elements(measure):
            start = measure_start + snap(element.getOffsetInHierarchy(measure))
            duration = min(snap(element.duration.quarterLength), end - start)
            if duration <= 0:
                continue
            # Bar lines fall on multiples of the bar length once the pickup is
            # padded, so accents follow the MIDI bar rather than the (possibly
            # partial) notated measure.
            velocity = corpus_velocity(start % bar, beat, melody)
            notes.extend(Note(start, duration, p.midi, velocity) for p in element.pitches)
    return notes


def chord_symbol_spans(part: stream.Part, indices: Sequence[int], origin: Fraction,
                       end: Fraction) -> list[tuple[Fraction, Fraction, harmony.ChordSymbol]]:
    """Each ChordSymbol sounds until the next symbol, an "N.C." or the end."""
    events: list[tuple[Fraction, harmony.ChordSymbol | None]] = []
    measures = list(part.getElementsByClass(stream.Measure))
    for index in indices:
        measure = measures[index]
        measure_start = snap(measure.offset) - origin
        for element in measure.recurse():
            time = measure_start + snap(element.getOffsetInHierarchy(measure))
            if isinstance(element, harmony.NoChord):
                events.append((time, None))
            elif isinstance(element, harmony.ChordSymbol):
                events.append((time, element))
            elif isinstance(element, expressions.TextExpression) and element.content.strip() == "N.C.":
                events.append((time, None))  # this corpus file writes N.C. as plain text
    events.sort(key=lambda e: e[0])
    spans = []
    for position, (time, symbol) in enumerate(events):
        stop = events[position + 1][0] if position + 1 < len(events) else end
        if symbol is not None and stop > time:
            spans.append((time, stop - time, symbol))
    return spans


def realise_chord_symbols(spans: Sequence[tuple[Fraction, Fraction, harmony.ChordSymbol]]) -> list[Note]:
    """Voice-led block chords from each ChordSymbol's own pitches."""
    notes: list[Note] = []
    previous: tuple[int, ...] | None = None
    for start, duration, symbol in spans:
        root = symbol.root().pitchClass
        intervals = sorted({(p.pitchClass - root) % 12 for p in symbol.pitches})
        voicing = voice_chord(root, intervals, previous, LEADSHEET_CHORD_LOW, LEADSHEET_CHORD_HIGH)
        previous = voicing
        held = duration - Fraction(1, 8) if duration > Fraction(1, 2) else duration
        notes.extend(Note(start, held, p, 64) for p in voicing)
    return notes


def score_signatures(score: stream.Score, indices: Sequence[int], origin: Fraction) -> tuple[list, list]:
    """Time and key signatures found in the selected measures, deduplicated."""
    measures = list(score.parts[0].getElementsByClass(stream.Measure))
    meters: list[tuple[Fraction, int, int]] = []
    keys: list[tuple[Fraction, str]] = []
    for position, index in enumerate(indices):
        measure = measures[index]
        time = Fraction(0) if position == 0 else snap(measure.offset) - origin
        ts = active_time_signature(measure) if position == 0 else measure.timeSignature
        if ts is not None and (not meters or meters[-1][1:] != (ts.numerator, ts.denominator)):
            meters.append((time, ts.numerator, ts.denominator))
        ks = active_key_signature(measure) if position == 0 else measure.keySignature
        if ks is not None:
            name = key_name(ks.sharps, isinstance(ks, key.Key) and ks.mode == "minor")
            if not keys or keys[-1][1] != name:
                keys.append((time, name))
    return meters, keys


def render_corpus_piece(spec: CorpusSpec) -> Song:
    """Parse, expand repeats, strip ties, truncate and convert one corpus score."""
    score = corpus.parse(spec.work)
    if spec.expand_repeats:
        score = score.expandRepeats()
    score = score.stripTies()
    indices = select_measures(score, spec.max_bars)
    first_measure = score.parts[0].getElementsByClass(stream.Measure)[indices[0]]
    last_measure = score.parts[0].getElementsByClass(stream.Measure)[indices[-1]]
    padding = pickup_padding(first_measure)
    origin = snap(first_measure.offset) - padding
    end = snap(last_measure.offset + last_measure.duration.quarterLength) - origin
    parts = []
    for number, (m21part, name, program) in enumerate(zip(score.parts, spec.part_names, spec.programs)):
        notes = render_part_notes(m21part, indices, origin, end, melody=number == spec.melody_part)
        parts.append(Part(name, program, number, notes))
    if spec.chord_track:
        spans = chord_symbol_spans(score.parts[spec.melody_part], indices, origin, end)
        parts.append(Part("Chords", 0, len(parts), realise_chord_symbols(spans)))
    meters, keys = score_signatures(score, indices, origin)
    return Song(spec.title, parts, [(Fraction(0), spec.tempo)], meters, keys, melody_part=spec.melody_part)


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def all_builders() -> list[tuple[str, Callable[[], Song]]]:
    """Every MIDI sample as (file name, zero-argument builder)."""
    builders: list[tuple[str, Callable[[], Song]]] = []
    for name, combo in COMBOS:
        builders.append((name, lambda combo=combo: compose_combo(combo)))
    for name, piece in CORPUS_PIECES:
        builders.append((name, lambda piece=piece: render_corpus_piece(piece)))
    return builders


def build_all(out_dir: Path) -> list[tuple[str, Song | None, bool]]:
    """Write every sample into ``out_dir``; return (name, song, whether written)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, Song | None, bool]] = []
    for name, build in all_builders():
        song = build()
        written = write_if_changed(out_dir / name, midifile_bytes(song_to_midifile(song)))
        results.append((name, song, written))
    copy_name, work = LEADSHEET_COPY
    source = Path(str(corpus.getWork(work)))
    results.append((copy_name, None, write_if_changed(out_dir / copy_name, source.read_bytes())))
    return results


def print_build_summary(out_dir: Path, results: Sequence[tuple[str, Song | None, bool]]) -> None:
    """One line per file: size, sha256 prefix, tracks and melody note count."""
    for name, song, written in results:
        data = (out_dir / name).read_bytes()
        digest = hashlib.sha256(data).hexdigest()[:12]
        status = "written  " if written else "unchanged"
        if song is None:
            print(f"{status} {name:40s} {len(data):6d} B  {digest}")
            continue
        tracks = ", ".join(f"{p.name}:{len(p.notes)}" for p in song.parts)
        melody = song.parts[song.melody_part]
        print(f"{status} {name:40s} {len(data):6d} B  {digest}  melody={melody.name!r}  [{tracks}]")


def verify(out_dir: Path, names: Sequence[str]) -> bool:
    """Re-open every file with mido, pretty_midi and music21 and print a table."""
    import pretty_midi  # only needed for checking
    from music21 import converter

    ok = True
    total = 0
    print(f"\n{'file':40s} {'type':>4s} {'KB':>5s} {'secs':>6s} {'m21 parts/notes':>16s}  pretty_midi instruments")
    for name in names:
        path = out_dir / name
        size = path.stat().st_size
        total += size
        score = converter.parse(str(path))
        m21 = f"{len(score.parts)}/{len(score.flatten().notes)}"
        if path.suffix == ".mid":
            midi_type = mido.MidiFile(str(path)).type
            pm = pretty_midi.PrettyMIDI(str(path))
            instruments = ", ".join(
                f"{i.name or '-'}(p{i.program}{',drum' if i.is_drum else ''}):{len(i.notes)}" for i in pm.instruments)
            print(f"{name:40s} {midi_type:4d} {size / 1024:5.1f} {pm.get_end_time():6.1f} {m21:>16s}  {instruments}")
        else:
            symbols = len(list(score.recurse().getElementsByClass(harmony.ChordSymbol)))
            print(f"{name:40s} {'xml':>4s} {size / 1024:5.1f} {'':6s} {m21:>16s}  ({symbols} chord symbols)")
        if size > 40 * 1024:
            ok = False
            print(f"  !! {name} is larger than 40 KB")
    print(f"total {total / 1024:.1f} KB in {len(names)} files")
    if total > 300 * 1024:
        ok = False
        print("  !! total is larger than 300 KB")
    return ok


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line: ``--out DIR`` and ``--verify``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output folder (default: the folder of this script)")
    parser.add_argument("--verify", action="store_true",
                        help="re-open every file with mido, pretty_midi and music21 and print a table")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build every sample, print a summary, optionally verify; return the exit status."""
    args = parse_args(argv)
    results = build_all(args.out)
    print_build_summary(args.out, results)
    if args.verify and not verify(args.out, [name for name, _, _ in results]):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
