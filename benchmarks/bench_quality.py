"""Music model quality on held-out real music: jazzlstm's LSTM against n-gram baselines, per encoding.

The music ships with music21, so nothing is downloaded: Bach chorales (``--chorales`` of them,
from ``music21.corpus.getComposer('bach')``, exported to MIDI by music21) and fiddle tunes of
Ryan's Mammoth Collection (``--tunes`` of them, cleaned and parsed by ``jazzlstm.music.abc``,
written as MIDI with melody, chords and bass by ``jazzlstm.music.midi.write_midi``), and its two
lead sheets (melody and chord symbols, written the same way). Whole files
are held out (``--heldout``, default 10%, the same files for every encoding); the rest trains.

For each encoding (``--encodings``, default all five): ``jazzlstm.train`` on the training files
(``--epochs`` epochs, the defaults otherwise: windows of 30, the encoding's window stride, batch
32, Adam 0.01, its own 10% of the training files for choosing the best epoch) at one parameter
budget (``--params``: the LSTM units of each encoding are chosen so that its weights number
about that many, whatever its vocabulary; or ``--n-a`` units for all), then ``jazzlstm.evaluate`` against the held-out
files with the training files as training set: the model's held-out bits per note beside the
uniform, unigram and Kneser-Ney (n = 2..5) baselines fitted on the same training files, on the
same tokens, the out-of-vocabulary rate, the music metrics' overlap of ``--samples`` generated
pieces with the held-out pieces (and the held-out against the training pieces, as a yardstick),
and memorization; with ``--beam N``, the sampled pieces again by beam search (``--harmony-weight``)
through the same report. Bits per note are also given for the exact melody (the pitches an
encoding's tokens leave open, named by a code fitted on the training files: the figure that
compares encodings; docs/evaluation.md). ``--data-only`` skips training: per encoding, only the
held-out token counts, baselines and those unsaid bits. Progress on stderr; one JSON object on stdout.

Run: python benchmarks/bench_quality.py [--chorales 100] [--tunes 150] [--epochs 5] [--params 60000]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ENCODINGS = ("grammar", "grammar-events", "notes", "note-events", "degree-events")


def log(message: str) -> None:
    print(f"bench_quality: {message}", file=sys.stderr, flush=True)


def generated_summary(report: dict) -> dict:
    """What beam search is judged on: overlap with held-out pieces, chord tones, copying."""
    ours = report["comparison"]["generated_vs_reference"]
    sets = report["metrics"]["sets"]
    return {"generated_vs_heldout_mean_overlap": ours["mean_overlap_a"],
            "chord_tone_ratio": {"generated": sets["generated"]["chord_tone_ratio"]["mean"],
                                 "heldout": sets["reference"]["chord_tone_ratio"]["mean"]},
            "memorization": {k: report["memorization"]["summary"][k]
                             for k in ("share_8", "share_16", "pieces_with_copy_over_2_bars")}}


def exact_melody(likelihood: dict) -> dict:
    """Bits per note of the exact melody (the pitches the tokens leave open included: the
    figure that compares encodings; docs/evaluation.md), for the model (if any) and the best
    Kneser-Ney, and the unsaid pitch bits per note themselves."""
    best = likelihood["baselines"]["best_kneser_ney"]
    out = {"unsaid_pitch_bits_per_note": likelihood["unsaid_pitch_bits"]["bits_per_note"],
           "kneser_ney_best": best["exact_bits_per_note"]}
    if "model" in likelihood:
        out["model"] = likelihood["model"]["exact_bits_per_note"]
    return out


def data_only(root: Path, labels: list[str]) -> dict:
    """Per encoding, what does not need a model: held-out tokens and notes, out-of-vocabulary
    rate, the n-gram baselines and the pitch bits the tokens leave open (--data-only)."""
    from jazzlstm.config import CorpusConfig
    from jazzlstm.evaluate.heldout import heldout_likelihood
    from jazzlstm.evaluate.report import read_set
    from jazzlstm.tokens.registry import make_tokenizer
    from jazzlstm.tokens.vocab import Vocabulary

    out = {}
    for label in labels:
        encoding, _, variant = label.partition("/")
        options = {"augment": ()} if variant == "plain" else {}
        train = read_set("training", root / "train", CorpusConfig(encoding=encoding, **options))
        reference = read_set("reference", root / "heldout", CorpusConfig(encoding=encoding, **options))
        tokenizer = make_tokenizer(encoding, **options)
        vocab = Vocabulary(sorted({t for score in train.scores for seq in tokenizer.encode_variants(score) for t in seq}))
        log(f"{label}: baselines and unsaid pitch bits on {len(reference.scores)} held-out files")
        likelihood = heldout_likelihood(None, vocab, tokenizer, reference.scores, reference.names,
                                        train.scores, train.names, progress=log)
        best = likelihood["baselines"]["best_kneser_ney"]
        out[label] = {"tokens": likelihood["tokens"], "scored_tokens": likelihood["scored_tokens"],
                      "notes": likelihood["notes"], "oov_rate": likelihood["oov_rate"],
                      f"kneser_ney_best (n={best['order']})": best["bits_per_note"],
                      "heldout_exact_melody_bits_per_note": exact_melody(likelihood)}
    return out


def summarize(report: dict, run, seconds: float) -> dict:
    likelihood = report["likelihood"]
    baselines = likelihood["baselines"]
    best = baselines["best_kneser_ney"]
    ours = report["comparison"]["generated_vs_reference"]
    yard = report["comparison"]["reference_vs_training"]
    history = run.history
    best_epoch = history.get("best_epoch") or 0
    val_bpn = history.get("val_bits_per_note")
    return {
        "train": {"seconds": round(seconds, 1), "epochs": len(history.get("loss", [])), "best_epoch": best_epoch,
                  "seconds_per_epoch": round(seconds / max(1, len(history.get("loss", []))), 1),
                  "vocabulary": len(run.vocab), "n_a": run.model.n_a,
                  "parameters": run.model.training_model.count_params(),
                  "stride": run.train_config.stride,
                  "val_bits_per_note": val_bpn[best_epoch - 1] if val_bpn and best_epoch else None},
        "heldout_bits_per_note": {
            "model": likelihood["model"]["bits_per_note"],
            "uniform": baselines["uniform"]["bits_per_note"],
            "unigram": baselines["unigram"]["bits_per_note"],
            f"kneser_ney_best (n={best['order']})": best["bits_per_note"],
            "kneser_ney": {n: r["bits_per_note"] for n, r in baselines["kneser_ney"].items()},
        },
        "heldout_exact_melody_bits_per_note": exact_melody(likelihood),
        "heldout_bits_per_token": {
            "model": likelihood["model"]["bits_per_token"],
            "uniform": baselines["uniform"]["bits_per_token"],
            "unigram": baselines["unigram"]["bits_per_token"],
            "kneser_ney_best": best["bits_per_token"],
        },
        "oov_rate": likelihood["oov_rate"],
        "chord_tone_ratio": generated_summary(report)["chord_tone_ratio"],
        "ngram_oov_rate": baselines["oov_rate"],
        "scored_tokens": likelihood["scored_tokens"],
        "notes": likelihood["notes"],
        "music_overlap": {
            "generated_vs_heldout_mean": ours["mean_overlap_a"],
            "generated_vs_heldout_pitch": ours.get("pitch_mean_overlap_a"),
            "generated_vs_heldout_rhythm": ours.get("rhythm_mean_overlap_a"),
            "heldout_vs_training_mean (yardstick)": yard.get("mean_overlap_a"),
            "generated_vs_heldout": {f: v["overlap_a"] for f, v in ours["features"].items()},
        },
        "memorization": {k: report["memorization"]["summary"][k]
                         for k in ("share_4", "share_8", "share_16", "pieces_with_copy_over_2_bars")},
        "memorization_heldout_yardstick": {k: report["memorization"]["reference_summary"][k]
                                           for k in ("share_4", "share_8", "share_16", "pieces_with_copy_over_2_bars")},
        "heldout_pieces_also_in_training": len(report["sets"]["reference"].get("in_training", [])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chorales", type=int, default=100, help="Bach chorales to use")
    parser.add_argument("--tunes", type=int, default=150, help="fiddle tunes to use")
    parser.add_argument("--heldout", type=float, default=0.1, help="share of the files held out")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs per encoding")
    parser.add_argument("--n-a", type=int, default=64, help="LSTM units (without --params)")
    parser.add_argument("--params", type=int, default=None, help="parameter budget: units chosen per encoding")
    parser.add_argument("--encodings", default=",".join(ENCODINGS), help="comma-separated encodings to compare")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: train's)")
    parser.add_argument("--tx", type=int, default=None, help="window length in tokens (default: train's)")
    parser.add_argument("--stride", type=int, default=None, help="tokens between window starts (default: the encoding's)")
    parser.add_argument("--dropout", type=float, default=None, help="dropout between layers and before densor (default: train's)")
    parser.add_argument("--layers", type=int, default=1, help="stacked LSTM layers (the budget covers them all)")
    parser.add_argument("--beam", type=int, default=0, help="also evaluate beam search of this width (0: not)")
    parser.add_argument("--harmony-weight", type=float, default=1.0, help="beam search's harmony weight")
    parser.add_argument("--samples", type=int, default=32, help="pieces generated per encoding")
    parser.add_argument("--bars", type=int, default=16, help="bars per generated piece")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", metavar="DIR", default=None, help="keep the corpus, runs and reports here")
    parser.add_argument("--data-only", action="store_true",
                        help="no training: per encoding, held-out tokens, baselines and unsaid pitch bits")
    args = parser.parse_args()

    from jazzlstm import api
    from jazzlstm.data.music21_corpus import export_chorales, export_scores, export_tunes, hold_out_files
    from jazzlstm.model.params import units_for_budget

    started = time.perf_counter()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_quality."))
    root.mkdir(parents=True, exist_ok=True)
    os.environ["JAZZLSTM_CACHE_DIR"] = str(root / "cache")  # leave the user's corpus cache alone
    try:
        corpus_file = root / "corpus.json"
        if corpus_file.is_file():  # --keep DIR of an earlier run: the same files, split the same way
            counts = json.loads(corpus_file.read_text())
            log(f"reusing the corpus in {root}")
        else:
            everything = root / "all"
            everything.mkdir()
            log(f"exporting {args.chorales} Bach chorales and {args.tunes} fiddle tunes to MIDI in {everything}")
            counts = {"chorales": export_chorales(everything, args.chorales, log),
                      "tunes": export_tunes(everything, args.tunes, log),
                      "lead_sheets": export_scores(everything, "leadSheet", "leadsheet_", log)}
            counts["train_files"], counts["heldout_files"] = hold_out_files(
                everything, root / "train", root / "heldout", args.heldout, args.seed)
            corpus_file.write_text(json.dumps(counts))
        n_heldout = counts["heldout_files"]
        log(f"{counts['chorales']} chorales + {counts['tunes']} tunes + {counts['lead_sheets']} lead sheets: "
            f"{counts['train_files']} files train, {n_heldout} held out ({time.perf_counter() - started:.0f} s)")
        results = {"corpus": counts,
                   "settings": {"n_a": args.n_a, "params": args.params, "epochs": args.epochs, "lr": args.lr, "tx": args.tx,
                                "dropout": args.dropout, "layers": args.layers, "stride": args.stride,
                                "samples": args.samples, "bars": args.bars, "seed": args.seed}}
        if args.data_only:
            results["data_only"] = data_only(root, args.encodings.split(","))
        for label in [] if args.data_only else args.encodings.split(","):
            # "note-events/plain": the encoding without its default transposed copies.
            encoding, _, variant = label.partition("/")
            options = {"augment": ()} if variant == "plain" else {}
            corpus = api.load_corpus(root / "train", encoding=encoding, workers=2, **options)
            n_values = len({t for seq in corpus.sequences for t in seq})
            n_a = units_for_budget(n_values, args.params, layers=args.layers) if args.params else args.n_a
            log(f"{label}: training ({args.epochs} epochs, {n_a} units, vocabulary {n_values})")
            name = label.replace("/", "-")
            clock = time.perf_counter()
            with contextlib.redirect_stdout(sys.stderr):  # Keras's epoch lines: stdout is for the JSON
                run = api.train(None, root / f"run-{name}", corpus=corpus, n_a=n_a, layers=args.layers,
                                epochs=args.epochs, seed=args.seed, force=True, verbose=2,
                                **{k: v for k, v in (("lr", args.lr), ("tx", args.tx), ("dropout", args.dropout),
                                                     ("stride", args.stride))
                                   if v is not None})
            seconds = time.perf_counter() - clock
            log(f"{label}: evaluating against {n_heldout} held-out files")
            report = api.evaluate(run, root / "heldout", root / f"evaluation-{name}", force=True, verbose=True,
                                  n=args.samples, bars=args.bars, seed=args.seed, training=str(root / "train"))
            results[label] = summarize(report, run, seconds)
            if args.beam > 1:
                log(f"{label}: beam search of {args.beam}, harmony weight {args.harmony_weight}")
                beamed = api.evaluate(run, root / "heldout", root / f"evaluation-{name}-beam", force=True,
                                      verbose=True, n=args.samples, bars=args.bars, seed=args.seed,
                                      training=str(root / "train"), beam=args.beam,
                                      harmony_weight=args.harmony_weight)
                results[label]["beam_search"] = {"width": args.beam, "harmony_weight": args.harmony_weight,
                                                    "sampled": generated_summary(report),
                                                    "beam_search": generated_summary(beamed)}
            log(f"{label}: done ({time.perf_counter() - started:.0f} s so far)")
        results["seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(results, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
