"""The run folder: everything generation needs, with no access to the training data.

``model.keras`` (the fast training model; safe-mode loadable), ``vocab.json``,
``config.json`` (model, training and data settings, package version), ``chords.json`` (the
chord progressions seen in training, to improvise over) and ``history.json`` (per-epoch
metrics). A run is written into a temporary folder beside the target and renamed into
place at the end, so a crash never leaves a half-written run.
"""
from __future__ import annotations

import json
import shutil
import tempfile
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


def read_configs(path: str | Path) -> tuple[ModelConfig, TrainConfig, DataConfig, str]:
    """(model, training, data settings, jazzlstm version) of a run folder, without loading its
    model (no TensorFlow): enough to know what kind of run it is."""
    path = Path(path)
    if not path.is_dir():
        raise JazzLSTMError(f"{path}: no such run folder")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise JazzLSTMError(f"{path}: not a complete run folder (missing {', '.join(missing)})")
    config = _read_json(path / CONFIG_FILE)
    if not isinstance(config, dict) or config.get("format") != _FORMAT:
        raise JazzLSTMError(f"{path / CONFIG_FILE}: not a jazzlstm run config")
    return (from_dict(ModelConfig, config.get("model", {})), from_dict(TrainConfig, config.get("train", {})),
            from_dict(DataConfig, config.get("data", {})), str(config.get("version", "?")))


def read_data_config(path: str | Path) -> DataConfig:
    """What a run was trained on (see :func:`read_configs`)."""
    return read_configs(path)[2]


def load_run(path: str | Path) -> Run:
    """Restore model, vocabulary, settings and chords from a run folder (and check they agree)."""
    path = Path(path)
    model_config, train_config, data_config, version = read_configs(path)
    tokenizer_from_config(data_config.tokenizer_config(), where=str(path / CONFIG_FILE))  # a known version?
    vocab = Vocabulary.load(path / VOCAB_FILE)
    if model_config.n_values is None or model_config.tx is None:
        raise JazzLSTMError(f"{path / CONFIG_FILE}: the model settings lack n_values or tx")
    if len(vocab) != model_config.n_values:
        raise JazzLSTMError(f"{path}: the vocabulary has {len(vocab)} tokens but the model expects "
                            f"{model_config.n_values}")
    model = _load_model(path / MODEL_FILE, model_config)
    if model.n_values != len(vocab):
        raise JazzLSTMError(f"{path}: the model predicts {model.n_values} tokens but the vocabulary has {len(vocab)}")
    progressions = []
    if (path / CHORDS_FILE).is_file():
        progressions = [[Chord(float(s), float(d), int(r), str(q)) for s, d, r, q in p]
                        for p in _read_json(path / CHORDS_FILE)]
    history = _read_json(path / HISTORY_FILE) if (path / HISTORY_FILE).is_file() else {}
    return Run(path, model, vocab, model_config, train_config, data_config, progressions, history, version)


def _load_model(path: Path, model_config: ModelConfig):
    from jazzlstm.model import load_model

    try:
        return load_model(path, tx=model_config.tx)
    except JazzLSTMError:
        raise
    except Exception as exc:  # Keras raises many types for damaged archives
        detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise JazzLSTMError(f"{path}: cannot load the model ({detail[:200]})") from None
