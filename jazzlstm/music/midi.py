"""The only module that reads and writes MIDI.

Reading parses with symusic (a C++ MIDI parser, about 100x faster than pretty_midi), the
whole file in one call when it can, else one track chunk at a time. A chunk symusic refuses (a
data byte above 127, a bad pitch-bend value, a time signature it cannot represent) is read
again by mido with ``clip=True``, which clips data bytes to 127 and here also skips meta
events it cannot decode (a bad key signature). ``Score.info["parser"]`` says which one read the file: ``"symusic"``, or
``"mido (tolerant)"`` when any chunk needed the fallback. Note times are converted as
ticks / ticks-per-quarter-note with exact integer rounding to the grid, so tempo changes
never bend rhythm; every instrument becomes a :class:`~jazzlstm.music.analysis.Track` for
:func:`~jazzlstm.music.analysis.score_from_tracks`.

The meaning is that of the earlier pretty_midi reader:

* an instrument is the notes of one track chunk on one channel with one program (the program
  in force at the note-off), so a type 0 file splits by channel and program, and several
  tracks on one channel stay apart; within a track chunk, instruments are ordered by their
  first note-off; channel 10 (index 9) is drums;
* a note-on and note-off on the very same tick is no note (dropped); a note shorter than one
  grid step gets one step; a note never switched off is dropped;
* tempo and time signatures are those of the first track chunk (as the standard asks), or of
  the first chunk that has any when it has none (pretty_midi ignored those).

One difference: when a pitch is struck again while it still sounds, the next note-off ends
the earlier note and the later one sounds to the note-off after (first in, first out, as
symusic does); pretty_midi ended both at the first note-off.

Bounds, checked before anything is allocated in proportion to a value in the file: ticks per
quarter note > 0 (SMPTE time division is refused); tempo events outside 1..1000 BPM and time
signatures other than 1..64 beats of a power-of-2 note value up to 1/64 (a bar at least one
grid step long) are ignored and listed in ``Score.info["ignored"]``; a note lasts at most
:data:`MAX_NOTE_BEATS`; a piece running past :data:`MAX_PIECE_BEATS`, or with more than
:data:`MAX_TRACK_CHUNKS` track chunks or :data:`MAX_INSTRUMENTS` instruments, is refused.

Writing renders a :class:`Score` with pretty_midi as a melody track, a comping piano track and
a bass track at one tempo, atomically.
"""
from __future__ import annotations

import bisect
import io
import itertools
import re
import threading
import warnings
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np
import pretty_midi

from jazzlstm.music.analysis import Track, joint_tracks, score_from_tracks
from jazzlstm.errors import InputFileError, JazzLSTMError
from jazzlstm.fileio import atomic_path, check_writable
from jazzlstm.music.harmony import voicing
from jazzlstm.music.score import STEPS_PER_BEAT, Score, TimeSignature

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")
_STEP = 1.0 / STEPS_PER_BEAT

PARSER_FAST = "symusic"
PARSER_TOLERANT = "mido (tolerant)"
MAX_METER = 64
"""Largest time-signature numerator, and largest (power-of-2) denominator."""
TEMPO_RANGE = (1.0, 1000.0)
"""Tempo events outside this range of BPM are ignored."""
MAX_NOTE_BEATS = 256
"""A longer note (64 bars of 4/4) is cut to this length."""
MAX_PIECE_BEATS = 20_000
"""A file whose notes run past this beat is refused (about 80 minutes at 250 BPM)."""
MAX_TRACK_CHUNKS = 4096
"""A file with more track chunks is refused (each is parsed on its own)."""
MAX_INSTRUMENTS = 1024
"""A file with more instruments (track, channel and program with notes) is refused."""
_MAX_TICK = 2 ** 48
"""Ticks beyond this (far beyond MAX_PIECE_BEATS at any resolution) are refused as they are read."""
_MAX_IGNORED = 20
"""At most this many ignored events are listed in ``Score.info["ignored"]``."""


class _Unreadable(Exception):
    """A one-line reason why the bytes cannot be read (becomes an InputFileError)."""


def midi_bytes(path: str | Path, data: bytes | None = None) -> bytes:
    """The standard MIDI file in ``data`` (else read from ``path``), an RMID wrapper removed.

    Raises InputFileError for an unreadable, empty or non-MIDI file.
    """
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
    return data


def load_midi(path: str | Path, data: bytes | None = None) -> pretty_midi.PrettyMIDI:
    """Parse a MIDI file (or its bytes) with pretty_midi, for rendering audio; every failure
    becomes a one-line InputFileError."""
    path = str(path)
    data = midi_bytes(path, data)
    try:
        split_chunks(data)  # SMPTE or 0 ticks per quarter note: a plain reason, not a crash
    except _Unreadable as exc:
        raise InputFileError(path, str(exc)) from None
    try:
        with warnings.catch_warnings():
            # pretty_midi warns about meta events on non-zero tracks: harmless, and noisy.
            warnings.simplefilter("ignore")
            return pretty_midi.PrettyMIDI(io.BytesIO(data))
    except ZeroDivisionError:
        raise InputFileError(path, "corrupt MIDI file: a tempo of 0 (no time per beat)") from None
    except Exception as exc:  # mido/pretty_midi raise many types for broken files
        detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputFileError(path, f"corrupt MIDI file ({detail})") from None


# --- the file's structure ----------------------------------------------------------------------


def split_chunks(data: bytes) -> tuple[int, list[bytes]]:
    """(ticks per quarter note, the MTrk chunks, each with its 8-byte chunk header).

    Reads as many track chunks as the header announces (fewer when the file ends cleanly
    after a chunk); chunks of other kinds are skipped, bytes after the last track ignored.
    """
    if len(data) < 14:
        raise _Unreadable("corrupt MIDI file: truncated header chunk")
    header_length = int.from_bytes(data[4:8], "big")
    if header_length < 6 or 8 + header_length > len(data):
        raise _Unreadable(f"corrupt MIDI file: a header chunk of {header_length} bytes")
    announced = int.from_bytes(data[10:12], "big")
    division = int.from_bytes(data[12:14], "big")
    if division & 0x8000:
        raise _Unreadable("SMPTE time division is not supported (the file counts time in frames, not beats)")
    if division == 0:
        raise _Unreadable("0 ticks per quarter note (the file has no beat)")
    chunks: list[bytes] = []
    position = 8 + header_length
    while len(chunks) < announced and position < len(data):
        if position + 8 > len(data):
            raise _Unreadable("corrupt MIDI file: truncated track chunk")
        end = position + 8 + int.from_bytes(data[position + 4:position + 8], "big")
        if end > len(data):
            raise _Unreadable("corrupt MIDI file: truncated track chunk")
        if data[position:position + 4] == b"MTrk":
            if len(chunks) == MAX_TRACK_CHUNKS:
                raise _Unreadable(f"too many tracks (more than {MAX_TRACK_CHUNKS:,} track chunks)")
            chunks.append(data[position:end])
        position = end
    return division, chunks


class _Part(NamedTuple):
    """The notes of one instrument of a track chunk (one channel, one program), in ticks, as read."""

    name: str
    program: int
    is_drum: bool
    start: np.ndarray
    duration: np.ndarray
    """0 for a note-on and note-off on one tick: no note (dropped)."""
    pitch: np.ndarray
    velocity: np.ndarray


@dataclass
class _Chunk:
    """What one track chunk holds, in ticks (or, read in one pass, several: see ``settled``)."""

    raw: list[_Part] = field(default_factory=list)
    """Its instruments in the parser's order (channel, then program); empty ones included."""
    settled: bool = False
    """The instruments of a whole file read at once, already in pretty_midi's order (see
    :func:`_symusic_file`): not to be ordered again."""
    tempos: list[tuple[int, int]] = field(default_factory=list)
    """(tick, microseconds per quarter note), in file order."""
    meters: list[tuple[int, int, int]] = field(default_factory=list)
    """(tick, numerator, denominator as a power of 2), in file order."""
    ignored: list[str] = field(default_factory=list)
    """Tempo and time-signature events too short to read, one line each."""
    columns: tuple[np.ndarray, ...] | None = field(default=None, repr=False, compare=False)
    """Its instruments' notes joined: start, duration, pitch and velocity as int64 arrays
    (made once, by :func:`_joined_columns`)."""

    @property
    def parts(self) -> list[tuple[str, int, bool, np.ndarray]]:
        """(track name, program, is_drum, notes as rows of start tick, end tick, pitch, velocity),
        ordered as pretty_midi made instruments: by first note-off."""
        parts = []
        for part in self.raw:
            start = part.start.astype(np.int64)
            notes = np.column_stack((start, start + part.duration, part.pitch, part.velocity)).astype(np.int64)
            parts.append((part.name, part.program, part.is_drum, notes[part.duration > 0]))
        return [p for p in parts if len(p[3])] if self.settled else _ordered(parts)


def _ordered(parts: list[tuple[str, int, bool, np.ndarray]]) -> list[tuple[str, int, bool, np.ndarray]]:
    """Parts with notes, by their first note-off (ties: channel, then program)."""
    kept = [p for p in parts if len(p[3])]
    return sorted(kept, key=lambda p: int(p[3][:, 1].min()))


_FIXED_META = re.compile(rb"\xff([\x51\x58\x59])(.)(?:..)?", re.S)
"""A tempo, time-signature or key-signature meta event: its type, length and first two data bytes."""
_META_LENGTHS = {0x51: 3, 0x58: 4, 0x59: 2}
_META_NAMES = {0x51: "a tempo", 0x58: "a time signature"}


def _symusic_reads_faithfully(chunk: bytes) -> bool:
    """False when a tempo or signature event would come back wrong from symusic.

    symusic reads such an event's data whatever length the event declares (a short one takes
    the bytes of the events after it) and keeps a time-signature denominator in one byte
    (1 << exponent: an exponent above 7 comes back wrong). mido reads those exactly. A false
    alarm (these bytes inside a text or a delta time) only costs the slower parser.
    """
    for match in _FIXED_META.finditer(chunk):
        kind, length = match[1][0], match[2][0]
        if length != _META_LENGTHS[kind] or (kind == 0x58 and (len(match[0]) < 5 or match[0][4] > 7)):
            return False
    return True


def _symusic_chunk(header: bytes, chunk: bytes) -> _Chunk | None:
    """One track chunk read by symusic (or several one after another, as many as ``header``
    announces: their instruments chunk by chunk, their tempo and meter events merged by time);
    None when symusic cannot read it faithfully (see also :func:`_wrapped`)."""
    if not _symusic_reads_faithfully(chunk):
        return None
    try:
        score = _symusic_reader()(header + chunk)
    except Exception:  # symusic refuses: data bytes above 127, bad pitch bends, broken events
        return None
    content = _Chunk()
    tracks = score.tracks  # in (channel, program) order within the chunk
    if tracks:
        # Every track's notes into one list, made arrays once: numpy() costs as much per call
        # as the parse of a small track, extend() copies in C++.
        lists = [track.notes for track in tracks]
        joined = lists[0].copy() if len(lists) > 1 else lists[0]
        for notes in lists[1:]:
            joined.extend(notes)
        arrays = joined.numpy()
        columns = tuple(arrays[key].astype(np.int64) for key in ("time", "duration", "pitch", "velocity"))
        content.columns = columns
        start, duration, pitch, velocity = columns
        raw, first = content.raw, 0
        for track, notes in zip(tracks, lists):
            stop = first + len(notes)
            raw.append(_Part(track.name, int(track.program), bool(track.is_drum), start[first:stop],
                             duration[first:stop], pitch[first:stop], velocity[first:stop]))
            first = stop
    # A chunk holds few tempo and meter events: read one by one, not as arrays.
    tempos, meters = score.tempos, score.time_signatures
    if tempos:
        content.tempos = [(tempo.time, tempo.mspq) for tempo in tempos]
    if meters:
        content.meters = [(meter.time, meter.numerator, _exponent(meter.denominator)) for meter in meters]
    if any(tick < 0 for tick, *_ in content.tempos + content.meters):
        return None
    return content


_TEMPO_OR_METER = re.compile(rb"\xff[\x51\x58]")
"""Where a tempo or time-signature meta event may start (every one does; a false alarm costs a
slower read)."""


def _symusic_file(division: bytes, chunks: list[bytes]) -> list[_Chunk] | None:
    """Every track chunk read by symusic in one call, with the meaning of reading them one at a
    time; None when that meaning cannot be kept (then each chunk is read on its own).

    symusic keeps the instruments of one chunk apart from the next chunk's, in chunk order, but
    says nothing of where a chunk ends, and merges every chunk's tempo and meter events. So:

    * tempos (and meters) are those of the first chunk that has any only when all the places
      where such an event may start lie in one chunk;
    * the instruments' order (chunk by chunk, within one by first note-off) is their order as
      read whenever it is certain: the instruments of one chunk share its name (the last
      track-name event), so between two names a new chunk began; within a run of one name,
      first note-offs that never decrease give that order however the run splits into chunks.
      Otherwise each chunk's instruments are counted by reading it alone.
    """
    joined = b"".join(chunks)
    # Format 0 for one chunk, as each chunk alone is read; format 1 for several.
    header = b"MThd\x00\x00\x00\x06\x00" + (b"\x01" if len(chunks) > 1 else b"\x00") + len(chunks).to_bytes(2, "big")
    content = _symusic_chunk(header + division, joined)
    if content is None or _wrapped([content]):
        return None
    if len(chunks) == 1:
        return [content]
    if content.tempos or content.meters:
        ends = list(itertools.accumulate(map(len, chunks)))
        holders: dict[int, set[int]] = {0x51: set(), 0x58: set()}
        for match in _TEMPO_OR_METER.finditer(joined):
            holders[match[0][1]].add(bisect.bisect_right(ends, match.start()))
        if (content.tempos and len(holders[0x51]) > 1) or (content.meters and len(holders[0x58]) > 1):
            return None
    parts = content.raw
    if len(parts) > 1 and not _read_in_order(parts, _joined_columns([content])):
        counts = _instruments_per_chunk(division, chunks)
        if counts is None or sum(counts) != len(parts):
            return None
        result, first = [], 0
        for count in counts:
            result.append(_Chunk(parts[first:first + count]))
            first += count
        result[0].tempos, result[0].meters = content.tempos, content.meters
        return result
    content.settled = True
    return [content]


def _read_in_order(parts: list[_Part], columns: tuple[np.ndarray, ...]) -> bool:
    """Whether parts read from several chunks at once are surely in pretty_midi's order: in every
    run of one track name, the first note-offs never decrease (see :func:`_symusic_file`).
    ``columns``: the parts' notes joined (see :func:`_joined_columns`)."""
    names = [part.name for part in parts]
    runs = [(first, stop) for first, stop in _runs(names) if stop - first > 1]
    if not runs:
        return True
    sizes = [len(part.start) for part in parts]
    if sum(1 for first, stop in runs for size in sizes[first:stop] if size) < 2:
        return True
    # Every first note-off, in one reduction: each part with notes reaches to the next one's first row.
    firsts, filled, row = [], [], 0
    for index, size in enumerate(sizes):
        if size:
            firsts.append(row)
            filled.append(index)
            row += size
    off = dict(zip(filled, np.minimum.reduceat(columns[0] + columns[1], firsts).tolist()))
    for first, stop in runs:
        run = [off[index] for index in range(first, stop) if sizes[index]]
        if any(later < earlier for earlier, later in zip(run, run[1:])):
            return False
    return True


def _runs(names: list[str]) -> list[tuple[int, int]]:
    """(first, stop) of each run of equal names."""
    runs, first = [], 0
    for position in range(1, len(names) + 1):
        if position == len(names) or names[position] != names[first]:
            runs.append((first, position))
            first = position
    return runs


def _instruments_per_chunk(division: bytes, chunks: list[bytes]) -> list[int] | None:
    """How many instruments symusic reads from each chunk on its own (None if it refuses one)."""
    header = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01" + division
    reader = _symusic_reader()
    try:
        return [len(reader(header + chunk).tracks) for chunk in chunks]
    except Exception:
        return None


def _exponent(denominator: int) -> int:
    """symusic keeps a time-signature denominator as 1 << exponent (exponent <= 7); -1 if not."""
    return denominator.bit_length() - 1 if denominator & (denominator - 1) == 0 else -1


def _wrapped(chunks: list[_Chunk]) -> bool:
    """Whether a note time of these chunks wrapped around (symusic counts ticks in 32 bits, so
    times past 2**31 come back negative; mido counts them exactly)."""
    columns = _joined_columns(chunks)
    return columns is not None and len(columns[0]) > 0 and \
        min(int(np.minimum.reduce(columns[0])), int(np.minimum.reduce(columns[1]))) < 0


def _joined_columns(chunks: list[_Chunk]) -> tuple[np.ndarray, ...] | None:
    """Start, duration, pitch and velocity of every instrument of ``chunks``, chunk after chunk,
    each as one int64 array (None without instruments); kept on a lone chunk, so the note
    tables are joined once however often they are asked for."""
    if len(chunks) == 1 and chunks[0].columns is not None:
        return chunks[0].columns
    parts = [part for chunk in chunks for part in chunk.raw]
    if not parts:
        return None
    columns = tuple(np.concatenate(column, dtype=np.int64)
                    for column in zip(*((part.start, part.duration, part.pitch, part.velocity) for part in parts)))
    if len(chunks) == 1:
        chunks[0].columns = columns
    return columns


@lru_cache(maxsize=None)
def _symusic_reader() -> Callable[[bytes], object]:
    """symusic's parser of MIDI bytes into a Score in ticks, imported on first use: the core
    class's own, where it has one (the factory's dispatch costs as much as a small chunk)."""
    import symusic

    core = getattr(getattr(symusic, "core", None), "ScoreTick", None)
    return core.from_midi if hasattr(core, "from_midi") else symusic.Score.from_midi


_META_LOCK = threading.Lock()


@contextmanager
def _tolerant_meta_events():
    """While mido reads: a meta event it cannot decode (a key signature of 100 sharps, a time
    signature of 4/2^31) becomes an 'unknown_meta' message instead of failing the file."""
    from mido.midifiles import meta, midifiles

    original = getattr(midifiles, "build_meta_message", None)
    if original is None:  # another mido layout: read without this tolerance
        yield
        return

    def tolerant(meta_type, data, delta=0):
        try:
            return original(meta_type, data, delta)
        except Exception:
            return meta.UnknownMetaMessage(meta_type, data, time=delta)

    with _META_LOCK:
        midifiles.build_meta_message = tolerant
        try:
            yield
        finally:
            midifiles.build_meta_message = original


def _mido_reason(exc: Exception, number: int) -> str:
    """A one-line reason for a chunk mido cannot read either."""
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    if isinstance(exc, EOFError):
        return f"corrupt MIDI file: track chunk {number} ends in the middle of an event"
    if "running status without last_status" in text:
        return f"corrupt MIDI file: a data byte without a status byte in track chunk {number}"
    oversized = re.match(r"Message length (\d+) exceeds", text)
    if oversized:
        return (f"corrupt MIDI file: a system-exclusive or meta event of {int(oversized[1]):,} bytes "
                f"in track chunk {number}")
    return f"corrupt MIDI file: {text} (track chunk {number})"


def _mido_chunk(header: bytes, chunk: bytes, number: int) -> _Chunk:
    """One track chunk read by mido, data bytes above 127 clipped; the same meaning as symusic."""
    import mido

    try:
        with _tolerant_meta_events():
            midi = mido.MidiFile(file=io.BytesIO(header + chunk), clip=True)
    except Exception as exc:
        raise _Unreadable(_mido_reason(exc, number)) from None
    result = _Chunk()
    tpq = int.from_bytes(header[12:14], "big")
    tick, name, programs = 0, "", [0] * 16
    sounding: dict[tuple[int, int], deque] = {}
    parts: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}
    for msg in midi.tracks[0] if midi.tracks else ():
        tick += msg.time
        kind = msg.type
        if kind == "note_on" and msg.velocity:
            sounding.setdefault((msg.channel, msg.note), deque()).append((tick, msg.velocity))
        elif kind == "note_on" or kind == "note_off":
            notes = parts.setdefault((msg.channel, programs[msg.channel]), [])
            queue = sounding.get((msg.channel, msg.note))
            if queue:
                start, velocity = queue.popleft()
                if tick > start:  # a note-on and note-off on one tick is no note
                    notes.append((start, tick, msg.note, velocity))
        elif kind == "program_change":
            programs[msg.channel] = msg.program
        elif kind == "track_name":  # the raw bytes as UTF-8, as symusic takes them
            name = msg.name.encode("latin-1", "replace").decode("utf-8", "ignore")
        elif kind == "set_tempo":
            result.tempos.append((tick, msg.tempo))
        elif kind == "time_signature":
            result.meters.append((tick, msg.numerator, msg.denominator.bit_length() - 1))
        elif kind == "unknown_meta" and msg.type_byte == 0x58 and len(msg.data) >= 2:
            result.meters.append((tick, msg.data[0], msg.data[1]))  # mido could not decode it
        elif kind == "unknown_meta" and msg.type_byte in _META_NAMES:
            what, needed = _META_NAMES[msg.type_byte], _META_LENGTHS[msg.type_byte]
            size = f"{len(msg.data)} byte" + ("" if len(msg.data) == 1 else "s")
            result.ignored.append(f"{what} event of {size} ({needed} needed) "
                                  f"at beat {_beat_text(tick / tpq)}")
    if tick > _MAX_TICK:  # beyond any piece, and beyond what the arrays below can hold
        raise _Unreadable(f"too long (track chunk {number} runs to tick {tick:.3g})")
    for (channel, program), notes in sorted(parts.items()):
        rows = np.array(notes, dtype=np.int64).reshape(-1, 4)
        result.raw.append(_Part(name, program, channel == 9, rows[:, 0], rows[:, 1] - rows[:, 0], rows[:, 2], rows[:, 3]))
    return result


def parse_midi(data: bytes) -> tuple[int, list[_Chunk], str]:
    """(ticks per quarter note, every track chunk's content, the parser that read them)."""
    division, chunks = split_chunks(data)
    if chunks:
        whole = _symusic_file(data[12:14], chunks)
        if whole is not None:
            return division, whole, PARSER_FAST
    header = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01" + data[12:14]
    parsed, parser, fast = [], PARSER_FAST, []
    for number, chunk in enumerate(chunks, 1):
        content = _symusic_chunk(header, chunk)
        if content is None:
            content, parser = _mido_chunk(header, chunk, number), PARSER_TOLERANT
        else:
            fast.append(number - 1)
        parsed.append(content)
    # Checked once for the file (it is rare): then chunk by chunk, and those read again.
    if _wrapped([parsed[i] for i in fast]):
        for i in fast:
            if _wrapped([parsed[i]]):
                parsed[i], parser = _mido_chunk(header, chunks[i], i + 1), PARSER_TOLERANT
    return division, parsed, parser


# --- from ticks to a Score ---------------------------------------------------------------------


def ticks_to_steps(ticks: np.ndarray | int, tpq: int):
    """Ticks -> grid steps: the nearest, a tie to the even step (as ``np.rint`` on the exact
    value), in integer arithmetic, so no rounding error decides a tie."""
    if tpq % STEPS_PER_BEAT == 0:  # ticks * 12 / tpq = ticks / (tpq / 12): one product less
        ticks, tpq = ticks, tpq // STEPS_PER_BEAT
    else:
        ticks = ticks * STEPS_PER_BEAT
    whole, rest = divmod(ticks, tpq)
    # Up past the half; at exactly the half (2 rest == tpq) only from an odd step.
    rest <<= 1
    rest += whole & 1
    whole += rest > tpq
    return whole


def _beat_text(beats: float) -> str:
    return f"{beats:,.3f}".rstrip("0").rstrip(".")


def _meter_text(numerator: int, exponent: int) -> str:
    if exponent < 0:
        return f"{numerator}/?"
    return f"{numerator}/{2 ** exponent}" if exponent <= 16 else f"{numerator}/2^{exponent}"


_CACHED_EVENTS = 8
"""Tempo and meter lists up to this long are read once per (events, ticks per quarter note):
most files hold the same few (see :func:`_read_events`)."""


def _read_events(read: Callable, events: list, tpq: int, ignored: list[str]) -> tuple:
    """``read(events, tpq, ignored)`` (:func:`_time_signatures`, :func:`_tempo_changes`) as a
    tuple; a list of up to :data:`_CACHED_EVENTS` events is read once per (reader, events,
    ticks per quarter note), the lines it ignores reported again on every read."""
    if len(events) > _CACHED_EVENTS:
        return tuple(read(events, tpq, ignored))
    result, lines = _cached_read(read, tuple(events), tpq)
    ignored.extend(lines)
    return result


@lru_cache(maxsize=2048)
def _cached_read(read: Callable, events: tuple, tpq: int) -> tuple[tuple, tuple[str, ...]]:
    """:func:`_read_events`'s cache: (the reading as a tuple, the lines ignored)."""
    lines: list[str] = []
    return tuple(read(events, tpq, lines)), tuple(lines)


def _time_signatures(meters: Sequence[tuple[int, int, int]], tpq: int, ignored: list[str]) -> tuple[TimeSignature, ...]:
    """Musical time signatures in beats (others ignored); 4/4 from the start when none is left."""
    sigs = []
    for tick, numerator, exponent in meters:
        beat = int(ticks_to_steps(tick, tpq)) / STEPS_PER_BEAT
        musical = 1 <= numerator <= MAX_METER and 0 <= exponent and 2 ** exponent <= MAX_METER
        if musical and numerator * 4 * STEPS_PER_BEAT >= 2 ** exponent:  # a bar of at least one grid step
            sigs.append(TimeSignature(beat, numerator, 2 ** exponent))
        else:
            ignored.append(f"time signature {_meter_text(numerator, exponent)} at beat {_beat_text(beat)} "
                           f"(a meter needs 1..{MAX_METER} beats of a power-of-2 note value up to 1/{MAX_METER})")
    if not sigs or sigs[0].start > 0:
        sigs.insert(0, TimeSignature(0.0))
    # Several signatures at one position: the last written wins.
    unique: dict[float, TimeSignature] = {s.start: s for s in sigs}
    return tuple(unique[k] for k in sorted(unique))


def _tempo_changes(tempos: Sequence[tuple[int, int]], tpq: int, ignored: list[str]) -> list[tuple[float, float]]:
    """(beat, BPM) from 120 BPM at 0, as pretty_midi keeps them: a tempo at tick 0 replaces the
    default, a later one is kept when it differs from the one before."""
    low, high = TEMPO_RANGE
    changes = [(0, 60.0 / (120.0 * tpq))]  # (tick, seconds per tick): pretty_midi's arithmetic
    for tick, mspq in tempos:
        beat = tick / tpq
        if mspq <= 0:
            ignored.append(f"tempo of 0 microseconds per beat at beat {_beat_text(beat)} "
                           f"(a tempo must be {low:g}..{high:g} BPM)")
            continue
        bpm = 6e7 / mspq
        if not low <= bpm <= high:
            ignored.append(f"tempo of {bpm:,.0f} BPM at beat {_beat_text(beat)} (a tempo must be {low:g}..{high:g} BPM)")
            continue
        scale = 60.0 / (bpm * tpq)
        if tick == 0:
            changes = [(0, scale)]
        elif scale != changes[-1][1]:
            changes.append((tick, scale))
    return [(tick / tpq, 60.0 / (scale * tpq)) for tick, scale in changes]


def midi_tracks(chunks: list[_Chunk], tpq: int, path: str) -> list[Track]:
    """Every instrument as a Track in quantized beats: a note under one step gets one step, a
    note over MAX_NOTE_BEATS is cut to it; a piece past MAX_PIECE_BEATS is refused.

    All the file's notes are handled as one array: instruments in the order pretty_midi
    made them (track chunk by track chunk, within one by first note-off), each instrument's
    notes sorted as Notes sort. The tracks share that one table (see
    :func:`~jazzlstm.music.analysis.joint_tracks`).
    """
    numbered = [(number, chunk.settled, part) for number, chunk in enumerate(chunks) for part in chunk.raw]
    if not numbered:
        return []
    start, duration, pitch, velocity = _joined_columns(chunks)
    sizes = [len(part.start) for *_, part in numbered]
    if len(duration) and not np.minimum.reduce(duration) > 0:  # a note-on and note-off on one tick is no note
        sounding = duration > 0
        owner = np.arange(len(numbered)).repeat(sizes)[sounding]
        sizes = np.bincount(owner, minlength=len(numbered)).tolist()
        start, duration, pitch, velocity = start[sounding], duration[sounding], pitch[sounding], velocity[sounding]
    filled = [i for i, n in enumerate(sizes) if n]
    if not filled:
        return []
    if len(filled) > MAX_INSTRUMENTS:
        raise InputFileError(path, f"too many instruments ({len(filled):,}; the limit is {MAX_INSTRUMENTS:,})")
    counts = [sizes[i] for i in filled]
    numbers = [numbered[i][0] for i in filled]
    if len(set(numbers)) < len(numbers) and not all(numbered[i][1] for i in filled):
        firsts = list(itertools.accumulate(counts, initial=0))[:-1]
        first_off = np.minimum.reduceat(start + duration, firsts).tolist()
        order = sorted(range(len(filled)), key=lambda k: (numbers[k], 0 if numbered[filled[k]][1] else first_off[k], k))
    else:  # one instrument per chunk, or settled ones: their order as read
        order = list(range(len(filled)))
    last_start = int(np.maximum.reduce(start))
    if last_start > MAX_PIECE_BEATS * tpq:  # before any arithmetic in proportion to the ticks
        raise InputFileError(path, f"too long (a note starts at beat {_beat_text(last_start / tpq)}; "
                                   f"the limit is {MAX_PIECE_BEATS:,} beats)")
    # Rows: onset and length in steps, pitch, velocity. A note-off beyond the longest note
    # moves in (so no product of ticks overflows).
    steps = np.empty((4, len(start)), dtype=np.int64)
    steps[0] = start
    np.minimum(duration, (MAX_NOTE_BEATS + 1) * tpq, out=steps[1])
    steps[1] += start
    steps[:2] = ticks_to_steps(steps[:2], tpq)
    on, lengths = steps[0], steps[1]
    lengths -= on
    np.maximum(lengths, 1, out=lengths)
    np.minimum(lengths, MAX_NOTE_BEATS * STEPS_PER_BEAT, out=lengths)
    steps[2], steps[3] = pitch, velocity
    # Sorted by instrument, then as Notes sort (start, duration, pitch, velocity), as one integer
    # key: ranks < 2**10, onsets <= MAX_PIECE_BEATS steps < 2**18, lengths < 2**12, pitch and
    # velocity < 2**7.
    rank = [0] * len(filled)
    for position, k in enumerate(order):
        rank[k] = position
    notes_key = on << 26
    notes_key |= lengths << 14
    notes_key |= pitch << 7
    notes_key |= velocity
    ranked = (np.array(rank, dtype=np.int64) << 44).repeat(counts)
    ranked |= notes_key
    # Most files' notes come in that order already (equal keys are equal rows: any order of them will do).
    rows = None if not np.less(ranked[1:], ranked[:-1]).any() else ranked.argsort()
    kept = [counts[k] for k in order]
    bounds = list(itertools.accumulate(kept, initial=0))
    stops = on + lengths
    if int(np.maximum.reduce(stops)) > MAX_PIECE_BEATS * STEPS_PER_BEAT:  # named by the first instrument that runs too long
        ends = np.maximum.reduceat(stops if rows is None else stops[rows], bounds[:-1])
        beat = int(ends[(ends > MAX_PIECE_BEATS * STEPS_PER_BEAT).argmax()]) / STEPS_PER_BEAT
        raise InputFileError(path, f"too long (notes run to beat {_beat_text(beat)}; the limit is {MAX_PIECE_BEATS:,} beats)")
    # Column by column in memory: the columns are what is read.
    table = (steps if rows is None else steps.take(rows, axis=1)).T.astype(float)
    table[:, :2] /= STEPS_PER_BEAT
    tracks = []
    for index, k in enumerate(order):
        part = numbered[filled[k]][2]
        name = part.name.strip() or ("Drums" if part.is_drum else pretty_midi.program_to_instrument_name(part.program))
        tracks.append(Track(index, name, part.program, part.is_drum, table=table[bounds[index]:bounds[index + 1]]))
    return joint_tracks(tracks, table, notes_key if rows is None else notes_key[rows])


def read_midi(path: str | Path, melody_track: int | str | None = None, data: bytes | None = None) -> Score:
    """Read a MIDI file into a Score (melody + chords). Raises InputFileError with the reason."""
    path = str(path)
    data = midi_bytes(path, data)
    try:
        tpq, chunks, parser = parse_midi(data)
    except _Unreadable as exc:
        raise InputFileError(path, str(exc)) from None
    tracks = midi_tracks(chunks, tpq, path)
    if not tracks:
        raise InputFileError(path, "empty (no notes)")
    if all(t.is_drum for t in tracks):
        raise InputFileError(path, "drums only (no pitched track)")
    ignored = [line for chunk in chunks for line in chunk.ignored]
    # Tempo and meter as the first track chunk gives them (the standard's place for them),
    # else as the first chunk that has any.
    tempos = next((c.tempos for c in chunks if c.tempos), [])
    meters = next((c.meters for c in chunks if c.meters), [])
    changes = list(_read_events(_tempo_changes, tempos, tpq, ignored))
    sigs = _read_events(_time_signatures, meters, tpq, ignored)
    info = {
        "format": "midi",
        "parser": parser,
        "tempo_changes": [[round(beat, 3), round(bpm, 2)] for beat, bpm in changes],
    }
    if ignored:
        more = len(ignored) - _MAX_IGNORED
        info["ignored"] = ignored[:_MAX_IGNORED] + ([f"{more} more"] if more > 0 else [])
    return score_from_tracks(tracks, sigs, changes[0][1], path, melody_track, info)


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
