"""symusic's tracks are made arrays in one call per file (issue 14): their notes are joined in
symusic first. Each instrument must keep exactly the notes that reading its track alone gives,
in the same order, with its name, program and drum flag."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jazzlstm.music import midi

SAMPLES = sorted((Path(__file__).resolve().parents[1] / "midi_samples").glob("*.mid"))


@pytest.mark.parametrize("path", SAMPLES[:12], ids=lambda p: p.name)
def test_joined_notes_are_each_tracks_own(path):
    data = path.read_bytes()
    tpq, chunks = midi.split_chunks(data)
    header = b"MThd\x00\x00\x00\x06\x00\x01" + len(chunks).to_bytes(2, "big") + data[12:14]
    content = midi._symusic_chunk(header, b"".join(chunks))
    assert content is not None
    score = midi._symusic_reader()(header + b"".join(chunks))
    assert len(content.raw) == len(score.tracks)
    for part, track in zip(content.raw, score.tracks):
        alone = track.notes.numpy()
        assert (part.name, part.program, part.is_drum) == (track.name, int(track.program), bool(track.is_drum))
        for column, key in zip((part.start, part.duration, part.pitch, part.velocity),
                               ("time", "duration", "pitch", "velocity")):
            assert column.dtype == np.int64
            assert column.tolist() == alone[key].tolist()
    assert [c.tolist() for c in content.columns] == \
           [np.concatenate([getattr(p, f) for p in content.raw]).tolist() for f in ("start", "duration", "pitch", "velocity")]
