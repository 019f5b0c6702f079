"""Character language model quality: jazzlstm's LSTM vs unigram and bigram models.

The text is public domain and ships with music21: the ~1,000 fiddle tunes of Ryan's Mammoth
Collection (1883) in ABC, cleaned by ``jazzlstm.music.abc`` and joined into one stream with an end
token between tunes, exactly as ``jazzlstm train --abc`` sees it. The last 10% of the stream
is the validation split for every model.

* ``lstm``: ``jazzlstm.train_abc``: 1 layer, 128 units, windows of 64, batch 32, Adam 0.01,
  clip norm 1, for a fixed budget of ``--epochs`` epochs; its validation bits per character
  come from the best epoch's ``val_bits_per_char``.
* ``depth``: stacked LSTMs trained the same way (same windows, epochs, optimizer, seed): 2 and
  3 layers at the same weight budget as the 1 x 128 model (units from
  ``jazzlstm.model.params.units_for_budget``), and at a larger budget, 2 and 3 layers of 256
  units with dropout ``--dropout`` between layers, beside one layer holding as many weights as
  the 3 x 256 stack. ``--quick`` runs the same-budget models only.
* ``unigram``: character frequencies of the training split (add-one smoothing);
* ``bigram``: P(c | previous) with Dirichlet smoothing towards the unigram, its strength
  chosen on the last 10% of the training split.

The n-gram models are scored on exactly the characters the LSTM's validation windows
predict. Prints one JSON object.
Run: python benchmarks/bench_text.py [--epochs 10] [--tunes N] [--quick] [--dropout 0.25]
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


def train_lstm(tunes: list[str], epochs: int, n_a: int, layers: int = 1, dropout: float = 0.0) -> dict:
    """Train one character model on the tunes; its best validation bits per character and cost."""
    from jazzlstm.api import train_abc
    from jazzlstm.model.params import parameter_count

    print(f"bench_text: training {layers} x {n_a} units, dropout {dropout:g}, {epochs} epochs", file=sys.stderr)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        run = train_abc(out=Path(folder) / "run", tunes=tunes, epochs=epochs, batch_size=BATCH, n_a=n_a,
                        layers=layers, dropout=dropout, tx=TX, lr=0.01, clipnorm=1.0, val_split=VAL_SPLIT,
                        seed=0, verbose=0)
    seconds = time.perf_counter() - start
    best = run.history["best_epoch"]
    return {"layers": layers, "units": n_a, "dropout": dropout,
            "weights": parameter_count(run.model.n_values, n_a, layers), "tx": TX, "batch": BATCH,
            "epochs": epochs, "best_epoch": best, "train_seconds": round(seconds, 1),
            "val_bits_per_char": round(run.history["val_bits_per_char"][best - 1], 3),
            "val_bits_per_char_by_epoch": [round(b, 3) for b in run.history["val_bits_per_char"]]}


def depth_models(vocabulary: int, quick: bool, dropout: float) -> list[tuple[int, int, float]]:
    """(layers, units, dropout) of the stacked models: the 1 x 128 budget, then a larger one."""
    from jazzlstm.model.params import parameter_count, units_for_budget

    budget = parameter_count(vocabulary, N_A)
    models = [(layers, units_for_budget(vocabulary, budget, layers=layers), 0.0) for layers in (2, 3)]
    if not quick:
        large = parameter_count(vocabulary, 256, 3)
        models += [(1, units_for_budget(vocabulary, large), 0.0), (2, 256, dropout), (3, 256, dropout)]
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="the LSTM's training budget")
    parser.add_argument("--tunes", type=int, default=None, help="use only the first N tunes")
    parser.add_argument("--quick", action="store_true", help="stacked models at the 1 x 128 budget only")
    parser.add_argument("--dropout", type=float, default=0.25, help="between the layers of the larger stacks")
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

    lstm = train_lstm(tunes, args.epochs, N_A)
    depth = [train_lstm(tunes, args.epochs, units, layers, dropout)
             for layers, units, dropout in depth_models(len(vocab), args.quick, args.dropout)]
    print(json.dumps({
        "benchmark": "text", "text": "Ryan's Mammoth Collection (music21 corpus), cleaned ABC",
        "tunes": len(tunes), "characters": len(stream), "vocabulary": len(vocab),
        "train_characters": len(train_ids), "validation_characters_scored": len(val_pairs),
        "uniform_bits_per_char": round(math.log2(len(vocab)), 3),
        "unigram_bits_per_char": round(unigram_bits, 3),
        "bigram_bits_per_char": round(bigram, 3), "bigram_alpha": alpha,
        "lstm": lstm,
        "depth": depth,
        "cpu_count": os.cpu_count(),
    }, indent=1))


if __name__ == "__main__":
    main()
