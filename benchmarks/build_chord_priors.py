"""Build jazzlstm/music/chord_priors.json: the priors of the melody-to-chords HMM
(jazzlstm/music/chord_model.py), from material that ships with music21 plus jazz cadences
written here. Offline and deterministic: two runs write byte-identical files.

Labelled pieces (melody + written chords), all from music21's corpus:

* **chord symbols**: the lead sheets (``leadSheet/*.mxl``) and every ABC tune in the corpus
  with at least 8 quoted chord names (only two Nottingham tunes qualify: the fiddle
  collections carry almost none), read the way jazzlstm reads them;
* **Roman numerals**: the RomanText analyses in the corpus (20 Bach chorales, 48
  Monteverdi madrigals), each with its score; the melody is the top part and each Roman
  numeral becomes (root, quality), placed by measure number. An analysis made on an edition
  in another key is transposed onto the score; one that still does not fit (under 60% of the
  melody on chord tones: BWV 41.6) is left out, so 67 remain.

From those pieces the builder counts, per segment (a beat by default; ``--segments``):
transitions between consecutive chords as (root interval, quality -> quality), separately
for boundaries on a bar line, on the half bar and on another beat; chords relative to the
tonic that ``harmony.estimate_key`` finds in the melody (the key prior); and the melody's
pitch-class lengths relative to the chord root, by metric class (the emissions). Standard
jazz progressions written below (ii-V-I major and minor, I-vi-ii-V, blues, minor blues,
rhythm changes A and bridge, cycles of fifths...) add pseudo-counts to the transitions and
the key prior. Weights: a chord-symbol piece counts 1, a Roman-numeral piece 0.2 (chorale
and madrigal harmony is not jazz harmony), each code cadence 8; emission counts are per
beat of melody from every labelled piece. Emissions are 30% learned, 70% from chord-tone
roles (``EMISSION_BY_METRIC`` learns one table per metric class: off, it measured no
better). Everything is smoothed (see :func:`priors_from_counts`).

A learned emission (:func:`train_emission_model`, a multinomial logistic model over
``chord_model.segment_features``, trained by :func:`lbfgs` on the labelled pieces and the Bach
chorales of :func:`chorale_pieces`, labelled by their lower voices) is measured by the bench
but off in the package (``PARAMS["learned_weight"]`` 0; see ``LEARNED_TRIAL``), so the JSON
carries no weights.

``benchmarks/bench_chords.py`` imports this module: it rebuilds the priors without each
evaluated piece (leave-one-out), so no piece is scored by priors that saw it.

Run: python benchmarks/build_chord_priors.py [--out PATH] [--segments bar|half|beat] [--no-cache]
(parsing the corpus takes music21 one to three minutes; the pieces are cached in
$JAZZLSTM_CACHE_DIR or ~/.cache/jazzlstm, chord_bench_pieces.json).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

# One BLAS thread: the learned emission's training multiplies thin matrices, which a
# multi-threaded OpenBLAS runs ten times slower on a busy 2-core machine (measured).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jazzlstm.music import chord_model  # noqa: E402
from jazzlstm.music.chord_model import fold_quality  # noqa: E402
from jazzlstm.music.harmony import CHORD_SCALES, CHORD_TEMPLATES, chord_tones, approach_tones, parse_chord, quality_for_root  # noqa: E402
from jazzlstm.music.score import Chord, Note, TimeSignature, bar_starts, chord_at, quantize  # noqa: E402

MIN_ABC_CHORDS = 8
MODEL_QUALITIES = chord_model.QUALITIES  # the HMM's qualities (the JSON carries them)
PIECES_VERSION = 1  # bump when the way pieces are read changes (invalidates caches)
MIN_CHORD_TONE_SHARE = 0.6  # below: an analysis that does not line up with its score

# Hyperparameters (PARAMS goes into the JSON). Tuned on the leave-one-out benchmark itself
# (benchmarks/bench_chords.py; about 45 settings tried), by the mean over the four corpora
# (chord symbols, composed, Bach, Monteverdi) of the root accuracy per beat: decoding,
# emission_scale, key_weight, SEGMENTS, ROMAN_WEIGHT (and, left at their defaults because no
# other value measured better: EMISSION_LEARNED_SHARE, metric weights, local key, per-class
# emissions, non-chord tones). The held-out counts are clean; these choices are not.
PARAMS = {
    "decoding": "posterior",
    "emission_scale": 1.5,
    "key_weight": 0.25,
    "metric_weights": dict(chord_model.METRIC_WEIGHTS),
    "learned_weight": 0.0,  # the learned emission is off in the package: see LEARNED_TRIAL
}
# The learned emission as bench_chords.py measures it (k-fold by piece). Measured: +2.5 points
# of root accuracy pooled (Monteverdi +3, Bach +4.5) but -13 on the composed jazz samples and
# their exact chords from 31% to 9% (it learns classical harmony: triads), so the mean over
# corpora drops: the package keeps it off (learned_weight 0) and carries no weights.
LEARNED_TRIAL = {"learned_weight": 0.5, "learned_part": "root"}
SEGMENTS = "beat"           # how finely melodies are cut (chord_model.SEGMENT_LENGTHS)
CADENCE_WEIGHT = 8.0        # each cadence below counts as this many pieces
ROMAN_WEIGHT = 0.2          # classical analyses, per piece (their chord changes are not jazz's)
SYMBOL_WEIGHT = 1.0         # lead sheets and ABC tunes, per piece
TRANSITION_SMOOTHING = 2.0  # pseudo-count mass spread over a row by the backoff distribution
KEY_SMOOTHING = 5.0
EMISSION_LEARNED_SHARE = 0.3  # emissions: this share learned from the melodies, the rest from chord-tone roles
EMISSION_BY_METRIC = False    # learn one emission table per metric class (bar line, half bar, beat, off)
EMISSION_BACKOFF = 2.0        # per-class tables: pseudo-count mass (in beats) of the pooled table
EMISSION_WEIGHTS = {"chord symbols": 1.0, "roman numerals": 1.0}  # emission counts per beat, by source
LEARNED_L2 = 1.0            # the learned emission's L2 penalty (per segment: see train_emission_model)
LEARNED_ITERATIONS = 150    # its L-BFGS iterations at most

# Standard progressions, one bar per "|", two chords in a bar share it. (name, key, text).
CADENCES: tuple[tuple[str, str, str], ...] = (
    ("ii-V-I major", "C", "Dm7 | G7 | Cmaj7 | Cmaj7"),
    ("ii-V-I major, two-bar", "C", "Dm7 G7 | Cmaj7 | Cmaj7 | Dm7 G7"),
    ("ii-V-I minor", "Cm", "Dm7b5 | G7 | Cm | Cm"),
    ("ii-V-i minor, two-bar", "Cm", "Dm7b5 G7 | Cm | Cm7 | Dm7b5 G7"),
    ("I-vi-ii-V", "C", "Cmaj7 Am7 | Dm7 G7 | Cmaj7 Am7 | Dm7 G7 | Cmaj7"),
    ("I-VI7-ii-V", "C", "C A7 | Dm7 G7 | C A7 | Dm7 G7 | C"),
    ("iii-vi-ii-V", "C", "Em7 A7 | Dm7 G7 | Cmaj7 | Cmaj7"),
    ("blues", "F", "F7 | Bb7 | F7 | F7 | Bb7 | Bb7 | F7 | F7 | C7 | Bb7 | F7 | C7"),
    ("jazz blues", "F", "F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | Am7 D7 | Gm7 | C7 | F7 D7 | Gm7 C7"),
    ("minor blues", "Cm", "Cm7 | Cm7 | Cm7 | Cm7 | Fm7 | Fm7 | Cm7 | Cm7 | Ab7 | G7 | Cm7 | Dm7b5 G7"),
    ("rhythm changes A", "Bb", "Bbmaj7 G7 | Cm7 F7 | Dm7 G7 | Cm7 F7 | Fm7 Bb7 | Ebmaj7 Ab7 | Dm7 G7 | Cm7 F7"),
    ("rhythm changes bridge", "Bb", "D7 | D7 | G7 | G7 | C7 | C7 | F7 | F7"),
    ("cycle of fifths major", "C", "Cmaj7 | Fmaj7 | Bm7b5 | E7 | Am7 | Dm7 | G7 | Cmaj7"),
    ("cycle of fifths minor", "Gm", "Cm7 | F7 | Bbmaj7 | Ebmaj7 | Am7b5 | D7 | Gm | Gm"),
    ("turnaround", "C", "Cmaj7 | Am7 | Dm7 | G7"),
    ("ii-V chain", "C", "Em7 A7 | Dm7 G7 | Cmaj7 | Cmaj7"),
    ("backdoor", "C", "Fm7 | Bb7 | Cmaj7 | Cmaj7"),
    ("tritone sub", "C", "Dm7 | Db7 | Cmaj7 | Cmaj7"),
    ("I-IV-V-I", "C", "C | F | G7 | C"),
    ("I-IV-I-V", "C", "C | C | F | C | C | G7 | C | C"),
    ("secondary dominants", "C", "Cmaj7 | E7 | Am7 | D7 | Dm7 | G7 | Cmaj7 | Cmaj7"),
    ("passing diminished", "C", "Cmaj7 | C#dim7 | Dm7 | G7"),
)


@dataclass(frozen=True)
class Piece:
    """A labelled piece: the melody, the written chords, the bar lines, in beats."""

    name: str
    group: str            # "chord symbols" | "roman numerals" | "composed"
    melody: tuple[Note, ...]
    chords: tuple[Chord, ...]
    bar_lines: tuple[float, ...]
    start: float          # first beat that counts (the pickup's start)
    end: float

    def beats(self) -> list[float]:
        """Every beat from the first note's bar to the end."""
        first = int(np.floor(self.start + 1e-9))
        return [float(b) for b in range(first, int(np.ceil(self.end - 1e-9)))]


# --- reading the corpus ---------------------------------------------------------------------


def _pickup_shift(parsed) -> float:
    """Beats to add so a short first measure (an anacrusis) ends on a full bar line."""
    from music21 import stream

    parts = list(getattr(parsed, "parts", [])) or [parsed]
    measures = list(parts[0].getElementsByClass(stream.Measure))
    if not measures:
        return 0.0
    first = measures[0]
    bar = float(first.barDuration.quarterLength)
    length = float(first.duration.quarterLength)
    if len(measures) > 1:
        length = float(measures[1].offset - first.offset)
    return quantize(bar - length) if 0 < length < bar - 1e-9 else 0.0


def _shifted(melody: Sequence[Note], chords: Sequence[Chord], sigs: Sequence[TimeSignature],
             shift: float, name: str, group: str) -> Piece:
    melody = tuple(Note(quantize(n.start + shift), n.duration, n.pitch, n.velocity) for n in melody)
    chords = sorted(Chord(quantize(c.start + shift), c.duration, c.root, c.quality) for c in chords)
    if chords:  # the first chord also covers what comes before it, as jazzlstm reads a lead sheet
        chords[0] = Chord(0.0, quantize(chords[0].end), chords[0].root, chords[0].quality)
    chords = tuple(chords)
    sigs = tuple(TimeSignature(quantize(s.start + shift) if i else 0.0, s.numerator, s.denominator)
                 for i, s in enumerate(sorted(sigs, key=lambda s: s.start))) or (TimeSignature(0.0),)
    end = max([n.end for n in melody] + [c.end for c in chords[-1:]])
    start = min(n.start for n in melody)
    return Piece(name, group, melody, chords, tuple(bar_starts(sigs, end)), min(start, shift), end)


def _corpus_root() -> Path:
    from music21 import corpus

    return Path(corpus.__file__).parent


def chord_symbol_pieces() -> list[Piece]:
    """Lead sheets and ABC tunes with chord symbols, read the way jazzlstm reads them."""
    from music21 import converter

    from jazzlstm.music.abc import _QUOTED_RE, _is_chord_name, split_tunes, with_default_unit_length
    from jazzlstm.music.musicxml import score_from_music21

    pieces = []
    root = _corpus_root()
    for path in sorted((root / "leadSheet").glob("*.mxl")):
        parsed = converter.parse(str(path), format="musicxml")
        score = score_from_music21(parsed, str(path))
        pieces.append(_shifted(score.melody, score.chords, score.time_signatures, _pickup_shift(parsed),
                               f"leadSheet/{path.name}", "chord symbols"))
    for path in sorted(root.rglob("*.abc")):
        for index, tune in enumerate(split_tunes(path.read_text(encoding="utf-8", errors="replace"))):
            body = tune.split("\nK:", 1)[-1]
            names = [m.group(1) for m in _QUOTED_RE.finditer(body) if _is_chord_name(m.group(1))]
            if len(names) < MIN_ABC_CHORDS:
                continue
            parsed = converter.parse(with_default_unit_length(tune), format="abc")
            score = score_from_music21(parsed, str(path), source_format="abc")
            title = next((line[2:].strip() for line in tune.split("\n") if line.startswith("T:")), str(index))
            pieces.append(_shifted(score.melody, score.chords, score.time_signatures, _pickup_shift(parsed),
                                   f"{path.relative_to(root)}#{title}", "chord symbols"))
    return pieces


def _roman_chords(analysis, parsed) -> list[Chord]:
    """The analysis's Roman numerals as chords on the score's time line, matched by measure
    number (an analysis may leave out the score's opening rests)."""
    from music21 import roman, stream

    score_bars: dict[int, float] = {}
    for measure in parsed.parts[0].getElementsByClass(stream.Measure):
        score_bars.setdefault(measure.number, float(measure.offset))
    parts = list(getattr(analysis, "parts", [])) or [analysis]
    marks = []
    for measure in parts[0].getElementsByClass(stream.Measure):
        if measure.number not in score_bars:
            continue
        for rn in measure.getElementsByClass(roman.RomanNumeral):
            root = rn.root()
            if root is None or not rn.pitches:
                continue
            pcs = [p.pitchClass for p in rn.pitches]
            start = quantize(score_bars[measure.number] + float(rn.offset))
            marks.append((start, root.pitchClass, quality_for_root(root.pitchClass, pcs)))
    marks.sort()
    end = float(parsed.highestTime)
    chords = []
    for i, (start, root, quality) in enumerate(marks):
        stop = marks[i + 1][0] if i + 1 < len(marks) else max(end, start + 1.0)
        if stop > start:
            chords.append(Chord(start, quantize(stop - start), root, quality))
    return chords


def chord_tone_share(melody: Sequence[Note], chords: Sequence[Chord], transpose: int = 0) -> float:
    """Share of the melody's length on tones of the chord written under it."""
    total = inside = 0.0
    for n in melody:
        c = chord_at(chords, n.start + 1e-6)
        total += n.duration
        inside += n.duration * ((n.pitch - transpose) % 12 in chord_tones(c.root, c.quality))
    return inside / total if total else 0.0


def _aligned_key(melody: Sequence[Note], chords: Sequence[Chord]) -> tuple[int, float]:
    """(semitones, share): the transposition of the chords that fits the melody best. Some
    analyses were made on an edition in another key than the corpus's score."""
    shares = [chord_tone_share(melody, chords, t) for t in range(12)]
    best = int(np.argmax(shares))
    return (0, shares[0]) if shares[0] >= shares[best] - 0.05 else (best, shares[best])


def _top_part_melody(parsed) -> tuple[list[Note], list[TimeSignature]]:
    from music21 import meter

    part = parsed.parts[0]
    notes = []
    for element in part.stripTies().flatten().notes:
        length = quantize(float(element.quarterLength))
        if length <= 0:
            continue
        top = max(element.pitches, key=lambda p: p.midi)
        notes.append(Note(quantize(float(element.offset)), length, int(top.midi)))
    sigs = [TimeSignature(quantize(float(ts.offset)), int(ts.numerator), int(ts.denominator))
            for ts in part.flatten().getElementsByClass(meter.TimeSignature)]
    unique = {s.start: s for s in sigs}
    return sorted(notes), [unique[k] for k in sorted(unique)]


def roman_numeral_pieces() -> list[Piece]:
    """The corpus's RomanText analyses with their scores (top part = melody)."""
    from music21 import converter, corpus
    from music21.corpus import chorales

    root = _corpus_root()
    pieces = []
    jobs = []
    for number, (analysis, score_name) in enumerate(zip(
            sorted((root / "bach" / "choraleAnalyses").glob("riemenschneider*.rntxt")),
            chorales.Iterator(1, 20, numberingSystem="riemenschneider", returnType="filename"))):
        jobs.append((analysis, lambda name=score_name: corpus.parse(name), f"bach/{Path(score_name).name}"))
    for analysis in sorted((root / "monteverdi").glob("madrigal.*.rntxt"), key=_madrigal_order):
        score_path = analysis.with_suffix(".mxl")
        if score_path.exists():
            jobs.append((analysis, lambda p=score_path: converter.parse(str(p)), f"monteverdi/{score_path.name}"))
    for analysis_path, load_score, name in jobs:
        analysis = converter.parse(str(analysis_path), format="romantext")
        parsed = load_score()
        melody, sigs = _top_part_melody(parsed)
        chords = _roman_chords(analysis, parsed)
        if not melody or not chords:
            continue
        transpose, share = _aligned_key(melody, chords)
        if share < MIN_CHORD_TONE_SHARE:
            continue  # analysis and score do not line up
        chords = [Chord(c.start, c.duration, (c.root + transpose) % 12, c.quality) for c in chords]
        pieces.append(_shifted(melody, chords, sigs, _pickup_shift(parsed), name, "roman numerals"))
    return pieces


def _part_notes(part) -> list[Note]:
    notes = []
    for element in part.stripTies().flatten().notes:
        length = quantize(float(element.quarterLength))
        if length <= 0:
            continue
        for p in element.pitches:
            notes.append(Note(quantize(float(element.offset)), length, int(p.midi)))
    return sorted(notes)


def read_chorale(path: str) -> dict | None:
    """A four-part chorale of music21's corpus as raw material: soprano (the melody), the
    three lower voices' notes, time signatures and the pickup shift; None if it is not in
    four parts."""
    from music21 import converter

    parsed = converter.parse(path)
    parts = list(parsed.parts)
    if len(parts) != 4:
        return None
    melody, sigs = _top_part_melody(parsed)
    lower = [n for part in parts[1:] for n in _part_notes(part)]
    if not melody or not lower:
        return None
    return {"melody": [list(n) for n in melody], "lower": [list(n) for n in sorted(lower)],
            "sigs": [[s.start, s.numerator, s.denominator] for s in sigs], "shift": _pickup_shift(parsed)}


def chorale_paths() -> list[str]:
    """Every chorale score of music21's corpus (Bach: .mxl, .xml, .krn), sorted."""
    from music21 import corpus

    return sorted(str(p) for p in corpus.getComposer("bach") if str(p).rsplit(".", 1)[-1] in ("mxl", "xml", "krn"))


def raw_chorales(cache: str | Path | None = None) -> dict[str, dict]:
    """{name: read_chorale(...)} for every chorale in four parts (cached: parsing 430 scores
    takes music21 several minutes)."""
    import music21

    stamp = f"music21 {music21.__version__}, chorales v{PIECES_VERSION}"
    if cache is not None and Path(cache).is_file():
        data = json.loads(Path(cache).read_text(encoding="utf-8"))
        if data.get("stamp") == stamp:
            return data["chorales"]
    root = _corpus_root()
    out = {}
    for path in chorale_paths():
        raw = read_chorale(path)
        if raw is not None:
            out[str(Path(path).relative_to(root))] = raw
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        Path(cache).write_text(json.dumps({"stamp": stamp, "chorales": out}), encoding="utf-8")
    return out


def lower_voice_labels(lower: Sequence[Note], segments: Sequence[tuple[float, float, str]]
                       ) -> list[tuple[int, str] | None]:
    """Per segment, the chord the lower voices sound: their pitch classes weighted by length
    inside the segment, the lowest note sounding at the segment's start as the bass, named by
    jazzlstm's recognizer among the model's qualities (None where they rest)."""
    from jazzlstm.music.harmony import recognize_chord_codes

    weights = np.zeros((len(segments), 12))
    bass = np.full(len(segments), -1, dtype=np.int64)
    low = np.full(len(segments), 1000)
    stops = np.array([stop for _, stop, _ in segments])
    for n in lower:
        for i in range(int(np.searchsorted(stops, n.start + 1e-9, side="right")), len(segments)):
            start, stop, _ = segments[i]
            if start >= n.end - 1e-9:
                break
            weights[i, n.pitch % 12] += min(n.end, stop) - max(n.start, start)
            if n.start <= start + 1e-9 and n.pitch < low[i]:
                low[i], bass[i] = n.pitch, n.pitch % 12
    codes, labels = recognize_chord_codes(weights, bass, MODEL_QUALITIES)
    return [None if c < 0 else labels[c] for c in codes.tolist()]


def melody_signature(melody: Sequence[Note], count: int = 16) -> tuple:
    """The first notes' intervals and lengths: the same tune in any key has the same one."""
    head = list(melody[:count + 1])
    return tuple((b.pitch - a.pitch, a.duration) for a, b in zip(head, head[1:]))


def chorale_pieces(raw: dict[str, dict], exclude: Sequence[Piece] = ()) -> list[Piece]:
    """Labelled pieces from the four-part chorales (:func:`raw_chorales`): melody = soprano,
    one chord per beat = what the three lower voices sound (:func:`lower_voice_labels`).
    Chorales that are (by name) or share the tune of (by :func:`melody_signature`) a piece
    of ``exclude`` are left out, so the Roman-numeral Bach chorales stay an independent test."""
    names = {p.name.split("/")[-1].split(".mxl")[0] for p in exclude}
    tunes = {melody_signature(p.melody) for p in exclude}
    pieces = []
    for name, raw in sorted(raw.items()):
        stem = Path(name).name.rsplit(".", 1)[0]
        melody = [Note(float(a), float(b), int(c), int(v)) for a, b, c, v in raw["melody"]]
        if stem in names or melody_signature(melody) in tunes:
            continue
        lower = [Note(float(a), float(b), int(c), int(v)) for a, b, c, v in raw["lower"]]
        sigs = [TimeSignature(float(a), int(b), int(c)) for a, b, c in raw["sigs"]]
        shift = float(raw["shift"])
        end = max(n.end for n in melody + lower)
        bars = bar_starts(sigs or [TimeSignature(0.0)], end)
        segments = chord_model.melody_segments(bars, end, "beat")
        chords = []
        for (start, stop, _), label in zip(segments, lower_voice_labels(lower, segments)):
            if label is None:
                continue
            if chords and chords[-1].end >= start - 1e-9 and (chords[-1].root, chords[-1].quality) == label:
                chords[-1] = Chord(chords[-1].start, quantize(stop - chords[-1].start), *label)
            else:
                chords.append(Chord(start, quantize(stop - start), *label))
        if chords:
            pieces.append(_shifted(melody, chords, sigs, shift, name, "bach chorales"))
    return pieces


def _madrigal_order(path: Path) -> tuple[int, ...]:
    return tuple(int(x) for x in path.name.split(".")[1:3])


def labelled_pieces(cache: str | Path | None = None) -> list[Piece]:
    """Every labelled piece, in a fixed order: chord symbols, then Roman numerals.

    Parsing them takes music21 a few minutes; with ``cache`` (a JSON file) they are read
    from there when it was written by the same music21 and builder version.
    """
    import music21

    stamp = f"music21 {music21.__version__}, pieces v{PIECES_VERSION}"
    if cache is not None and Path(cache).is_file():
        data = json.loads(Path(cache).read_text(encoding="utf-8"))
        if data.get("stamp") == stamp:
            return [_piece_from_dict(d) for d in data["pieces"]]
    pieces = chord_symbol_pieces() + roman_numeral_pieces()
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        Path(cache).write_text(json.dumps({"stamp": stamp, "pieces": [_piece_to_dict(p) for p in pieces]}),
                               encoding="utf-8")
    return pieces


def default_cache() -> Path:
    import os

    base = os.environ.get("JAZZLSTM_CACHE_DIR") or Path.home() / ".cache" / "jazzlstm"
    return Path(base) / "chord_bench_pieces.json"


def default_chorale_cache() -> Path:
    return default_cache().with_name("chord_bench_chorales.json")


def _piece_to_dict(piece: Piece) -> dict:
    return {"name": piece.name, "group": piece.group, "start": piece.start, "end": piece.end,
            "bar_lines": list(piece.bar_lines), "melody": [list(n) for n in piece.melody],
            "chords": [list(c) for c in piece.chords]}


def _piece_from_dict(d: dict) -> Piece:
    return Piece(d["name"], d["group"], tuple(Note(float(a), float(b), int(c), int(v)) for a, b, c, v in d["melody"]),
                 tuple(Chord(float(a), float(b), int(r), str(q)) for a, b, r, q in d["chords"]),
                 tuple(d["bar_lines"]), float(d["start"]), float(d["end"]))


# --- counting ---------------------------------------------------------------------------------


def segment_labels(chords: Sequence[Chord], segments: Sequence[tuple[float, float, str]]
                   ) -> list[tuple[int, str] | None]:
    """The written chord covering most of each segment (None where no chord is written)."""
    labels: list[tuple[int, str] | None] = []
    for start, stop, _ in segments:
        cover: dict[tuple[int, str], float] = {}
        for c in chords:
            overlap = min(c.end, stop) - max(c.start, start)
            if overlap > 1e-9:
                key = (c.root, fold_quality(c.quality, MODEL_QUALITIES))
                cover[key] = cover.get(key, 0.0) + overlap
        labels.append(max(cover, key=lambda k: (cover[k], -MODEL_QUALITIES.index(k[1]), -k[0])) if cover else None)
    return labels


class Counts:
    """Raw counts for the priors (weights already applied)."""

    def __init__(self) -> None:
        nq = len(MODEL_QUALITIES)
        self.transitions = {kind: np.zeros((nq, 12, nq)) for kind in chord_model.BOUNDARIES}
        self.key = {"major": np.zeros((12, nq)), "minor": np.zeros((12, nq))}
        self.emission = np.zeros((len(chord_model.METRIC_CLASSES), nq, 12))  # by where notes are struck
        self.sources: dict[str, dict[str, float]] = {}

    def minus(self, other: "Counts") -> "Counts":
        """These counts without ``other``'s (to hold one piece out)."""
        out = Counts()
        for kind in self.transitions:
            out.transitions[kind] = self.transitions[kind] - other.transitions[kind]
        for mode in self.key:
            out.key[mode] = self.key[mode] - other.key[mode]
        out.emission = self.emission - other.emission
        out.sources = {name: {k: v - other.sources.get(name, {}).get(k, 0) for k, v in info.items()}
                       for name, info in self.sources.items()}
        return out

    def add_sequence(self, labels: Sequence[tuple[int, str] | None], kinds: Sequence[str],
                     key: tuple[int, str], weight: float, source: str) -> None:
        tonic, mode = key
        info = self.sources.setdefault(source, {"pieces": 0, "segments": 0, "transitions": 0})
        info["pieces"] += 1
        for i, label in enumerate(labels):
            if label is None:
                continue
            q = MODEL_QUALITIES.index(label[1])
            self.key[mode][(label[0] - tonic) % 12, q] += weight
            info["segments"] += 1
            previous = labels[i - 1] if i else None
            if previous is not None:
                p = MODEL_QUALITIES.index(previous[1])
                self.transitions[kinds[i]][p, (label[0] - previous[0]) % 12, q] += weight
                info["transitions"] += 1

    def add_piece(self, piece: Piece, segments: str | bool, weight: float) -> None:
        segments = chord_model.melody_segments(piece.bar_lines, piece.end, segments)
        labels = segment_labels(piece.chords, segments)
        key = chord_model.melody_key(piece.melody)
        self.add_sequence(labels, [k for _, _, k in segments], key, weight, piece.group)
        weights = chord_model.segment_class_weights(piece.melody, segments, piece.bar_lines)
        scale = EMISSION_WEIGHTS.get(piece.group, 1.0)
        for rows, label in zip(weights, labels):
            if label is not None:
                self.emission[:, MODEL_QUALITIES.index(label[1])] += scale * np.roll(rows, -label[0], axis=1)


def cadence_sequences(segments: str | bool = "half") -> list[tuple[list[tuple[int, str]], list[str], tuple[int, str]]]:
    """(labels, boundary kinds, key) for each written cadence (in 4/4), cut like a melody."""
    out = []
    for _, key_name, text in CADENCES:
        key = (parse_chord(key_name)[0], "minor" if key_name.endswith("m") else "major")
        chords = []
        bars = text.split("|")
        for i, bar in enumerate(bars):
            names = bar.split()
            for j, name in enumerate(names):
                root, quality = parse_chord(name)
                chords.append(Chord(4.0 * i + j * 4.0 / len(names), 4.0 / len(names), root, quality))
        cut = chord_model.melody_segments([4.0 * i for i in range(len(bars))], 4.0 * len(bars), segments)
        out.append((segment_labels(chords, cut), [kind for _, _, kind in cut], key))
    return out


SOURCE_WEIGHTS = {"chord symbols": SYMBOL_WEIGHT, "roman numerals": ROMAN_WEIGHT, "jazz cadences (code)": CADENCE_WEIGHT}


def piece_weight(piece: Piece) -> float:
    return ROMAN_WEIGHT if piece.group == "roman numerals" else SYMBOL_WEIGHT


def count_all(pieces: Iterable[Piece], segments: str | bool = SEGMENTS, skip_cadences: Iterable[str] = ()) -> Counts:
    """Counts of ``pieces`` and the code cadences (but those named in ``skip_cadences``)."""
    counts = Counts()
    for piece in pieces:
        counts.add_piece(piece, segments, piece_weight(piece))
    skip = set(skip_cadences)
    for (name, _, _), (labels, kinds, key) in zip(CADENCES, cadence_sequences(segments)):
        if name in skip:
            continue
        counts.add_sequence(labels, kinds, key, CADENCE_WEIGHT, "jazz cadences (code)")
    return counts


ROLES = ("root", "third", "fifth", "seventh", "scale", "approach", "other")
ROLE_WEIGHTS = {"root": 1.0, "third": 1.0, "fifth": 0.8, "seventh": 0.8, "scale": 0.25, "approach": 0.1, "other": 0.05}


def pc_roles(quality: str) -> list[str]:
    """The role of each pitch class (relative to the root) in a chord of ``quality``."""
    template = CHORD_TEMPLATES[quality]
    names = ("root", "third", "fifth", "seventh")
    tones, scale, approach = chord_tones(0, quality), set(CHORD_SCALES[quality]), approach_tones(0, quality)
    roles = []
    for pc in range(12):
        if pc in tones:
            roles.append(names[min(template.index(pc), 3)])
        else:
            roles.append("scale" if pc in scale else "approach" if pc in approach else "other")
    return roles


def theory_emission(weights: dict[str, float] | None = None) -> np.ndarray:
    """P(pitch class relative to the root | quality) from the role of each pitch class."""
    weights = ROLE_WEIGHTS if weights is None else weights
    rows = []
    for q in MODEL_QUALITIES:
        row = np.array([weights[role] for role in pc_roles(q)])
        rows.append(row / row.sum())
    return np.array(rows)


# --- the learned emission: a multinomial logistic model over chord_model.segment_features ------


def piece_examples(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, 12, F), state index per beat segment, -1 where no chord is written)."""
    segments = chord_model.melody_segments(piece.bar_lines, piece.end, "beat")
    weights = chord_model.segment_class_weights(piece.melody, segments, piece.bar_lines)
    features = chord_model.segment_features(weights, segments, piece.bar_lines, chord_model.melody_key(piece.melody))
    nq = len(MODEL_QUALITIES)
    states = np.array([-1 if label is None else label[0] * nq + MODEL_QUALITIES.index(label[1])
                       for label in segment_labels(piece.chords, segments)], dtype=np.int64)
    return features, states


def lbfgs(function, x: np.ndarray, iterations: int, memory: int = 10, tolerance: float = 1e-7) -> np.ndarray:
    """Minimize ``function`` (x -> (value, gradient)) by L-BFGS with a backtracking line
    search (numpy only; deterministic)."""
    value, grad = function(x)
    history: list[tuple[np.ndarray, np.ndarray, float]] = []
    for _ in range(iterations):
        direction = -grad
        alphas = []
        for s, y, rho in reversed(history):
            a = rho * (s @ direction)
            alphas.append(a)
            direction = direction - a * y
        if history:
            s, y, _ = history[-1]
            direction = direction * (s @ y) / (y @ y)
        for (s, y, rho), a in zip(history, reversed(alphas)):
            direction = direction + s * (a - rho * (y @ direction))
        if grad @ direction >= 0:
            direction, history = -grad, []
        step = 1.0 if history else 1.0 / max(1.0, float(np.abs(grad).max()))
        while True:
            new_x = x + step * direction
            new_value, new_grad = function(new_x)
            if new_value <= value + 1e-4 * step * (grad @ direction) or step < 1e-10:
                break
            step *= 0.5
        s, y = new_x - x, new_grad - grad
        if s @ y > 1e-12:
            history = (history + [(s, y, 1.0 / (s @ y))])[-memory:]
        done = value - new_value < tolerance * max(1.0, abs(value))
        x, value, grad = new_x, new_value, new_grad
        if done:
            break
    return x


def train_emission_model(examples: Sequence[tuple[np.ndarray, np.ndarray]], l2: float | None = None,
                         iterations: int | None = None) -> np.ndarray:
    """(qualities, features) weights of P(root, quality | segment features) = softmax over the
    84 states of weights[quality] . features[root], fitted by L-BFGS to every labelled beat
    segment of ``examples`` (mean log loss + ``l2`` x squared weights / segments)."""
    l2 = LEARNED_L2 if l2 is None else l2
    iterations = LEARNED_ITERATIONS if iterations is None else iterations
    features = np.concatenate([f for f, _ in examples]) if examples else np.zeros((0, 12, chord_model.FEATURE_SIZE))
    states = np.concatenate([s for _, s in examples]) if examples else np.zeros(0, dtype=np.int64)
    keep = states >= 0
    features, states = features[keep], states[keep]
    n, nq, size = len(states), len(MODEL_QUALITIES), chord_model.FEATURE_SIZE
    if not n:
        return np.zeros((nq, size))
    flat = features.reshape(n * 12, size)
    target = np.zeros((n, 12 * nq))
    target[np.arange(n), states] = 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weights = theta.reshape(nq, size)
        scores = (flat @ weights.T).reshape(n, 12 * nq)
        top = scores.max(axis=1, keepdims=True)
        probs = np.exp(scores - top)
        total = probs.sum(axis=1, keepdims=True)
        probs /= total
        log_like = (scores[np.arange(n), states] - top[:, 0] - np.log(total[:, 0])).sum()
        grad = np.einsum("nq,nd->qd", (probs - target).reshape(n * 12, nq), flat)  # no threaded BLAS: see top
        return (-log_like + l2 * (weights ** 2).sum()) / n, ((grad + 2 * l2 * weights) / n).ravel()

    return lbfgs(loss, np.zeros(nq * size), iterations).reshape(nq, size)


def priors_from_counts(counts: Counts, segments: str | bool = SEGMENTS) -> dict:
    """Smoothed, normalized priors (the JSON's content)."""
    nq = len(MODEL_QUALITIES)
    transitions = {}
    for kind, table in counts.transitions.items():
        if kind == "beat" and chord_model.segment_length(segments) != "beat":
            continue  # coarser segments never start on a plain beat
        # Backoff: P(interval, q2 | q1) = (c + s * P(interval, q2)) / (n + s), where the
        # marginal P(interval, q2) itself is smoothed towards uniform.
        marginal = table.sum(axis=0) + 1.0 / (12 * nq)
        marginal /= marginal.sum()
        rows = table + TRANSITION_SMOOTHING * marginal[None]
        rows /= rows.sum(axis=(1, 2), keepdims=True)
        transitions[kind] = rows.reshape(nq, 12 * nq)
    key_prior = {}
    for mode, table in counts.key.items():
        probs = table + KEY_SMOOTHING / table.size
        key_prior[mode] = probs.reshape(-1)
    # Learned: pooled over metric classes (weighted as the model weighs them), and per
    # class backed off towards the pooled table.
    metric = np.array([PARAMS["metric_weights"][c] for c in chord_model.METRIC_CLASSES])
    pooled = np.einsum("cqp,c->qp", counts.emission, metric) + 1e-3
    pooled /= pooled.sum(axis=1, keepdims=True)
    theory = theory_emission()
    emission = _renorm(EMISSION_LEARNED_SHARE * pooled + (1 - EMISSION_LEARNED_SHARE) * theory)
    by_metric = {}
    for c, name in enumerate(chord_model.METRIC_CLASSES):
        table = counts.emission[c] + EMISSION_BACKOFF * pooled
        table /= table.sum(axis=1, keepdims=True)
        by_metric[name] = _renorm(EMISSION_LEARNED_SHARE * table + (1 - EMISSION_LEARNED_SHARE) * theory)
    return {
        "format": 1,
        "description": "Priors of jazzlstm.music.chord_model (built by benchmarks/build_chord_priors.py)",
        "qualities": list(MODEL_QUALITIES),
        "segments": chord_model.segment_length(segments),
        "params": PARAMS,
        "transitions": {k: _renorm(v) for k, v in transitions.items()},
        "key_prior": {k: _renorm(v[None])[0] for k, v in key_prior.items()},
        "emission": emission,
        **({"emission_by_metric": by_metric} if EMISSION_BY_METRIC else {}),
        "sources": {name: {**{k: round(v, 3) for k, v in info.items()}, "weight": SOURCE_WEIGHTS.get(name, 1.0)}
                    for name, info in sorted(counts.sources.items())},
    }


def _renorm(rows: np.ndarray) -> list[list[float]]:
    """Rows normalized to sum to 1, each cell rounded to 6 significant digits."""
    rows = np.asarray(rows, dtype=float)
    rows = rows / rows.sum(axis=1, keepdims=True)
    return [[float(f"{x:.6g}") for x in row] for row in rows]


def build(pieces: Sequence[Piece], segments: str | bool = SEGMENTS, skip_cadences: Iterable[str] = (),
          learners: Sequence[Piece] | None = None) -> dict:
    """The priors of ``pieces`` (and the code cadences but ``skip_cadences``); with
    ``learners``, also the learned emission trained on their beats."""
    priors = priors_from_counts(count_all(pieces, segments, skip_cadences), segments)
    if learners is not None:
        priors["emission_model"] = emission_model_json(train_emission_model([piece_examples(p) for p in learners]))
    return priors


def emission_model_json(weights: np.ndarray) -> dict:
    return {"features": [f"{name} x{size}" for name, size in chord_model.FEATURE_BLOCKS],
            "weights": [[float(f"{x:.6g}") for x in row] for row in np.asarray(weights)],
            "l2": LEARNED_L2}


def bar_progression(chords: Sequence[Chord], bar_lines: Sequence[float]) -> list[tuple[int, ...]]:
    """Per bar, the roots of the chords written in it, in order."""
    bars = []
    for i, start in enumerate(bar_lines):
        stop = bar_lines[i + 1] if i + 1 < len(bar_lines) else float("inf")
        bars.append(tuple(c.root for c in chords if c.end > start + 1e-9 and c.start < stop - 1e-9))
    return bars


def copied_cadences(piece: Piece, min_bars: int = 8) -> list[str]:
    """Names of the code cadences of ``min_bars`` bars or more whose whole progression a
    piece spells out (the same roots bar by bar, qualities aside, in any key): scoring the
    piece by priors that hold them would be scoring it on its own labels."""
    target = bar_progression(piece.chords, piece.bar_lines)
    out = []
    for name, _, text in CADENCES:
        bars = [tuple(parse_chord(name)[0] for name in bar.split()) for bar in text.split("|")]
        if len(bars) < min_bars:
            continue
        for shift in range(12):
            moved = [tuple((r + shift) % 12 for r in bar) for bar in bars]
            if any(target[i:i + len(moved)] == moved for i in range(len(target) - len(moved) + 1)):
                out.append(name)
                break
    return out


def dumps(value, indent: int = 0) -> str:
    """JSON with sorted keys, one line per list of numbers (a table row)."""
    pad = " " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return "[\n" + ",\n".join(pad + dumps(v, indent + 1) for v in value) + "\n" + " " * indent + "]"
    return json.dumps(value)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(chord_model.PRIORS_PATH))
    parser.add_argument("--segments", choices=chord_model.SEGMENT_LENGTHS, default=SEGMENTS,
                        help=f"one chord per bar, half bar or beat (default {SEGMENTS})")
    parser.add_argument("--no-cache", action="store_true", help="parse the corpus even if a cache of the pieces exists")
    args = parser.parse_args(argv)
    pieces = labelled_pieces(None if args.no_cache else default_cache())
    chorales = [] if PARAMS["learned_weight"] <= 0 else chorale_pieces(raw_chorales(None if args.no_cache else default_chorale_cache()),
                              exclude=[p for p in pieces if p.group == "roman numerals"])
    learned = PARAMS["learned_weight"] > 0
    priors = build(pieces, args.segments, learners=list(pieces) + chorales if learned else None)
    priors["pieces"] = [p.name for p in pieces]
    if learned:
        priors["emission_model"]["pieces"] = len(pieces) + len(chorales)
    Path(args.out).write_text(dumps(priors) + "\n", encoding="utf-8")
    print(json.dumps({"out": args.out, "pieces": len(pieces), "sources": priors["sources"]}, indent=1))


if __name__ == "__main__":
    main()
