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
