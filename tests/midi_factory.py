"""Build small MIDI files in code for tests."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pretty_midi

from jazzlstm.music.harmony import chord_tones, parse_chord


@dataclass
class TrackSpec:
    """Notes as (pitch, start_beat, duration_beats)."""

    name: str
    notes: list[tuple[int, float, float]] = field(default_factory=list)
    program: int = 0
    is_drum: bool = False


def write_tracks(path: Path, tracks: Sequence[TrackSpec], tempo: float = 120.0,
                 time_signature: tuple[int, int] | None = (4, 4)) -> Path:
    spb = 60.0 / tempo
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    if time_signature:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(*time_signature, 0.0))
    for spec in tracks:
        inst = pretty_midi.Instrument(program=spec.program, is_drum=spec.is_drum, name=spec.name)
        for pitch, start, dur in spec.notes:
            inst.notes.append(pretty_midi.Note(90, pitch, start * spb, (start + dur) * spb))
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


PROGRESSION = ["Dm7", "G7", "Cmaj7", "Cmaj7", "Fmaj7", "Bm7b5", "E7", "Am7"]


def melody_notes(seed: int = 0, bars: int = 8, progression: Sequence[str] = PROGRESSION) -> list[tuple[int, float, float]]:
    """A monophonic eighth/quarter melody over ``progression`` (one chord per bar), in 60..84."""
    rng = random.Random(seed)
    notes, pitch = [], 67
    for bar in range(bars):
        root, quality = parse_chord(progression[bar % len(progression)])
        tones = sorted(chord_tones(root, quality))
        step = 0  # 12 steps per beat, 48 per bar: exact triplets, no float drift
        while step < 48:
            length = min(rng.choice([6, 6, 12, 8, 4]), 48 - step)
            if rng.random() < 0.1:
                step += length  # a rest
                continue
            pitch += rng.choice([-4, -3, -2, -1, 1, 2, 3, 4])
            pitch = min(max(pitch, 60), 84)
            if step == 0:
                pitch = min((p for p in range(pitch - 6, pitch + 7) if p % 12 in tones), key=lambda p: abs(p - pitch))
            notes.append((pitch, bar * 4 + step / 12, length / 12))
            step += length
    return notes


def chord_notes(bars: int = 8, progression: Sequence[str] = PROGRESSION, low: int = 48) -> list[tuple[int, float, float]]:
    """Block chords, one per bar, close voicing above ``low``."""
    notes = []
    for bar in range(bars):
        root, quality = parse_chord(progression[bar % len(progression)])
        base = low + (root - low) % 12
        for pc in sorted(chord_tones(root, quality), key=lambda pc: (pc - root) % 12):
            notes.append((base + (pc - root) % 12, bar * 4.0, 4.0))
    return notes


def bass_notes(bars: int = 8, progression: Sequence[str] = PROGRESSION) -> list[tuple[int, float, float]]:
    notes = []
    for bar in range(bars):
        root, _ = parse_chord(progression[bar % len(progression)])
        for beat in range(4):
            notes.append((36 + root + (7 if beat % 2 else 0) % 12, bar * 4.0 + beat, 1.0))
    return notes


def drum_notes(bars: int = 8) -> list[tuple[int, float, float]]:
    return [(42 if beat % 2 else 36, bar * 4.0 + beat * 0.5, 0.25) for bar in range(bars) for beat in range(8)]


# --- additions for the data-layer tests (existing helpers above are unchanged) ---------------


def lead_notes(seed: int = 0, bars: int = 8, progression: Sequence[str] = PROGRESSION,
               low: int = 60, high: int = 84) -> list[tuple[int, float, float]]:
    """Like :func:`melody_notes` but without rests and kept inside ``low..high``.

    A line that sounds on every downbeat is the exact top voice of a piano part whose chords
    sit below ``low`` (a rest would let a chord tone become the top voice there).
    """
    rng = random.Random(seed)
    notes, pitch = [], (low + high) // 2
    for bar in range(bars):
        root, quality = parse_chord(progression[bar % len(progression)])
        tones = chord_tones(root, quality)
        step = 0
        while step < 48:
            length = min(rng.choice([6, 6, 12, 8, 4]), 48 - step)
            pitch = min(max(pitch + rng.choice([-4, -3, -2, -1, 1, 2, 3, 4]), low), high)
            if step == 0:
                pitch = min((p for p in range(low, high + 1) if p % 12 in tones), key=lambda p: (abs(p - pitch), p))
            notes.append((pitch, bar * 4 + step / 12, length / 12))
            step += length
    return notes


def progression_labels(bars: int = 8, progression: Sequence[str] = PROGRESSION) -> list[str]:
    """The chord label written in each bar by :func:`chord_notes` (canonical spelling)."""
    from jazzlstm.music.harmony import chord_label

    return [chord_label(*parse_chord(progression[bar % len(progression)])) for bar in range(bars)]


def write_trio(path: Path, seed: int = 0, bars: int = 8, progression: Sequence[str] = PROGRESSION,
               melody_name: str = "Lead") -> Path:
    """Melody (track 0), piano block chords (track 1) and a walking bass (track 2)."""
    return write_tracks(path, [
        TrackSpec(melody_name, melody_notes(seed, bars, progression), program=65),
        TrackSpec("Piano", chord_notes(bars, progression), program=0),
        TrackSpec("Bass", bass_notes(bars, progression), program=33),
    ])


def write_drums_only(path: Path, bars: int = 4) -> Path:
    return write_tracks(path, [TrackSpec("Drums", drum_notes(bars), is_drum=True)])


def write_no_notes(path: Path) -> Path:
    """A valid MIDI file (header, tempo, an instrument track) without a single note."""
    return write_tracks(path, [TrackSpec("Piano", [], program=0)])


def write_text_as_midi(path: Path) -> Path:
    path.write_text("These are my notes about Autumn Leaves, not a MIDI file.\n", encoding="utf-8")
    return path


def write_truncated(path: Path, seed: int = 0) -> Path:
    """A real MIDI file cut in the middle of its track data."""
    full = write_trio(path, seed)
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path
