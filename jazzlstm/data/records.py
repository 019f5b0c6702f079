"""The prepared-corpus record format: one piece per ``tf.train.Example`` in TFRecord shards.

A prepared data folder (written by :mod:`jazzlstm.data.prepare`, read by
:mod:`jazzlstm.training.stream`)::

    DATA_DIR/
      records/part-00000-of-00004.tfrecord   one record per usable piece, in file order
      vocab.json                             the vocabulary (sorted; jazzlstm-vocabulary/1)
      encoding.json                          the reading settings and the tokenizer's config
      manifest.json                          files, content hashes, counts, every piece's shard
      skipped.json                           every file that was not used, with its reason
      chords.json                            the pieces' chord progressions, as run folders hold them

Each record holds a piece's token ids (its sequences one after another: ``ids`` and
``lengths``), its ``rank`` (its position among the files found, sorted as
:func:`jazzlstm.data.corpus.discover` sorts them), its source ``path``, its melody ``notes``
and its chord progression (``chords``: JSON ``[[start, duration, root, quality], ...]``).

Pieces go to shards by rank (shard k holds a contiguous run of ranks, in rank order), so that
reading the shards in order gives the pieces in the order ``load_corpus`` gives them.

This module writes the protobuf and TFRecord framing itself (a few lines of the wire format),
so preparing a corpus never imports TensorFlow; :func:`parse_example` reads it back in Python
and the tests check both against TensorFlow's own parser.
"""
from __future__ import annotations

import json
import struct
from typing import Iterator, Sequence

FORMAT = "jazzlstm-data/1"
RECORDS_DIR = "records"
VOCAB_FILE, ENCODING_FILE, MANIFEST_FILE, SKIPPED_FILE, CHORDS_FILE = (
    "vocab.json", "encoding.json", "manifest.json", "skipped.json", "chords.json")
FEATURES = ("ids", "lengths", "rank", "notes", "path", "chords")


def shard_name(index: int, count: int) -> str:
    return f"part-{index:05d}-of-{count:05d}.tfrecord"


def shard_of(rank: int, n_files: int, n_shards: int) -> int:
    """The shard a file of this rank goes to: contiguous runs of ranks, shard 0 first."""
    return min(n_shards - 1, rank * n_shards // max(1, n_files))


# --- protobuf wire format (tf.train.Example) -----------------------------------------------------

def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 two's complement, as protobuf does
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int64_feature(values: Sequence[int]) -> bytes:
    packed = b"".join(_varint(int(v)) for v in values)
    return _field(3, _field(1, packed) if values else b"")  # Feature.int64_list(Int64List.value packed)


def _bytes_feature(values: Sequence[bytes]) -> bytes:
    return _field(1, b"".join(_field(1, v) for v in values))  # Feature.bytes_list(BytesList.value)


def encode_example(ids: Sequence[int], lengths: Sequence[int], rank: int, notes: int, path: str,
                   chords: Sequence[Sequence]) -> bytes:
    """A serialized ``tf.train.Example`` for one piece."""
    features = {
        "ids": _int64_feature(ids),
        "lengths": _int64_feature(lengths),
        "rank": _int64_feature([rank]),
        "notes": _int64_feature([notes]),
        "path": _bytes_feature([path.encode("utf-8", "surrogateescape")]),
        "chords": _bytes_feature([json.dumps([list(c) for c in chords], separators=(",", ":")).encode()]),
    }
    entries = b"".join(_field(1, _field(1, key.encode()) + _field(2, value)) for key, value in features.items())
    return _field(1, entries)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(field number, payload) of the length-delimited fields of a message."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        if key & 7 != 2:
            raise ValueError(f"unexpected wire type {key & 7}")
        size, pos = _read_varint(data, pos)
        yield key >> 3, data[pos:pos + size]
        pos += size


def parse_example(data: bytes) -> dict:
    """A record as a dict (``ids``, ``lengths`` lists; ``rank``, ``notes`` ints; ``path``;
    ``chords`` as lists), read without TensorFlow."""
    raw: dict[str, tuple[int, bytes]] = {}
    for _, features in _fields(data):
        for _, entry in _fields(features):
            parts = dict(_fields(entry))
            key, feature = parts[1].decode(), parts.get(2, b"")
            for kind, payload in _fields(feature):
                raw[key] = (kind, payload)
    out: dict = {}
    for key, (kind, payload) in raw.items():
        if kind == 3:
            values, inner = [], dict(_fields(payload)).get(1, b"")
            pos = 0
            while pos < len(inner):
                value, pos = _read_varint(inner, pos)
                values.append(value - (1 << 64) if value >= 1 << 63 else value)
            out[key] = values
        else:
            out[key] = [v for _, v in _fields(payload)]
    return {"ids": out.get("ids", []), "lengths": out.get("lengths", []), "rank": out["rank"][0],
            "notes": out["notes"][0], "path": out["path"][0].decode("utf-8", "surrogateescape"),
            "chords": json.loads(out["chords"][0])}


def split_ids(record: dict) -> list[list[int]]:
    """A parsed record's sequences of ids."""
    sequences, start = [], 0
    for length in record["lengths"]:
        sequences.append(record["ids"][start:start + length])
        start += length
    return sequences


# --- TFRecord framing ----------------------------------------------------------------------------

def _masked_crc(data: bytes) -> int:
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(record: bytes) -> bytes:
    """One TFRecord: length, its masked CRC-32C, the data, its masked CRC-32C."""
    length = struct.pack("<Q", len(record))
    return length + struct.pack("<I", _masked_crc(length)) + record + struct.pack("<I", _masked_crc(record))


def read_frames(handle) -> Iterator[bytes]:
    """The records of a TFRecord file opened for binary reading (checksums checked)."""
    while True:
        header = handle.read(12)
        if not header:
            return
        if len(header) < 12:
            raise ValueError("truncated TFRecord header")
        (length,), (crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
        if crc != _masked_crc(header[:8]):
            raise ValueError("corrupt TFRecord length")
        data = handle.read(length)
        (data_crc,) = struct.unpack("<I", handle.read(4))
        if len(data) < length or data_crc != _masked_crc(data):
            raise ValueError("corrupt TFRecord data")
        yield data
