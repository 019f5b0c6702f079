"""Stacked LSTMs (``layers`` > 1, ``dropout`` between layers): every graph, the fast path, the
numpy reference, saving, numpy generation, stateful text and the parameter count agree."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from jazzlstm.model import JazzLSTM, build_training_model, load_model, save_model, step_probabilities
from jazzlstm.model.classic import unrolled_inputs, unrolled_targets
from jazzlstm.model.numpy_lstm import NumpyLSTM
from jazzlstm.model.params import breakdown_lines, parameter_count
from jazzlstm.model.reference import params_from_keras, stacked_sequence_probabilities, stacked_step_logits

V, N_A, TX = 9, 6, 7


def make_stack(layers: int = 2, dropout: float = 0.0, seed: int = 0, implementation: str = "auto") -> JazzLSTM:
    return JazzLSTM.create(V, n_a=N_A, tx=TX, seed=seed, layers=layers, dropout=dropout,
                           implementation=implementation)


def random_ids(batch: int = 4, length: int = TX, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, size=(batch, length)).astype("int32")


def reference_layers(jazz: JazzLSTM) -> list[dict]:
    arrays = [w.numpy() for w in jazz.weights]
    layers = [params_from_keras(*arrays[3 * k:3 * k + 3]) for k in range(jazz.layers - 1)]
    layers.append(params_from_keras(*arrays[3 * (jazz.layers - 1):]))
    return layers


def test_one_layer_keeps_the_classic_graphs_and_names():
    jazz = JazzLSTM.create(V, n_a=N_A, tx=TX, seed=0)
    assert jazz.layers == 1 and jazz.LSTM_cells == [jazz.LSTM_cell]
    assert [i.name for i in jazz.djmodel().inputs] == ["X", "a0", "c0"]
    assert [i.name for i in jazz.inference_model(3).inputs] == ["x0", "a0", "c0"]
    assert [layer.name for layer in jazz.training_model.layers] == ["ids", "LSTM_seq", "densor"]
    assert len(jazz.weights) == 5


@pytest.mark.parametrize("layers, dropout", [(2, 0.0), (3, 0.4)])
def test_stack_shares_its_layers_across_every_graph(layers, dropout):
    jazz = make_stack(layers, dropout)
    names = [cell.name for cell in jazz.LSTM_cells]
    assert names == ["LSTM_cell", "LSTM_cell_2", "LSTM_cell_3"][:layers]
    assert [i.name for i in jazz.djmodel().inputs][:5] == ["X", "a0", "c0", "a0_2", "c0_2"]
    expected = {id(w) for w in jazz.weights}
    for model in (jazz.training_model, jazz.djmodel(), jazz.inference_model(3)):
        assert {id(w) for w in model.weights} == expected
    assert len(jazz.weights) == 3 * layers + 2


@pytest.mark.parametrize("layers, dropout", [(2, 0.0), (3, 0.5)])
@pytest.mark.parametrize("implementation", ["unrolled", "fused", "loop"])
def test_fast_path_equals_djmodel_and_the_numpy_reference(layers, dropout, implementation):
    jazz = make_stack(layers, dropout, seed=layers, implementation=implementation)
    ids = random_ids()
    fast = step_probabilities(jazz, ids, "fast")
    np.testing.assert_allclose(fast, step_probabilities(jazz, ids, "unrolled"), atol=1e-5, rtol=0)
    np.testing.assert_allclose(fast, stacked_sequence_probabilities(ids, reference_layers(jazz)), atol=1e-5, rtol=0)


def test_gradients_of_the_fast_path_equal_djmodels():
    jazz = make_stack(3, seed=5)
    ids = random_ids(seed=2)
    targets = np.roll(ids, -1, axis=1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(targets, jazz.training_model(ids)))
    fast = tape.gradient(loss, jazz.weights)
    dj = jazz.djmodel()
    inputs = unrolled_inputs(ids, V, N_A, jazz.layers)
    with tf.GradientTape() as tape:
        outputs = dj(inputs)
        loss = tf.add_n([tf.reduce_sum(keras.losses.categorical_crossentropy(y, p))
                         for y, p in zip(unrolled_targets(targets, V), outputs)])
    classic = tape.gradient(loss, jazz.weights)
    assert len(fast) == len(classic) == 11
    for g_fast, g_classic in zip(fast, classic):
        np.testing.assert_allclose(tf.convert_to_tensor(g_fast), tf.convert_to_tensor(g_classic), atol=1e-5)
        assert float(tf.reduce_max(tf.abs(tf.convert_to_tensor(g_fast)))) > 0  # every layer learns


def test_dropout_acts_in_training_only():
    ids = random_ids()
    with_dropout = make_stack(2, 0.5, seed=1)
    model = with_dropout.training_model
    assert not np.allclose(model(ids, training=True), model(ids, training=False))
    np.testing.assert_allclose(model(ids, training=False), model(ids, training=False))
    plain = make_stack(2, 0.0, seed=1).training_model
    np.testing.assert_allclose(plain(ids, training=True), plain(ids, training=False), atol=1e-7)


def test_step_function_and_numpy_reference_step_agree_with_the_fast_path():
    jazz = make_stack(3, 0.2, seed=2)
    ids = random_ids(batch=3)
    fast = step_probabilities(jazz, ids)
    step = jazz.step_fn()
    state = jazz.initial_state(3)
    assert state[0].shape == (3, 3 * N_A)
    ref_state = tuple(np.zeros((3, 3 * N_A)) for _ in range(2))
    layers = reference_layers(jazz)
    for t in range(TX):
        logits, state = step(tf.constant(ids[:, t]), state)
        ref_logits, *ref_state = stacked_step_logits(ids[:, t], *ref_state, layers)
        np.testing.assert_allclose(tf.nn.softmax(logits), fast[:, t], atol=1e-5)
        np.testing.assert_allclose(logits, ref_logits, atol=1e-5)


def test_inference_model_feeds_back_argmax_like_the_greedy_sampler():
    jazz = make_stack(2, 0.3, seed=4)
    zeros = np.zeros((2, N_A), "float32")
    outputs = jazz.inference_model(6)([np.zeros((2, 1, V), "float32"), zeros, zeros, zeros, zeros])
    by_graph = np.argmax(np.stack([np.asarray(o) for o in outputs], 1), -1)
    by_sampler = jazz.sampler().sample(jazz.initial_state(2), 2, 6, start_ids=-1, greedy=True)
    np.testing.assert_array_equal(by_graph, by_sampler)


def test_save_load_and_numpy_generation_keep_the_stack(tmp_path):
    jazz = make_stack(3, 0.25, seed=3)
    path = save_model(jazz, tmp_path / "model.keras")
    loaded = load_model(path, tx=TX)
    assert loaded.layers == 3 and loaded.dropout == 0.25
    ids = random_ids()
    np.testing.assert_allclose(step_probabilities(loaded, ids), step_probabilities(jazz, ids), atol=1e-7)
    numpy_model = NumpyLSTM.load(path, TX)
    assert (numpy_model.layers, numpy_model.n_a, numpy_model.n_values) == (3, N_A, V)
    greedy_tf = jazz.sampler().sample(jazz.initial_state(4), 4, 10, start_ids=-1, greedy=True)
    from jazzlstm.model.search import guided_sample

    greedy_np = guided_sample(numpy_model.step, V, numpy_model.initial_state(4), 4, 10, greedy=True)
    np.testing.assert_array_equal(np.asarray(greedy_np)[:, :10], greedy_tf)


def test_parameter_count_and_breakdown_match_keras():
    for layers in (1, 2, 3):
        jazz = make_stack(layers)
        assert parameter_count(V, N_A, layers) == jazz.training_model.count_params() == jazz.djmodel().count_params()
    lines = breakdown_lines(V, N_A, 3)
    assert [line.split()[0] for line in lines[1:]] == ["LSTM_cell", "LSTM_cell_2", "LSTM_cell_3", "densor", "total"]
    # an upper layer reads the n_a states below: 4 gates x (6 x 6 input + 6 x 6 recurrent + 6 bias)
    assert lines[2].split()[-1] == f"{4 * (N_A * N_A + N_A * N_A + N_A):,}"


def test_stateful_stack_carries_every_layers_state_and_resets():
    jazz = make_stack(2)
    model = jazz.stateful_model(2)
    sequences = [layer for layer in model.layers if hasattr(layer, "reset_state")]
    assert len(sequences) == 2
    ids = random_ids(batch=2)
    first = np.asarray(model(ids))
    second = np.asarray(model(ids))
    assert not np.allclose(first, second)  # started from the carried state
    for layer in sequences:
        layer.reset_state()
    np.testing.assert_allclose(np.asarray(model(ids)), first, atol=1e-6)


def test_bad_stack_settings_fail_clearly():
    from jazzlstm.config import ModelConfig
    from jazzlstm.errors import ConfigError

    with pytest.raises(ValueError, match="layers"):
        JazzLSTM.create(V, n_a=N_A, layers=0)
    with pytest.raises(ValueError, match="dropout"):
        JazzLSTM.create(V, n_a=N_A, dropout=1.0)
    with pytest.raises(ConfigError, match="dropout"):
        ModelConfig(layers=2, dropout=-0.1)


@pytest.mark.slow
def test_cli_trains_a_stacked_text_model_then_generates_and_describes_it(tmp_path, capsys):
    from jazzlstm.cli import main

    text = tmp_path / "names.txt"
    text.write_text("\n".join(["anna", "bert", "carla", "dora", "emil", "frida", "gus", "hanna"] * 6) + "\n")
    run = tmp_path / "run"
    assert main(["train", "--text", str(text), "--out", str(run), "--epochs", "2", "--n-a", "12",
                 "--layers", "2", "--dropout", "0.2", "--batch-size", "4", "--tx", "16", "--val-split", "0", "--quiet"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["layers"] == 2 and config["model"]["dropout"] == 0.2
    assert main(["info", "--run", str(run)]) == 0
    out = capsys.readouterr().out
    assert "2 stacked LSTM layers of 12 units, dropout 0.2" in out and "LSTM_cell_2" in out
    for name in ("a.txt", "b.txt"):
        assert main(["generate", str(tmp_path / name), "--run", str(run), "--seed", "1", "--length", "40"]) == 0
    generated = (tmp_path / "a.txt").read_text()
    assert generated and generated == (tmp_path / "b.txt").read_text()


@pytest.mark.slow
def test_a_run_whose_config_disagrees_with_the_stack_is_refused(tmp_path):
    from jazzlstm.errors import JazzLSTMError
    from jazzlstm.runs import load_run

    import jazzlstm

    text = tmp_path / "t.txt"
    text.write_text("abcabcabd " * 40)
    run = jazzlstm.train_text(str(text), tmp_path / "run", n_a=8, layers=2, epochs=1, batch_size=4, tx=16, val_split=0, verbose=0)
    config_file = run.path / "config.json"
    config = json.loads(config_file.read_text())
    config["model"]["layers"] = 1
    config_file.write_text(json.dumps(config))
    for backend in ("numpy", "tf"):
        with pytest.raises(JazzLSTMError, match="layers is 1 but the model .* has 2 stacked"):
            load_run(run.path, backend=backend)
