"""How much of a generated melody is copied from the training corpus.

**Note n-grams are transposition-invariant.** A melody of notes 0..m-1 becomes, per note, its
duration and, from the second note on, its link to the previous note: (pitch interval in
semitones, rest before it), both lengths in grid steps (12 per beat). An n-gram of notes
i..i+n-1 is (duration of note i, then (interval, rest, duration) of notes i+1..i+n-1): the
same phrase played in another key, or starting after a different note, is the same n-gram; a
phrase with other rhythm or other rests between its notes is not.

For each generated piece: the share of its n-grams (n = 4, 8, 16) found verbatim anywhere in
the training corpus, and its **longest copied span**: the most consecutive notes matching
consecutive notes of one training piece (spans shorter than ``min_span`` notes are not
looked for), in notes and in bars (the time signature in force where the span starts), with
the training piece's index and name. n-grams are hashed to 64-bit integers in numpy (a mixed
per-note code combined with random per-position multipliers) and looked up in sorted arrays,
so a corpus of thousands of pieces is indexed in well under a second; spans are checked on the
real note codes, so a hash collision can never report a false copy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jazzlstm.evaluate.music_metrics import time_signature_at
from jazzlstm.music.score import STEPS_PER_BEAT, Score

NGRAM_SIZES = (4, 8, 16)
_SEED = 0x6A617A7A


def note_codes(score: Score) -> tuple[np.ndarray, np.ndarray]:
    """(durations in steps, link codes) per melody note, as int64. A link code packs
    (interval to the previous note, rest before the note, duration); the first note's is -1."""
    if not score.melody:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    notes = sorted(score.melody, key=lambda n: n.start)
    start = np.round(np.array([n.start for n in notes]) * STEPS_PER_BEAT).astype(np.int64)
    duration = np.round(np.array([n.duration for n in notes]) * STEPS_PER_BEAT).astype(np.int64)
    pitch = np.array([n.pitch for n in notes], dtype=np.int64)
    duration = np.clip(duration, 0, (1 << 24) - 1)
    interval = np.clip(np.diff(pitch), -255, 255) + 256                                # 9 bits
    rest = np.clip(start[1:] - (start[:-1] + duration[:-1]), -(1 << 23), (1 << 23) - 1) + (1 << 23)  # 24 bits
    links = np.full(len(notes), -1, dtype=np.int64)
    links[1:] = (interval << 48) | (rest << 24) | duration[1:]
    return duration, links


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection of uint64 that spreads every input bit."""
    x = x.astype(np.uint64)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


_MULTIPLIERS = (np.random.default_rng(_SEED).integers(1, 2 ** 63, size=64, dtype=np.int64).astype(np.uint64)
                | np.uint64(1))
"""Random odd multipliers, one per position in an n-gram (so n-grams of at most 64 notes)."""


def ngram_hashes(durations: np.ndarray, links: np.ndarray, n: int) -> np.ndarray:
    """64-bit hash of every n-note n-gram (len - n + 1 of them; none if the melody is shorter)."""
    count = len(durations) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    if n > len(_MULTIPLIERS):
        raise ValueError(f"n-grams of at most {len(_MULTIPLIERS)} notes")
    first = _mix(durations[:count] + np.int64(1 << 60))
    total = first * _MULTIPLIERS[0]
    mixed = _mix(links)
    for k in range(1, n):
        total += mixed[k: k + count] * _MULTIPLIERS[k]
    return _mix(total)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


@dataclass(frozen=True)
class CopiedSpan:
    """The longest run of a generated melody's notes found in one training piece."""

    notes: int
    bars: float
    start: int            # index of the span's first note in the generated melody
    start_beat: float
    source: int           # index of the training piece
    source_name: str
    source_start: int     # index of the span's first note in the training piece


@dataclass(frozen=True)
class Memorization:
    """Copying measures of one generated piece."""

    shares: dict[int, float]      # n -> share of the piece's n-grams found in the corpus (NaN: none)
    ngrams: dict[int, int]        # n -> how many n-grams the piece has
    longest: CopiedSpan | None    # None: no span of min_span notes is copied


def _piece_name(score: Score, index: int) -> str:
    for key in ("name", "title", "path", "file", "source"):
        value = score.info.get(key) if isinstance(score.info, dict) else None
        if value:
            return str(value)
    return f"#{index}"


class TrainingIndex:
    """Hashed note n-grams of a training corpus, to measure copying in generated pieces."""

    def __init__(self, training: Sequence[Score], names: Sequence[str] | None = None,
                 sizes: Sequence[int] = NGRAM_SIZES, min_span: int = 4):
        if names is not None and len(names) != len(training):
            raise ValueError("one name per training piece")
        self.sizes = tuple(sizes)
        self.min_span = min_span
        self.names = ([str(n) for n in names] if names is not None
                      else [_piece_name(s, i) for i, s in enumerate(training)])
        codes = [note_codes(s) for s in training]
        lengths = np.array([len(d) for d, _ in codes], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self._durations = np.concatenate([d for d, _ in codes] + [np.zeros(0, np.int64)])
        self._links = np.concatenate([lk for _, lk in codes] + [np.zeros(0, np.int64)])
        # Hash the whole corpus at once, then drop the n-grams that straddle two pieces.
        piece_of = np.repeat(np.arange(len(codes), dtype=np.int64), lengths)
        piece_end = self._offsets[1:][piece_of]
        self._known = {}
        for n in self.sizes:
            h = ngram_hashes(self._durations, self._links, n)
            self._known[n] = _sorted_unique(h[np.arange(len(h)) + n <= piece_end[:len(h)]])
        # Span seeds: every min_span-gram with where it starts, sorted by hash.
        h = ngram_hashes(self._durations, self._links, min_span)
        starts = np.flatnonzero(np.arange(len(h)) + min_span <= piece_end[:len(h)])
        order = np.argsort(h[starts], kind="stable")
        self._seed_hash = h[starts][order]
        self._seed_piece = piece_of[starts][order]
        self._seed_pos = (starts - self._offsets[piece_of[starts]])[order]

    def shares(self, score: Score) -> tuple[dict[int, float], dict[int, int]]:
        """(n -> share of the piece's n-grams present in the corpus, n -> number of n-grams)."""
        durations, links = note_codes(score)
        shares, counts = {}, {}
        for n in self.sizes:
            h = ngram_hashes(durations, links, n)
            known = self._known[n]
            where = np.minimum(np.searchsorted(known, h), max(len(known) - 1, 0))
            found = known[where] == h if len(known) else np.zeros(len(h), dtype=bool)
            counts[n] = len(h)
            shares[n] = float(found.mean()) if len(h) else float("nan")
        return shares, counts

    def longest_span(self, score: Score) -> CopiedSpan | None:
        """The longest copied run of notes (ties: the earliest training piece, then position)."""
        durations, links = note_codes(score)
        h = ngram_hashes(durations, links, self.min_span)
        if not len(h) or not len(self._seed_hash):
            return None
        lo = np.searchsorted(self._seed_hash, h, side="left")
        hi = np.searchsorted(self._seed_hash, h, side="right")
        hits = hi - lo
        if not hits.any():
            return None
        query = np.repeat(np.arange(len(h)), hits)
        rows = np.concatenate([np.arange(a, b) for a, b in zip(lo[hits > 0], hi[hits > 0])])
        piece, pos = self._seed_piece[rows], self._seed_pos[rows]
        start = self._offsets[piece] + pos
        end = self._offsets[piece + 1]
        # Keep only the starts of maximal runs: drop a match the previous note pair also matches.
        prev_q, prev_t = query - 1, start - 1
        continues = (query > 0) & (pos > 0)
        safe_q, safe_t = np.maximum(prev_q, 0), np.maximum(prev_t, 0)
        continues &= (durations[safe_q] == self._durations[safe_t]) & (links[query] == self._links[start])
        query, start, end, piece, pos = (a[~continues] for a in (query, start, end, piece, pos))
        # Extend every run one note at a time, all runs at once, on the real codes.
        length = np.zeros(len(query), dtype=np.int64)
        active = np.arange(len(query))
        step = 0
        while len(active):
            q, t = query[active] + step, start[active] + step
            inside = (q < len(durations)) & (t < end[active])
            qs, ts = np.minimum(q, len(durations) - 1), np.minimum(t, len(self._durations) - 1)
            same = durations[qs] == self._durations[ts] if step == 0 else links[qs] == self._links[ts]
            ok = inside & same
            length[active[~ok]] = step
            active = active[ok]
            step += 1
        best = np.lexsort((pos, piece, -length))[0]
        notes = int(length[best])
        if notes < self.min_span:
            return None
        i = int(query[best])
        melody = sorted(score.melody, key=lambda n: n.start)
        first, last = melody[i], melody[i + notes - 1]
        bar_beats = time_signature_at(score, first.start).bar_beats
        return CopiedSpan(notes=notes, bars=(last.end - first.start) / bar_beats, start=i,
                          start_beat=first.start, source=int(piece[best]),
                          source_name=self.names[int(piece[best])], source_start=int(pos[best]))

    def memorization(self, score: Score) -> Memorization:
        """Shares of copied n-grams and the longest copied span of one generated piece."""
        shares, counts = self.shares(score)
        return Memorization(shares, counts, self.longest_span(score))


def memorization(generated: Sequence[Score], training: Sequence[Score | TrainingIndex],
                 names: Sequence[str] | None = None, sizes: Sequence[int] = NGRAM_SIZES) -> list[Memorization]:
    """:meth:`TrainingIndex.memorization` of each generated piece (``training``: Scores or an index)."""
    index = training if isinstance(training, TrainingIndex) else TrainingIndex(training, names, sizes)
    return [index.memorization(score) for score in generated]


def summarize(results: Sequence[Memorization]) -> dict[str, float]:
    """Set-level figures: mean share per n (over pieces that have n-grams), the longest span of
    all (notes and bars) and the share of pieces with a copied span of at least 8 notes."""
    out: dict[str, float] = {}
    sizes = sorted({n for r in results for n in r.shares})
    for n in sizes:
        values = [r.shares[n] for r in results if n in r.shares and not np.isnan(r.shares[n])]
        out[f"share_{n}"] = float(np.mean(values)) if values else float("nan")
    spans = [r.longest for r in results if r.longest is not None]
    out["longest_notes"] = float(max((s.notes for s in spans), default=0))
    out["longest_bars"] = float(max((s.bars for s in spans), default=0.0))
    out["pieces_with_8_note_copy"] = (sum(1 for s in spans if s.notes >= 8) / len(results)) if results else float("nan")
    return out
