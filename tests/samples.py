"""Access to the bundled midi_samples/ folder for tests."""
from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "midi_samples"


def sample_files(suffixes: tuple[str, ...] = (".mid",)) -> list[Path]:
    """Every bundled sample with one of ``suffixes``, sorted."""
    return sorted(p for p in SAMPLES_DIR.glob("*") if p.suffix.lower() in suffixes)


SMALL_CORPUS = ("blues_in_f.mid", "ii_v_i_in_c.mid", "rhythm_changes_bb.mid")
"""Three short jazz samples: a corpus that trains in seconds."""


def small_corpus(folder: Path) -> Path:
    """Copy :data:`SMALL_CORPUS` into a new ``folder`` and return it."""
    folder.mkdir()
    for name in SMALL_CORPUS:
        (folder / name).write_bytes((SAMPLES_DIR / name).read_bytes())
    return folder
