"""Character language model quality: jazzlstm's LSTM vs unigram and bigram models.

The text is public domain and ships with music21: the ~1,000 fiddle tunes of Ryan's Mammoth
Collection (1883) in ABC, cleaned by ``jazzlstm.music.abc`` and joined into one stream with an end
token between tunes, exactly as ``jazzlstm train --abc`` sees it. The last 10% of the stream
is the validation split for every model.

* ``lstm``: ``jazzlstm.train_abc``: 1 layer, 128 units, windows of 64, batch 32, Adam 0.01,
  clip norm 1, for a fixed budget of ``--epochs`` epochs; its validation bits per character
  come from the best epoch's ``val_bits_per_char``.
* ``unigram``: character frequencies of the training split (add-one smoothing);
* ``bigram``: P(c | previous) with Dirichlet smoothing towards the unigram, its strength
  chosen on the last 10% of the training split.

The n-gram models are scored on exactly the characters the LSTM's validation windows
predict. Prints one JSON object.
Run: python benchmarks/bench_text.py [--epochs 10] [--tunes N]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from jazzlstm.music.abc import load_tunes  # noqa: E402
from jazzlstm.data.windows import split_stream, stream_windows  # noqa: E402
from jazzlstm.tokens.chars import PIECE_END, joined  # noqa: E402
from jazzlstm.tokens.vocab import Vocabulary  # noqa: E402

N_A, TX, BATCH, VAL_SPLIT = 128, 64, 32, 0.1


def unigram_probs(ids: list[int], size: int) -> np.ndarray:
    counts = np.bincount(ids, minlength=size).astype(float) + 1.0
    return counts / counts.sum()


def bigram_bits(train: list[int], pairs: np.ndarray, size: int, alpha: float) -> float:
    """Mean bits of P(next | previous) over ``pairs`` (n, 2), Dirichlet-smoothed to the unigram."""
    unigram = unigram_probs(train, size)
    counts = np.zeros((size, size))
    np.add.at(counts, (np.asarray(train[:-1]), np.asarray(train[1:])), 1.0)
    probs = (counts + alpha * unigram[None, :]) / (counts.sum(axis=1, keepdims=True) + alpha)
    return float(-np.log2(probs[pairs[:, 0], pairs[:, 1]]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="the LSTM's training budget")
    parser.add_argument("--tunes", type=int, default=None, help="use only the first N tunes")
    args = parser.parse_args()

    tunes, _ = load_tunes()
    tunes = tunes[: args.tunes] if args.tunes else tunes
    stream = joined(tunes, PIECE_END)
    vocab = Vocabulary.build([stream], specials=(PIECE_END,))  # as train_abc builds it
    ids = vocab.encode(stream)
    train_ids, val_ids = split_stream(ids, VAL_SPLIT)
    windows = stream_windows(val_ids, TX, BATCH)
    val_pairs = np.stack([windows[:, :-1].ravel(), windows[:, 1:].ravel()], axis=1)

    unigram = unigram_probs(train_ids, len(vocab))
    unigram_bits = float(-np.log2(unigram[val_pairs[:, 1]]).mean())
    fit_ids, dev_ids = split_stream(train_ids, 0.1)
    dev_pairs = np.stack([dev_ids[:-1], dev_ids[1:]], axis=1)
    alpha = min((0.1, 0.3, 1.0, 3.0, 10.0, 30.0), key=lambda a: bigram_bits(fit_ids, dev_pairs, len(vocab), a))
    bigram = bigram_bits(train_ids, val_pairs, len(vocab), alpha)

    from jazzlstm.api import train_abc

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        run = train_abc(out=Path(folder) / "run", tunes=tunes, epochs=args.epochs, batch_size=BATCH, n_a=N_A,
                        tx=TX, lr=0.01, clipnorm=1.0, val_split=VAL_SPLIT, seed=0, verbose=0)
    seconds = time.perf_counter() - start
    best = run.history["best_epoch"]
    lstm_bits = run.history["val_bits_per_char"][best - 1]
    print(json.dumps({
        "benchmark": "text", "text": "Ryan's Mammoth Collection (music21 corpus), cleaned ABC",
        "tunes": len(tunes), "characters": len(stream), "vocabulary": len(vocab),
        "train_characters": len(train_ids), "validation_characters_scored": len(val_pairs),
        "uniform_bits_per_char": round(math.log2(len(vocab)), 3),
        "unigram_bits_per_char": round(unigram_bits, 3),
        "bigram_bits_per_char": round(bigram, 3), "bigram_alpha": alpha,
        "lstm": {"units": N_A, "tx": TX, "batch": BATCH, "epochs": args.epochs, "best_epoch": best,
                 "train_seconds": round(seconds, 1), "val_bits_per_char": round(lstm_bits, 3),
                 "val_bits_per_char_by_epoch": [round(b, 3) for b in run.history["val_bits_per_char"]]},
        "cpu_count": os.cpu_count(),
    }, indent=1))


if __name__ == "__main__":
    main()
