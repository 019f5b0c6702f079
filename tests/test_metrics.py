"""Per-token crossentropy: the fast model's loss and the perplexity / bits metrics."""
from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from jazzlstm.model.metrics import BitsPerToken, Perplexity, TokenCrossentropy, token_crossentropy  # noqa: E402


def batch(seed: int, shape=(4, 5), depth: int = 7):
    """(integer targets, softmax outputs carrying their logits, the logits) for one batch."""
    rng = np.random.default_rng(seed)
    logits = tf.constant(rng.normal(size=(*shape, depth)).astype("float32") * 3)
    targets = tf.constant(rng.integers(0, depth, size=shape).astype("int32"))
    return targets, keras.activations.softmax(logits), logits


def by_hand(targets, logits) -> np.ndarray:
    """-log softmax(logits)[target], per token, in float64."""
    z = np.asarray(logits, np.float64)
    log_probs = z - z.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, np.asarray(targets)[..., None], axis=-1)[..., 0]


def test_token_crossentropy_matches_keras_from_logits_and_from_probabilities():
    targets, probs, logits = batch(0)
    expected = by_hand(targets, logits)
    np.testing.assert_allclose(token_crossentropy(targets, probs), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras.losses.sparse_categorical_crossentropy(targets, probs), expected,
                               rtol=1e-5, atol=1e-6)
    # Probabilities without logits attached (another backend's softmax): the same values.
    plain = tf.identity(probs)
    assert not hasattr(plain, "_keras_logits")
    np.testing.assert_allclose(token_crossentropy(targets, plain), expected, rtol=1e-5, atol=1e-5)


def test_token_crossentropy_gradient_matches_autodiff_of_keras_crossentropy():
    targets, _, logits = batch(1)
    weights = tf.constant(np.random.default_rng(5).random(targets.shape).astype("float32"))

    def gradient(crossentropy):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            loss = tf.reduce_sum(weights * crossentropy(targets, keras.activations.softmax(logits)))
        return tape.gradient(loss, logits)

    expected = gradient(keras.losses.sparse_categorical_crossentropy)
    np.testing.assert_allclose(gradient(token_crossentropy), expected, atol=1e-6)


def test_loss_is_the_mean_over_weighted_tokens():
    targets, probs, logits = batch(2)
    weights = np.zeros(targets.shape, "float32")
    weights[:, :3] = 1.0  # padding weighs 0
    loss = float(TokenCrossentropy()(targets, probs, sample_weight=weights))
    assert loss == pytest.approx(by_hand(targets, logits)[:, :3].mean(), rel=1e-5)
    config = keras.saving.serialize_keras_object(TokenCrossentropy())
    assert isinstance(keras.saving.deserialize_keras_object(config), TokenCrossentropy)


def test_perplexity_and_bits_are_corpus_values_over_batches():
    (t1, p1, l1), (t2, p2, l2) = batch(3, shape=(2, 6)), batch(4, shape=(5, 6))
    w1 = np.ones(t1.shape, "float32")
    w2 = np.ones(t2.shape, "float32")
    w2[:, 4:] = 0.0
    perplexity, bits = Perplexity(), BitsPerToken("bits_per_char")
    for metric in (perplexity, bits):
        metric.update_state(t1, p1, sample_weight=w1)
        metric.update_state(t2, p2, sample_weight=w2)
    tokens = np.concatenate([by_hand(t1, l1).ravel(), by_hand(t2, l2)[:, :4].ravel()])
    # A mean over every weighted token of both batches, not a mean of the two batch means.
    assert float(perplexity.result()) == pytest.approx(math.exp(tokens.mean()), rel=1e-5)
    assert float(bits.result()) == pytest.approx(tokens.mean() / math.log(2), rel=1e-5)
    assert bits.name == "bits_per_char"
