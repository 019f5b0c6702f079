"""Reading text sources for character mode: one UTF-8 file, its lines."""
from __future__ import annotations

from pathlib import Path

from jazzlstm.errors import InputFileError


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
