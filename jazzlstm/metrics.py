"""Training metrics beyond Keras's own: perplexity (and bits per token) from crossentropy."""
from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="jazzlstm")
class Perplexity(keras.metrics.Mean):
    """exp(mean sparse categorical crossentropy) over all predicted tokens.

    A streaming mean of the crossentropy, exponentiated only when read, so it is the true
    corpus perplexity, not a mean of per-batch perplexities.
    """

    def __init__(self, name: str = "perplexity", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        losses = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        return super().update_state(losses, sample_weight=sample_weight)

    def result(self):
        return ops.exp(super().result())


def bits_per_token(loss: float) -> float:
    """Crossentropy in nats -> bits per token (bits per character in text mode)."""
    return loss / math.log(2.0)
