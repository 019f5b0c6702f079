"""Per-token crossentropy: the fast model's loss, and perplexity and bits per token from it.

The metrics are streaming means of the per-token crossentropy, transformed only when read,
so they are the true corpus values, not means of per-batch values; all honour sample
weights (the padding of short samples weighs 0).
"""
from __future__ import annotations

import math

import keras
from keras import ops


def token_crossentropy(y_true, y_pred):
    """Crossentropy (nats) of integer targets ``y_true`` (batch, T) under softmax outputs
    ``y_pred`` (batch, T, V), per token.

    On TensorFlow a softmax output carries its logits (``_keras_logits``); the loss is then
    ``-log_softmax(logits)[target]``, with its gradient taken as ``softmax - one_hot`` from
    the softmax the model computed already, which is cheaper than TensorFlow's fused sparse
    crossentropy kernel that Keras's own loss runs (docs/performance.md). The loss and the metrics below
    build the same expression on the same logits, so TensorFlow computes it once a step.
    Without logits (other backends), Keras's crossentropy of the probabilities.
    """
    logits = getattr(y_pred, "_keras_logits", None)
    if logits is None:
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
    import tensorflow as tf  # only TensorFlow's softmax carries its logits

    one_hot = tf.one_hot(tf.cast(y_true, tf.int32), logits.shape[-1], dtype=logits.dtype)

    @tf.custom_gradient
    def crossentropy(logits):
        def gradient(upstream):
            # d/dlogits of -log softmax(logits)[target]; autodiff through log_softmax would
            # recompute the softmax and reduce over the vocabulary again.
            return upstream[..., None] * (y_pred - one_hot)

        return -tf.reduce_sum(one_hot * tf.nn.log_softmax(logits), axis=-1), gradient

    return crossentropy(logits)


@keras.saving.register_keras_serializable(package="jazzlstm")
class TokenCrossentropy(keras.losses.Loss):
    """:func:`token_crossentropy`, averaged over the weighted tokens: with padding weighted 0,
    a mean over all positions would shrink the loss by the share of padding."""

    def __init__(self, name: str = "token_crossentropy", reduction: str = "mean_with_sample_weight", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        return token_crossentropy(y_true, y_pred)


class _TokenCrossentropyMean(keras.metrics.Mean):
    """Mean :func:`token_crossentropy` (nats) over all predicted tokens."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(token_crossentropy(y_true, y_pred), sample_weight=sample_weight)


@keras.saving.register_keras_serializable(package="jazzlstm")
class Perplexity(_TokenCrossentropyMean):
    """exp(mean crossentropy)."""

    def __init__(self, name: str = "perplexity", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return ops.exp(super().result())


@keras.saving.register_keras_serializable(package="jazzlstm")
class BitsPerToken(_TokenCrossentropyMean):
    """Mean crossentropy in bits (named ``bits_per_char`` for character models)."""

    def __init__(self, name: str = "bits_per_token", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return super().result() / math.log(2.0)
