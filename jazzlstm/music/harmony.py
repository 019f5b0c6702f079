"""Chord vocabulary and pitch-class harmony: labels, chord tones, scales, note types.

Pure Python on pitch classes (0 = C). Everything a note needs to be called a chord tone (C),
scale tone (S), approach tone (A) or other (X) lives here, as does chord recognition from
weighted pitch classes and key estimation. No I/O, no music21: these run in inner loops.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

import numpy as np

from jazzlstm.errors import BadChordError

NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Chord qualities: intervals above the root. The canonical suffix is the key.
# Order matters for ties: sevenths come before sixths, so a rootless comping voicing with
# both the seventh and the thirteenth (A-D-Eb over F) reads as F7, as a jazz player hears it.
CHORD_TEMPLATES: Mapping[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "sus4": (0, 5, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "mmaj7": (0, 3, 7, 11),
    "7sus4": (0, 5, 7, 10),
}

# The scale a soloist would use over each quality (chord-scale theory); S tones come from it.
CHORD_SCALES: Mapping[str, tuple[int, ...]] = {
    "": (0, 2, 4, 5, 7, 9, 11),          # ionian
    "6": (0, 2, 4, 5, 7, 9, 11),
    "maj7": (0, 2, 4, 5, 7, 9, 11),
    "m": (0, 2, 3, 5, 7, 9, 10),         # dorian
    "m6": (0, 2, 3, 5, 7, 9, 10),
    "m7": (0, 2, 3, 5, 7, 9, 10),
    "7": (0, 2, 4, 5, 7, 9, 10),         # mixolydian
    "sus4": (0, 2, 4, 5, 7, 9, 10),
    "7sus4": (0, 2, 4, 5, 7, 9, 10),
    "m7b5": (0, 1, 3, 5, 6, 8, 10),      # locrian
    "dim": (0, 2, 3, 5, 6, 8, 9, 11),    # whole-half diminished
    "dim7": (0, 2, 3, 5, 6, 8, 9, 11),
    "aug": (0, 2, 4, 6, 8, 10),          # whole tone
    "mmaj7": (0, 2, 3, 5, 7, 9, 11),     # melodic minor
}

# Spellings people type, mapped to the canonical suffix above.
_QUALITY_ALIASES = {
    "": "", "maj": "", "M": "", "major": "",
    "m": "m", "min": "m", "-": "m", "minor": "m",
    "dim": "dim", "o": "dim", "°": "dim",
    "aug": "aug", "+": "aug",
    "sus": "sus4", "sus4": "sus4",
    "6": "6", "maj6": "6", "M6": "6", "6/9": "6", "69": "6",
    "m6": "m6", "min6": "m6", "-6": "m6",
    "7": "7", "dom7": "7", "9": "7", "13": "7", "11": "7",
    "maj7": "maj7", "M7": "maj7", "Maj7": "maj7", "Δ": "maj7", "Δ7": "maj7", "maj9": "maj7",
    "M9": "maj7", "^7": "maj7", "^": "maj7",
    "m7": "m7", "min7": "m7", "-7": "m7", "m9": "m7", "m11": "m7", "-9": "m7",
    "m7b5": "m7b5", "ø": "m7b5", "ø7": "m7b5", "-7b5": "m7b5", "min7b5": "m7b5",
    "dim7": "dim7", "o7": "dim7", "°7": "dim7",
    "mmaj7": "mmaj7", "mM7": "mmaj7", "-maj7": "mmaj7", "minmaj7": "mmaj7", "m(maj7)": "mmaj7",
    "7sus4": "7sus4", "7sus": "7sus4", "9sus4": "7sus4",
}

_EXTENSIONS_RE = re.compile(r"(?:[#b♯♭+-]?(?:5|6|9|11|13)|add(?:2|4|9|11|13)|alt)+")
_CHORD_RE = re.compile(r"^([A-Ga-g])([#b♯♭]*)(.*?)(?:/([A-Ga-g][#b♯♭]*))?$")


def pitch_class(name: str) -> int:
    """'C#' / 'Db' / 'bb' -> pitch class."""
    name = name.strip()
    if not name or name[0].upper() not in _LETTER_PC:
        raise BadChordError(f"not a note name: {name!r}")
    pc = _LETTER_PC[name[0].upper()]
    for accidental in name[1:]:
        if accidental in "#♯":
            pc += 1
        elif accidental in "b♭":
            pc -= 1
        else:
            raise BadChordError(f"not a note name: {name!r}")
    return pc % 12


def chord_label(root: int, quality: str) -> str:
    """Canonical label, e.g. (2, 'm7') -> 'Dm7'."""
    return f"{NOTE_NAMES[root % 12]}{quality}"


@lru_cache(maxsize=4096)
def parse_chord(label: str) -> tuple[int, str]:
    """Parse a chord name ('Dm7', 'G7', 'Cmaj7', 'Bb-7', 'F#ø', 'C/E') -> (root, quality).

    Extensions and alterations beyond the 14 qualities are folded into the nearest one
    (G13 -> G7); a slash bass is ignored. Raises :class:`BadChordError` on anything else.
    """
    match = _CHORD_RE.match(label.strip())
    if not match:
        raise BadChordError(f"unknown chord name {label!r} (expected e.g. Dm7, G7, Cmaj7, Bb, F#m7b5)")
    letter, accidentals, suffix, _bass = match.groups()
    suffix = suffix.strip().replace("(", "").replace(")", "") if suffix not in CHORD_TEMPLATES else suffix
    quality = _QUALITY_ALIASES.get(suffix)
    if quality is None:
        # Keep the part we understand: 'G7b9' -> '7', 'Cmaj7#11' -> 'maj7'.
        for alias in sorted(_QUALITY_ALIASES, key=len, reverse=True):
            if suffix.startswith(alias) and _EXTENSIONS_RE.fullmatch(suffix[len(alias):] or "9"):
                quality = _QUALITY_ALIASES[alias]
                break
    if quality is None:
        raise BadChordError(f"unknown chord name {label!r} (quality {suffix!r} not understood)")
    return pitch_class(letter + accidentals), quality


def parse_progression(text: str) -> list[tuple[int, str]]:
    """'Dm7 G7 | Cmaj7 Cmaj7' -> list of (root, quality); bar lines and commas are separators."""
    names = [t for t in re.split(r"[\s,|]+", text.strip()) if t]
    if not names:
        raise BadChordError("empty chord progression")
    return [parse_chord(n) for n in names]


@lru_cache(maxsize=512)
def chord_tones(root: int, quality: str) -> frozenset[int]:
    """Pitch classes of the chord."""
    return frozenset((root + i) % 12 for i in CHORD_TEMPLATES[quality])


@lru_cache(maxsize=512)
def scale_tones(root: int, quality: str) -> frozenset[int]:
    """Pitch classes of the chord's scale (chord tones included)."""
    return frozenset((root + i) % 12 for i in CHORD_SCALES[quality])


@lru_cache(maxsize=512)
def approach_tones(root: int, quality: str) -> frozenset[int]:
    """Pitch classes a semitone from a chord tone that are not chord tones themselves."""
    tones = chord_tones(root, quality)
    return frozenset(((t + d) % 12 for t in tones for d in (-1, 1))) - tones


NOTE_TYPES = ("C", "S", "A", "X")


@lru_cache(maxsize=8192)
def note_type(pitch: int, root: int, quality: str) -> str:
    """Classify a pitch against a chord: 'C' chord tone, 'S' scale tone, 'A' approach, 'X' other.

    The order matters: a tone that is both a scale tone and a semitone from a chord tone is
    'S', as in the original grammar.
    """
    return _pitch_class_type(pitch % 12, root, quality)


@lru_cache(maxsize=4096)
def _pitch_class_type(pc: int, root: int, quality: str) -> str:
    """:func:`note_type` of a pitch class (cached: encoders ask once per melody note)."""
    if pc in chord_tones(root, quality):
        return "C"
    if pc in scale_tones(root, quality):
        return "S"
    if pc in approach_tones(root, quality):
        return "A"
    return "X"


@lru_cache(maxsize=64)
def _template_matrix(qualities: tuple[str, ...]
                     ) -> tuple[np.ndarray, tuple[tuple[int, str], ...], np.ndarray, np.ndarray]:
    """One 0/1 row of pitch classes per (root, quality), in template order then root order;
    the labels, their roots and each row's tone count."""
    rows, labels = [], []
    for quality in qualities:
        for root in range(12):
            row = np.zeros(12)
            row[[(root + i) % 12 for i in CHORD_TEMPLATES[quality]]] = 1.0
            rows.append(row)
            labels.append((root, quality))
    matrix = np.array(rows)
    return matrix, tuple(labels), np.array([root for root, _ in labels]), matrix.sum(axis=1)


def recognize_chord(weights: Mapping[int, float], bass_pc: int | None = None,
                    qualities: Iterable[str] | None = None) -> tuple[int, str] | None:
    """Best (root, quality) for duration-weighted pitch classes, or None if there is nothing.

    One row of :func:`recognize_chords`; see there for the scoring.
    """
    vector = np.zeros((1, 12))
    for pc, weight in weights.items():
        vector[0, pc % 12] += weight
    return recognize_chords(vector, [bass_pc], qualities)[0]


def recognize_chords(weights: np.ndarray, bass_pcs: Sequence[int | None],
                     qualities: Iterable[str] | None = None) -> list[tuple[int, str] | None]:
    """Best (root, quality) for each row of duration-weighted pitch classes (n, 12).

    Score = weight inside the template - 0.6 * weight outside it - a small penalty per missing
    template tone; the bass note gets a bonus as root because comping usually puts it there.
    Ties go to simpler chords (triads before sevenths) through the template order;
    ``qualities`` restricts the candidates. Rows that weigh nothing get None. All rows are
    scored in one matrix product: a file has hundreds of half bars.
    """
    bass = np.array([-1 if pc is None else pc % 12 for pc in bass_pcs], dtype=np.int64)
    best, labels = recognize_chord_codes(weights, bass, qualities)
    return [None if i < 0 else labels[i] for i in best.tolist()]


def recognize_chord_codes(weights: np.ndarray, bass_pcs: np.ndarray, qualities: Iterable[str] | None = None
                          ) -> tuple[np.ndarray, tuple[tuple[int, str], ...]]:
    """:func:`recognize_chords` as codes: (per row an index into the labels, -1 for an empty
    row; the (root, quality) labels). ``bass_pcs`` holds -1 where no bass note is known."""
    weights = np.asarray(weights, dtype=float).reshape(-1, 12)
    matrix, labels = _scoring_matrix(_ALL_QUALITIES if qualities is None else tuple(qualities))
    # Weights are snapped to the 12-step grid so that equal voicings score exactly equal:
    # counted in twelfths they are whole numbers (k).
    features = np.empty((len(weights), 36))  # k, total x (k > 0), 24 k + 72 total x bass
    twelfths = features[:, :12]
    np.multiply(weights, 12, out=twelfths)
    np.rint(twelfths, out=twelfths)
    total = np.add.reduce(twelfths, axis=1, keepdims=True)
    np.multiply(total, twelfths > 0, out=features[:, 12:24])
    np.multiply(twelfths, 24, out=features[:, 24:])
    bass = np.asarray(bass_pcs)
    known = (bass >= 0).nonzero()[0]
    features[known, 24 + bass[known] % 12] += 72 * total[known, 0]
    best = _best_columns(features, matrix)
    best[np.add.reduce(weights, axis=1) <= 0] = -1
    return best, labels


_ONE_THREAD_PRODUCT = 1 << 18
"""Multiply-adds in a matrix product small enough that OpenBLAS runs it on one thread (its
default threshold: 65536 x GEMM_MULTITHREAD_THRESHOLD 4). A larger one wakes its threads, which
then spin on after it: on a busy 2-core machine that doubled the CPU time of reading a large
file (measured)."""


def _best_columns(features: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Per row of ``features @ matrix``, the column of its largest value (the first of equal ones:
    simpler chords first), the product taken in blocks of rows that run on one BLAS thread.
    The products are whole numbers, so blocks give exactly the whole product's values."""
    rows = max(1, _ONE_THREAD_PRODUCT // matrix.size)
    if len(features) <= rows:
        return (features @ matrix).argmax(axis=1)
    best = np.empty(len(features), dtype=np.int64)
    for first in range(0, len(features), rows):
        best[first:first + rows] = (features[first:first + rows] @ matrix).argmax(axis=1)
    return best


_ALL_QUALITIES = tuple(CHORD_TEMPLATES)


@lru_cache(maxsize=64)
def _scoring_matrix(qualities: tuple[str, ...]) -> tuple[np.ndarray, tuple[tuple[int, str], ...]]:
    """The chord score as one matrix over (twelfths, total x present, 24 x twelfths + 72 x bass).

    With weights w in twelfths (k = 12w), total t, per label the tones inside its template
    i, the template tones present p of n, the root's weight r and b = 1 when the bass is the
    root, the score inside - 0.6 (total - inside) - 0.25 total missing + 0.1 root + 0.3 total
    bass is, times 2880, 384 i + (60 / n) t p + 24 r + 72 t b - 204 t: whole numbers (n is 3
    or 4), so it is computed exactly, and -204 t, the same for every label, is left out.
    """
    templates, labels, roots, sizes = _template_matrix(qualities)
    if any(60 % n for n in sizes.astype(int)):
        raise ValueError("a chord template of other than 1-6 tones: its score needs another whole-number scale")
    root_of = (roots[None, :] == np.arange(12)[:, None]).astype(float)
    return np.concatenate((384 * templates.T, templates.T * (60 / sizes), root_of)), labels


# Krumhansl-Kessler key profiles, used to transpose material to a common key.
_MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
_MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


def estimate_key(weights: Mapping[int, float]) -> tuple[int, str]:
    """(tonic pitch class, 'major' | 'minor') by correlation with the Krumhansl-Kessler profiles."""
    vector = [float(weights.get(pc, 0.0)) for pc in range(12)]
    if sum(vector) <= 0:
        return 0, "major"
    best = (-2.0, 0, "major")
    for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        for tonic in range(12):
            rotated = [profile[(pc - tonic) % 12] for pc in range(12)]
            r = _correlation(vector, rotated)
            if r > best[0] + 1e-12:
                best = (r, tonic, mode)
    return best[1], best[2]


def _correlation(a: Iterable[float], b: Iterable[float]) -> float:
    a, b = list(a), list(b)
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b))
    var_a = sum((x - mean_a) ** 2 for x in a)
    var_b = sum((y - mean_b) ** 2 for y in b)
    return cov / ((var_a * var_b) ** 0.5) if var_a > 0 and var_b > 0 else 0.0


def voicing(root: int, quality: str, low: int = 48) -> list[int]:
    """Close-position comping voicing at or above ``low`` (bass root an octave below)."""
    base = low + (root - low) % 12
    tones = [base + i for i in CHORD_TEMPLATES[quality]]
    return [base - 12] + tones


def quality_for_root(root: int, pitch_classes: Iterable[int]) -> str:
    """The quality whose template best matches ``pitch_classes`` with ``root`` fixed."""
    pcs = {pc % 12 for pc in pitch_classes}
    best_quality, best_score = "", float("-inf")
    for quality, intervals in CHORD_TEMPLATES.items():
        tones = {(root + i) % 12 for i in intervals}
        score = len(tones & pcs) - len(pcs - tones) - 0.5 * len(tones - pcs)
        if score > best_score + 1e-9:
            best_quality, best_score = quality, score
    return best_quality
