"""Training metrics beyond Keras's own: perplexity and bits per token from crossentropy.

Both are streaming means of the per-token crossentropy, transformed only when read, so they
are the true corpus values, not means of per-batch values; both honour sample weights (the
padding of short samples weighs 0).
"""
from __future__ import annotations

import math

import keras
from keras import ops


class _TokenCrossentropy(keras.metrics.Mean):
    """Mean sparse categorical crossentropy (nats) over all predicted tokens."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        losses = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        return super().update_state(losses, sample_weight=sample_weight)


@keras.saving.register_keras_serializable(package="jazzlstm")
class Perplexity(_TokenCrossentropy):
    """exp(mean crossentropy)."""

    def __init__(self, name: str = "perplexity", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return ops.exp(super().result())


@keras.saving.register_keras_serializable(package="jazzlstm")
class BitsPerToken(_TokenCrossentropy):
    """Mean crossentropy in bits (named ``bits_per_char`` for character models)."""

    def __init__(self, name: str = "bits_per_token", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return super().result() / math.log(2.0)
