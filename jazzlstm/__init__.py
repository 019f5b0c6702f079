"""jazzlstm: learn melodies from MIDI folders and improvise new ones with recurrent networks.

Importing the package is cheap and never imports TensorFlow: public names are loaded from
their modules on first use.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from jazzlstm._version import __version__

_EXPORTS = {
    # music
    "Note": "music.score", "Chord": "music.score", "Score": "music.score", "TimeSignature": "music.score",
    "read_score": "music.reading", "read_midi": "music.midi", "write_midi": "music.midi",
    "read_musicxml": "music.musicxml", "render_wav": "music.audio",
    "parse_chord": "music.harmony", "parse_progression": "music.harmony", "note_type": "music.harmony",
    # tokens and data
    "Vocabulary": "tokens.vocab", "make_tokenizer": "tokens.registry",
    "load_corpus": "data.corpus", "Corpus": "data.corpus", "Piece": "data.corpus",
    # the API
    "train": "api", "generate": "api", "train_text": "api", "train_abc": "api", "generate_text": "api",
    "generate_tunes": "api", "load_run": "runs", "Run": "runs",
    "bundled_samples_dir": "resources", "pretrained_run_dir": "resources",
    "plot_piano_roll": "plot", "plot_history": "plot",
    "JazzLSTMError": "errors", "InputFileError": "errors", "NoUsableFilesError": "errors",
}
_MODULES = {
    # short names for the modules a notebook reaches for
    "grammar": "tokens.grammar", "notes": "tokens.notes", "harmony": "music.harmony", "model": "model",
    "sampling": "model.sampling", "distribute": "training.distribute", "config": "config", "abc": "music.abc",
}

__all__ = sorted([*_EXPORTS, *_MODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _MODULES:
        return import_module(f".{_MODULES[name]}", __name__)
    raise AttributeError(f"module 'jazzlstm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
