"""The only module that reads and writes MIDI (with pretty_midi).

Reading turns every note track into :class:`~jazzlstm.music.analysis.Track` in quantized beats
(ticks / resolution, so tempo changes never distort rhythm) and hands them to
:func:`~jazzlstm.music.analysis.score_from_tracks`. Writing renders a :class:`Score` as a melody track,
a comping piano track and a bass track at one tempo, atomically.

Zero-length notes: a note shorter than one grid step gets one step. A note-on and note-off
on the very same tick is ambiguous in MIDI; pretty_midi keeps such a note open until the
next note-off of that pitch (or drops it), and the skyline then cuts it at the next melody
onset, so the melody stays monophonic with positive durations either way.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pretty_midi

from jazzlstm.music.analysis import Track, score_from_tracks
from jazzlstm.errors import InputFileError, JazzLSTMError
from jazzlstm.fileio import atomic_path, check_writable
from jazzlstm.music.harmony import voicing
from jazzlstm.music.score import STEPS_PER_BEAT, Note, Score, TimeSignature, quantize

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")
_STEP = 1.0 / STEPS_PER_BEAT


def load_midi(path: str | Path, data: bytes | None = None) -> pretty_midi.PrettyMIDI:
    """Parse a MIDI file (or its bytes), turning every failure into a one-line InputFileError."""
    path = str(path)
    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InputFileError(path, f"cannot read ({exc.strerror or exc})") from None
    if not data:
        raise InputFileError(path, "empty file (0 bytes)")
    if not (data.startswith(b"MThd") or (data.startswith(b"RIFF") and b"MThd" in data[:64])):
        raise InputFileError(path, "not a MIDI file (no MThd header)")
    if data.startswith(b"RIFF"):  # RMID wrapper: the standard MIDI file sits inside
        data = data[data.index(b"MThd"):]
    try:
        with warnings.catch_warnings():
            # pretty_midi warns about meta events on non-zero tracks: harmless, and noisy.
            warnings.simplefilter("ignore")
            return pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as exc:  # mido/pretty_midi raise many types for broken files
        detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputFileError(path, f"corrupt MIDI file ({detail})") from None


def seconds_to_beats(pm: pretty_midi.PrettyMIDI, times: np.ndarray) -> np.ndarray:
    """Map times in seconds to quarter-note beats through the tempo map (vectorized).

    Equivalent to ``pm.time_to_tick(t) / pm.resolution`` without a Python call per note.
    """
    change_times, tempi = pm.get_tempo_changes()
    if len(change_times) == 0:
        change_times, tempi = np.array([0.0]), np.array([120.0])
    beats_per_second = tempi / 60.0
    start_beats = np.concatenate([[0.0], np.cumsum(np.diff(change_times) * beats_per_second[:-1])])
    segment = np.clip(np.searchsorted(change_times, times, side="right") - 1, 0, None)
    return start_beats[segment] + (times - change_times[segment]) * beats_per_second[segment]


def midi_tracks(pm: pretty_midi.PrettyMIDI) -> list[Track]:
    """Every instrument as a Track of notes in quantized beats (notes under one step get one step)."""
    tracks = []
    for index, inst in enumerate(pm.instruments):
        notes: list[Note] = []
        if inst.notes:
            raw = np.array([(n.start, n.end, n.pitch, n.velocity) for n in inst.notes], dtype=float)
            steps = np.rint(seconds_to_beats(pm, raw[:, :2].ravel()).reshape(-1, 2) * STEPS_PER_BEAT)
            lengths = np.maximum(steps[:, 1] - steps[:, 0], 1)  # a very short note still was played
            notes = list(map(Note._make, zip((steps[:, 0] / STEPS_PER_BEAT).tolist(),
                                             (lengths / STEPS_PER_BEAT).tolist(),
                                             raw[:, 2].astype(int).tolist(), raw[:, 3].astype(int).tolist())))
        name = inst.name.strip() or ("Drums" if inst.is_drum else pretty_midi.program_to_instrument_name(inst.program))
        tracks.append(Track(index, name, int(inst.program), bool(inst.is_drum), tuple(sorted(notes))))
    return tracks


def time_signatures(pm: pretty_midi.PrettyMIDI) -> tuple[TimeSignature, ...]:
    """Time signatures in beats; 4/4 from the start when the file has none."""
    starts = seconds_to_beats(pm, np.array([ts.time for ts in pm.time_signature_changes], dtype=float))
    sigs = [TimeSignature(quantize(float(b)), ts.numerator, ts.denominator)
            for b, ts in zip(starts, pm.time_signature_changes)]
    if not sigs or sigs[0].start > 0:
        sigs.insert(0, TimeSignature(0.0))
    # Several signatures at one position: the last written wins.
    unique: dict[float, TimeSignature] = {s.start: s for s in sigs}
    return tuple(unique[k] for k in sorted(unique))


def read_midi(path: str | Path, melody_track: int | str | None = None, data: bytes | None = None) -> Score:
    """Read a MIDI file into a Score (melody + chords). Raises InputFileError with the reason."""
    pm = load_midi(path, data)
    tracks = midi_tracks(pm)
    if not any(t.notes for t in tracks):
        raise InputFileError(str(path), "empty (no notes)")
    if all(t.is_drum for t in tracks if t.notes):
        raise InputFileError(str(path), "drums only (no pitched track)")
    times, tempi = pm.get_tempo_changes()
    tempo = float(tempi[0]) if len(tempi) else 120.0
    info = {
        "format": "midi",
        "tempo_changes": [[round(float(beat), 3), round(float(bpm), 2)]
                          for beat, bpm in zip(seconds_to_beats(pm, np.asarray(times, dtype=float)), tempi)],
    }
    return score_from_tracks(tracks, time_signatures(pm), tempo, str(path), melody_track, info)


def score_to_midi(score: Score, tempo: float | None = None, melody_program: int = 65,
                  comp_program: int = 0, bass_program: int = 32, with_bass: bool = True) -> pretty_midi.PrettyMIDI:
    """Render melody, comping chords and a root-note bass line (one tempo, beats -> seconds)."""
    bpm = float(tempo or score.tempo or 120.0)
    seconds = 60.0 / bpm
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    for sig in score.time_signatures:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(sig.numerator, sig.denominator, sig.start * seconds))
    melody = pretty_midi.Instrument(program=melody_program, name="Melody")
    for note in score.melody:
        melody.notes.append(pretty_midi.Note(int(note.velocity), int(note.pitch), note.start * seconds, note.end * seconds))
    pm.instruments.append(melody)
    if score.chords:
        comp = pretty_midi.Instrument(program=comp_program, name="Chords")
        bass = pretty_midi.Instrument(program=bass_program, name="Bass")
        for chord in score.chords:
            start, end = chord.start * seconds, chord.end * seconds
            low_root, *upper = voicing(chord.root, chord.quality, low=52)
            for pitch in upper:
                comp.notes.append(pretty_midi.Note(62, pitch, start, end))
            bass.notes.append(pretty_midi.Note(80, low_root, start, end))
        pm.instruments.append(comp)
        if with_bass:
            pm.instruments.append(bass)
    return pm


def meter_problem(score: Score) -> str | None:
    """Why MIDI cannot store one of the score's meters, or None.

    A MIDI time signature keeps its denominator as a power of 2 (and its numerator in a
    byte); an ABC tune can say ``M:3/5``.
    """
    for sig in score.time_signatures:
        d = sig.denominator
        if not (1 <= sig.numerator <= 255 and d >= 1 and d & (d - 1) == 0):
            return f"meter {sig.numerator}/{d} cannot be stored in MIDI (it needs a power-of-2 denominator)"
    return None


def write_midi(score: Score, path: str | Path, tempo: float | None = None, force: bool = False, **render) -> Path:
    """Write ``score`` as MIDI atomically; refuses to overwrite an existing file without ``force``."""
    problem = meter_problem(score)
    if problem:
        raise JazzLSTMError(f"{path}: {problem}")
    path = check_writable(path, force)
    pm = score_to_midi(score, tempo, **render)
    with atomic_path(path) as tmp:
        pm.write(str(tmp))
    return path
