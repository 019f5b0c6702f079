"""The sampler on stub step functions: greedy, temperature, top-k, seeds, primers, stop ids."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from jazzlstm.model.sampling import Sampler, sample  # noqa: E402

V = 6


def successor_step(ids, state):
    """Logits that make id + 1 (mod V) by far the most likely next id; -1 (no input) -> 0."""
    return tf.one_hot((ids + 1) % V, V) * 20.0, state


def counting_step(ids, count):
    """State counts the ids fed so far; the most likely next id is that count (mod V)."""
    count = count + 1.0
    return tf.one_hot(tf.cast(count, tf.int32) % V, V) * 20.0, count


FIXED_LOGITS = np.log(np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04], dtype="float32"))


def fixed_step(ids, state):
    """The same distribution at every step, whatever the input."""
    return tf.tile(FIXED_LOGITS[None, :], [tf.shape(ids)[0], 1]), state


def zeros(batch: int) -> tf.Tensor:
    return tf.zeros([batch])


def test_greedy_follows_the_argmax_chain_for_every_row():
    ids = sample(successor_step, zeros(3), 3, 8, V, greedy=True)
    assert ids.shape == (3, 8) and ids.dtype == np.int32
    np.testing.assert_array_equal(ids, np.tile(np.arange(8) % V, (3, 1)))


def test_start_ids_and_primer_set_where_generation_starts():
    ids = sample(successor_step, zeros(2), 2, 3, V, start_ids=[2, 4], greedy=True)
    np.testing.assert_array_equal(ids, [[3, 4, 5], [5, 0, 1]])
    # The primer is fed in full: generation continues after its last id.
    ids = sample(successor_step, zeros(2), 2, 2, V, primer=[1, 1, 4], greedy=True)
    np.testing.assert_array_equal(ids, [[5, 0], [5, 0]])
    # ... and every primer id passes through the state (a count of 4 ids, then 5, 6 = 0).
    ids = sample(counting_step, zeros(1), 1, 3, V, primer=[0, 0, 0, 0], greedy=True)
    np.testing.assert_array_equal(ids, [[4, 5, 0]])
    # One primer per row.
    ids = sample(successor_step, zeros(2), 2, 1, V, primer=[[0, 1], [2, 3]], greedy=True)
    np.testing.assert_array_equal(ids, [[2], [4]])


def test_top_k_keeps_only_the_k_most_likely_ids():
    ids = sample(fixed_step, zeros(400), 400, 10, V, top_k=3, seed=1)
    assert set(np.unique(ids)) == {0, 1, 2}
    greedy = sample(fixed_step, zeros(4), 4, 5, V, greedy=True)
    np.testing.assert_array_equal(sample(fixed_step, zeros(4), 4, 5, V, top_k=1, seed=9), greedy)


def test_sampling_at_temperature_one_follows_the_model_and_temperature_sharpens_it():
    counts = np.bincount(sample(fixed_step, zeros(500), 500, 20, V, seed=3).ravel(), minlength=V)
    expected = np.exp(FIXED_LOGITS) * counts.sum()
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected)), (counts, expected)
    cold = sample(fixed_step, zeros(500), 500, 20, V, temperature=0.1, seed=3)
    hot = sample(fixed_step, zeros(500), 500, 20, V, temperature=5.0, seed=3)
    assert (cold == 0).mean() > 0.95
    assert (hot == 0).mean() < 0.3 and len(np.unique(hot)) == V


def test_seeds_reproduce_and_differ():
    a = sample(fixed_step, zeros(8), 8, 30, V, seed=11)
    b = sample(fixed_step, zeros(8), 8, 30, V, seed=11)
    c = sample(fixed_step, zeros(8), 8, 30, V, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len({tuple(row) for row in a}) > 1, "rows of one batch are sampled independently"


def test_stop_id_ends_each_row_and_reports_lengths():
    ids, lengths = sample(successor_step, zeros(2), 2, 6, V, start_ids=[0, 2], stop_id=3, greedy=True)
    np.testing.assert_array_equal(ids, [[1, 2, 3, 3, 3, 3], [3, 3, 3, 3, 3, 3]])
    np.testing.assert_array_equal(lengths, [2, 0])
    _, lengths = sample(successor_step, zeros(1), 1, 2, V, start_ids=[0], stop_id=5, greedy=True)
    assert lengths.tolist() == [2], "a row that never stops has the full length"


def test_a_sampler_traces_each_loop_once():
    traces = []

    def step(ids, state):
        traces.append(1)  # runs only while tracing
        return successor_step(ids, state)

    sampler = Sampler(step, V)
    for seed in range(3):
        sampler.sample(zeros(4), 4, 5, seed=seed)
    first = len(traces)
    for length in (5, 7, 9):
        sampler.sample(zeros(4), 4, length, seed=0)
    assert first > 0 and len(traces) == first


def test_probabilities_instead_of_logits():
    def probability_step(ids, state):
        logits, state = successor_step(ids, state)
        return tf.nn.softmax(logits), state

    ids = sample(probability_step, zeros(1), 1, 4, V, greedy=True, from_logits=False)
    np.testing.assert_array_equal(ids, [[0, 1, 2, 3]])


@pytest.mark.parametrize("kwargs", [
    {"temperature": 0.0}, {"temperature": -1.0}, {"temperature": float("inf")}, {"top_k": 0},
    {"top_k": V + 1}, {"length": 0}, {"stop_id": V}, {"primer": [1], "start_ids": [1]},
    {"primer": np.zeros((3, 2), "int32")},
])
def test_bad_arguments_raise(kwargs):
    args = {"length": 4, **kwargs}
    with pytest.raises(ValueError):
        sample(successor_step, zeros(2), 2, n_values=V, **args)
