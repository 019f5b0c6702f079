"""Chords from a melody alone: the old per-bar template match vs the HMM (chord_model.py).

Labelled pieces, chords removed and melody kept, scored on every beat against the written
chord (per-beat root accuracy and exact-chord accuracy), on the same beats for both:

* "chord symbols": music21's lead sheets and its ABC tunes with chord symbols (4 pieces);
* "roman numerals": music21's RomanText analyses with their scores (Bach chorales,
  Monteverdi madrigals; the melody is the top part);
* "composed": the nine composed jazz samples in midi_samples/ (melody track only; the
  written changes come from midi_samples/make_samples.py). They never feed the priors; five
  of them spell out a whole code cadence of 8 bars or more (the jazz blues, minor blues,
  rhythm changes A, both cycles of fifths: the same roots bar by bar, in any key), and each
  is scored by priors built without the cadences it copies (``cadences_held_out``).

Held out: the first two groups are also where the priors come from, so every piece is
scored by priors rebuilt without it (leave-one-out by piece, through the same counting code
as benchmarks/build_chord_priors.py). The packaged chord_priors.json (built from all pieces)
is only timed, never scored on those pieces.

The HMM's hyperparameters were tuned on these same figures: about 45 settings, chosen by
the mean over the four corpora (chord symbols, composed, Bach, Monteverdi) of the root
accuracy. Tuned: decoding (forward-backward posterior over Viterbi: +2 to +7 points
everywhere but the chord symbols), segments (beat over half bar: only with posterior
decoding), emission_scale 1.5, key_weight 0.25, Roman-numeral weight 0.2. Tried and left
off because they measured no better: a local (windowed) key, emission tables per metric
class, non-chord-tone shares per metric class, other metric weights, a larger learned share
of the emissions, choosing a jazz or a classical model per piece by likelihood. The
held-out counts are clean, the hyperparameters are not, so read the figures as a little
optimistic. "all" pools every beat (Monteverdi is 89% of them).

Learned emission ("hmm_learned"; issue 14): a multinomial logistic model of P(root, quality |
features of the beat) (chord_model.segment_features: the beat's pitch classes relative to
each candidate root by metric class, those of the beats around it and of its bar, the root
relative to the melody's key), trained with numpy's L-BFGS (build_chord_priors.lbfgs) on every
labelled beat of the chord-symbol and Roman-numeral pieces plus 343 Bach chorales of music21's
corpus labelled by what their three lower voices sound (melody = soprano; the 20 chorales of the
Roman-numeral set, and any chorale with one of their tunes, left out); its log root marginal,
times 0.5, is added to the table's emissions. Held out 5-fold by piece (each group dealt out in
turn); the composed samples are scored by a model trained on every piece. The chorales are
also scored (their own group) but stay out of "all" and of the mean over the four test
corpora. Tuned on these figures too: learned_weight (0.5, 1, 1.5), root marginal vs whole
state, with vs without the key block (8 settings, chosen by the mean over corpora then
pooled root). It raises pooled root accuracy but lowers the composed jazz samples (it learns
classical harmony), so the package keeps it off ("hmm" = what ships; learned_weight 0).

"exact" compares the written quality as jazzlstm reads it (6, m6, sus4... included, which
the HMM never outputs); "exact_folded" first folds it to the HMM's qualities (6 -> major,
m6 -> m, dim -> dim7...). Prints one JSON object.

The Roman-numeral group is also reported by corpus (Bach chorales, Monteverdi madrigals: the
madrigals' top part rests on a quarter of the beats, where the melody says nothing).

Run: python benchmarks/bench_chords.py [--segments bar|half|beat] [--folds K] [--no-cache]
(about 5 minutes on 2 busy cores: the five folds' training is most of it).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see build_chord_priors.py
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_chord_priors as builder  # noqa: E402
from jazzlstm.music import chord_model  # noqa: E402
from jazzlstm.music.chords import chord_timeline, melody_chords  # noqa: E402
from jazzlstm.music.harmony import parse_chord  # noqa: E402
from jazzlstm.music.score import STEPS_PER_BEAT, Chord, Note, chord_at  # noqa: E402

OLD_QUALITIES = ("", "m", "7", "m7", "maj7")
FOLDS = 5  # k-fold by piece for the learned emission


def old_melody_chords(melody: Sequence[Note], bar_lines: Sequence[float], end: float) -> tuple[Chord, ...]:
    """The function melody_chords was before the HMM: one chord per bar, best template match
    over five qualities (kept here verbatim for the comparison)."""
    step = 1.0 / STEPS_PER_BEAT
    segments = [(s, bar_lines[i + 1] if i + 1 < len(bar_lines) else max(end, s + step))
                for i, s in enumerate(bar_lines)]
    return chord_timeline(melody, segments, OLD_QUALITIES)


def composed_pieces() -> list[builder.Piece]:
    """The composed samples: melody as jazzlstm reads it, chords as make_samples wrote them."""
    from jazzlstm.music.reading import read_score

    samples = ROOT / "midi_samples"
    sys.path.insert(0, str(samples))
    try:
        import make_samples
    finally:
        sys.path.remove(str(samples))
    pieces = []
    for name, spec in make_samples.COMBOS:
        score = read_score(samples / name)
        numerator, denominator = spec.meter
        bar = numerator * 4 / denominator
        chords = []
        for i, names in enumerate(spec.bars):
            names = names.split()
            for j, label in enumerate(names):
                root, quality = parse_chord(label)
                chords.append(Chord(i * bar + j * bar / len(names), bar / len(names), root, quality))
        end = max(score.end, chords[-1].end)
        pieces.append(builder.Piece(name, "composed", score.melody, tuple(chords),
                                    tuple(score.bar_starts(end)), 0.0, end))
    return pieces


def score_piece(piece: builder.Piece, chords: Sequence[Chord]) -> dict:
    beats = piece.beats()
    root = exact = folded = 0
    for b in beats:
        truth = chord_at(piece.chords, b + 0.01)
        found = chord_at(chords, b + 0.01) if chords else None
        if found is None or truth is None:
            continue
        root += found.root == truth.root
        exact += found.root == truth.root and found.quality == truth.quality
        folded += found.root == truth.root and found.quality == chord_model.fold_quality(truth.quality)
    return {"beats": len(beats), "root": root, "exact": exact, "exact_folded": folded}


def summarize(rows: Sequence[dict]) -> dict:
    beats = sum(r["beats"] for r in rows)
    out = {"pieces": len(rows), "beats": beats}
    for key in ("root", "exact", "exact_folded"):
        out[key] = round(sum(r[key] for r in rows) / beats, 4) if beats else None
    # Mean over pieces too: long madrigals weigh as much as a 16-bar tune.
    out["root_mean_over_pieces"] = round(float(np.mean([r["root"] / r["beats"] for r in rows])), 4) if rows else None
    return out


def leave_one_out_priors(pieces: Sequence[builder.Piece], segments: str) -> list[dict]:
    """One priors dictionary per piece, from the counts of every other piece (plus the code
    cadences)."""
    per_piece = []
    for piece in pieces:
        counts = builder.Counts()
        counts.add_piece(piece, segments, builder.piece_weight(piece))
        per_piece.append(counts)
    total = builder.count_all(pieces, segments)
    return [builder.priors_from_counts(total.minus(c), segments) for c in per_piece]


def fold_of(pieces: Sequence[builder.Piece], folds: int) -> list[int]:
    """k-fold by piece: the pieces of each group dealt out in turn (so every fold holds some
    of every corpus)."""
    seen: dict[str, int] = {}
    out = []
    for piece in pieces:
        group = corpus_name(piece)
        out.append(seen.get(group, 0) % folds)
        seen[group] = seen.get(group, 0) + 1
    return out


def corpus_name(piece: builder.Piece) -> str:
    return f"roman numerals: {piece.name.split('/')[0]}" if piece.group == "roman numerals" else piece.group


def fold_emission_models(pieces: Sequence[builder.Piece], folds: int) -> tuple[list[int], list[np.ndarray]]:
    """(fold of each piece, the learned emission's weights per fold, each trained on the
    pieces of every other fold)."""
    fold = fold_of(pieces, folds)
    examples = [builder.piece_examples(p) for p in pieces]
    weights = [builder.train_emission_model([e for e, f in zip(examples, fold) if f != k]) for k in range(folds)]
    return fold, weights


def with_learned(priors: dict, weights: np.ndarray | None, learned_weight: float | None = None,
                 **params) -> chord_model.ChordHMM:
    """The HMM of ``priors`` with a learned emission (``weights``; None: the table alone)."""
    priors = dict(priors)
    priors["params"] = {**priors["params"], **params,
                        "learned_weight": builder.PARAMS["learned_weight"] if learned_weight is None else learned_weight}
    if weights is not None:
        priors["emission_model"] = {"weights": np.asarray(weights).tolist()}
    return chord_model.ChordHMM(priors)


def evaluate(pieces: Sequence[builder.Piece], models: Sequence[chord_model.ChordHMM | None],
             method: Callable) -> dict[str, dict]:
    rows: dict[str, list[dict]] = {}
    for piece, model in zip(pieces, models):
        chords = method(piece, model)
        row = score_piece(piece, chords)
        rows.setdefault(piece.group, []).append(row)
        if piece.group == "roman numerals":  # and by corpus: Bach chorales, Monteverdi madrigals
            rows.setdefault(corpus_name(piece), []).append(row)
    result = {group: summarize(r) for group, r in rows.items()}
    # "all" and the mean over corpora: the four test corpora (the chorales labelled by their
    # lower voices are reported apart).
    tests = [g for g in rows if g in TEST_CORPORA or g == "roman numerals"]
    result["all"] = summarize([r for group, rs in rows.items() if group in tests and ":" not in group for r in rs])
    means = [result[g] for g in TEST_CORPORA if g in result]
    result["mean over corpora"] = {key: round(float(np.mean([m[key] for m in means])), 4)
                                   for key in ("root", "exact", "exact_folded")} if means else {}
    return result


TEST_CORPORA = ("chord symbols", "composed", "roman numerals: bach", "roman numerals: monteverdi")


def hmm_chords(piece: builder.Piece, model: chord_model.ChordHMM) -> tuple[Chord, ...]:
    from jazzlstm.music.chords import chords_from_labels

    segments, labels = chord_model.infer_labels(piece.melody, piece.bar_lines, piece.end, model)
    return chords_from_labels(segments, labels)


def timing(model: chord_model.ChordHMM | None = None, repeats: int = 20) -> dict:
    """melody_chords on a 200-bar melody (eighth notes), the packaged priors already loaded
    (or, with ``model``, that model's infer_labels and the merge melody_chords does)."""
    rng = np.random.default_rng(0)
    melody = [Note(i * 0.5, 0.5, int(60 + rng.integers(0, 14))) for i in range(1600)]
    bar_lines = [4.0 * i for i in range(200)]
    if model is None:
        run = lambda: melody_chords(melody, bar_lines, 800.0)  # noqa: E731
    else:
        from jazzlstm.music.chords import chords_from_labels

        run = lambda: chords_from_labels(*chord_model.infer_labels(melody, bar_lines, 800.0, model))  # noqa: E731
    run()  # loads the priors
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"bars": 200, "notes": len(melody), "median_ms": round(1000 * float(np.median(times)), 2)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", choices=chord_model.SEGMENT_LENGTHS, default=builder.SEGMENTS,
                        help=f"HMM with one chord per bar, half bar or beat (default {builder.SEGMENTS})")
    parser.add_argument("--folds", type=int, default=FOLDS, help=f"k of the k-fold learned emission (default {FOLDS})")
    parser.add_argument("--no-cache", action="store_true", help="parse the corpus even if cached")
    args = parser.parse_args(argv)
    segments = args.segments
    started = time.perf_counter()
    labelled = builder.labelled_pieces(None if args.no_cache else builder.default_cache())
    chorales = builder.chorale_pieces(builder.raw_chorales(None if args.no_cache else builder.default_chorale_cache()),
                                      exclude=[p for p in labelled if p.group == "roman numerals"])
    composed = composed_pieces()
    parsed = time.perf_counter()
    # Learned emission: k-fold by piece over the labelled pieces and the chorales.
    learners = list(labelled) + chorales
    fold, fold_weights = fold_emission_models(learners, args.folds)
    trained = time.perf_counter()
    everything = builder.train_emission_model([builder.piece_examples(p) for p in learners])
    # Table and transitions: leave-one-out by piece (the chorales never feed them).
    priors = leave_one_out_priors(labelled, segments) + [builder.build(labelled, segments)] * len(chorales)
    # Composed pieces are never in the priors, but some spell out a code cadence whole (the
    # blues, rhythm changes...): each is scored by priors without the cadences it copies.
    priors += [builder.build(labelled, segments, builder.copied_cadences(piece)) for piece in composed]
    pieces = learners + composed
    weights = [fold_weights[f] for f in fold] + [everything] * len(composed)
    packaged = [with_learned(p, w) for p, w in zip(priors, weights)]
    trial = [with_learned(p, w, **builder.LEARNED_TRIAL) for p, w in zip(priors, weights)]
    old = evaluate(pieces, packaged, lambda piece, _: old_melody_chords(piece.melody, piece.bar_lines, piece.end))
    new = evaluate(pieces, packaged, hmm_chords)
    learned = evaluate(pieces, trial, hmm_chords)
    keys = ("root", "exact", "exact_folded", "root_mean_over_pieces")
    report = {
        "held_out": "table and transitions: leave-one-out by piece (chord-symbol and Roman-numeral "
                    f"pieces); learned emission: {args.folds}-fold by piece over those and the chorales; "
                    "composed samples are in neither, nor are the code cadences they copy",
        "cadences_held_out": {piece.name: builder.copied_cadences(piece) for piece in composed
                              if builder.copied_cadences(piece)},
        "segments": segments,
        "packaged_learned_weight": builder.PARAMS["learned_weight"],
        "hmm_learned": builder.LEARNED_TRIAL,
        "groups": {group: {**{k: old[group][k] for k in ("pieces", "beats") if k in old[group]},
                           "old": {k: old[group][k] for k in keys if k in old[group]},
                           "hmm": {k: new[group][k] for k in keys if k in new[group]},
                           "hmm_learned": {k: learned[group][k] for k in keys if k in learned[group]}}
                   for group in list(old)},
        "timing_200_bars": timing(),
        "timing_200_bars_learned": timing(with_learned(builder.build(labelled, segments), everything,
                                                       **builder.LEARNED_TRIAL)),
        "seconds": {"parse": round(parsed - started, 1), "train_folds": round(trained - parsed, 1),
                    "total": round(time.perf_counter() - started, 1)},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
