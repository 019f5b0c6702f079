"""Compile a training graph: Adam with gradient clipping, the loss that fits the graph, metrics."""
from __future__ import annotations

import keras

from jazzlstm.config import TrainConfig
from jazzlstm.model.metrics import BitsPerToken, Perplexity, TokenCrossentropy


STEPS_PER_EXECUTION = 16
"""Training steps run per call into the compiled graph: a small LSTM's step on a CPU is a few
milliseconds, so the per-call overhead matters (measured in docs/performance.md)."""


def compile_model(model: keras.Model, learning_rate: float = TrainConfig.lr, clipnorm: float | None = TrainConfig.clipnorm,
                  steps_per_execution: int = STEPS_PER_EXECUTION, bits_name: str = "bits_per_token",
                  jit_compile: bool = False) -> keras.Model:
    """Compile with Adam(learning_rate, clipnorm) and accuracy; the loss fits the graph.

    The fast model (one 3-D output) gets sparse crossentropy on integer targets (see
    :func:`jazzlstm.model.metrics.token_crossentropy`), perplexity and bits per token
    (``bits_name``: ``bits_per_char`` for text); temporal sample weights (padding) apply to
    the loss and every metric. :func:`djmodel` (a list of Tx outputs) gets categorical
    crossentropy on one-hot targets.
    """
    n_outputs = len(model.outputs)
    sparse = n_outputs == 1 and len(model.outputs[0].shape) == 3
    loss = TokenCrossentropy() if sparse else "categorical_crossentropy"
    if sparse:
        metrics, weighted = [], ["accuracy", Perplexity(), BitsPerToken(bits_name)]
    else:
        metrics, weighted = ["accuracy"] * n_outputs, None
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm)
    if any(layer.dtype_policy.name == "mixed_float16" for layer in model.layers):
        # float16 gradients underflow without loss scaling (bfloat16 has float32's range).
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    for layer in model.layers:
        if hasattr(layer, "for_xla"):  # SequenceLSTM: only ops XLA can compile
            layer.for_xla = bool(jit_compile)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, weighted_metrics=weighted,
                  steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    return model
