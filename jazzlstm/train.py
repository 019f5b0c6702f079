"""Fitting the jazz LSTM on token sequences and writing the run folder.

Token sequences (one per file) -> a sorted vocabulary -> a file-level train/validation split
-> windows of ``tx + 1`` ids -> tf.data -> ``model.fit`` under a tf.distribute strategy, with
Keras progress bars, loss / accuracy / perplexity per epoch, the best epoch kept (by
validation loss when there is a validation set) and ``history.json`` written.
"""
from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import DataConfig, ModelConfig, TrainConfig
from .errors import JazzLSTMError
from .runs import MODEL_FILE, Run, publish, staging_dir, write_metadata
from .score import Chord
from .vocab import Vocabulary


def prepare_windows(sequences: Sequence[Sequence[int]], model_config: ModelConfig, train_config: TrainConfig
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(train windows, validation windows) split by file."""
    from .dataset import corpus_windows, split_by_file

    train_idx, val_idx = split_by_file(len(sequences), train_config.val_split, train_config.seed)
    train = corpus_windows([sequences[i] for i in train_idx], model_config.tx, train_config.stride)
    val = corpus_windows([sequences[i] for i in val_idx], model_config.tx, train_config.stride)
    if len(train) == 0:
        raise JazzLSTMError(f"not enough tokens to train: need at least {model_config.tx + 1} per file")
    return train, val


def fit_model(train_windows: np.ndarray, val_windows: np.ndarray, model_config: ModelConfig,
              train_config: TrainConfig, checkpoint: Path | None = None, verbose: int | str = "auto"):
    """Build and fit a JazzLSTM under the configured strategy. Returns (model, history dict)."""
    import keras

    from .dataset import make_dataset
    from .distribute import describe, get_strategy
    from .model import JazzLSTM

    keras.utils.set_random_seed(train_config.seed)
    strategy = get_strategy(train_config.strategy)
    if verbose:
        print(f"jazzlstm: training on {len(train_windows)} windows ({len(val_windows)} for validation), "
              f"vocabulary {model_config.n_values}, strategy {describe(strategy)}", file=sys.stderr)
    with strategy.scope():
        jazz = JazzLSTM(model_config.n_values, model_config.n_a, model_config.tx, seed=train_config.seed)
        model = jazz.compile(learning_rate=train_config.lr, clipnorm=train_config.clipnorm)
    train_ds = make_dataset(train_windows, train_config.batch_size, shuffle=True, seed=train_config.seed)
    val_ds = make_dataset(val_windows, train_config.batch_size, shuffle=False, seed=0) if len(val_windows) else None
    monitor = "val_loss" if val_ds is not None else "loss"
    callbacks = []
    if checkpoint is not None:
        callbacks.append(keras.callbacks.ModelCheckpoint(str(checkpoint), monitor=monitor, save_best_only=True))
    result = model.fit(train_ds, validation_data=val_ds, epochs=train_config.epochs, callbacks=callbacks,
                       verbose=verbose, shuffle=False)  # tf.data already shuffles
    history = {key: [float(v) for v in values] for key, values in result.history.items()}
    losses = history.get(monitor, [])
    history["monitor"] = monitor
    history["best_epoch"] = int(np.argmin(losses)) + 1 if losses else 0
    history["bits_per_token"] = [v / math.log(2.0) for v in history.get("loss", [])]
    if "val_loss" in history:
        history["val_bits_per_token"] = [v / math.log(2.0) for v in history["val_loss"]]
    return jazz, history


def train_run(sequences: Sequence[Sequence[str]], out: str | Path, model_config_kwargs: dict,
              train_config: TrainConfig, data_config: DataConfig,
              progressions: Sequence[Sequence[Chord]] = (), force: bool = False,
              verbose: int | str = "auto", specials: Sequence[str] = ()) -> Run:
    """Vocabulary + windows + fit + run folder at ``out`` (written atomically). Returns the Run."""
    from .model import load_model

    out = Path(out)
    staging = staging_dir(out, force)  # fail on an existing folder before spending time training
    try:
        vocab = Vocabulary.build(sequences, specials=specials)
        if len(vocab) < 2:
            raise JazzLSTMError("the corpus has fewer than 2 distinct tokens: nothing to learn")
        model_config = ModelConfig(n_values=len(vocab), **model_config_kwargs)
        ids = [vocab.encode(seq) for seq in sequences]
        train_windows, val_windows = prepare_windows(ids, model_config, train_config)
        checkpoint = staging / MODEL_FILE
        jazz, history = fit_model(train_windows, val_windows, model_config, train_config, checkpoint, verbose)
        jazz = load_model(checkpoint, tx=model_config.tx, compile=False)  # the best epoch, as saved
        run = Run(out, jazz, vocab, model_config, train_config, data_config,
                  [list(p) for p in progressions], history)
        write_metadata(staging, run)
        publish(staging, out)
        return run
    finally:
        shutil.rmtree(staging, ignore_errors=True)
