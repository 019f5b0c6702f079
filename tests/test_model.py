"""The jazz LSTM graphs: shared layers, fast/unrolled equivalence, training, save/load."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import run_python

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from jazzlstm.errors import JazzLSTMError  # noqa: E402
from jazzlstm.model import (  # noqa: E402
    JazzLSTM, SequenceLSTM, build_training_model, inference_ids, load_model, save_model,
    step_probabilities, unrolled_inputs, unrolled_targets,
)

V, N_A, TX = 12, 8, 6


def make_jazz(seed: int = 0) -> JazzLSTM:
    return JazzLSTM.create(V, n_a=N_A, tx=TX, seed=seed)


def random_ids(batch: int = 5, length: int = TX, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, size=(batch, length)).astype("int32")


def all_layers(model: keras.Model) -> list:
    """Every layer, nested ones included (the fast path nests LSTM_cell in SequenceLSTM)."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def weight_ids(model: keras.Model) -> set[int]:
    return {id(v) for v in model.weights}


def test_the_three_layers_are_shared_by_every_graph():
    jazz = make_jazz()
    dj, inf, fast = jazz.djmodel(), jazz.inference_model(4), jazz.training_model
    assert dj.get_layer("LSTM_cell") is jazz.LSTM_cell
    assert dj.get_layer("densor") is jazz.densor
    assert dj.get_layer("reshapor") is jazz.reshapor
    assert inf.get_layer("LSTM_cell") is jazz.LSTM_cell
    assert inf.get_layer("densor") is jazz.densor
    assert fast.get_layer("densor") is jazz.densor
    assert fast.get_layer("LSTM_seq").lstm is jazz.LSTM_cell
    # Same variables, not copies: 3 LSTM + 2 Dense.
    expected = {id(v) for v in jazz.weights}
    assert len(expected) == 5
    assert weight_ids(dj) == weight_ids(inf) == weight_ids(fast) == expected
    assert len(dj.weights) == len(inf.weights) == len(fast.weights) == 5


def test_fast_path_matches_unrolled_djmodel():
    jazz = make_jazz(seed=3)
    ids = random_ids()
    fast = step_probabilities(jazz, ids, "fast")
    unrolled = step_probabilities(jazz, ids, "unrolled")
    assert fast.shape == (5, TX, V)
    np.testing.assert_allclose(fast, unrolled, atol=1e-5, rtol=0)
    np.testing.assert_allclose(fast.sum(-1), 1.0, atol=1e-5)


def test_unrolled_fused_and_loop_implementations_agree_with_gradients():
    jazz = make_jazz(seed=4)
    ids = random_ids(seed=1)
    targets = np.roll(ids, -1, axis=1)

    def loss_and_grads(implementation):
        model = build_training_model(jazz.LSTM_cell, jazz.densor, implementation=implementation)
        with tf.GradientTape() as tape:
            probs = model(ids, training=True)
            loss = keras.losses.sparse_categorical_crossentropy(targets, probs)
        return probs, tape.gradient(loss, jazz.weights)

    probs_u, grads_u = loss_and_grads("unrolled")
    for implementation in ("fused", "loop"):
        probs, grads = loss_and_grads(implementation)
        np.testing.assert_allclose(probs, probs_u, atol=1e-6)
        for g, g_u in zip(grads, grads_u):
            np.testing.assert_allclose(tf.convert_to_tensor(g), g_u, atol=1e-5)
    # The unrolled path's input kernel gets a dense gradient (not IndexedSlices, which the
    # optimizer would densify again on every step).
    assert isinstance(grads_u[0], tf.Tensor) and grads_u[0].shape == jazz.LSTM_cell.cell.kernel.shape
    with pytest.raises(ValueError):
        SequenceLSTM(jazz.LSTM_cell, implementation="cudnn")


@pytest.mark.parametrize("ids, expected", [
    # the largest id is not the last row: the per-id sums are padded with zero rows
    ([[0, 2], [2, 2]], [[1, 2, 3], [0, 0, 0], [3, 6, 9], [0, 0, 0]]),
    # unsorted ids reaching the last row
    ([[3, 1], [0, 3]], [[1, 2, 3], [1, 2, 3], [0, 0, 0], [2, 4, 6]]),
])
def test_take_rows_sums_the_gradient_of_repeated_ids(ids, expected):
    from jazzlstm.model import take_rows

    table = tf.Variable(np.arange(12, dtype="float32").reshape(4, 3))
    ids = tf.constant(ids)
    with tf.GradientTape() as tape:
        rows = take_rows(table, ids)
        loss = tf.reduce_sum(rows * tf.constant([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(rows.numpy(), table.numpy()[ids.numpy()])
    np.testing.assert_array_equal(tape.gradient(loss, table).numpy(), expected)


def greedy_by_hand(jazz: JazzLSTM, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Argmax feedback with the one-step function, starting from zero input and state."""
    step, state = jazz.step_fn(), jazz.initial_state(1)
    x, ids, probs = tf.constant([-1]), [], []
    for _ in range(steps):
        logits, state = step(x, state)
        p = tf.nn.softmax(logits).numpy()[0]
        probs.append(p)
        ids.append(int(p.argmax()))
        x = tf.constant([ids[-1]])
    return np.array(ids), np.array(probs)


def test_training_the_fast_path_moves_the_classic_graphs():
    jazz = make_jazz(seed=5)
    dj, inf = jazz.djmodel(), jazz.inference_model(8)
    before = [w.numpy().copy() for w in jazz.weights]
    ids = random_ids(batch=16, length=TX + 1, seed=2)
    x, y = ids[:, :-1], ids[:, 1:]
    dj_before = np.stack(dj.predict(unrolled_inputs(x, V, N_A), verbose=0), axis=1)

    jazz.compile(learning_rate=0.05)
    jazz.training_model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # 2 steps

    for old, new in zip(before, jazz.weights):
        assert not np.allclose(old, new.numpy())
    dj_after = np.stack(dj.predict(unrolled_inputs(x, V, N_A), verbose=0), axis=1)
    assert np.abs(dj_after - dj_before).max() > 1e-4
    np.testing.assert_allclose(dj_after, step_probabilities(jazz, x, "fast"), atol=1e-5)

    # The inference model (built before training) follows the trained weights exactly.
    zeros = np.zeros((1, N_A), "float32")
    outputs = inf.predict([np.zeros((1, 1, V), "float32"), zeros, zeros], verbose=0)
    ids_by_hand, probs_by_hand = greedy_by_hand(jazz, 8)
    np.testing.assert_array_equal(inference_ids(outputs)[0], ids_by_hand)
    np.testing.assert_allclose(np.stack(outputs, axis=1)[0], probs_by_hand, atol=1e-5)

    # Same check through the fast path: start from a token, feed the argmax chain.
    start = 3
    out = inf.predict([np.eye(V, dtype="float32")[[[start]]], zeros, zeros], verbose=0)
    chain = inference_ids(out)[0]
    fast = step_probabilities(jazz, np.array([[start, *chain[:-1]]]), "fast")[0]
    np.testing.assert_allclose(fast, np.stack(out, axis=1)[0], atol=1e-5)
    np.testing.assert_array_equal(fast.argmax(-1), chain)


@pytest.mark.slow
def test_fast_path_and_djmodel_take_the_same_clipped_adam_steps():
    """With clipping on every step, both graphs' clipped gradients are the same (the fast loss is
    djmodel's divided by Tx), so their weights must stay equal: this holds only if the fast
    path's input kernel gets its true, dense gradient norm (a gather's IndexedSlices gave the
    norm of the unsummed rows)."""
    from jazzlstm.model import compile_model

    fast_jazz, dj_jazz = make_jazz(seed=6), make_jazz(seed=7)
    for target, source in zip(dj_jazz.weights, fast_jazz.weights):
        target.assign(source)
    fast = compile_model(fast_jazz.training_model, learning_rate=0.01, clipnorm=1e-4, steps_per_execution=1)
    dj = compile_model(dj_jazz.djmodel(), learning_rate=0.01, clipnorm=1e-4, steps_per_execution=1)
    ids = np.random.default_rng(3).integers(0, 3, size=(32, TX + 1)).astype("int32")  # ids repeat a lot
    x, y = ids[:, :-1], ids[:, 1:]
    for step in range(3):
        rows = slice(8 * step, 8 * step + 8)
        fast.train_on_batch(x[rows], y[rows])
        dj.train_on_batch(unrolled_inputs(x[rows], V, N_A), unrolled_targets(y[rows], V))
    for fast_weight, dj_weight in zip(fast_jazz.weights, dj_jazz.weights):
        np.testing.assert_allclose(fast_weight.numpy(), dj_weight.numpy(), atol=2e-6)


@pytest.mark.slow
def test_djmodel_trains_on_one_hot_targets():
    jazz = make_jazz(seed=6)
    dj = jazz.djmodel()
    from jazzlstm.model import compile_model
    compile_model(dj, learning_rate=0.05)
    ids = random_ids(batch=8, length=TX + 1, seed=3)
    before = jazz.densor.kernel.numpy().copy()
    dj.fit(unrolled_inputs(ids[:, :-1], V, N_A), unrolled_targets(ids[:, 1:], V), verbose=0)
    assert not np.allclose(before, jazz.densor.kernel.numpy())
    np.testing.assert_allclose(step_probabilities(jazz, ids[:, :-1], "fast"),
                               step_probabilities(jazz, ids[:, :-1], "unrolled"), atol=1e-5)


@pytest.mark.slow
def test_save_and_load_restore_identical_predictions(tmp_path):
    jazz = make_jazz(seed=7)
    jazz.compile()
    ids = random_ids(batch=4, length=TX + 1, seed=4)
    jazz.training_model.fit(ids[:, :-1], ids[:, 1:], epochs=1, verbose=0)
    path = save_model(jazz, tmp_path / "model.keras")
    loaded = load_model(path, tx=TX)

    assert loaded.get_config() == jazz.get_config()
    assert loaded.training_model.get_layer("LSTM_seq").lstm is loaded.LSTM_cell
    np.testing.assert_array_equal(step_probabilities(loaded, ids), step_probabilities(jazz, ids))
    np.testing.assert_allclose(step_probabilities(loaded, ids, "unrolled"),
                               step_probabilities(jazz, ids), atol=1e-5)
    np.testing.assert_array_equal(greedy_by_hand(loaded, 5)[0], greedy_by_hand(jazz, 5)[0])
    # Weights only: no optimizer state (a third of the size), and the loaded model can be
    # compiled and trained again.
    assert getattr(loaded.training_model, "optimizer", None) is None
    loaded.compile()
    loaded.training_model.fit(ids[:, :-1], ids[:, 1:], epochs=1, verbose=0)


def test_stateful_model_carries_state_between_batches_and_resets():
    jazz = make_jazz(seed=9)
    ids = random_ids(batch=2, length=2 * TX, seed=6)
    whole = step_probabilities(jazz, ids)                  # one pass over 2 * TX steps
    stream = jazz.stateful_model(batch_size=2)
    first, second = (np.asarray(stream(ids[:, i * TX:(i + 1) * TX])) for i in range(2))
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-5)
    stream.get_layer("LSTM_seq").reset_state()
    np.testing.assert_allclose(np.asarray(stream(ids[:, :TX])), first, atol=1e-6)
    assert stream.get_layer("LSTM_seq").lstm is jazz.LSTM_cell


@pytest.mark.parametrize("which", ["training", "djmodel", "inference"])
def test_every_graph_round_trips_through_keras_safe_mode(tmp_path, which):
    jazz = make_jazz(seed=8)
    ids = random_ids(batch=3, seed=5)
    zeros = np.zeros((3, N_A), "float32")
    model, inputs = {
        "training": (jazz.training_model, ids),
        "djmodel": (jazz.djmodel(), unrolled_inputs(ids, V, N_A)),
        "inference": (jazz.inference_model(5), [np.eye(V, dtype="float32")[ids[:, :1]], zeros, zeros]),
    }[which]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")  # safe_mode=True by default
    expected, got = model.predict(inputs, verbose=0), loaded.predict(inputs, verbose=0)
    np.testing.assert_allclose(np.stack(got), np.stack(expected), atol=1e-6)


def test_no_graph_uses_lambda_layers():
    jazz = make_jazz()
    for model in (jazz.djmodel(), jazz.inference_model(3), jazz.training_model):
        layers = all_layers(model)
        assert layers and not any(isinstance(layer, keras.layers.Lambda) for layer in layers)


def test_bad_arguments_and_files_fail_clearly(tmp_path):
    with pytest.raises(ValueError):
        JazzLSTM.create(1)
    jazz = make_jazz()
    with pytest.raises(JazzLSTMError):
        save_model(jazz, tmp_path / "model.h5")
    with pytest.raises(JazzLSTMError):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip file")
    with pytest.raises(JazzLSTMError):
        load_model(tmp_path / "junk.keras")
    jazz.djmodel().save(tmp_path / "dj.keras")
    with pytest.raises(JazzLSTMError):
        load_model(tmp_path / "dj.keras")


def test_seed_makes_weights_reproducible():
    a, b, c = make_jazz(seed=11), make_jazz(seed=11), make_jazz(seed=12)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())
    assert not np.allclose(a.LSTM_cell.cell.kernel.numpy(), c.LSTM_cell.cell.kernel.numpy())


@pytest.mark.slow
def test_core_modules_import_no_music_libraries():
    code = ("import sys, jazzlstm.model.jazz, jazzlstm.model.sampling; "
            "bad = [m for m in ('music21', 'pretty_midi') if m in sys.modules]; "
            "assert not bad, bad")
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_auto_unrolls_long_windows_only_for_large_layers():
    from jazzlstm.model.layers import LARGE_UNITS, MAX_UNROLL, MAX_UNROLL_LARGE

    small = SequenceLSTM(JazzLSTM.create(V, n_a=8).LSTM_cell)
    large = SequenceLSTM(JazzLSTM.create(V, n_a=LARGE_UNITS).LSTM_cell)
    assert small._choose(MAX_UNROLL) == large._choose(MAX_UNROLL) == "unrolled"
    assert small._choose(MAX_UNROLL + 1) == "fused"
    assert large._choose(MAX_UNROLL + 1) == large._choose(MAX_UNROLL_LARGE) == "unrolled"
    assert large._choose(MAX_UNROLL_LARGE + 1) == large._choose(None) == "fused"


@pytest.mark.slow
@pytest.mark.parametrize("implementation", ["auto", "fused"])
def test_xla_compiled_training_takes_the_same_steps(implementation):
    """--xla: XLA compiles neither SegmentSum nor BlockLSTM, so the layer switches to ops it can
    compile; the steps taken are the plain graph's."""
    from jazzlstm.model import compile_model

    plain, compiled = make_jazz(seed=8), make_jazz(seed=9)
    for target, source in zip(compiled.weights, plain.weights):
        target.assign(source)
    models = [compile_model(build_training_model(j.LSTM_cell, j.densor, implementation=implementation),
                            learning_rate=0.01, clipnorm=1.0, steps_per_execution=1, jit_compile=jit)
              for j, jit in ((plain, False), (compiled, True))]
    ids = random_ids(batch=8, length=TX + 1, seed=4)
    for _ in range(2):
        losses = [float(np.asarray(m.train_on_batch(ids[:, :-1], ids[:, 1:])).ravel()[0]) for m in models]
        assert losses[1] == pytest.approx(losses[0], abs=1e-5)
    for a, b in zip(plain.weights, compiled.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-5)


@pytest.mark.parametrize("by_gate", [False, True])
def test_written_out_recurrence_matches_automatic_differentiation(by_gate):
    """Both ways of taking a step's product (one for all gates, or one per gate) give the
    values and gradients of the plain unrolled steps differentiated by TensorFlow."""
    from jazzlstm.model.layers import _recurrence_with_batched_gradient

    rng = np.random.default_rng(7)
    steps, batch, units = 5, 3, 4
    inputs = tf.constant(rng.standard_normal((steps, batch, 4 * units)), tf.float32)
    kernel = keras.Variable((rng.standard_normal((units, 4 * units)) * 0.5).astype("float32"))
    h0 = tf.constant(rng.standard_normal((batch, units)), tf.float32)
    c0 = tf.constant(rng.standard_normal((batch, units)), tf.float32)
    weights = tf.constant(rng.standard_normal((steps, batch, units)), tf.float32)

    def plain(inputs, kernel, h, c):
        kernel = kernel.value
        hs = []
        for t in range(steps):
            i, f, g, o = tf.split(inputs[t] + h @ kernel, 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            hs.append(h)
        return tf.stack(hs), h, c

    def loss_and_grads(recurrence):
        with tf.GradientTape() as tape:
            tape.watch([inputs, h0, c0])
            every_h, h, c = recurrence(inputs, kernel, h0, c0)
            # every output used: all three upstream gradients are non-zero
            loss = tf.reduce_sum(every_h * weights) + tf.reduce_sum(h * h) + tf.reduce_sum(c)
        return [every_h, h, c], tape.gradient(loss, [inputs, kernel.value, h0, c0])

    expected_values, expected_grads = loss_and_grads(plain)
    values, grads = loss_and_grads(lambda *a: _recurrence_with_batched_gradient(*a, by_gate=by_gate))
    for got, want in zip(values + grads, expected_values + expected_grads):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_fast_path_takes_per_gate_products_from_the_threshold_and_matches_djmodel(monkeypatch):
    """With the per-gate products switched on for this tiny layer, training steps of the fast
    path and of djmodel still move the shared weights identically."""
    from jazzlstm.model import layers

    monkeypatch.setattr(layers, "GATE_PRODUCT_UNITS", 1)
    jazz = make_jazz(seed=5)
    ids = random_ids(seed=2)
    targets = np.roll(ids, -1, axis=1)
    dj = jazz.djmodel()
    with tf.GradientTape() as tape:
        probs = jazz.training_model(ids, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, probs))
    fast_grads = tape.gradient(loss, jazz.weights)
    with tf.GradientTape() as tape:
        outputs = dj(unrolled_inputs(ids, V, N_A), training=True)
        loss = tf.reduce_mean(tf.stack([keras.losses.categorical_crossentropy(y, p) for y, p in
                                        zip(unrolled_targets(targets, V), outputs)]))
    dj_grads = tape.gradient(loss, jazz.weights)
    for g, g_dj in zip(fast_grads, dj_grads):
        np.testing.assert_allclose(tf.convert_to_tensor(g), tf.convert_to_tensor(g_dj), atol=1e-5)
