"""Rebuild the pretrained run that ships inside jazzlstm (``jazzlstm/pretrained/default``).

``jazzlstm generate out.mid`` uses that run when no ``--run`` is given. It is trained by
jazzlstm itself on the largest corpus that ships offline (see
:mod:`jazzlstm.data.music21_corpus`: music21's Bach chorales, fiddle tunes, lead sheets and
Joplin, plus the bundled samples the project composed), with whole files held out:

1. the corpus is written as MIDI into a work folder;
2. ``HELDOUT_SHARE`` of the files (seeded) are set aside and never trained on;
3. ``jazzlstm train`` runs on the rest with the settings below (its own validation files,
   10% of those, choose the best epoch);
4. ``jazzlstm evaluate`` compares the run with the held-out files: bits per note against the
   n-gram baselines fitted on the training files, music metrics, memorization. The report is
   written to the work folder and its headline figures printed as JSON; they are the figures
   of the model card (``jazzlstm/pretrained/README.md``).

Run from anywhere, with jazzlstm installed (about 30 minutes on 2 CPU cores, most of it
training)::

    python jazzlstm/pretrained/rebuild.py [--work DIR] [--epochs N]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "default"
SAMPLES = HERE.parent.parent / "midi_samples"

ENCODING = "grammar-events"
N_A = 192
EPOCHS = 5
LR = 0.002
SEED = 0
HELDOUT_SHARE = 0.05
EVALUATION_PIECES = 64
# Bundled samples that are renderings of music21 corpus pieces the export writes too.
FROM_MUSIC21 = ("bach_", "leadsheet_", "ragtime_", "fiddle_")


def log(message: str) -> None:
    print(f"rebuild: {message}", file=sys.stderr, flush=True)


def build_corpus(work: Path) -> tuple[Path, Path, dict]:
    """Write the corpus into ``work``: (training folder, held-out folder, counts)."""
    from jazzlstm.data.music21_corpus import export_corpus, hold_out_files

    everything = work / "all"
    if everything.exists():
        shutil.rmtree(everything)
    counts = export_corpus(everything, log=log)
    own = [p for p in sorted(SAMPLES.glob("*.mid")) if not p.name.startswith(FROM_MUSIC21)]
    for path in own:
        shutil.copyfile(path, everything / f"sample_{path.name}")
    counts["composed_samples"] = len(own)
    train, heldout = work / "train", work / "heldout"
    counts["train_files"], counts["heldout_files"] = hold_out_files(everything, train, heldout, HELDOUT_SHARE, SEED)
    return train, heldout, counts


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild jazzlstm's pretrained run from music21's corpus.")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--out", type=Path, default=OUT, help="run folder to write (default: the shipped one)")
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--n-a", type=int, default=N_A)
    parser.add_argument("--evaluate-only", action="store_true",
                        help="evaluate the run already at --out against the work folder's held-out files")
    args = parser.parse_args()

    import jazzlstm
    from jazzlstm.api import evaluate

    work = args.work or Path(tempfile.mkdtemp(prefix="jazzlstm-rebuild."))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts_file = work / "corpus.json"
    if counts_file.is_file() and (work / "train").is_dir() and (work / "heldout").is_dir():
        train, heldout, counts = work / "train", work / "heldout", json.loads(counts_file.read_text())
        log(f"reusing the corpus already written in {work}")
    else:
        train, heldout, counts = build_corpus(work)
        counts_file.write_text(json.dumps(counts))
    log(f"{counts['train_files']} files to train on, {counts['heldout_files']} held out "
        f"({time.perf_counter() - started:.0f} s)")
    clock = time.perf_counter()
    if args.evaluate_only:
        run = jazzlstm.load_run(args.out)
    else:
        run = jazzlstm.train(train, args.out, encoding=ENCODING, n_a=args.n_a, epochs=args.epochs, lr=args.lr,
                             seed=SEED, cache=str(work / "cache"), force=True, verbose=2)
    train_seconds = time.perf_counter() - clock
    log(f"trained in {train_seconds / 60:.1f} min; evaluating against the held-out files")
    report = evaluate(run, heldout, work / "evaluation", training=str(train), n=EVALUATION_PIECES,
                      seed=SEED, force=True, verbose=True)
    likelihood, baselines = report["likelihood"], report["likelihood"]["baselines"]
    comparison = report["comparison"]["generated_vs_reference"]
    summary = {
        "corpus": counts, "settings": {"encoding": ENCODING, "n_a": run.model.n_a, "epochs": args.epochs,
                                       "lr": run.train_config.lr, "seed": SEED},
        "train_minutes": None if args.evaluate_only else round(train_seconds / 60, 1),
        "best_epoch": run.history.get("best_epoch"),
        "validation_bits_per_note": run.history.get("val_bits_per_note"),
        "vocabulary": len(run.vocab), "weights_bytes": (args.out / "model.keras").stat().st_size,
        "heldout_bits_per_note": {"model": likelihood["model"]["bits_per_note"],
                                  "uniform": baselines["uniform"]["bits_per_note"],
                                  "unigram": baselines["unigram"]["bits_per_note"],
                                  "best_kneser_ney": baselines["best_kneser_ney"]},
        "heldout_exact_melody_bits_per_note": {"model": likelihood["model"].get("exact_bits_per_note"),
                                               "best_kneser_ney": baselines["best_kneser_ney"].get("exact_bits_per_note")},
        "oov_rate": likelihood["oov_rate"],
        "overlap": {"mean": comparison["mean_overlap_a"], "pitch": comparison["pitch_mean_overlap_a"],
                    "rhythm": comparison["rhythm_mean_overlap_a"]},
        "memorization": report["memorization"]["summary"],
        "evaluation_report": str(work / "evaluation"),
    }
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
