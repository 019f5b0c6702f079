"""The weight count and its breakdown, checked against Keras; jazzlstm info prints them."""
from __future__ import annotations

import json

import pytest

from jazzlstm.model.params import GATES, breakdown_lines, model_weights, parameter_count, units_for_budget


@pytest.mark.parametrize("n_values, n_a", [(2, 1), (67, 192), (460, 40), (13, 7)])
def test_the_count_and_each_layer_agree_with_keras(n_values, n_a):
    from jazzlstm.model import JazzLSTM

    jazz = JazzLSTM.create(n_values, n_a=n_a, seed=0)
    lstm, dense = model_weights(n_values, n_a)
    assert lstm.total == jazz.LSTM_cell.count_params()
    assert dense.total == jazz.densor.count_params()
    assert parameter_count(n_values, n_a) == jazz.training_model.count_params()
    # Each kind of weight is the size of the Keras variable that holds it (all gates side by side).
    kernel, recurrent, bias = (int(w.numpy().size) for w in jazz.LSTM_cell.weights)
    assert (kernel, recurrent, bias) == (lstm.kernel * len(GATES), lstm.recurrent * len(GATES), lstm.bias * len(GATES))
    assert parameter_count(n_values, n_a) == 4 * (n_a * (n_values + n_a) + n_a) + n_a * n_values + n_values


def test_units_for_a_budget_are_the_most_that_fit():
    for n_values, budget in [(64, 100_000), (460, 100_000), (234, 250_000)]:
        n_a = units_for_budget(n_values, budget)
        assert parameter_count(n_values, n_a) <= budget < parameter_count(n_values, n_a + 1)


def test_info_prints_the_shipped_run_and_its_weights(capsys):
    from jazzlstm.cli import main
    from jazzlstm.resources import pretrained_run_dir

    model = json.loads((pretrained_run_dir() / "config.json").read_text())["model"]
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"{model['n_values']} tokens, {model['n_a']} LSTM units" in out
    assert out.splitlines()[-1].split()[1] == f"{parameter_count(model['n_values'], model['n_a']):,}"
    assert "\n".join(breakdown_lines(model["n_values"], model["n_a"])) in out
