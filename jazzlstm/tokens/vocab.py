"""Vocabulary: tokens <-> integer ids, sorted and deterministic, saved as JSON.

Ids follow sorted token order (special tokens first, in the order given), never a ``set``'s
iteration order, so two processes building from the same data agree. Unknown tokens are an
explicit choice at encode time: raise (default), skip, or map to ``<unk>`` when the
vocabulary has one.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from jazzlstm.errors import JazzLSTMError, UnknownTokenError
from jazzlstm.fileio import write_json_atomic

UNK = "<unk>"
_FORMAT = "jazzlstm-vocabulary/1"


class Vocabulary:
    """An immutable, ordered token list with a reverse index."""

    def __init__(self, tokens: Iterable[str], specials: Sequence[str] = ()):
        specials = list(dict.fromkeys(specials))
        rest = sorted(set(tokens) - set(specials))
        self._tokens: tuple[str, ...] = tuple(specials) + tuple(rest)
        self._specials = tuple(specials)
        self._index = {t: i for i, t in enumerate(self._tokens)}

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], min_count: int = 1, add_unk: bool = False,
              specials: Sequence[str] = ()) -> "Vocabulary":
        """From token sequences; tokens seen fewer than ``min_count`` times are left out."""
        counts = Counter(t for seq in sequences for t in seq)
        kept = [t for t, c in counts.items() if c >= min_count]
        return cls(kept, specials=([UNK] if add_unk else []) + list(specials))

    @property
    def tokens(self) -> tuple[str, ...]:
        return self._tokens

    @property
    def specials(self) -> tuple[str, ...]:
        return self._specials

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and other._tokens == self._tokens

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def id(self, token: str) -> int:
        try:
            return self._index[token]
        except KeyError:
            raise UnknownTokenError(f"token {token!r} is not in the vocabulary") from None

    def token(self, index: int) -> str:
        return self._tokens[index]

    def encode(self, tokens: Iterable[str], on_unknown: str = "error") -> list[int]:
        """Tokens -> ids. ``on_unknown``: 'error' raises, 'skip' drops, 'unk' maps to <unk>."""
        if on_unknown not in ("error", "skip", "unk"):
            raise ValueError(f"on_unknown must be error, skip or unk, not {on_unknown!r}")
        if on_unknown == "unk" and UNK not in self._index:
            raise JazzLSTMError("this vocabulary has no <unk> token; use on_unknown='skip' or 'error'")
        ids, missing = [], []
        for token in tokens:
            index = self._index.get(token)
            if index is not None:
                ids.append(index)
            elif on_unknown == "unk":
                ids.append(self._index[UNK])
            elif on_unknown == "error":
                missing.append(token)
        if missing:
            shown = ", ".join(repr(t) for t in list(dict.fromkeys(missing))[:5])
            raise UnknownTokenError(f"{len(missing)} token(s) not in the vocabulary: {shown}")
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self._tokens[int(i)] for i in ids]

    def to_json(self) -> dict:
        return {"format": _FORMAT, "specials": list(self._specials), "tokens": list(self._tokens)}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("tokens"), list):
            raise JazzLSTMError("not a jazzlstm vocabulary (missing format or tokens)")
        vocab = cls(data["tokens"], specials=data.get("specials", []))
        if list(vocab.tokens) != list(data["tokens"]):
            raise JazzLSTMError("vocabulary file is not in canonical order (edited by hand?)")
        return vocab

    def save(self, path: str | Path) -> None:
        write_json_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise JazzLSTMError(f"{path}: cannot read vocabulary ({exc})") from None
        try:
            return cls.from_json(data)
        except JazzLSTMError as exc:
            raise JazzLSTMError(f"{path}: {exc}") from None
