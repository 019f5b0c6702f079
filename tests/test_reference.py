"""The numpy reference (jazzlstm/model/reference.py) is the oracle: its backward pass agrees with
numerical differentiation, and the Keras layers, the fast training path, the unrolled ``djmodel``,
the sampler's step function and TensorFlow's gradients all agree with it."""
from __future__ import annotations

import numpy as np
import pytest

from jazzlstm.model import reference as ref

N_X, N_A, V, B, T = 3, 4, 5, 2, 3          # numerical checks (float64)
KV, KN_A, KB, KT = 7, 6, 3, 5               # comparisons with Keras (float32 weights)


# --------------------------------------------------------------------------------------------
# (a) the numpy backward pass against central differences, float64
# --------------------------------------------------------------------------------------------

def rnn_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = ref.init_params(N_X, N_A, V, cell="rnn", seed=seed)
    inputs = {"x": rng.standard_normal((B, T, N_X)), "a0": 0.5 * rng.standard_normal((B, N_A))}
    return params, inputs, rng.integers(0, V, size=(B, T))


def rnn_loss_and_grads(params, inputs, targets):
    a_seq, caches = ref.rnn_forward(inputs["x"], inputs["a0"], params)
    loss, dlogits = ref.softmax_cross_entropy(ref.dense_forward(a_seq, params), targets)
    dense = ref.dense_backward(dlogits, a_seq, params)
    grads = ref.rnn_backward(dense["a"], caches)
    return loss, {**grads, "dense_kernel": dense["dense_kernel"], "dense_bias": dense["dense_bias"]}


def lstm_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = ref.init_params(N_X, N_A, V, cell="lstm", seed=seed)
    inputs = {"x": rng.standard_normal((B, T, N_X)), "a0": 0.5 * rng.standard_normal((B, N_A)),
              "c0": 0.5 * rng.standard_normal((B, N_A))}
    # The loss also reads the last memory c<T> (as truncated backpropagation through time
    # would), so the gradient that enters through dc_last is checked too.
    readout = rng.standard_normal((B, N_A))
    return params, inputs, rng.integers(0, V, size=(B, T)), readout


def lstm_loss_and_grads(params, inputs, targets, readout, through_time: bool = True):
    a_seq, c_last, caches = ref.lstm_forward(inputs["x"], inputs["a0"], inputs["c0"], params)
    loss, dlogits = ref.softmax_cross_entropy(ref.dense_forward(a_seq, params), targets)
    loss += float(np.sum(readout * c_last))
    dense = ref.dense_backward(dlogits, a_seq, params)
    if through_time:
        grads = ref.lstm_backward(dense["a"], caches, dc_last=readout)
    else:  # a deliberately wrong backward: each step alone, nothing carried back through time
        steps = [ref.lstm_cell_backward(dense["a"][:, t], readout if t == T - 1 else 0 * readout, caches[t])
                 for t in range(T)]
        grads = {name: sum(s[name] for s in steps) for name in ("kernel", "recurrent_kernel", "bias")}
        grads.update(x=np.stack([s["x"] for s in steps], axis=1), a0=steps[0]["a_prev"], c0=steps[0]["c_prev"])
    return loss, {**grads, "dense_kernel": dense["dense_kernel"], "dense_bias": dense["dense_bias"]}


def numerical_grads(loss_fn, arrays: dict) -> dict:
    return {name: ref.numerical_gradient(loss_fn, array) for name, array in arrays.items()}


def assert_grads_close(analytic: dict, numeric: dict) -> None:
    assert set(analytic) == set(numeric)
    for name in numeric:
        assert analytic[name].shape == numeric[name].shape, name
        np.testing.assert_allclose(analytic[name], numeric[name], rtol=1e-4, atol=1e-9, err_msg=name)
        assert ref.relative_error(analytic[name], numeric[name]) < 1e-6, name


def test_rnn_backward_matches_numerical_gradients():
    params, inputs, targets = rnn_problem()
    _, analytic = rnn_loss_and_grads(params, inputs, targets)
    numeric = numerical_grads(lambda: rnn_loss_and_grads(params, inputs, targets)[0], {**params, **inputs})
    assert_grads_close(analytic, numeric)


def test_lstm_backward_matches_numerical_gradients():
    params, inputs, targets, readout = lstm_problem()
    _, analytic = lstm_loss_and_grads(params, inputs, targets, readout)
    numeric = numerical_grads(lambda: lstm_loss_and_grads(params, inputs, targets, readout)[0],
                              {**params, **inputs})
    assert_grads_close(analytic, numeric)


def test_the_numerical_check_catches_a_backward_that_forgets_time():
    params, inputs, targets, readout = lstm_problem(seed=1)
    _, wrong = lstm_loss_and_grads(params, inputs, targets, readout, through_time=False)
    numeric = numerical_grads(lambda: lstm_loss_and_grads(params, inputs, targets, readout)[0],
                              {"recurrent_kernel": params["recurrent_kernel"], "a0": inputs["a0"]})
    for name in numeric:
        assert ref.relative_error(wrong[name], numeric[name]) > 1e-2, name


def test_sequence_loss_and_grads_match_numerical_gradients():
    # The whole jazz model on ids: one-hot (a -1 is an all-zero input), LSTM, dense, mean loss.
    rng = np.random.default_rng(2)
    params = ref.init_params(V, N_A, V, seed=2)
    ids = rng.integers(-1, V, size=(B, T))
    targets = rng.integers(0, V, size=(B, T))
    loss, analytic = ref.sequence_loss_and_grads(ids, targets, params)
    assert analytic["x"].shape == (B, T, V)
    del analytic["x"]
    numeric = numerical_grads(lambda: ref.sequence_loss_and_grads(ids, targets, params)[0], params)
    assert_grads_close(analytic, numeric)
    # The loss is the mean -log p of the targets under sequence_probabilities.
    probs = ref.sequence_probabilities(ids, params)
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    expected = -np.log(np.take_along_axis(probs, targets[..., None], axis=-1)).mean()
    assert loss == pytest.approx(expected, rel=1e-12)


def test_one_hot_of_minus_one_is_all_zero_and_params_from_keras_checks_shapes():
    np.testing.assert_array_equal(ref.one_hot(np.array([2, -1]), 3), [[0, 0, 1], [0, 0, 0]])
    with pytest.raises(ValueError):
        ref.params_from_keras(np.zeros((3, 8)), np.zeros((4, 16)), np.zeros(16))


# --------------------------------------------------------------------------------------------
# (b)-(d) the Keras side agrees with the reference
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jazz():
    """A small JazzLSTM with every weight random (biases too), so a gate in the wrong place shows."""
    pytest.importorskip("tensorflow")
    from jazzlstm.model import JazzLSTM

    model = JazzLSTM.create(KV, n_a=KN_A, tx=KT, seed=3)
    rng = np.random.default_rng(3)
    for variable in model.weights:
        variable.assign(rng.normal(scale=0.6, size=variable.shape).astype("float32"))
    return model


def keras_params(jazz) -> dict:
    return ref.params_from_keras(*[np.asarray(v.numpy()) for v in jazz.weights])


def window_ids(seed: int = 0, batch: int = KB, length: int = KT) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, KV, size=(batch, length)).astype("int32")


def test_keras_lstm_and_simple_rnn_layers_match_the_reference():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((KB, KT, N_X)).astype("float32")
    a0 = rng.standard_normal((KB, KN_A)).astype("float32")
    c0 = rng.standard_normal((KB, KN_A)).astype("float32")
    lstm = keras.layers.LSTM(KN_A, return_sequences=True, return_state=True)
    rnn = keras.layers.SimpleRNN(KN_A, return_sequences=True)
    lstm.build((None, KT, N_X))
    rnn.build((None, KT, N_X))
    for variable in [*lstm.weights, *rnn.weights]:  # random biases too (Keras starts them at 0 / 1)
        variable.assign(rng.normal(scale=0.6, size=variable.shape).astype("float32"))

    seq, h, c = (np.asarray(o) for o in lstm(x, initial_state=[a0, c0]))
    params = ref.params_from_keras(*[v.numpy() for v in lstm.weights])
    a_seq, c_last, _ = ref.lstm_forward(x.astype(float), a0.astype(float), c0.astype(float), params)
    np.testing.assert_allclose(seq, a_seq, atol=1e-5)
    np.testing.assert_allclose(h, a_seq[:, -1], atol=1e-5)
    np.testing.assert_allclose(c, c_last, atol=1e-5)

    seq = np.asarray(rnn(x, initial_state=[a0]))
    params = ref.params_from_keras(*[v.numpy() for v in rnn.weights])
    np.testing.assert_allclose(seq, ref.rnn_forward(x.astype(float), a0.astype(float), params)[0], atol=1e-5)


def test_fast_and_unrolled_paths_match_the_reference(jazz):
    from jazzlstm.model import step_probabilities

    ids = window_ids()
    expected = ref.sequence_probabilities(ids, keras_params(jazz))
    for path in ("fast", "unrolled"):
        np.testing.assert_allclose(step_probabilities(jazz, ids, path), expected, atol=1e-5, err_msg=path)


def test_a_reference_with_its_gates_out_of_order_disagrees(jazz):
    # The comparisons above can fail: swap Keras's input and forget gates and they do.
    from jazzlstm.model import step_probabilities

    params = keras_params(jazz)
    for name in ("kernel", "recurrent_kernel", "bias"):
        i, f, g, o = np.split(params[name], 4, axis=-1)
        params[name] = np.concatenate([f, i, g, o], axis=-1)
    ids = window_ids()
    assert np.abs(step_probabilities(jazz, ids) - ref.sequence_probabilities(ids, params)).max() > 1e-3


def test_the_samplers_step_function_matches_the_reference_step_by_step(jazz):
    from jazzlstm.model import make_step_fn

    params = keras_params(jazz)
    step = make_step_fn(jazz.LSTM_cell, jazz.densor)
    state = jazz.initial_state(KB)
    a = c = np.zeros((KB, KN_A))
    ids = np.full(KB, -1)  # the classic all-zero first input
    rng = np.random.default_rng(5)
    for _ in range(KT):
        logits, state = step(ids.astype("int32"), state)
        expected, a, c = ref.step_logits(ids, a, c, params)
        np.testing.assert_allclose(np.asarray(logits), expected, atol=1e-5)
        np.testing.assert_allclose(np.asarray(state[0]), a, atol=1e-5)
        np.testing.assert_allclose(np.asarray(state[1]), c, atol=1e-5)
        ids = rng.integers(0, KV, size=KB)


def test_tensorflow_gradients_of_the_fast_path_match_the_reference(jazz):
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")

    windows = window_ids(seed=6, length=KT + 1)
    ids, targets = windows[:, :-1], windows[:, 1:]
    model = jazz.training_model
    assert {id(v) for v in model.trainable_weights} == {id(v) for v in jazz.weights}
    with tf.GradientTape() as tape:
        probs = model(ids, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, probs))
    tf_grads = tape.gradient(loss, jazz.weights)

    ref_loss, ref_grads = ref.sequence_loss_and_grads(ids, targets, keras_params(jazz))
    assert float(loss) == pytest.approx(ref_loss, rel=1e-5)
    for name, variable, grad in zip(ref.WEIGHTS, jazz.weights, tf_grads):
        grad = np.asarray(tf.convert_to_tensor(grad))
        assert grad.shape == tuple(variable.shape) == ref_grads[name].shape, name
        np.testing.assert_allclose(grad, ref_grads[name], rtol=1e-4, atol=1e-4 * np.abs(ref_grads[name]).max(),
                                   err_msg=name)
