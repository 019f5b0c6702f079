"""The run folder: everything generation needs, with no access to the training data.

``model.keras`` (the fast training model; safe-mode loadable), ``vocab.json``,
``config.json`` (model, training and data settings, package version), ``chords.json`` (the
chord progressions seen in training, to improvise over) and ``history.json`` (per-epoch
metrics). A run is written into a temporary folder beside the target and renamed into
place at the end, so a crash never leaves a half-written run.
"""
from __future__ import annotations

import json
import math
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jazzlstm._version import __version__
from jazzlstm.config import DataConfig, ModelConfig, TrainConfig, from_dict, to_dict
from jazzlstm.errors import JazzLSTMError
from jazzlstm.fileio import current_umask, refuse_existing, write_json_atomic
from jazzlstm.music.score import Chord
from jazzlstm.tokens.base import Tokenizer
from jazzlstm.tokens.registry import tokenizer_from_config
from jazzlstm.tokens.vocab import Vocabulary

MODEL_FILE, VOCAB_FILE, CONFIG_FILE, CHORDS_FILE, HISTORY_FILE = (
    "model.keras", "vocab.json", "config.json", "chords.json", "history.json")
BASELINES_FILE = "baselines.json"
"""Music runs with validation files: the model against n-gram baselines, in bits per note."""
REQUIRED_FILES = (MODEL_FILE, VOCAB_FILE, CONFIG_FILE)
_FORMAT = "jazzlstm-run/1"


@dataclass
class Run:
    """A trained model with its vocabulary and settings."""

    path: Path | None
    model: Any                      # jazzlstm.model.JazzLSTM
    vocab: Vocabulary
    model_config: ModelConfig
    train_config: TrainConfig
    data_config: DataConfig
    progressions: list[list[Chord]] = field(default_factory=list)
    history: dict = field(default_factory=dict)
    version: str = __version__

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer the run's tokens were made with (see :mod:`jazzlstm.tokens.registry`)."""
        return tokenizer_from_config(self.data_config.tokenizer_config(), where=str(self.path or "run"))


def staging_dir(target: Path, force: bool) -> Path:
    """A fresh temporary folder beside ``target`` (refusing an existing target without force)."""
    target = Path(target)
    refuse_existing(target, force)
    parent = target.parent if str(target.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
        folder.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; a run folder is a normal folder
        return folder
    except OSError as exc:
        raise JazzLSTMError(f"{target}: cannot write the run folder ({exc.strerror or exc})") from None


def write_metadata(folder: Path, run: Run) -> None:
    """Write every file of a run except the model (already saved by training)."""
    run.vocab.save(folder / VOCAB_FILE)
    write_json_atomic(folder / CONFIG_FILE, {
        "format": _FORMAT,
        "version": __version__,
        "model": to_dict(run.model_config),
        "train": to_dict(run.train_config),
        "data": to_dict(run.data_config),
    })
    write_json_atomic(folder / CHORDS_FILE, [[[c.start, c.duration, c.root, c.quality] for c in p]
                                             for p in run.progressions])
    write_json_atomic(folder / HISTORY_FILE, run.history)


def publish(staging: Path, target: Path) -> Path:
    """Move a complete staging folder to ``target``, replacing an old run only at the end."""
    target = Path(target)
    backup = None
    if target.exists():
        backup = target.with_name(f".{target.name}.old")
        shutil.rmtree(backup, ignore_errors=True)
        target.rename(backup)
    staging.rename(target)
    if backup is not None and backup.is_dir():
        shutil.rmtree(backup, ignore_errors=True)
    elif backup is not None:
        backup.unlink()
    return target


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise JazzLSTMError(f"{path}: corrupt run file ({exc})") from None


_MODEL_SIZES = ("n_values", "n_a", "tx")
"""The model settings a run's weights fix: vocabulary size, LSTM units, window length."""


def _read_config(path: Path) -> dict:
    """config.json of a run folder, checked to be a run config whose sections are records and
    whose model sizes, where given, are whole numbers."""
    where = path / CONFIG_FILE
    config = _read_json(where)
    if not isinstance(config, dict) or config.get("format") != _FORMAT:
        raise JazzLSTMError(f"{where}: not a jazzlstm run config")
    for section in ("model", "train", "data"):
        if not isinstance(config.get(section, {}), dict):
            raise JazzLSTMError(f"{where}: {section!r} is not a record of settings")
    for name in _MODEL_SIZES:
        value = config.get("model", {}).get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise JazzLSTMError(f"{where}: model {name} must be a whole number, not {value!r}")
    return config


def read_configs(path: str | Path) -> tuple[ModelConfig, TrainConfig, DataConfig, str]:
    """(model, training, data settings, jazzlstm version) of a run folder, without loading its
    model (no TensorFlow): enough to know what kind of run it is."""
    path = Path(path)
    if not path.is_dir():
        raise JazzLSTMError(f"{path}: no such run folder")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise JazzLSTMError(f"{path}: not a complete run folder (missing {', '.join(missing)})")
    config = _read_config(path)
    return (from_dict(ModelConfig, config.get("model", {})), from_dict(TrainConfig, config.get("train", {})),
            from_dict(DataConfig, config.get("data", {})), str(config.get("version", "?")))


def read_data_config(path: str | Path) -> DataConfig:
    """What a run was trained on (see :func:`read_configs`)."""
    return read_configs(path)[2]


def load_run(path: str | Path, backend: str = "tf") -> Run:
    """Restore model, vocabulary, settings and chords from a run folder, and check that every
    part agrees with the weights: the model sizes in config.json, the vocabulary, and the shape
    of chords.json and history.json. Each disagreement is one JazzLSTMError line.

    ``backend="numpy"``: the model is a :class:`~jazzlstm.model.numpy_lstm.NumpyLSTM` read from the
    weights file (enough to generate; no TensorFlow)."""
    path = Path(path)
    model_config, train_config, data_config, version = read_configs(path)
    tokenizer_from_config(data_config.tokenizer_config(), where=str(path / CONFIG_FILE))  # a known version?
    saved = _read_config(path)["model"]
    absent = [name for name in _MODEL_SIZES if saved.get(name) is None]
    if absent:
        raise JazzLSTMError(f"{path / CONFIG_FILE}: the model settings lack {', '.join(absent)}")
    vocab = Vocabulary.load(path / VOCAB_FILE)
    if len(vocab) != model_config.n_values:
        raise JazzLSTMError(f"{path}: the vocabulary has {len(vocab)} tokens but the model expects "
                            f"{model_config.n_values}")
    progressions = []
    if (path / CHORDS_FILE).is_file():
        progressions = _progressions(_read_json(path / CHORDS_FILE), path / CHORDS_FILE)
    history = {}
    if (path / HISTORY_FILE).is_file():
        history = _check_history(_read_json(path / HISTORY_FILE), path / HISTORY_FILE)
    _check_model_file(path / MODEL_FILE)
    if backend == "numpy":
        from jazzlstm.model.numpy_lstm import NumpyLSTM

        model = NumpyLSTM.load(path / MODEL_FILE, model_config.tx)
    else:
        model = _load_model(path / MODEL_FILE, model_config)
    if model.n_values != len(vocab):
        raise JazzLSTMError(f"{path}: the model predicts {model.n_values} tokens but the vocabulary has {len(vocab)}")
    if model.n_a != model_config.n_a:
        raise JazzLSTMError(f"{path / CONFIG_FILE}: n_a is {model_config.n_a} but the model in {MODEL_FILE} has "
                            f"{model.n_a} LSTM units")
    if model.layers != model_config.layers:
        raise JazzLSTMError(f"{path / CONFIG_FILE}: layers is {model_config.layers} but the model in {MODEL_FILE} "
                            f"has {model.layers} stacked LSTM layers")
    inputs = _lstm_inputs(model)
    if inputs is not None and inputs != model.n_values:
        raise JazzLSTMError(f"{path / MODEL_FILE}: the LSTM reads {inputs} token values but the model predicts "
                            f"{model.n_values}")
    if model.tx != model_config.tx:
        raise JazzLSTMError(f"{path / CONFIG_FILE}: tx is {model_config.tx} but the model was loaded with "
                            f"{model.tx}")
    return Run(path, model, vocab, model_config, train_config, data_config, progressions, history, version)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _progressions(data: Any, where: Path) -> list[list[Chord]]:
    """chords.json: a list of progressions, each a list of [start, duration, root, quality]."""
    from jazzlstm.music.harmony import CHORD_TEMPLATES

    if not isinstance(data, list):
        raise JazzLSTMError(f"{where}: not a list of chord progressions")
    progressions = []
    for i, progression in enumerate(data):
        if not isinstance(progression, list):
            raise JazzLSTMError(f"{where}: progression {i} is not a list of chords")
        chords = []
        for j, chord in enumerate(progression):
            if not (isinstance(chord, list) and len(chord) == 4):
                raise JazzLSTMError(f"{where}: progression {i}, chord {j} is not [start, duration, root, quality]")
            start, duration, root, quality = chord
            if not (_number(start) and _number(duration) and math.isfinite(start) and math.isfinite(duration)
                    and duration >= 0 and isinstance(root, int) and not isinstance(root, bool) and 0 <= root <= 11
                    and isinstance(quality, str) and quality in CHORD_TEMPLATES):
                raise JazzLSTMError(f"{where}: progression {i}, chord {j} is not a chord: {json.dumps(chord)[:80]}")
            chords.append(Chord(float(start), float(duration), root, quality))
        progressions.append(chords)
    return progressions


def _check_history(data: Any, where: Path) -> dict:
    """history.json: per-epoch lists of numbers, all as long, and a few scalars (best_epoch,
    monitor, final_weights)."""
    if not isinstance(data, dict):
        raise JazzLSTMError(f"{where}: not a record of per-epoch metrics")
    lengths = set()
    for key, value in data.items():
        if isinstance(value, list):
            if not all(_number(v) for v in value):
                raise JazzLSTMError(f"{where}: {key!r} is not a list of numbers")
            lengths.add(len(value))
        elif value is not None and not isinstance(value, (str, int, float)):
            raise JazzLSTMError(f"{where}: {key!r} is neither a per-epoch list nor a value")
    if len(lengths) > 1:
        raise JazzLSTMError(f"{where}: the per-epoch lists differ in length ({', '.join(map(str, sorted(lengths)))})")
    epochs = lengths.pop() if lengths else 0
    best = data.get("best_epoch")
    if best is not None and not (isinstance(best, int) and not isinstance(best, bool) and 0 <= best <= epochs):
        raise JazzLSTMError(f"{where}: best_epoch {best!r} is not an epoch of the {epochs} recorded")
    for key in ("monitor", "final_weights"):
        if key in data and not isinstance(data[key], str):
            raise JazzLSTMError(f"{where}: {key} is not text")
    return data


def _check_model_file(path: Path) -> None:
    """Before Keras sees it: a model file that is empty, not a zip archive (truncated, say) or
    an archive without a Keras model inside is named as such (Keras would say "File not found")."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise JazzLSTMError(f"{path}: cannot read the model ({exc.strerror or exc})") from None
    if size == 0:
        raise JazzLSTMError(f"{path}: empty file (0 bytes): cannot load the model")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            damaged = archive.testzip()
    except Exception:  # BadZipFile, zlib and struct errors, OSError for truncated members
        raise JazzLSTMError(f"{path}: not a Keras model file (truncated, or not a zip archive): "
                            f"cannot load the model") from None
    missing = [name for name in ("config.json", "model.weights.h5") if name not in names]
    if missing:
        raise JazzLSTMError(f"{path}: not a Keras model file (no {' or '.join(missing)} in the archive): "
                            f"cannot load the model")
    if damaged is not None:
        raise JazzLSTMError(f"{path}: not a Keras model file ({damaged} in the archive is damaged): "
                            f"cannot load the model")


def _lstm_inputs(model) -> int | None:
    """How many token values the LSTM's input kernel takes (its rows), if it can be told."""
    if hasattr(model, "input_size"):  # the numpy model
        return model.input_size
    try:
        return int(model.LSTM_cell.cell.kernel.shape[0])
    except Exception:  # a layer without the attribute: nothing to compare
        return None


def _load_model(path: Path, model_config: ModelConfig):
    from jazzlstm.model import load_model

    try:
        return load_model(path, tx=model_config.tx)
    except JazzLSTMError:
        raise
    except Exception as exc:  # Keras raises many types for damaged archives
        detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise JazzLSTMError(f"{path}: cannot load the model ({detail[:200]})") from None
