"""Where the bundled data lives: the MIDI samples and the embedded pretrained run."""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_samples_dir() -> Path:
    """The bundled MIDI samples: installed with the package, or the repo's midi_samples/."""
    installed = PACKAGE_DIR / "samples"
    if installed.is_dir() and any(installed.glob("*.mid")):
        return installed
    return PACKAGE_DIR.parent / "midi_samples"


def pretrained_run_dir(name: str = "default") -> Path:
    """The run folder shipped inside the package (``jazzlstm generate`` uses it by default)."""
    return PACKAGE_DIR / "pretrained" / name
