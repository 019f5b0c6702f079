"""Frozen configuration records, saved as JSON in every run folder."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Type, TypeVar

from .errors import JazzLSTMError

T = TypeVar("T")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network: vocabulary size, LSTM units, unrolled length."""

    n_values: int
    n_a: int = 64
    tx: int = 30

    def __post_init__(self) -> None:
        _require_positive(self, "n_values", "n_a", "tx")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is fitted."""

    epochs: int = 40
    batch_size: int = 32
    lr: float = 0.01
    clipnorm: float | None = 1.0
    val_split: float = 0.1
    stride: int = 1
    seed: int = 0
    strategy: str = "auto"
    mixed_precision: bool = False
    xla: bool = False

    def __post_init__(self) -> None:
        _require_positive(self, "epochs", "batch_size", "lr", "stride")
        if self.clipnorm is not None and self.clipnorm <= 0:
            raise JazzLSTMError(f"clipnorm must be positive, got {self.clipnorm}")
        if not 0.0 <= self.val_split < 1.0:
            raise JazzLSTMError(f"val_split must be in [0, 1), got {self.val_split}")


@dataclass(frozen=True)
class DataConfig:
    """What the model was trained on: the mode, the encoding and how samples were laid out."""

    mode: str = "music"               # music | text | abc
    encoding: str = "grammar"         # grammar | notes | chars
    melody_track: int | str | None = None
    transpose: str = "none"
    sources: tuple[str, ...] = field(default_factory=tuple)
    text_layout: str | None = None    # text and abc: lines | stream
    end_token: str | None = None      # the token that starts and ends a sample (lines, tunes)

    @property
    def layout(self) -> str:
        """How training windows are cut: music | lines | stream."""
        return "music" if self.mode == "music" else str(self.text_layout)

    @property
    def is_text(self) -> bool:
        return self.mode in ("text", "abc")


def _require_positive(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value <= 0:
            raise JazzLSTMError(f"{name} must be positive, got {value}")


def to_dict(config: Any) -> dict:
    return asdict(config)


def from_dict(cls: Type[T], data: dict) -> T:
    """Build ``cls`` from a dict, ignoring unknown keys (newer files) but not bad values."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
    try:
        return cls(**values)
    except TypeError as exc:
        raise JazzLSTMError(f"bad {cls.__name__} in config.json ({exc})") from None


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)
