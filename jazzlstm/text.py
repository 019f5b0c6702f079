"""Character mode: text files <-> character token sequences.

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

from pathlib import Path
from typing import Iterable, Sequence

from .errors import InputFileError, JazzLSTMError
from .vocab import Vocabulary

LINE_END = "\n"
"""End token of the lines layout: the newline itself."""
PIECE_END = "<end>"
"""End token between whole pieces (tunes) in a stream."""
LAYOUTS = ("lines", "stream")


def read_text(path: str | Path) -> str:
    """A UTF-8 text file's contents (line endings normalized to \\n); one-line errors."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputFileError(path, "is a folder, not a text file") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputFileError(path, "empty text file")
    return text


def split_lines(text: str) -> list[str]:
    """The non-empty lines of ``text``, without their newline (trailing spaces removed)."""
    return [line.rstrip() for line in text.split("\n") if line.strip()]


def framed(sample: str | Sequence[str], end: str = LINE_END) -> list[str]:
    """``[end] + characters + [end]``: one sample of the lines layout."""
    return [end, *sample, end]


def joined(pieces: Iterable[str], end: str = PIECE_END) -> list[str]:
    """Whole pieces as one stream: ``[end] piece1 [end] piece2 [end] ...``."""
    tokens = [end]
    for piece in pieces:
        tokens += [*piece, end]
    return tokens


def char_vocabulary(sequences: Iterable[Sequence[str]], specials: Sequence[str] = ()) -> Vocabulary:
    """Every character that occurs, sorted (special tokens such as ``<end>`` first)."""
    return Vocabulary.build(sequences, specials=specials)


def prime_ids(prime: str, vocab: Vocabulary) -> list[int]:
    """Ids of a prime text; characters the model never saw are an error naming them."""
    unknown = sorted({c for c in prime if c not in vocab})
    if unknown:
        shown = " ".join(repr(c) for c in unknown[:10])
        raise JazzLSTMError(f"--prime: {len(unknown)} character(s) not in the model's vocabulary: {shown}")
    return [vocab.id(c) for c in prime]


def decode_text(ids: Iterable[int], vocab: Vocabulary, end: str | None = None) -> str:
    """Ids -> text, stopping at ``end`` (when given); other special tokens are dropped."""
    out = []
    for token in vocab.decode(ids):
        if token == end:
            break
        if token in vocab.specials:
            continue
        out.append(token)
    return "".join(out)
