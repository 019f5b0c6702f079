"""Character mode: text <-> character token sequences.

Pure functions, no TensorFlow. Two layouts:

* **lines** (names, titles): every non-empty line is one sample. A sample is framed by an end
  token on both sides, ``[END] c1 c2 ... cn [END]``: the model reads the end token as "start
  a new sample" and learns to emit it when the sample is done, so generation starts from it
  and stops at it. For lines the end token is the newline character itself.
* **stream** (running text): the whole text is one sequence, cut into consecutive windows
  whose hidden state is carried from window to window. Texts made of whole pieces (ABC tunes)
  put an end token between pieces, so generation can start and stop at piece boundaries.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar, Iterable, Sequence

from jazzlstm.errors import JazzLSTMError
from jazzlstm.music.score import Chord
from jazzlstm.tokens.base import Tokenizer
from jazzlstm.tokens.vocab import Vocabulary

LINE_END = "\n"
"""End token of the lines layout: the newline itself."""
PIECE_END = "<end>"
"""End token between whole pieces (tunes) in a stream."""
LAYOUTS = ("lines", "stream")


def framed(sample: str | Sequence[str], end: str = LINE_END) -> list[str]:
    """``[end] + characters + [end]``: one sample of the lines layout."""
    return [end, *sample, end]


def joined(pieces: Iterable[str], end: str = PIECE_END) -> list[str]:
    """Whole pieces as one stream: ``[end] piece1 [end] piece2 [end] ...``."""
    tokens = [end]
    for piece in pieces:
        tokens += [*piece, end]
    return tokens


def prime_ids(prime: str, vocab: Vocabulary) -> list[int]:
    """Ids of a prime text; characters the model never saw are an error naming them."""
    unknown = sorted({c for c in prime if c not in vocab})
    if unknown:
        shown = " ".join(repr(c) for c in unknown[:10])
        raise JazzLSTMError(f"--prime: {len(unknown)} character(s) not in the model's vocabulary: {shown}")
    return [vocab.id(c) for c in prime]


@dataclass(frozen=True)
class CharTokenizer(Tokenizer):
    """Characters through the tokenizer interface: a text is its characters; ``end_token``
    (when set) frames samples and ends decoding."""

    name: ClassVar[str] = "chars"
    version: ClassVar[int] = 1
    end_token: str | None = None

    def encode(self, text: str) -> list[str]:
        return list(text)

    def decode(self, tokens: Sequence[str], chords: Sequence[Chord] = (), rng: random.Random | int | None = None
               ) -> str:
        out = []
        for token in tokens:
            if token == self.end_token:
                break
            if len(token) == 1:  # longer tokens are specials (<unk>, <end>)
                out.append(token)
        return "".join(out)
