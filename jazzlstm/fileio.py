"""Atomic file writes and the overwrite guard shared by every writer."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from jazzlstm.errors import JazzLSTMError, OutputExistsError


def refuse_existing(target: str | Path, force: bool) -> None:
    """Nothing the user made is overwritten without ``force`` (files and run folders alike)."""
    if Path(target).exists() and not force:
        raise OutputExistsError(f"{target}: already exists (use --force to overwrite)")


def check_writable(path: str | Path, force: bool) -> Path:
    """Refuse to overwrite without ``force`` and fail early if the folder cannot be written."""
    path = Path(path)
    refuse_existing(path, force)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise JazzLSTMError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise JazzLSTMError(f"{path}: folder {folder} is not writable")
    return path


def refuse_input_as_output(out: Path, source: str | Path) -> None:
    """An output that is the input file itself (even with ``--force``) would destroy the input."""
    if out.exists() and Path(source).exists() and out.samefile(source):
        raise JazzLSTMError(f"{out}: is the input file; choose another output name")


def numbered_paths(out: str | Path, count: int, default_suffix: str = "") -> list[Path]:
    """``out`` for one output; ``out_1.ext`` ... ``out_N.ext`` for several."""
    out = Path(out)
    if count == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{i}{out.suffix or default_suffix}") for i in range(1, count + 1)]


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    The temporary name ends in ``path``'s own suffix, for writers that check it (Keras).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent or ".")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; a normal file follows the umask
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process umask (reading it requires setting it; restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks (any size in bounded memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
