"""Training's progress bar counts the true steps of an epoch."""
from __future__ import annotations

import keras
import numpy as np

from jazzlstm.config import ModelConfig, TrainConfig
from jazzlstm.training.checkpoints import Backups
from jazzlstm.training.fit import Windows, fit_model


def test_progress_bar_never_counts_past_the_epoch(tmp_path, monkeypatch):
    # 20 steps an epoch, run 16 per execution: Keras alone shows "16/20" then "32/20".
    shown = []
    original = keras.utils.Progbar.update

    def record(self, current, values=None, finalize=None):
        shown.append((current, self.target))
        return original(self, current, values, finalize)

    monkeypatch.setattr(keras.utils.Progbar, "update", record)
    rng = np.random.default_rng(0)
    windows = Windows(rng.integers(0, 6, size=(20 * 4, 6)).astype("int32"))
    fit_model(windows, Windows(windows.rows[:0]), ModelConfig(n_values=6, n_a=4, tx=5),
              TrainConfig(epochs=2, batch_size=4, val_split=0.0), Backups(tmp_path / "b"), verbose=1)
    assert (16, 20) in shown and (20, 20) in shown
    assert all(current <= target for current, target in shown)


def test_bits_per_note_are_bits_per_token_times_tokens_per_note(tmp_path):
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 6, size=(64, 6)).astype("int32")
    train, val = Windows(rows[:48], tokens_per_note=1.5), Windows(rows[48:], tokens_per_note=2.0)
    _, history = fit_model(train, val, ModelConfig(n_values=6, n_a=4, tx=5),
                           TrainConfig(epochs=2, batch_size=8), Backups(tmp_path / "b"), verbose=0)
    np.testing.assert_allclose(history["bits_per_note"], np.array(history["bits_per_token"]) * 1.5, rtol=1e-6)
    np.testing.assert_allclose(history["val_bits_per_note"], np.array(history["val_bits_per_token"]) * 2.0,
                               rtol=1e-6)


def test_validation_holds_out_whole_files():
    from jazzlstm.training.fit import prepare_windows

    # Six files, each contributing three sequences (phrases, transpositions): none is split.
    sequences = [[f * 10 + s] * 12 for f in range(6) for s in range(3)]
    groups = [f for f in range(6) for _ in range(3)]
    notes = [4] * len(sequences)
    train, val = prepare_windows(sequences, 5, TrainConfig(val_split=0.34, seed=3), "music", groups, notes)
    train_files = {int(r[0]) // 10 for r in train.rows}
    val_files = {int(r[0]) // 10 for r in val.rows}
    assert val_files and train_files and not train_files & val_files
    assert len(val_files) == 2 and train.tokens_per_note == val.tokens_per_note == 3.0
