"""Fitting the jazz LSTM on token sequences and writing the run folder.

Token sequences -> a sorted vocabulary -> a train/validation split -> windows of ``tx + 1``
ids in the run's layout (music, lines or stream: see :mod:`jazzlstm.dataset`) -> tf.data ->
``model.fit`` under a tf.distribute strategy, with Keras progress bars, loss / accuracy /
perplexity / bits per token each epoch, the best epoch kept (by validation loss when there
is a validation set) and ``history.json`` written. Music and text share all of it.
"""
from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from .config import DataConfig, ModelConfig, TrainConfig
from .errors import JazzLSTMError
from .runs import MODEL_FILE, Run, publish, staging_dir, write_metadata
from .score import Chord
from .vocab import Vocabulary


@dataclass
class Windows:
    """Training or validation windows: ids (n, tx + 1) and, for padded samples, weights (n, tx)."""

    rows: np.ndarray
    weights: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def dataset(self, batch_size: int, shuffle: bool, seed: int, drop_remainder: bool = False):
        from .dataset import make_dataset

        return make_dataset(self.rows, batch_size, shuffle, seed, self.weights, drop_remainder)


def prepare_windows(sequences: Sequence[Sequence[int]], tx: int, train_config: TrainConfig,
                    layout: str = "music") -> tuple[Windows, Windows]:
    """(train, validation) windows. Music and lines are split by file or sample; a stream by
    position (its last ``val_split`` share validates)."""
    from .dataset import corpus_windows, sample_windows, split_by_file, split_stream, stream_windows

    if layout == "stream":
        ids = [i for seq in sequences for i in seq]
        train_ids, val_ids = split_stream(ids, train_config.val_split)
        batch = train_config.batch_size
        train = Windows(stream_windows(train_ids, tx, batch))
        val = Windows(stream_windows(val_ids, tx, batch)) if val_ids else Windows(np.zeros((0, tx + 1), np.int32))
        if len(train) == 0:
            raise JazzLSTMError(f"text too short: {len(train_ids)} training characters do not fill one window "
                                f"in each of --batch-size {batch} streams of --tx {tx} (need {batch * tx + 1})")
        if val_ids and len(val) == 0:
            raise JazzLSTMError(f"validation text too short: {len(val_ids)} characters for --batch-size {batch} "
                                f"streams of --tx {tx} (need {batch * tx + 1}); lower them or use --val-split 0")
        return train, val
    train_idx, val_idx = split_by_file(len(sequences), train_config.val_split, train_config.seed)
    if layout == "lines":
        train = Windows(*sample_windows([sequences[i] for i in train_idx], tx))
        val = Windows(*sample_windows([sequences[i] for i in val_idx], tx))
    else:
        train = Windows(corpus_windows([sequences[i] for i in train_idx], tx, train_config.stride))
        val = Windows(corpus_windows([sequences[i] for i in val_idx], tx, train_config.stride))
    if len(train) == 0:
        raise JazzLSTMError(f"not enough tokens to train: need at least {tx + 1} per file")
    return train, val


def fit_model(train: Windows, val: Windows, model_config: ModelConfig, train_config: TrainConfig,
              checkpoint: Path | None = None, verbose: int | str = "auto", stateful: bool = False,
              bits_name: str = "bits_per_token"):
    """Build and fit a JazzLSTM under the configured strategy. Returns (model, history dict).

    ``stateful``: windows are consecutive stretches of running text (see
    :func:`jazzlstm.dataset.stream_windows`); the LSTM state is carried from batch to batch and
    reset at the start of every epoch and of every validation pass.
    """
    from .distribute import describe, get_strategy
    from .model import JazzLSTM, compile_model

    keras.utils.set_random_seed(train_config.seed)
    strategy = get_strategy(train_config.strategy)
    if verbose:
        print(f"jazzlstm: training on {len(train)} windows ({len(val)} for validation), "
              f"vocabulary {model_config.n_values}, strategy {describe(strategy)}", file=sys.stderr)
    batch = train_config.batch_size
    with strategy.scope():
        jazz = JazzLSTM(model_config.n_values, model_config.n_a, model_config.tx, seed=train_config.seed)
        model = jazz.stateful_model(batch) if stateful else jazz.training_model
        compile_model(model, train_config.lr, train_config.clipnorm, bits_name=bits_name)
    train_ds = train.dataset(batch, shuffle=not stateful, seed=train_config.seed, drop_remainder=stateful)
    val_ds = val.dataset(batch, shuffle=False, seed=0, drop_remainder=stateful) if len(val) else None
    monitor = "val_loss" if val_ds is not None else "loss"
    best = BestEpoch(jazz, checkpoint, monitor)
    callbacks: list = [best]
    if stateful:
        callbacks.append(ResetStates())
    result = model.fit(train_ds, validation_data=val_ds, epochs=train_config.epochs, callbacks=callbacks,
                       verbose=verbose, shuffle=False)  # tf.data already shuffles
    history = {key: [float(v) for v in values] for key, values in result.history.items()}
    history["monitor"] = monitor
    history["best_epoch"] = best.best_epoch
    return jazz, history


class BestEpoch(keras.callbacks.Callback):
    """After each epoch, save the model's weights when ``monitor`` improved.

    It saves through :func:`jazzlstm.model.save_model` (a stateless model, no optimizer
    state), whatever graph is being fitted.
    """

    def __init__(self, jazz, path: Path | None, monitor: str):
        super().__init__()
        self.jazz, self.path, self.monitor = jazz, path, monitor
        self.best = float("inf")
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from .model import save_model

        value = (logs or {}).get(self.monitor)
        if value is not None and value < self.best:  # NaN never compares smaller
            self.best, self.best_epoch = float(value), epoch + 1
            if self.path is not None:
                save_model(self.jazz, self.path)


class ResetStates(keras.callbacks.Callback):
    """Zero the carried LSTM state at the start of every epoch and every validation pass."""

    def _reset(self, *_args) -> None:
        for layer in self.model.layers:
            if hasattr(layer, "reset_state"):
                layer.reset_state()

    on_epoch_begin = on_test_begin = _reset


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
        train, val = prepare_windows(ids, model_config.tx, train_config, data_config.layout)
        checkpoint = staging / MODEL_FILE
        bits_name = "bits_per_char" if data_config.is_text else "bits_per_token"
        jazz, history = fit_model(train, val, model_config, train_config, checkpoint, verbose,
                                  stateful=data_config.layout == "stream", bits_name=bits_name)
        if not checkpoint.is_file():
            raise JazzLSTMError("training produced no finite loss (nothing was saved); try a lower --lr")
        jazz = load_model(checkpoint, tx=model_config.tx)  # the best epoch, as saved
        run = Run(out, jazz, vocab, model_config, train_config, data_config,
                  [list(p) for p in progressions], history)
        write_metadata(staging, run)
        publish(staging, out)
        return run
    finally:
        shutil.rmtree(staging, ignore_errors=True)
