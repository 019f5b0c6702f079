"""Access to the bundled midi_samples/ folder for tests."""
from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "midi_samples"


def sample_files(suffixes: tuple[str, ...] = (".mid",)) -> list[Path]:
    """Every bundled sample with one of ``suffixes``, sorted."""
    return sorted(p for p in SAMPLES_DIR.glob("*") if p.suffix.lower() in suffixes)
