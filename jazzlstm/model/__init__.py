"""The model stage: the shared layers, the classic graphs, the :class:`JazzLSTM` object that
owns them, compiling, metrics, sampling and model files.

Never imports MIDI readers or music21 (a test checks it)."""
from jazzlstm.model.classic import (build_training_model, djmodel, inference_ids, music_inference_model,
                                    unrolled_inputs, unrolled_targets)
from jazzlstm.model.compile import STEPS_PER_EXECUTION, compile_model
from jazzlstm.model.jazz import JazzLSTM, make_step_fn, step_probabilities, weights_digest
from jazzlstm.model.layers import ArgmaxOneHot, SequenceLSTM, TimeStep, take_rows
from jazzlstm.model.saving import load_model, save_model

__all__ = [
    "JazzLSTM", "TimeStep", "ArgmaxOneHot", "SequenceLSTM", "take_rows",
    "djmodel", "music_inference_model", "build_training_model", "compile_model", "STEPS_PER_EXECUTION",
    "inference_ids", "unrolled_inputs", "unrolled_targets", "step_probabilities",
    "make_step_fn", "weights_digest", "save_model", "load_model",
]
