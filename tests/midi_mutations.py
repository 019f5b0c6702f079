"""Hostile MIDI input for fuzzing the reader, and a harness that runs it safely.

Shared by ``tests/test_fuzz.py`` and ``benchmarks/bench_fuzz.py``.

Generators (every one deterministic from its seed; each yields a :class:`Mutant`, bytes plus a
short label of the mutation kind):

* ``byte:*``   byte-level mutations of the bundled ``midi_samples/*.mid`` (flip, insert, delete,
  duplicate a range, truncate, several at once);
* ``struct:*`` structure-aware mutations: a sample is parsed with mido (``clip=True``) into raw
  events, which are then mutated and written back by a small SMF writer of our own. The writer
  takes raw bytes, so it can write what mido refuses to: a time-signature denominator power of
  255, data bytes above 127, key signatures with 100 sharps, broken running status, SMPTE
  divisions, lying chunk lengths...;
* ``synth:*``  files built from scratch (random event streams, minimal headers, random notes).

:data:`HOSTILE_CASES` are fixed, named files for the known-hostile cases (tempo 0, a 4/2^64
meter, a 10^6-beat note at 2 ticks per beat, a data byte above 127, an SMPTE division...).

The harness: :func:`check_bytes` reads one file with :func:`jazzlstm.music.reading.read_score`
and encodes the Score with every music tokenizer, in this process, and names the outcome
(``read``, ``clean error``, ``traceback``, ``memory``); :func:`run_isolated` does the same for
many files, each in a forked child under a wall-clock limit (5 s: else ``hang``) and an
address-space limit (``RLIMIT_AS``, 1 GiB: an allocation past it is a ``memory`` outcome), with the
child's peak RSS from ``wait4``. A child that dies without reporting is a ``crash``.
"""
from __future__ import annotations

import gc
import json
import os
import random
import resource
import select
import signal
import struct
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO_ROOT / "midi_samples"

TIME_LIMIT = 5.0
"""Seconds one file may take (read + every encoding) before it counts as a hang."""
MEMORY_LIMIT = 1 << 30
"""Bytes of address space one file's child may use (RLIMIT_AS); peak RSS stays below it."""

OUTCOMES = ("read", "clean error", "traceback", "hang", "memory", "crash")
"""``read`` and ``clean error`` are the two acceptable outcomes; the rest are bugs."""
GOOD_OUTCOMES = ("read", "clean error")


class Mutant(NamedTuple):
    data: bytes
    kind: str


# --- a raw SMF writer ----------------------------------------------------------------------------
# A track is a list of [delta_ticks, raw_event_bytes]; the event bytes are written as they are
# (status byte included, unless a mutation dropped it on purpose).

Event = list  # [delta: int, raw: bytes]


def vlq(value: int, min_length: int = 1) -> bytes:
    """A MIDI variable-length quantity; longer than 4 bytes when ``value`` needs it (hostile),
    and padded with 0x80 bytes up to ``min_length`` (an overlong encoding)."""
    value = max(0, int(value))
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    while len(out) < min_length:
        out.append(0x80)
    return bytes(reversed(out))


def meta(kind: int, data: bytes, length: int | None = None) -> bytes:
    """A meta event ``FF kind len data`` (``length`` may lie)."""
    return bytes([0xFF, kind & 0xFF]) + vlq(len(data) if length is None else length) + data


def time_signature(numerator: int, denominator_power: int, clocks: int = 24, thirty_seconds: int = 8) -> bytes:
    return meta(0x58, bytes([numerator & 0xFF, denominator_power & 0xFF, clocks & 0xFF, thirty_seconds & 0xFF]))


def tempo(microseconds: int) -> bytes:
    return meta(0x51, (microseconds & 0xFFFFFF).to_bytes(3, "big"))


def key_signature(sharps: int, minor: int) -> bytes:
    return meta(0x59, bytes([sharps & 0xFF, minor & 0xFF]))


END_OF_TRACK = meta(0x2F, b"")


def note_on(pitch: int, velocity: int = 90, channel: int = 0) -> bytes:
    return bytes([0x90 | (channel & 0x0F), pitch & 0xFF, velocity & 0xFF])


def note_off(pitch: int, channel: int = 0) -> bytes:
    return bytes([0x80 | (channel & 0x0F), pitch & 0xFF, 0x40])


def track_bytes(events: Iterable[Event]) -> bytes:
    return b"".join(vlq(delta) + raw for delta, raw in events)


def chunk(tag: bytes, body: bytes, length: int | None = None) -> bytes:
    return tag + struct.pack(">I", (len(body) if length is None else length) & 0xFFFFFFFF) + body


def header(fmt: int, ntrks: int, division: int | bytes, length: int = 6, extra: bytes = b"") -> bytes:
    """``MThd``; ``division`` as ticks per beat, or two raw bytes (an SMPTE division)."""
    div = division if isinstance(division, bytes) else struct.pack(">H", division & 0xFFFF)
    return chunk(b"MThd", struct.pack(">HH", fmt & 0xFFFF, ntrks & 0xFFFF) + div + extra, length)


def smf(tracks: list[list[Event]], fmt: int | None = None, division: int | bytes = 480, ntrks: int | None = None,
        end_of_track: bool = True) -> bytes:
    """A standard MIDI file of raw tracks (an End of Track appended to each that lacks one)."""
    bodies = []
    for events in tracks:
        body = track_bytes(events)
        if end_of_track and not (events and events[-1][1] == END_OF_TRACK):
            body += b"\x00" + END_OF_TRACK
        bodies.append(body)
    fmt = (0 if len(tracks) == 1 else 1) if fmt is None else fmt
    return header(fmt, len(tracks) if ntrks is None else ntrks, division) + b"".join(
        chunk(b"MTrk", body) for body in bodies)


def notes_track(notes: Iterable[tuple[int, int, int]], channel: int = 0, name: bytes = b"") -> list[Event]:
    """(pitch, start_tick, length_ticks) -> events (note-offs before note-ons on one tick)."""
    timed = []
    for pitch, start, length in notes:
        timed.append((start, 1, note_on(pitch, 90, channel)))
        timed.append((start + length, 0, note_off(pitch, channel)))
    timed.sort(key=lambda e: (e[0], e[1]))
    events: list[Event] = [[0, meta(0x03, name)]] if name else []
    last = 0
    for tick, _, raw in timed:
        events.append([tick - last, raw])
        last = tick
    return events


def simple_melody(tpb: int, bars: int = 4, pitch: int = 60, channel: int = 0) -> list[Event]:
    """A little quarter-note line of ``bars`` 4/4 bars."""
    steps = [0, 2, 4, 5, 7, 5, 4, 2]
    return notes_track(((pitch + steps[i % len(steps)], i * tpb, tpb) for i in range(bars * 4)), channel, b"Melody")


def simple_file(tpb: int = 480, conductor: Iterable[bytes] = (), melody: list[Event] | None = None,
                chords: bool = True, division: int | bytes | None = None) -> bytes:
    """A conductor track (``conductor`` meta events at tick 0), a melody and a chord track."""
    tracks = [[[0, raw] for raw in conductor] or [[0, meta(0x03, b"conductor")]]]
    tracks.append(melody if melody is not None else simple_melody(tpb))
    if chords:
        tracks.append(notes_track(((p, bar * 4 * tpb, 4 * tpb) for bar in range(4) for p in (48, 52, 55)), 1,
                                  b"Piano"))
    return smf(tracks, 1, tpb if division is None else division)


# --- the bundled samples as raw events -----------------------------------------------------------

@dataclass
class Raw:
    """A parsed sample: format, ticks per beat and raw tracks."""

    name: str
    fmt: int
    tpb: int
    tracks: list[list[Event]] = field(default_factory=list)

    def copy(self) -> "Raw":
        return Raw(self.name, self.fmt, self.tpb, [[list(e) for e in track] for track in self.tracks])

    def to_bytes(self, **options) -> bytes:
        options.setdefault("fmt", self.fmt)
        options.setdefault("division", self.tpb)
        return smf(self.tracks, **options)


def _message_bytes(msg) -> bytes:
    if msg.is_meta:
        return bytes(msg.bytes())
    if msg.type == "sysex":
        data = bytes(msg.data)
        return b"\xF0" + vlq(len(data) + 1) + data + b"\xF7"
    return bytes(msg.bin())


def parse_raw(data: bytes, name: str = "") -> Raw:
    """A MIDI file's events as raw bytes, parsed with mido (``clip=True``)."""
    import io

    import mido

    mf = mido.MidiFile(file=io.BytesIO(data), clip=True)
    return Raw(name, mf.type, mf.ticks_per_beat,
               [[[msg.time, _message_bytes(msg)] for msg in track] for track in mf.tracks])


@lru_cache(maxsize=None)
def sample_bytes() -> tuple[tuple[str, bytes], ...]:
    """(name, bytes) of every bundled ``midi_samples/*.mid`` (sorted by name)."""
    return tuple((p.name, p.read_bytes()) for p in sorted(SAMPLES_DIR.glob("*.mid")))


@lru_cache(maxsize=None)
def sample_raws() -> tuple[Raw, ...]:
    return tuple(parse_raw(data, name) for name, data in sample_bytes())


def load_samples() -> None:
    """Parse the samples now (before forking workers, so that no child parses them again)."""
    sample_raws()


def _sample(rng: random.Random) -> Raw:
    return rng.choice(sample_raws()).copy()


# --- (a) byte-level mutations --------------------------------------------------------------------

INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0x81, 0xF0, 0xF7, 0xFE, 0xFF)


def _flip(rng: random.Random, buf: bytearray) -> None:
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        i = rng.randrange(len(buf))
        if rng.random() < 0.5:
            buf[i] ^= 1 << rng.randrange(8)
        else:
            buf[i] = rng.choice(INTERESTING_BYTES) if rng.random() < 0.5 else rng.randrange(256)


def _insert(rng: random.Random, buf: bytearray) -> None:
    i = rng.randrange(len(buf) + 1)
    n = rng.choice((1, 2, 3, 4, 8, 64, 1024))
    fill = bytes(rng.choice(INTERESTING_BYTES) for _ in range(n)) if rng.random() < 0.3 else rng.randbytes(n)
    buf[i:i] = fill


def _delete(rng: random.Random, buf: bytearray) -> None:
    i = rng.randrange(len(buf))
    del buf[i:i + rng.choice((1, 2, 3, 4, 8, 64, 512))]


def _duplicate(rng: random.Random, buf: bytearray) -> None:
    i = rng.randrange(len(buf))
    piece = bytes(buf[i:i + rng.choice((1, 4, 16, 64, 256, 2048))])
    at = rng.randrange(len(buf) + 1)
    buf[at:at] = piece * rng.choice((1, 1, 2, 8, 64))


def _truncate(rng: random.Random, buf: bytearray) -> None:
    del buf[rng.randrange(len(buf)):]


BYTE_MUTATORS: dict[str, Callable[[random.Random, bytearray], None]] = {
    "flip": _flip, "insert": _insert, "delete": _delete, "duplicate": _duplicate, "truncate": _truncate,
}


def byte_mutation(rng: random.Random, data: bytes, ops: Iterable[str]) -> bytes:
    buf = bytearray(data)
    for op in ops:
        if not buf:
            break
        BYTE_MUTATORS[op](rng, buf)
    return bytes(buf)


def apply_byte_ops(data: bytes, ops: Iterable[tuple[str, int, int, bytes]]) -> bytes:
    """Explicit byte operations (for Hypothesis, which shrinks them): (op, position, length, fill)
    with op in flip / insert / delete / duplicate / truncate; positions wrap around the data."""
    buf = bytearray(data)
    for op, position, length, fill in ops:
        if not buf:
            break
        i = position % len(buf)
        if op == "flip":
            for k, b in enumerate(fill or b"\xff"):
                buf[(i + k) % len(buf)] ^= b
        elif op == "insert":
            buf[i:i] = (fill or b"\x80") * max(1, length // max(1, len(fill or b"x")))
        elif op == "delete":
            del buf[i:i + length]
        elif op == "duplicate":
            buf[i:i] = bytes(buf[i:i + length])
        elif op == "truncate":
            del buf[i:]
    return bytes(buf)


def _byte_kind(op: str | None) -> Callable[[random.Random], bytes]:
    def make(rng: random.Random) -> bytes:
        _, data = rng.choice(sample_bytes())
        ops = [op] if op else [rng.choice(list(BYTE_MUTATORS)) for _ in range(rng.randint(2, 6))]
        return byte_mutation(rng, data, ops)
    return make


# --- (b) structure-aware mutations ---------------------------------------------------------------

def _channel_events(raw: Raw) -> list[tuple[int, int]]:
    """(track, index) of every channel event (status 0x80..0xEF)."""
    return [(t, i) for t, track in enumerate(raw.tracks) for i, (_, ev) in enumerate(track)
            if ev and 0x80 <= ev[0] < 0xF0]


def _note_ons(raw: Raw) -> list[tuple[int, int]]:
    return [(t, i) for t, track in enumerate(raw.tracks) for i, (_, ev) in enumerate(track)
            if len(ev) >= 3 and ev[0] & 0xF0 == 0x90 and ev[2] > 0]


def _is_note_off(ev: bytes) -> bool:
    return len(ev) >= 3 and (ev[0] & 0xF0 == 0x80 or (ev[0] & 0xF0 == 0x90 and ev[2] == 0))


def _insert_event(rng: random.Random, raw: Raw, ev: bytes, track: int | None = None, delta: int = 0) -> None:
    t = rng.randrange(len(raw.tracks)) if track is None else track
    events = raw.tracks[t]
    i = rng.randrange(max(1, len(events)))  # before the End of Track
    events.insert(i, [delta, ev])


def _set_meta(rng: random.Random, raw: Raw, kind: int, ev: bytes) -> None:
    """Replace every meta event of ``kind`` by ``ev`` and insert ``ev`` at a random place too."""
    for track in raw.tracks:
        for e in track:
            if len(e[1]) >= 2 and e[1][0] == 0xFF and e[1][1] == kind:
                e[1] = ev
    if rng.random() < 0.5 or not any(e[1][:2] == bytes([0xFF, kind]) for tr in raw.tracks for e in tr):
        _insert_event(rng, raw, ev, track=0 if rng.random() < 0.7 else None)


def s_time_signature(rng: random.Random) -> bytes:
    raw = _sample(rng)
    numerator = rng.choice((0, 1, 2, 7, 127, 128, 255, rng.randrange(256)))
    power = rng.choice((0, 5, 7, 31, 32, 63, 64, 127, 128, 255, rng.randrange(256)))
    _set_meta(rng, raw, 0x58, time_signature(numerator, power, rng.randrange(256), rng.randrange(256)))
    return raw.to_bytes()


def s_time_signature_length(rng: random.Random) -> bytes:
    raw = _sample(rng)
    n = rng.choice((0, 1, 2, 3, 5, 8, 255))
    _set_meta(rng, raw, 0x58, meta(0x58, rng.randbytes(n)))
    return raw.to_bytes()


def s_tempo_zero(rng: random.Random) -> bytes:
    raw = _sample(rng)
    _set_meta(rng, raw, 0x51, tempo(0))
    return raw.to_bytes()


def s_tempo_max(rng: random.Random) -> bytes:
    raw = _sample(rng)
    _set_meta(rng, raw, 0x51, tempo(rng.choice((0xFFFFFF, 0xFFFFFF, 1, 2))))
    return raw.to_bytes()


def s_tempo_length(rng: random.Random) -> bytes:
    raw = _sample(rng)
    _set_meta(rng, raw, 0x51, meta(0x51, rng.randbytes(rng.choice((0, 1, 2, 4, 7)))))
    return raw.to_bytes()


def s_tempo_storm(rng: random.Random) -> bytes:
    """Thousands of tempo changes (0, 1, 0xFFFFFF and random) a few ticks apart."""
    raw = _sample(rng)
    storm: list[Event] = [[0, meta(0x03, b"storm")]]
    for _ in range(rng.choice((1000, 5000, 20000))):
        storm.append([rng.choice((0, 1, 3, 40)), tempo(rng.choice((0, 1, 0xFFFFFF, rng.randrange(1 << 24))))])
    raw.tracks.append(storm)
    return raw.to_bytes(fmt=1)


def _rescale(raw: Raw, tpb: int) -> None:
    for track in raw.tracks:
        absolute = 0
        last = 0
        for e in track:
            absolute += e[0]
            new = absolute * tpb // raw.tpb
            e[0] = new - last
            last = new
    raw.tpb = tpb


def s_tpb_tiny(rng: random.Random) -> bytes:
    raw = _sample(rng)
    _rescale(raw, rng.choice((1, 2, 3)))
    return raw.to_bytes()


def s_tpb_huge(rng: random.Random) -> bytes:
    raw = _sample(rng)
    tpb = rng.choice((0x7FFF, 0x7FFF, 30000, 0x4000))
    if rng.random() < 0.5:
        _rescale(raw, tpb)  # the same music, very finely timed
        return raw.to_bytes()
    return raw.to_bytes(division=tpb)  # the same ticks: everything very short and fast


def s_tpb_zero(rng: random.Random) -> bytes:
    return _sample(rng).to_bytes(division=0)


def s_smpte(rng: random.Random) -> bytes:
    """A negative high division byte: SMPTE frames per second and ticks per frame."""
    raw = _sample(rng)
    fps = rng.choice((0xE8, 0xE7, 0xE3, 0xE2, 0x80, 0xFF, 0x80 | rng.randrange(128)))
    ticks = rng.choice((0, 1, 4, 40, 80, 100, 255, rng.randrange(256)))
    return raw.to_bytes(division=bytes([fps, ticks]))


def _huge_note_file(beats: int, tpb: int, rng: random.Random | None = None) -> bytes:
    ticks = beats * tpb
    overlong = 0 if rng is None else rng.choice((0, 0, 6))
    melody: list[Event] = [[0, meta(0x03, b"Melody")]]
    melody += notes_track(((60 + i, i * tpb, tpb) for i in range(8)))
    melody.append([0, note_on(72)])
    body = track_bytes(melody) + vlq(ticks, overlong) + note_off(72)  # the huge delta, written raw
    body += b"\x00" + END_OF_TRACK
    chords = track_bytes(notes_track(((p, 0, 8 * tpb) for p in (48, 52, 55)), 1, b"Piano")) + b"\x00" + END_OF_TRACK
    conductor = track_bytes([[0, tempo(500000)], [0, time_signature(4, 2)]]) + b"\x00" + END_OF_TRACK
    return header(1, 3, tpb) + chunk(b"MTrk", conductor) + chunk(b"MTrk", body) + chunk(b"MTrk", chords)


def s_huge_note(rng: random.Random) -> bytes:
    """A note of up to 10^6 beats (huge delta times), at small and usual resolutions."""
    return _huge_note_file(rng.choice((10 ** 4, 10 ** 5, 10 ** 6, 10 ** 6)), rng.choice((1, 2, 2, 24, 480)), rng)


def s_huge_gap(rng: random.Random) -> bytes:
    """A huge delta time before some event in the middle of a sample."""
    raw = _sample(rng)
    t = rng.randrange(len(raw.tracks))
    track = raw.tracks[t]
    i = rng.randrange(len(track))
    track[i][0] += rng.choice((10 ** 5, 10 ** 6, 10 ** 7, 0x0FFFFFFF, 10 ** 10))
    return raw.to_bytes()


def s_data_byte_high(rng: random.Random) -> bytes:
    """Channel events with data bytes above 127 (a data byte that reads as a status byte)."""
    raw = _sample(rng)
    events = _channel_events(raw)
    for t, i in rng.sample(events, min(len(events), rng.choice((1, 1, 3, 20)))):
        ev = bytearray(raw.tracks[t][i][1])
        if len(ev) > 1:
            ev[rng.randrange(1, len(ev))] = rng.randrange(128, 256)
            raw.tracks[t][i][1] = bytes(ev)
    return raw.to_bytes()


def s_key_signature(rng: random.Random) -> bytes:
    raw = _sample(rng)
    sharps = rng.choice((8, -8, 15, -15, 127, -128, rng.randrange(256)))
    if rng.random() < 0.2:
        ev = meta(0x59, rng.randbytes(rng.choice((0, 1, 3, 9))))
    else:
        ev = key_signature(sharps, rng.choice((0, 1, 2, 127, 255)))
    _set_meta(rng, raw, 0x59, ev)
    return raw.to_bytes()


def s_pitch_bend(rng: random.Random) -> bytes:
    """Pitch bends at the extremes, with data bytes above 127, and in floods."""
    raw = _sample(rng)
    for _ in range(rng.choice((1, 10, 1000))):
        lsb, msb = rng.choice(((0x7F, 0x7F), (0, 0), (0xFF, 0xFF), (0x80, 0x00),
                               (rng.randrange(256), rng.randrange(256))))
        _insert_event(rng, raw, bytes([0xE0 | rng.randrange(16), lsb, msb]), delta=rng.choice((0, 0, 1)))
    return raw.to_bytes()


def s_running_status(rng: random.Random) -> bytes:
    """Running-status errors: data bytes before any status, after a meta or sysex event (which
    cancel running status), or with the wrong number of data bytes."""
    raw = _sample(rng)
    style = rng.randrange(4)
    if style == 0:  # a track that starts with data bytes
        t = rng.randrange(len(raw.tracks))
        raw.tracks[t].insert(0, [0, bytes([rng.randrange(128), rng.randrange(128)])])
    elif style == 1:  # drop the status byte of some channel events
        events = _channel_events(raw)
        for t, i in rng.sample(events, min(len(events), rng.choice((1, 5, 50)))):
            raw.tracks[t][i][1] = raw.tracks[t][i][1][1:]
    elif style == 2:  # status-less data right after a meta event
        t = rng.randrange(len(raw.tracks))
        raw.tracks[t].insert(min(1, len(raw.tracks[t])), [0, bytes([60, 100])])
    else:  # a data byte too many or too few
        events = _channel_events(raw)
        for t, i in rng.sample(events, min(len(events), rng.choice((1, 5)))):
            ev = raw.tracks[t][i][1]
            raw.tracks[t][i][1] = ev[:-1] if rng.random() < 0.5 else ev + bytes([rng.randrange(128)])
    return raw.to_bytes()


def s_zero_length_notes(rng: random.Random) -> bytes:
    """Every (or some) note-off moved onto its note-on's tick, or stacks of note-on/off pairs on one tick."""
    if rng.random() < 0.5:
        tpb = 480
        melody: list[Event] = [[0, meta(0x03, b"Melody")]]
        for i in range(rng.choice((1, 16, 500))):
            pitch = rng.randrange(40, 90)
            order = [note_on(pitch), note_off(pitch)] if rng.random() < 0.7 else [note_off(pitch), note_on(pitch)]
            melody += [[tpb if i else 0, order[0]], [0, order[1]]]
        return simple_file(tpb, melody=melody, chords=rng.random() < 0.5)
    raw = _sample(rng)
    for track in raw.tracks:
        absolute, timed = 0, []
        open_at: dict[tuple[int, int], int] = {}
        for delta, ev in track:
            absolute += delta
            timed.append([absolute, ev])
        for e in timed:
            ev = e[1]
            if len(ev) >= 3 and ev[0] & 0xF0 == 0x90 and ev[2] > 0:
                open_at[(ev[0] & 0x0F, ev[1])] = e[0]
            elif _is_note_off(ev) and (ev[0] & 0x0F, ev[1]) in open_at and rng.random() < 0.8:
                e[0] = open_at.pop((ev[0] & 0x0F, ev[1]))
        timed.sort(key=lambda e: e[0])
        last = 0
        track[:] = []
        for tick, ev in timed:
            track.append([tick - last, ev])
            last = tick
    return raw.to_bytes()


def s_many_tracks(rng: random.Random) -> bytes:
    """Thousands of tracks (each a short line, or empty), or a header claiming them."""
    count = rng.choice((1000, 3000, 10000, 65535))
    style = rng.randrange(3)
    if style == 2:  # the header says 65535 tracks, the file has a few
        return _sample(rng).to_bytes(ntrks=count)
    tracks = []
    for t in range(count):
        if style == 0:
            tracks.append(notes_track(((48 + (t * 7) % 40, (t % 16) * 120, 120),), t % 16))
        else:
            tracks.append([])
    return smf(tracks, 1, 480)


def s_note_without_off(rng: random.Random) -> bytes:
    """Note-ons never turned off: drop every note-off of one track or of all of them."""
    raw = _sample(rng)
    tracks = raw.tracks if rng.random() < 0.5 else [rng.choice(raw.tracks)]
    for track in tracks:
        kept: list[Event] = []
        carry = 0
        for delta, ev in track:
            if _is_note_off(ev):
                carry += delta
                continue
            kept.append([delta + carry, ev])
            carry = 0
        track[:] = kept
    if rng.random() < 0.3:  # and one note that never ends in an otherwise clean file
        raw = _sample(rng)
        _insert_event(rng, raw, note_on(rng.randrange(128), 100, rng.randrange(16)), track=len(raw.tracks) - 1)
    return raw.to_bytes()


def s_note_off_without_on(rng: random.Random) -> bytes:
    raw = _sample(rng)
    for _ in range(rng.choice((1, 10, 200))):
        _insert_event(rng, raw, note_off(rng.randrange(128), rng.randrange(16)), delta=rng.choice((0, 1, 100)))
    return raw.to_bytes()


def s_end_of_track(rng: random.Random) -> bytes:
    """End of Track missing, early (events after it), or repeated."""
    raw = _sample(rng)
    style = rng.randrange(3)
    for track in raw.tracks:
        if style == 0:
            track[:] = [e for e in track if e[1] != END_OF_TRACK]
        elif style == 1 and len(track) > 2:
            track.insert(rng.randrange(len(track)), [0, END_OF_TRACK])
        else:
            track.extend([[0, END_OF_TRACK]] * rng.choice((2, 100)))
    return raw.to_bytes(end_of_track=False)


def s_header(rng: random.Random) -> bytes:
    """Lying headers: odd formats, track counts, header lengths (with extra bytes), alien chunks."""
    raw = _sample(rng)
    body = b"".join(chunk(b"MTrk", track_bytes(t)) for t in raw.tracks)
    fmt = rng.choice((0, 1, 2, 3, 255, 0xFFFF))
    ntrks = rng.choice((0, 1, len(raw.tracks) + 1, 0xFFFF, len(raw.tracks)))
    style = rng.randrange(4)
    if style == 0:
        return header(fmt, ntrks, raw.tpb) + body
    if style == 1:
        length = rng.choice((0, 2, 4, 5, 7, 100, 0xFFFFFFFF))
        return header(fmt, ntrks, raw.tpb, length=length, extra=rng.randbytes(rng.choice((0, 1, 10, 94)))) + body
    if style == 2:
        alien = chunk(rng.choice((b"XFIH", b"\x00\x00\x00\x00", b"MThd", b"RIFF")), rng.randbytes(rng.randrange(64)))
        return header(raw.fmt, len(raw.tracks), raw.tpb) + alien + body
    return header(raw.fmt, len(raw.tracks), raw.tpb) + body + b"\x00" * rng.choice((1, 7, 1000))


def s_chunk_length(rng: random.Random) -> bytes:
    """MTrk lengths that lie: longer than the data, shorter, zero, 4 GiB."""
    raw = _sample(rng)
    out = header(raw.fmt, len(raw.tracks), raw.tpb)
    for track in raw.tracks:
        body = track_bytes(track)
        length = rng.choice((None, None, 0, len(body) // 2, len(body) + 1, len(body) + 10 ** 6, 0xFFFFFFFF))
        out += chunk(b"MTrk", body, length)
    return out


def s_meta_length(rng: random.Random) -> bytes:
    """A meta or sysex event that claims to be huge (up to 256 MB), or an unterminated VLQ length."""
    raw = _sample(rng)
    style = rng.randrange(3)
    if style == 0:
        ev = bytes([0xFF, rng.choice((0x01, 0x03, 0x7F, 0x58, 0x51))]) + vlq(rng.choice((0x0FFFFFFF, 10 ** 6, 200)))
    elif style == 1:
        ev = b"\xF0" + vlq(rng.choice((0x0FFFFFFF, 10 ** 6))) + b"\x43\x10"
    else:
        ev = b"\xFF\x01" + b"\xFF" * rng.choice((4, 8, 64))  # a length that never ends
    _insert_event(rng, raw, ev)
    return raw.to_bytes()


_SEVEN_BITS = bytes(b & 0x7F for b in range(256))


def s_sysex(rng: random.Random) -> bytes:
    """Sysex without F7, F7 escapes, a 100 kB sysex, sysex floods."""
    raw = _sample(rng)
    count = rng.choice((1, 3, 300))
    for _ in range(count):
        style = rng.randrange(3 if count < 300 else 2)  # one 100 kB sysex at most
        if style == 0:
            data = rng.randbytes(rng.choice((0, 1, 10)))
            ev = b"\xF0" + vlq(len(data)) + data  # no F7
        elif style == 1:
            data = rng.randbytes(rng.choice((1, 5)))
            ev = b"\xF7" + vlq(len(data)) + data
        else:
            data = rng.randbytes(rng.choice((1000, 100000))).translate(_SEVEN_BITS)
            ev = b"\xF0" + vlq(len(data) + 1) + data + b"\xF7"
        _insert_event(rng, raw, ev)
    return raw.to_bytes()


def s_overlong_vlq(rng: random.Random) -> bytes:
    """Delta times written with 5..40 bytes (0x80 padding), or one that never terminates."""
    raw = _sample(rng)
    out = header(raw.fmt, len(raw.tracks), raw.tpb)
    for track in raw.tracks:
        body = b""
        for delta, ev in track:
            body += vlq(delta, rng.choice((1, 1, 1, 5, 40)) if rng.random() < 0.2 else 1) + ev
        if rng.random() < 0.2:
            body += b"\x81" * rng.choice((5, 100))
        out += chunk(b"MTrk", body)
    return out


def s_system_bytes(rng: random.Random) -> bytes:
    """System common and real-time status bytes (F1..FE), which do not belong in a file."""
    raw = _sample(rng)
    for _ in range(rng.choice((1, 5, 50))):
        status = rng.choice((0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE))
        _insert_event(rng, raw, bytes([status]) + rng.randbytes(rng.choice((0, 1, 2))))
    return raw.to_bytes()


def s_extreme_pitches(rng: random.Random) -> bytes:
    """Legal but extreme: every melody note at pitch 0 or 127 (or both), or pitches above 127."""
    raw = _sample(rng)
    choices = rng.choice(((0,), (127,), (0, 127), (120, 127), (128, 255)))
    for t, i in _note_ons(raw) + [(t, i) for t, tr in enumerate(raw.tracks) for i, (_, ev) in enumerate(tr)
                                  if _is_note_off(ev)]:
        if rng.random() < 0.9:
            ev = bytearray(raw.tracks[t][i][1])
            ev[1] = rng.choice(choices) if ev[0] & 0xF0 == 0x90 and ev[2] else ev[1]
            raw.tracks[t][i][1] = bytes(ev)
    if rng.random() < 0.5:  # a plain file with the melody at the very top
        return simple_file(480, melody=notes_track(((rng.choice(choices), i * 480, 480) for i in range(16)),
                                                   0, b"Melody"))
    return raw.to_bytes()


def s_dense(rng: random.Random) -> bytes:
    """Many notes: all 128 pitches at once, tens of thousands of short notes, a huge polyphony."""
    tpb = 480
    style = rng.randrange(3)
    if style == 0:
        chords = [(p, bar * 4 * tpb, 4 * tpb) for bar in range(rng.choice((1, 8, 64))) for p in range(128)]
        return simple_file(tpb, melody=notes_track(chords, 0, b"Melody"))
    if style == 1:
        n = rng.choice((10000, 30000))
        return simple_file(tpb, melody=notes_track(((rng.randrange(40, 90), i * 10, 10) for i in range(n)), 0,
                                                   b"Melody"))
    n = rng.choice((5000, 20000))
    return simple_file(tpb, melody=notes_track(((rng.randrange(128), rng.randrange(50 * tpb), rng.randrange(1, 8 * tpb))
                                                for _ in range(n)), rng.randrange(16), b"Melody"))


def s_channels(rng: random.Random) -> bytes:
    """Every event on one channel (drums on 10), velocity 0 everywhere, or programs out of range."""
    raw = _sample(rng)
    style = rng.randrange(3)
    channel = rng.choice((9, 0, 15))
    for t, track in enumerate(raw.tracks):
        for e in track:
            ev = e[1]
            if ev and 0x80 <= ev[0] < 0xF0:
                ev = bytearray(ev)
                if style == 0:
                    ev[0] = (ev[0] & 0xF0) | channel
                elif style == 1 and ev[0] & 0xF0 == 0x90 and len(ev) > 2:
                    ev[2] = 0
                elif style == 2 and ev[0] & 0xF0 == 0xC0 and len(ev) > 1:
                    ev[1] = rng.randrange(128, 256)
                e[1] = bytes(ev)
    return raw.to_bytes()


def s_shuffle(rng: random.Random) -> bytes:
    """The events of a track shuffled (note-offs before note-ons), meta events in every track."""
    raw = _sample(rng)
    t = rng.randrange(len(raw.tracks))
    deltas = [e[0] for e in raw.tracks[t]]
    events = [e[1] for e in raw.tracks[t]]
    rng.shuffle(events)
    raw.tracks[t] = [[d, ev] for d, ev in zip(deltas, events)]
    if rng.random() < 0.5:
        for track in raw.tracks:
            track.insert(0, [0, time_signature(rng.randrange(1, 13), rng.randrange(0, 5))])
            track.insert(0, [rng.randrange(10000), tempo(rng.randrange(1, 1 << 24))])
    return raw.to_bytes()


def s_rmid(rng: random.Random) -> bytes:
    """A RIFF (RMID) wrapper with odd sizes and MThd at various offsets."""
    _, data = rng.choice(sample_bytes())
    pad = rng.randbytes(rng.choice((0, 4, 40)))
    size = rng.choice((len(data) + 12, 0, 0xFFFFFFFF))
    wrapped = b"RIFF" + struct.pack("<I", size) + b"RMIDdata" + struct.pack("<I", len(data)) + pad + data
    return wrapped[:rng.choice((len(wrapped), 64, 30))]


def s_mixed(rng: random.Random) -> bytes:
    """A structure mutation, then a byte mutation on top."""
    first = rng.choice([k for k in STRUCT_KINDS if k not in HEAVY_KINDS])
    data = STRUCT_KINDS[first](rng)
    return byte_mutation(rng, data, [rng.choice(list(BYTE_MUTATORS))]) or data


STRUCT_KINDS: dict[str, Callable[[random.Random], bytes]] = {
    "time_signature": s_time_signature, "time_signature_length": s_time_signature_length,
    "tempo_zero": s_tempo_zero, "tempo_max": s_tempo_max, "tempo_length": s_tempo_length,
    "tempo_storm": s_tempo_storm, "tpb_tiny": s_tpb_tiny, "tpb_huge": s_tpb_huge, "tpb_zero": s_tpb_zero,
    "smpte": s_smpte, "huge_note": s_huge_note, "huge_gap": s_huge_gap, "data_byte_high": s_data_byte_high,
    "key_signature": s_key_signature, "pitch_bend": s_pitch_bend, "running_status": s_running_status,
    "zero_length_notes": s_zero_length_notes, "many_tracks": s_many_tracks,
    "note_without_off": s_note_without_off, "note_off_without_on": s_note_off_without_on,
    "end_of_track": s_end_of_track, "header": s_header, "chunk_length": s_chunk_length,
    "meta_length": s_meta_length, "sysex": s_sysex, "overlong_vlq": s_overlong_vlq,
    "system_bytes": s_system_bytes, "extreme_pitches": s_extreme_pitches, "dense": s_dense,
    "channels": s_channels, "shuffle": s_shuffle, "rmid": s_rmid,
}
HEAVY_KINDS = frozenset({"tempo_storm", "huge_note", "huge_gap", "many_tracks", "dense", "tpb_huge"})
"""Kinds whose files may take a well-behaved reader a lot of time or memory: fine in a bounded
child, kept out of the in-process Hypothesis test."""


# --- (c) synthetic files -------------------------------------------------------------------------

def _random_event(rng: random.Random) -> bytes:
    r = rng.random()

    def data(n: int) -> bytes:
        return bytes(rng.randrange(128) if rng.random() < 0.95 else rng.randrange(256) for _ in range(n))

    if r < 0.55:
        status = rng.choice((0x80, 0x90, 0x90, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0)) | rng.randrange(16)
        return bytes([status]) + data(1 if status & 0xF0 in (0xC0, 0xD0) else 2)
    if r < 0.85:
        kind = rng.choice((0x00, 0x01, 0x03, 0x20, 0x21, 0x2F, 0x51, 0x54, 0x58, 0x59, 0x7F, rng.randrange(256)))
        size = {0x51: 3, 0x58: 4, 0x59: 2, 0x54: 5, 0x2F: 0, 0x20: 1, 0x21: 1, 0x00: 2}.get(kind, rng.randrange(20))
        if rng.random() < 0.1:
            size = rng.randrange(10)
        return meta(kind, rng.randbytes(size))
    if r < 0.93:
        payload = data(rng.randrange(10))
        return b"\xF0" + vlq(len(payload) + 1) + payload + b"\xF7"
    return bytes([rng.randrange(256)]) + data(rng.randrange(4))


def _random_delta(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.5:
        return 0
    if r < 0.9:
        return rng.randrange(1, 960)
    if r < 0.99:
        return rng.randrange(960, 100000)
    return rng.randrange(1 << 28)


def y_random_events(rng: random.Random) -> bytes:
    tracks = [[[_random_delta(rng), _random_event(rng)] for _ in range(rng.choice((0, 1, 10, 100, 1000)))]
              for _ in range(rng.choice((1, 2, 3, 8)))]
    division = rng.choice((1, 2, 96, 480, 0x7FFF, 0, bytes([0xE7, 40]), rng.randbytes(2)))
    return smf(tracks, rng.choice((0, 1, 2, None)), division, end_of_track=rng.random() < 0.8)


def y_minimal(rng: random.Random) -> bytes:
    """Headers only, empty tracks, chunks cut at every place."""
    options = [
        b"MThd",
        header(0, 0, 480),
        header(1, 1, 480),
        header(1, 1, 480) + chunk(b"MTrk", b""),
        header(1, 1, 480) + chunk(b"MTrk", b"\x00" + END_OF_TRACK),
        header(1, 1, 480) + b"MTrk",
        header(0, 1, 480) + chunk(b"MTrk", b"\x00\x90\x3C\x40"),
        header(0, 1, 480) + chunk(b"MTrk", b"\x00\x90\x3C\x40\x83\x60\x80\x3C\x40"),
        b"MThd" + b"\x00" * rng.randrange(20),
        b"MThd" + rng.randbytes(rng.randrange(100)),
        b"RIFF" + rng.randbytes(rng.randrange(80)) + b"MThd",
    ]
    data = rng.choice(options)
    return data[:rng.randrange(len(data) + 1)] if rng.random() < 0.2 else data


def y_random_notes(rng: random.Random) -> bytes:
    """Valid files with random notes: random pitches, lengths, overlaps, tracks and channels."""
    tpb = rng.choice((1, 2, 24, 96, 480, 960))
    tracks: list[list[Event]] = [[[0, tempo(rng.choice((250000, 500000, 1000000, rng.randrange(1, 1 << 24))))],
                                  [0, time_signature(rng.randrange(1, 16), rng.randrange(0, 6))]]]
    for t in range(rng.randrange(1, 6)):
        notes = [(rng.randrange(128), rng.randrange(64 * tpb), rng.choice((0, 1, tpb, rng.randrange(1, 8 * tpb))))
                 for _ in range(rng.choice((1, 5, 50, 500)))]
        tracks.append(notes_track(notes, rng.randrange(16), b"T%d" % t))
    return smf(tracks, 1, tpb)


SYNTH_KINDS: dict[str, Callable[[random.Random], bytes]] = {
    "random_events": y_random_events, "minimal": y_minimal, "random_notes": y_random_notes,
}

KINDS: dict[str, Callable[[random.Random], bytes]] = {
    **{f"byte:{op}": _byte_kind(op) for op in BYTE_MUTATORS}, "byte:multi": _byte_kind(None),
    **{f"struct:{name}": make for name, make in STRUCT_KINDS.items()}, "struct:mixed": s_mixed,
    **{f"synth:{name}": make for name, make in SYNTH_KINDS.items()},
}
"""Every mutation kind by label."""

_WEIGHTS = {"byte:": 4, "struct:": 2, "synth:": 4}
_WEIGHT = {k: next(w for p, w in _WEIGHTS.items() if k.startswith(p)) for k in KINDS}
SCHEDULE: tuple[str, ...] = tuple(k for turn in range(max(_WEIGHT.values())) for k in KINDS if _WEIGHT[k] > turn)
"""Kinds in the order :func:`mutant` cycles through them: every kind once (the first ``len(KINDS)``
indices), then again, each byte and synthetic kind 4 times a cycle and each structure kind twice:
about 24% byte-level, 65% structure-aware, 12% synthetic."""

LIGHT_KINDS = tuple(k for k in KINDS if k.split(":", 1)[1] not in HEAVY_KINDS)


def make(kind: str, seed: int) -> bytes:
    """The file of ``kind`` for ``seed`` (the same bytes every time)."""
    return KINDS[kind](random.Random(f"{kind}/{seed}"))


def mutant(seed: int, index: int) -> Mutant:
    """File number ``index`` of the run seeded ``seed``: kinds in turn, each seeded apart."""
    kind = SCHEDULE[index % len(SCHEDULE)]
    return Mutant(make(kind, seed * 1_000_003 + index), kind)


def mutants(seed: int, count: int, start: int = 0) -> Iterator[Mutant]:
    for index in range(start, start + count):
        yield mutant(seed, index)


# --- named hostile cases ---------------------------------------------------------------------------

def _sample_named(name: str) -> Raw:
    return next(r for r in sample_raws() if r.name == name).copy()


def _with_meta(kind: int, ev: bytes) -> bytes:
    raw = _sample_named("blues_in_f.mid")
    _set_meta(random.Random(0), raw, kind, ev)
    return raw.to_bytes()


def _data_byte_high() -> bytes:
    raw = _sample_named("blues_in_f.mid")
    t, i = _note_ons(raw)[3]
    raw.tracks[t][i][1] = raw.tracks[t][i][1][:1] + b"\xC8" + raw.tracks[t][i][1][2:]  # pitch 200
    return raw.to_bytes()


def _running_status_after_meta() -> bytes:
    melody = [[0, meta(0x03, b"Melody")], [0, note_on(60)], [0, meta(0x01, b"text")], [0, bytes([62, 90])],
              [480, note_off(60)], [0, note_off(62)]]
    return simple_file(480, melody=melody)


def _note_without_off() -> bytes:
    melody = notes_track(((60 + i, i * 480, 480) for i in range(8)), 0, b"Melody") + [[0, note_on(72)]]
    return simple_file(480, melody=melody)


def _zero_length_notes() -> bytes:
    melody: list[Event] = [[0, meta(0x03, b"Melody")]]
    for i in range(16):
        melody += [[480 if i else 0, note_on(60 + i % 12)], [0, note_off(60 + i % 12)]]
    return simple_file(480, melody=melody)


def _many_tracks() -> bytes:
    return smf([notes_track(((48 + (t * 7) % 40, (t % 16) * 120, 120),), t % 16) for t in range(5000)], 1, 480)


HOSTILE_CASES: dict[str, Callable[[], bytes]] = {
    "tempo 0": lambda: _with_meta(0x51, tempo(0)),
    "tempo 0xFFFFFF": lambda: _with_meta(0x51, tempo(0xFFFFFF)),
    "meter 4/2^64": lambda: _with_meta(0x58, time_signature(4, 64)),
    "meter 4/2^255": lambda: _with_meta(0x58, time_signature(4, 255)),
    "meter 0/4": lambda: _with_meta(0x58, time_signature(0, 2)),
    "meter 255/2^0": lambda: _with_meta(0x58, time_signature(255, 0)),
    "10^6-beat note at 2 ticks per beat": lambda: _huge_note_file(10 ** 6, 2),
    "10^6-beat note at 480 ticks per beat": lambda: _huge_note_file(10 ** 6, 480),
    "data byte > 127": _data_byte_high,
    "SMPTE division (-25 fps, 40 ticks)": lambda: _sample_named("blues_in_f.mid").to_bytes(division=b"\xE7\x28"),
    "SMPTE division (-128 fps, 0 ticks)": lambda: _sample_named("blues_in_f.mid").to_bytes(division=b"\x80\x00"),
    "1 tick per beat": lambda: (lambda r: (_rescale(r, 1), r.to_bytes())[1])(_sample_named("blues_in_f.mid")),
    "32767 ticks per beat": lambda: (lambda r: (_rescale(r, 0x7FFF), r.to_bytes())[1])(
        _sample_named("blues_in_f.mid")),
    "0 ticks per beat": lambda: _sample_named("blues_in_f.mid").to_bytes(division=0),
    "key signature with 100 sharps": lambda: _with_meta(0x59, key_signature(100, 0)),
    "key signature, mode 7": lambda: _with_meta(0x59, key_signature(2, 7)),
    "pitch bend 0xFF 0xFF": lambda: simple_file(480, melody=[[0, b"\xE0\xFF\xFF"]] + simple_melody(480)),
    "running status after a meta event": _running_status_after_meta,
    "note-on without note-off": _note_without_off,
    "zero-length notes": _zero_length_notes,
    "5000 tracks": _many_tracks,
    "header claims 65535 tracks": lambda: _sample_named("blues_in_f.mid").to_bytes(ntrks=0xFFFF),
    "melody at pitch 127": lambda: simple_file(480, melody=notes_track(((127, i * 480, 480) for i in range(16)),
                                                                        0, b"Melody")),
    "melody at pitch 0": lambda: simple_file(480, melody=notes_track(((0, i * 480, 480) for i in range(16)),
                                                                      0, b"Melody")),
    "meta event claiming 256 MB": lambda: simple_file(480, conductor=[b"\xFF\x01" + vlq(0x0FFFFFFF)]),
}
"""Named, fixed hostile files: each must be read or refused cleanly, within 5 s and 1 GiB."""


# --- the thing under test ------------------------------------------------------------------------

@lru_cache(maxsize=None)
def tokenizers() -> tuple[tuple[str, object], ...]:
    """(label, tokenizer): every music tokenizer with its defaults, and notes transposed by key."""
    from jazzlstm.tokens.registry import make_tokenizer, music_tokenizer_names

    found = [(name, make_tokenizer(name)) for name in music_tokenizer_names()]
    return tuple(found + [("notes(transpose=key)", make_tokenizer("notes", transpose="key"))])


@lru_cache(maxsize=None)
def prepare() -> None:
    """Before forking: parse the samples, build the tokenizers and read one sample through the
    whole check, so that every module the reader imports lazily (symusic, mido...) is loaded once
    here instead of in every child."""
    load_samples()
    tokenizers()
    check_bytes(dict(sample_bytes())["blues_in_f.mid"])


def _where(exc: BaseException) -> str:
    """The innermost frame of the traceback, and the innermost jazzlstm frame when that differs."""
    frames = traceback.extract_tb(exc.__traceback__)
    while len(frames) > 1 and frames[-1].filename == __file__:  # the SIGALRM handler
        frames.pop()
    if not frames:
        return ""
    inner = frames[-1]
    text = f"{Path(inner.filename).name}:{inner.lineno} {inner.name}"
    own = [f for f in frames if f"{os.sep}jazzlstm{os.sep}" in f.filename]
    if own and own[-1] is not inner:
        text = f"{text} (from {Path(own[-1].filename).name}:{own[-1].lineno} {own[-1].name})"
    return text


def _chain(exc: BaseException) -> str:
    """The jazzlstm functions on the traceback, innermost first (``score.py:bar_starts <
    analysis.py:score_from_tracks < ...``): what groups one bug's reports whatever line it was on."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f"{os.sep}jazzlstm{os.sep}" in f.filename]
    return " < ".join(f"{Path(f.filename).name}:{f.name}" for f in reversed(frames))


def _failure(outcome: str, stage: str, exc: BaseException, error: str | None = None) -> dict:
    return {"outcome": outcome, "stage": stage, "error": error or _describe(exc), "where": _where(exc),
            "chain": _chain(exc)}


def _describe(exc: BaseException) -> str:
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message[:300]}"


def check_bytes(data: bytes, name: str = "fuzz.mid") -> dict:
    """Read ``data`` with ``read_score`` and encode the Score with every music tokenizer.

    Returns ``{"outcome": ..., "stage": "read" or the tokenizer, "error": "Type: message",
    "where": "file:line function"}`` (error and where only for an exception)."""
    from jazzlstm.errors import JazzLSTMError
    from jazzlstm.music.reading import read_score

    stage = "read"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = read_score(name, data=data)
            for stage, tokenizer in tokenizers():
                tokenizer.encode(score)
    except JazzLSTMError as exc:
        return {"outcome": "clean error", "stage": stage, "error": _describe(exc)}
    except MemoryError as exc:
        return _failure("memory", stage, exc)
    except (KeyboardInterrupt, Timeout) as exc:
        exc.stage = stage
        raise
    except BaseException as exc:  # noqa: BLE001 - any other exception is the bug we look for
        return _failure("traceback", stage, exc)
    return {"outcome": "read", "stage": "done", "notes": len(score.melody), "chords": len(score.chords)}


# --- bounded in-process runs (for Hypothesis) ------------------------------------------------------

class Timeout(BaseException):
    """Raised by :func:`bounded` when its time is up (a BaseException: no ``except Exception`` eats it)."""


@contextmanager
def bounded(seconds: float = TIME_LIMIT, memory: int = MEMORY_LIMIT):
    """Limit the block, in this process, to ``seconds`` (SIGALRM raises :class:`Timeout`; it cannot
    interrupt a long C call) and to ``memory`` bytes of address space more than the process uses now
    (the soft RLIMIT_AS, restored afterwards). Main thread only."""
    previous_handler = signal.signal(signal.SIGALRM, _raise_timeout)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_size() + memory
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _raise_timeout(signum, frame):
    raise Timeout("over the time limit")


def _vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def check_bytes_bounded(data: bytes, seconds: float = TIME_LIMIT, memory: int = MEMORY_LIMIT) -> dict:
    """:func:`check_bytes` in this process under :func:`bounded`; a timeout is a ``hang``."""
    start = time.perf_counter()
    try:
        with bounded(seconds, memory):
            result = check_bytes(data)
    except Timeout as exc:
        result = _failure("hang", getattr(exc, "stage", "?"), exc, f"over the time limit of {seconds:g} s")
    result["seconds"] = round(time.perf_counter() - start, 4)
    return result


# --- isolated runs: one forked child per file -------------------------------------------------------

@dataclass
class _Child:
    key: object
    pid: int
    fd: int
    started: float
    deadline: float
    generated_at: float | None = None
    buffer: bytes = b""
    made: dict = field(default_factory=dict)


def _child_main(job: Callable[[], Mutant | bytes], fd: int, memory: int, time_limit: float) -> None:
    """In the forked child: limit memory, make the file, signal 'go', check it, report, exit.

    Shortly before the time limit, SIGALRM raises :class:`Timeout` in the check, so that a hang
    reports where it was (a child stuck in one long C call cannot: the parent kills it)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        item = job()
        data, kind = (item.data, item.kind) if isinstance(item, Mutant) else (item, "")
        # The file is made: the clock starts now (making it is not the reader's time).
        os.write(fd, b"G" + json.dumps({"kind": kind, "size": len(data)}).encode() + b"\n")
        start = time.perf_counter()
        signal.signal(signal.SIGALRM, _raise_timeout)
        signal.setitimer(signal.ITIMER_REAL, max(0.05, time_limit - 0.3))
        try:
            result = check_bytes(data)
        except Timeout as exc:
            result = _failure("hang", getattr(exc, "stage", "?"), exc, f"over the time limit of {time_limit:g} s")
        signal.setitimer(signal.ITIMER_REAL, 0)
        result["seconds"] = round(time.perf_counter() - start, 4)
        os.write(fd, json.dumps(result).encode())
    except BaseException as exc:  # noqa: BLE001 - the harness itself failed: say so
        try:
            outcome = "memory" if isinstance(exc, MemoryError) else "crash"
            os.write(fd, json.dumps(_failure(outcome, "harness", exc)).encode())
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(0)


def run_isolated(jobs: Iterable[tuple[object, Callable[[], Mutant | bytes]]], workers: int = 2,
                 time_limit: float = TIME_LIMIT, memory_limit: int = MEMORY_LIMIT,
                 make_limit: float = 60.0) -> Iterator[dict]:
    """Check each job's file in its own forked child, ``workers`` children at a time.

    A job is ``(key, make)``: ``make()`` runs in the child and returns the bytes (or a
    :class:`Mutant`). Yields one result per job, in completion order: :func:`check_bytes`'s dict
    plus ``key``, ``kind``, ``size``, ``seconds`` and ``peak_rss_mb`` (the child's peak resident
    set, from ``wait4``). A child still running ``time_limit`` s after its file was made is killed
    (``hang``); one over ``memory_limit`` of address space fails its allocations (``memory``); one
    that dies without a report is a ``crash`` (its signal or exit status named).

    Forking costs about 5 ms per file here, far less than a read, so every file gets a fresh child:
    no state leaks from one file to the next, and a killed child loses nothing else.
    """
    prepare()
    gc.collect()
    gc.freeze()  # the parent's objects stay out of the children's collections: fewer copied pages
    pending = iter(jobs)
    running: dict[int, _Child] = {}
    exhausted = False
    try:
        while running or not exhausted:
            while not exhausted and len(running) < workers:
                try:
                    key, job = next(pending)
                except StopIteration:
                    exhausted = True
                    break
                r, w = os.pipe()
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child
                    os.close(r)
                    _child_main(job, w, memory_limit, time_limit)
                os.close(w)
                now = time.monotonic()
                running[r] = _Child(key, pid, r, now, now + make_limit)
            if not running:
                break
            timeout = max(0.0, min(c.deadline for c in running.values()) - time.monotonic())
            readable, _, _ = select.select(list(running), [], [], timeout)
            now = time.monotonic()
            for fd in readable:
                child = running[fd]
                chunk_ = os.read(fd, 65536)
                if chunk_:
                    child.buffer += chunk_
                    if child.generated_at is None and child.buffer.startswith(b"G") and b"\n" in child.buffer:
                        line, child.buffer = child.buffer[1:].split(b"\n", 1)
                        child.made = json.loads(line)
                        child.generated_at = now
                        child.deadline = now + time_limit
                    continue
                del running[fd]
                yield _finish(child, False, memory_limit)
            for fd, child in list(running.items()):
                if now >= child.deadline:
                    os.kill(child.pid, signal.SIGKILL)
                    del running[fd]
                    yield _finish(child, True, memory_limit)
    finally:
        gc.unfreeze()
        for child in running.values():
            try:
                os.kill(child.pid, signal.SIGKILL)
                os.waitpid(child.pid, 0)
            except OSError:
                pass
            os.close(child.fd)


def _finish(child: _Child, killed: bool, memory_limit: int) -> dict:
    _, status, usage = os.wait4(child.pid, 0)
    os.close(child.fd)
    end = time.monotonic()
    result: dict
    try:
        result = json.loads(child.buffer.decode()) if child.buffer else {}
    except ValueError:
        result = {}
    if killed:
        making = child.generated_at is None
        result = {"outcome": "crash" if making else "hang", "stage": "harness" if making else "?",
                  "error": "making the file took too long" if making else "killed: over the time limit",
                  "where": "" if making else "(killed in C code)",
                  "seconds": round(end - (child.generated_at or child.started), 3)}
    elif not result:
        if os.WIFSIGNALED(status):
            why = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
        else:
            why = f"exit status {os.WEXITSTATUS(status)} without a report"
        result = {"outcome": "crash", "stage": "?", "error": why,
                  "seconds": round(end - (child.generated_at or child.started), 3)}
    result["key"] = child.key
    for name, value in child.made.items():
        result.setdefault(name, value)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # ru_maxrss is in KiB on Linux
    if result["outcome"] in GOOD_OUTCOMES and memory_limit and usage.ru_maxrss * 1024 > memory_limit:
        result["outcome"] = "memory"
        result["error"] = f"peak RSS {result['peak_rss_mb']} MB"
    return result


def check_isolated(data: bytes, time_limit: float = TIME_LIMIT, memory_limit: int = MEMORY_LIMIT) -> dict:
    """One file in a forked child under the limits (see :func:`run_isolated`)."""
    return next(run_isolated([(0, lambda: data)], 1, time_limit, memory_limit))
