"""Model files: the shared layers' weights as a ``.keras`` file (loads in Keras's safe mode)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import keras

from jazzlstm.config import MUSIC_TX
from jazzlstm.errors import JazzLSTMError
from jazzlstm.fileio import atomic_path
from jazzlstm.model.classic import build_training_model
from jazzlstm.model.jazz import JazzLSTM
from jazzlstm.model.layers import DENSOR_NAME, SEQUENCE_NAME, layer_name


def save_model(jazz: JazzLSTM, path: str | Path) -> Path:
    """Save the model's weights, as a fast training model, to a ``.keras`` file.

    The file holds no optimizer state (a third of the size; generation never needs it, and
    interrupted training resumes from its own backups). The write is atomic: a temporary
    file beside ``path`` is renamed over it at the end.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise JazzLSTMError(f"{path}: model files must end in .keras")
    if jazz.LSTM_cell.dtype_policy.name != "float32":
        # Mixed precision is a way of training, not of the model: its variables are float32
        # already, and generation (a float32 state loop) needs float32 layers.
        plain = JazzLSTM.create(jazz.n_values, jazz.n_a, jazz.tx, implementation=jazz.implementation,
                                layers=jazz.layers, dropout=jazz.dropout)
        for target, source in zip(plain.weights, jazz.weights):
            target.assign(source)
        jazz = plain
    # A fresh, uncompiled wrapper on the same layers: stateless, and without the optimizer.
    model = build_training_model(jazz.LSTM_cells, jazz.densor, None, jazz.implementation, dropout=jazz.dropout)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def load_model(path: str | Path, tx: int = MUSIC_TX) -> JazzLSTM:
    """Load a file written by :func:`save_model` (safe mode) and re-attach the shared layers.

    The file holds the weights but not ``tx`` (the fast model takes any window length), so
    pass the unrolled length the run used; run folders keep it in config.
    """
    path = Path(path)
    if not path.is_file():
        raise JazzLSTMError(f"{path}: no such model file")
    try:
        model = keras.models.load_model(path, compile=False)
    except (ValueError, TypeError, OSError, zipfile.BadZipFile) as exc:
        raise JazzLSTMError(f"{path}: cannot load model ({exc})") from None
    try:
        sequences = [model.get_layer(SEQUENCE_NAME)]
        densor = model.get_layer(DENSOR_NAME)
    except ValueError as exc:
        raise JazzLSTMError(f"{path}: not a jazzlstm model ({exc})") from None
    names = {layer.name for layer in model.layers}
    while layer_name(SEQUENCE_NAME, len(sequences) + 1) in names:  # the layers of a stack, bottom first
        sequences.append(model.get_layer(layer_name(SEQUENCE_NAME, len(sequences) + 1)))
    dropout = max((layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)), default=0.0)
    return JazzLSTM([sequence.lstm for sequence in sequences], densor, tx=tx,
                    implementation=sequences[0].implementation, training_model=model, dropout=dropout)
