"""How many weights the jazz LSTM has, and where they are (plain arithmetic, no Keras).

An LSTM of ``n_a`` units over inputs of ``n_x`` values has four gates (input, forget, cell
candidate, output). Each gate has an input kernel ``n_x x n_a``, a recurrent kernel
``n_a x n_a`` and a bias ``n_a``, so the layer holds ``4 * (n_a * (n_x + n_a) + n_a)`` weights.
``densor`` maps the ``n_a`` units to the ``V`` tokens: ``n_a * V + V``. With one-hot inputs
(``n_x = V``) the whole model is

    4 * (n_a * (V + n_a) + n_a) + n_a * V + V

which tests check against Keras's ``count_params()``. Each layer stacked above the first reads
the ``n_a`` states of the layer below (``n_x = n_a``) and adds ``4 * (n_a * 2 n_a + n_a)``.
"""
from __future__ import annotations

from dataclasses import dataclass

GATES = ("input", "forget", "cell", "output")
"""The LSTM's gates, in Keras's order of the kernels' columns."""


@dataclass(frozen=True)
class LayerWeights:
    """One layer's weights by kind: input kernel, recurrent kernel, bias (per gate for an LSTM)."""

    name: str
    kernel: int
    recurrent: int
    bias: int
    gates: int = 1

    @property
    def total(self) -> int:
        return self.gates * (self.kernel + self.recurrent + self.bias)


def lstm_weights(n_x: int, n_a: int, name: str = "LSTM_cell") -> LayerWeights:
    """An LSTM layer of ``n_a`` units over ``n_x`` inputs."""
    return LayerWeights(name, kernel=n_x * n_a, recurrent=n_a * n_a, bias=n_a, gates=len(GATES))


def dense_weights(n_in: int, n_out: int, name: str = "densor") -> LayerWeights:
    """A dense layer: a kernel and a bias, no recurrence."""
    return LayerWeights(name, kernel=n_in * n_out, recurrent=0, bias=n_out)


def model_weights(n_values: int, n_a: int, layers: int = 1) -> list[LayerWeights]:
    """The jazz LSTM's layers over a vocabulary of ``n_values`` tokens (``reshapor`` has none),
    with ``layers`` LSTMs stacked (named as the model names them: LSTM_cell, LSTM_cell_2, ...)."""
    stack = [lstm_weights(n_values if k == 1 else n_a, n_a, "LSTM_cell" if k == 1 else f"LSTM_cell_{k}")
             for k in range(1, layers + 1)]
    return [*stack, dense_weights(n_a, n_values)]


def parameter_count(n_values: int, n_a: int, layers: int = 1) -> int:
    """Every weight of the jazz LSTM."""
    return sum(layer.total for layer in model_weights(n_values, n_a, layers))


def units_for_budget(n_values: int, budget: int, smallest: int = 8, layers: int = 1) -> int:
    """The most LSTM units whose model (of ``layers`` stacked LSTMs) stays within ``budget``
    weights (at least ``smallest``)."""
    n_a = smallest
    while parameter_count(n_values, n_a + 1, layers) <= budget:
        n_a += 1
    return n_a


def breakdown_lines(n_values: int, n_a: int, layers: int = 1) -> list[str]:
    """A printable table of the weights per layer and kind (per gate in brackets), and the total."""
    def cell(value: int, gates: int) -> str:
        return f"{value * gates:,}" + (f" ({value:,} a gate)" if gates > 1 else "")

    rows = [("layer", "input kernel", "recurrent kernel", "bias", "total")]
    for layer in model_weights(n_values, n_a, layers):
        rows.append((layer.name, cell(layer.kernel, layer.gates), cell(layer.recurrent, layer.gates),
                     cell(layer.bias, layer.gates), f"{layer.total:,}"))
    total = parameter_count(n_values, n_a, layers)
    rows.append(("total", "", "", "", f"{total:,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join([row[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(row[1:], widths[1:])]).rstrip()
             for row in rows]
    lines[-1] += f"  ({total * 4 / 1e6:.2f} MB as float32)"
    return lines
