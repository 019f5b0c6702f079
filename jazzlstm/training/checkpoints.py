"""Training-state backups: resume a killed run where it stopped, never from a damaged file.

After every epoch the whole training state - model weights, optimizer state, the epoch
reached, the history so far and the best epoch - is written to a new folder
``epoch-NNNN.tmp`` beside the previous backup, then renamed to ``epoch-NNNN`` (a rename is
atomic), and only then are backups older than the last :data:`KEEP` deleted. A process
killed at any moment (SIGKILL included) leaves at least one complete backup. Two are kept
so that the workers of a cluster, which back up independently, can always resume from an
epoch they all have (see :func:`jazzlstm.training.multiworker.common_epoch`). Each backup records
the SHA-256 of its weights file; a backup whose file does not match is reported as
corrupt, never loaded.

A training job also leaves a ``job.json`` fingerprint (settings, vocabulary and data), so
that only the same command resumes the same job.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jazzlstm.errors import JazzLSTMError
from jazzlstm.fileio import file_sha256, write_json_atomic

WEIGHTS_FILE, STATE_FILE, BEST_FILE = "state.weights.h5", "state.json", "best.keras"
KEEP = 2
"""Complete backups kept: the newest and the one before it."""
_EPOCH_RE = re.compile(r"^epoch-(\d{4,})$")


class CorruptCheckpointError(JazzLSTMError):
    """A backup exists but cannot be trusted."""


@dataclass
class TrainingState:
    """What a backup restores besides the weights."""

    epoch: int = 0                       # epochs completed
    history: dict[str, list[float]] = field(default_factory=dict)
    best: float = float("inf")
    best_epoch: int = 0


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-serializable parts (settings, vocabulary, data)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, default=str).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:24]


class Backups:
    """The backups of one worker of one training job, in ``folder``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _complete(self) -> list[tuple[int, Path]]:
        if not self.folder.is_dir():
            return []
        found = []
        for entry in self.folder.iterdir():
            match = _EPOCH_RE.match(entry.name)
            if match and entry.is_dir():
                found.append((int(match.group(1)), entry))
        return sorted(found)

    def epochs(self) -> list[int]:
        """The epochs of the complete backups, oldest first."""
        return [epoch for epoch, _ in self._complete()]

    def latest_epoch(self) -> int:
        """Epochs completed by the newest backup (0 when there is none)."""
        backups = self._complete()
        return backups[-1][0] if backups else 0

    def latest(self) -> Path | None:
        """The newest complete backup folder."""
        backups = self._complete()
        return backups[-1][1] if backups else None

    def best_model(self) -> Path | None:
        """The best epoch's model file kept in the newest backup, if any."""
        latest = self.latest()
        return latest / BEST_FILE if latest is not None and (latest / BEST_FILE).is_file() else None

    def save(self, model, state: TrainingState, save_best=None) -> Path:
        """Write a backup of ``model`` (weights and optimizer) and ``state``, atomically.

        ``save_best(path)``, when given, writes the best epoch's model into the backup (this
        epoch was the best); otherwise the previous backup's best model is carried over.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        previous_best = self.best_model()
        final = self.folder / f"epoch-{state.epoch:04d}"
        temporary = self.folder / f"{final.name}.tmp"
        shutil.rmtree(temporary, ignore_errors=True)  # a leftover of a killed write
        temporary.mkdir()
        model.save_weights(str(temporary / WEIGHTS_FILE))
        if save_best is not None:
            save_best(temporary / BEST_FILE)
        elif previous_best is not None:
            shutil.copyfile(previous_best, temporary / BEST_FILE)
        record = {"epoch": state.epoch, "history": state.history, "best": state.best,
                  "best_epoch": state.best_epoch, "weights_sha256": file_sha256(temporary / WEIGHTS_FILE)}
        write_json_atomic(temporary / STATE_FILE, record)
        _fsync_tree(temporary)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)
        for _, older in self._complete()[:-KEEP]:
            shutil.rmtree(older, ignore_errors=True)
        return final

    def restore(self, model, epoch: int | None = None) -> TrainingState:
        """Load the newest backup (or that of ``epoch``; 0: none) into ``model`` (built and
        compiled); a fresh state when there is none. Backups newer than the one loaded belong
        to a discarded continuation and are deleted."""
        backups = dict(self._complete())
        if epoch is None:
            epoch = max(backups, default=0)
        if epoch and epoch not in backups:
            raise CorruptCheckpointError(f"{self.folder}: no backup of epoch {epoch} to resume from")
        for newer in [e for e in backups if e > epoch]:
            shutil.rmtree(backups[newer], ignore_errors=True)
        if not epoch:
            return TrainingState()
        folder = backups[epoch]
        try:
            record = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
            expected = record["weights_sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptCheckpointError(f"{folder}: corrupt checkpoint ({exc.__class__.__name__}: {exc}); "
                                         f"delete it to restart training from scratch") from None
        weights = folder / WEIGHTS_FILE
        if not weights.is_file() or file_sha256(weights) != expected:
            raise CorruptCheckpointError(f"{folder}: corrupt checkpoint (the weights file does not match its "
                                         f"checksum); delete it to restart training from scratch")
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(str(weights))
        except Exception as exc:  # h5py/Keras raise many types for files of another model
            raise CorruptCheckpointError(f"{folder}: checkpoint does not fit this model ({exc}); "
                                         f"delete it to restart training from scratch") from None
        history = {k: [float(v) for v in vs] for k, vs in record.get("history", {}).items()}
        return TrainingState(int(record["epoch"]), history, float(record.get("best", float("inf"))),
                             int(record.get("best_epoch", 0)))


def _fsync_tree(folder: Path) -> None:
    """Flush a new backup's files to disk before it is renamed into place."""
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
