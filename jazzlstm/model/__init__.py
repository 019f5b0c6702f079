"""The model stage: the shared layers, the classic graphs, the :class:`JazzLSTM` object that
owns them, compiling, metrics, sampling and model files; the parameter count and a numpy
reference LSTM.

Never imports MIDI readers or music21 (a test checks it). Importing the package itself is
cheap: its names load their modules (and Keras) on first use, so that ``jazzlstm.model.params``
and ``jazzlstm.model.reference`` work without TensorFlow."""
from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "build_training_model": "classic", "djmodel": "classic", "inference_ids": "classic",
    "music_inference_model": "classic", "unrolled_inputs": "classic", "unrolled_targets": "classic",
    "STEPS_PER_EXECUTION": "compile", "compile_model": "compile",
    "JazzLSTM": "jazz", "make_step_fn": "jazz", "step_probabilities": "jazz", "weights_digest": "jazz",
    "ArgmaxOneHot": "layers", "SequenceLSTM": "layers", "TimeStep": "layers", "take_rows": "layers",
    "load_model": "saving", "save_model": "saving",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'jazzlstm.model' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
