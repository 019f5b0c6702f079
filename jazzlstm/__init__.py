"""jazzlstm: learn melodies from MIDI folders and improvise new ones with recurrent networks.

Importing the package is cheap and never imports TensorFlow: public names are loaded from
their modules on first use.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from ._version import __version__

_EXPORTS = {
    # data layer
    "Note": "score", "Chord": "score", "Score": "score", "TimeSignature": "score",
    "read_score": "corpus", "load_corpus": "corpus", "Corpus": "corpus", "Piece": "corpus",
    "read_midi": "midi_io", "write_midi": "midi_io",
    "read_musicxml": "musicxml_io",
    "parse_chord": "harmony", "parse_progression": "harmony", "note_type": "harmony",
    "Vocabulary": "vocab",
    "train": "api", "generate": "api", "train_text": "api", "train_abc": "api", "generate_text": "api",
    "generate_tunes": "api",
    "load_run": "runs", "Run": "runs",
    "bundled_samples_dir": "resources", "pretrained_run_dir": "resources",
    "render_wav": "render", "plot_piano_roll": "plot", "plot_history": "plot",
    "JazzLSTMError": "errors", "InputFileError": "errors", "NoUsableFilesError": "errors",
}
_MODULES = ("grammar", "notes", "harmony", "analysis", "score", "vocab", "corpus", "midi_io", "musicxml_io",
            "model", "sampling", "generation", "text", "abc", "render", "plot", "distribute")

__all__ = sorted([*_EXPORTS, *_MODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _MODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'jazzlstm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
