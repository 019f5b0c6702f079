"""Generation without TensorFlow: the numpy model read from a run's weights file steps as the
Keras model does, greedy output is the Keras sampler's, sampled frequencies match the model's
probabilities, and `jazzlstm generate` never imports TensorFlow unless asked."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from conftest import run_python_json  # noqa: E402
from jazzlstm.model import JazzLSTM, make_step_fn, save_model  # noqa: E402
from jazzlstm.model.numpy_lstm import NumpyLSTM  # noqa: E402
from jazzlstm.model.sampling import sample_ids  # noqa: E402
from jazzlstm.model.search import guided_sample  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A Keras model with random weights (biases too) and its numpy twin read from the file."""
    jazz = JazzLSTM.create(23, n_a=16, seed=3)
    rng = np.random.default_rng(0)
    for variable in jazz.weights:
        variable.assign(rng.normal(scale=0.6, size=variable.shape).astype("float32"))
    path = save_model(jazz, tmp_path_factory.mktemp("numpy") / "model.keras")
    return jazz, NumpyLSTM.load(path, tx=30)


def test_the_numpy_step_is_the_keras_step(models):
    jazz, twin = models
    assert (twin.n_values, twin.n_a, twin.input_size) == (jazz.n_values, jazz.n_a, jazz.n_values)
    keras_step = make_step_fn(jazz.LSTM_cell, jazz.densor)
    ids = np.array([-1, 0, 5, 22])
    keras_state, numpy_state = jazz.initial_state(4), twin.initial_state(4)
    for _ in range(6):
        keras_logits, keras_state = keras_step(tf.constant(ids), keras_state)
        numpy_logits, numpy_state = twin.step(ids, numpy_state)
        np.testing.assert_allclose(numpy_logits, np.asarray(keras_logits), atol=1e-5)
        for a, b in zip(numpy_state, keras_state):
            np.testing.assert_allclose(a, np.asarray(b), atol=1e-5)
        ids = np.argmax(numpy_logits, axis=1)


def test_greedy_sequences_equal_the_keras_sampler(models):
    jazz, twin = models
    keras_ids = sample_ids(jazz, 5, 40, start_ids=[-1, 1, 2, 3, 4], greedy=True)
    numpy_ids = guided_sample(twin.step, twin.n_values, twin.initial_state(5), 5, 40,
                              primer=np.array([[-1], [1], [2], [3], [4]]), greedy=True)
    assert np.array_equal(np.asarray(numpy_ids), keras_ids)


def test_sampled_frequencies_match_the_model_and_the_keras_sampler(models):
    """One step from the zero input, 6,000 draws each: both samplers' frequencies lie within a
    fixed distance of the model's softmax (total variation < 0.04; a wrong temperature or an
    off-by-one id would be far outside it), and top-k keeps only the k most likely ids."""
    jazz, twin = models
    logits, _ = twin.step(np.array([-1]), twin.initial_state(1))
    probs = np.exp(logits[0] - logits[0].max())
    probs /= probs.sum()
    n = 6000
    numpy_ids = np.asarray(guided_sample(twin.step, twin.n_values, twin.initial_state(n), n, 1, seed=1))[:, 0]
    keras_ids = sample_ids(jazz, n, 1, seed=1)[:, 0]
    for ids in (numpy_ids, keras_ids):
        frequencies = np.bincount(ids, minlength=twin.n_values) / n
        assert 0.5 * np.abs(frequencies - probs).sum() < 0.04
    again = np.asarray(guided_sample(twin.step, twin.n_values, twin.initial_state(n), n, 1, seed=1))[:, 0]
    assert np.array_equal(again, numpy_ids)  # the same seed, the same ids
    top = np.asarray(guided_sample(twin.step, twin.n_values, twin.initial_state(500), 500, 1, top_k=3, seed=2))
    assert set(np.unique(top)) <= set(np.argsort(-probs)[:3])


def test_both_backends_write_the_same_files_for_the_shipped_run(tmp_path):
    """Event encodings sample through the same numpy loop with either backend: same seed, same file."""
    from jazzlstm.api import generate

    files = {backend: generate(None, tmp_path / f"{backend}.mid", n=2, bars=4, seed=7, backend=backend)
             for backend in ("numpy", "tf")}
    for a, b in zip(files["numpy"], files["tf"]):
        assert a.read_bytes() == b.read_bytes()


@pytest.mark.slow
def test_generate_never_imports_tensorflow_unless_asked(tmp_path):
    script = ("import json, sys\nfrom jazzlstm.cli import main\n"
              "code = main(['generate', sys.argv[1], '--bars', '4', '--force'])\n"
              "print(json.dumps({'code': code, 'tf': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules}))")
    result = run_python_json(script, tmp_path / "solo.mid")
    assert result == {"code": 0, "tf": False, "keras": False}
    assert (tmp_path / "solo.mid").stat().st_size > 0


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    import jazzlstm

    folder = tmp_path_factory.mktemp("text")
    names = folder / "names.txt"
    names.write_text("\n".join(["anna", "bert", "carla", "dora", "emil", "frida", "gus", "hanna"] * 8) + "\n")
    return jazzlstm.train_text(str(names), folder / "run", layout="lines", n_a=12, layers=2, epochs=3,
                               batch_size=8, seed=0, verbose=0).path


@pytest.mark.slow
def test_text_runs_generate_with_numpy_greedy_like_tensorflow(text_run):
    from jazzlstm.api import generate_text

    greedy = {backend: generate_text(text_run, n=3, greedy=True, length=20, backend=backend)
              for backend in ("numpy", "tf")}
    assert greedy["numpy"] == greedy["tf"] and all(greedy["numpy"])
    sampled = generate_text(text_run, n=4, seed=3, length=20)
    assert sampled == generate_text(text_run, n=4, seed=3, length=20)  # the same seed, the same samples
    assert sampled != generate_text(text_run, n=4, seed=4, length=20)
    assert all("\n" not in s for s in sampled)  # every sample stops at its line's end token


@pytest.mark.slow
def test_generating_text_never_imports_tensorflow_unless_asked(text_run, tmp_path):
    script = ("import json, sys\nfrom jazzlstm.cli import main\n"
              "code = main(['generate', sys.argv[1], '--run', sys.argv[2], '-n', '3', '--seed', '1'])\n"
              "print(json.dumps({'code': code, 'tf': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules}))")
    result = run_python_json(script, str(tmp_path / "names.txt"), str(text_run))
    assert result == {"code": 0, "tf": False, "keras": False}
    assert len((tmp_path / "names.txt").read_text().splitlines()) == 3
