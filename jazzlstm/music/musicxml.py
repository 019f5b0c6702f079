"""MusicXML lead sheets (melody + chord symbols), and any score music21 parses, to a Score.

Lead sheets are where real chord symbols live. The melody is the first part with notes (or
the ``melody_track`` override, by part index or name); chords come from its ChordSymbol
objects. A MusicXML file without chord symbols falls back to the same analysis as MIDI
(chords from the other parts, or inferred from the melody).
"""
from __future__ import annotations

from pathlib import Path

from jazzlstm.music.analysis import Track, score_from_tracks
from jazzlstm.errors import InputFileError
from jazzlstm.music.harmony import quality_for_root
from jazzlstm.music.score import Chord, Note, Score, TimeSignature, quantize

MUSICXML_SUFFIXES = (".mxl", ".musicxml", ".xml")


def read_musicxml(path: str | Path, melody_track: int | str | None = None) -> Score:
    """Read a MusicXML file into a Score. Raises InputFileError with the reason."""
    from music21 import converter  # heavy import: only when needed

    path = str(path)
    if Path(path).stat().st_size == 0:
        raise InputFileError(path, "empty file (0 bytes)")
    try:
        parsed = converter.parse(path, format="musicxml")
    except Exception as exc:  # music21 raises many types for broken XML
        detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputFileError(path, f"not a readable MusicXML file ({detail[:200]})") from None
    return score_from_music21(parsed, path, melody_track, "musicxml")


def score_from_music21(parsed, path: str, melody_track: int | str | None = None, source_format: str = "music21") -> Score:
    """A parsed music21 score (MusicXML, ABC...) -> Score: melody, chord symbols, meter, tempo."""
    from music21 import harmony, meter, tempo

    parts = list(getattr(parsed, "parts", [])) or [parsed]
    tracks: list[Track] = []
    symbols: list[tuple[float, int, str]] = []
    for index, part in enumerate(parts):
        flat = part.stripTies().flatten()
        notes = []
        part_symbols: list[tuple[float, int, str]] = []
        for element in flat.notes:
            if isinstance(element, harmony.ChordSymbol):
                root = element.root()
                if root is not None and element.pitches:
                    pcs = [p.pitchClass for p in element.pitches]
                    part_symbols.append((quantize(float(element.offset)), root.pitchClass,
                                         quality_for_root(root.pitchClass, pcs)))
                continue
            length = quantize(float(element.quarterLength))
            if length <= 0:
                continue  # grace notes take no time
            start = quantize(float(element.offset))
            for p in element.pitches:
                notes.append(Note(start, length, int(p.midi), int(element.volume.velocity or 90)))
        if part_symbols and not symbols:
            symbols = part_symbols  # the first part that carries chord symbols supplies them
        name = (part.partName or part.id or f"Part {index}") if hasattr(part, "partName") else f"Part {index}"
        tracks.append(Track(index, str(name), 0, False, tuple(sorted(notes))))
    flat_score = parsed.flatten()
    sigs = tuple(TimeSignature(quantize(float(ts.offset)), int(ts.numerator), int(ts.denominator))
                 for ts in flat_score.getElementsByClass(meter.TimeSignature)) or (TimeSignature(0.0),)
    marks = list(flat_score.getElementsByClass(tempo.MetronomeMark))
    bpm = float(marks[0].getQuarterBPM() or 120.0) if marks else 120.0
    score = score_from_tracks(tracks, _dedupe(sigs), bpm, path, melody_track, {"format": source_format})
    if symbols:
        score = Score(score.melody, _symbol_chords(symbols, score.end), score.time_signatures, score.tempo,
                      {**score.info, "chord_source": "chord symbols"})
    return score


def _dedupe(sigs: tuple[TimeSignature, ...]) -> tuple[TimeSignature, ...]:
    unique = {s.start: s for s in sigs}
    ordered = [unique[k] for k in sorted(unique)]
    if ordered[0].start > 0:
        ordered.insert(0, TimeSignature(0.0, ordered[0].numerator, ordered[0].denominator))
    return tuple(ordered)


def _symbol_chords(symbols: list[tuple[float, int, str]], end: float) -> tuple[Chord, ...]:
    """Chord symbols -> a timeline; each lasts until the next, the first also covers a pickup."""
    symbols = sorted(set(symbols))
    chords = []
    for i, (start, root, quality) in enumerate(symbols):
        stop = symbols[i + 1][0] if i + 1 < len(symbols) else max(end, start + 1.0)
        begin = 0.0 if i == 0 else start
        if stop > begin:
            chords.append(Chord(begin, quantize(stop - begin), root, quality))
    return tuple(chords)

