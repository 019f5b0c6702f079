"""Read one music file into a :class:`~jazzlstm.music.score.Score`, whatever its format."""
from __future__ import annotations

from pathlib import Path

from jazzlstm.music.midi import MIDI_SUFFIXES, read_midi
from jazzlstm.music.musicxml import MUSICXML_SUFFIXES, read_musicxml
from jazzlstm.music.score import Score

SUPPORTED_SUFFIXES = MIDI_SUFFIXES + MUSICXML_SUFFIXES


def read_score(path: str | Path, melody_track: int | str | None = None, data: bytes | None = None) -> Score:
    """Read one MIDI or MusicXML file by its suffix (MIDI also when the suffix is unknown)."""
    if Path(path).suffix.lower() in MUSICXML_SUFFIXES:
        return read_musicxml(path, melody_track)
    return read_midi(path, melody_track, data)
