"""Training speed: the course-style unrolled graph vs jazzlstm's fast training path.

Same task for every contender: Tx=30, n_a=64, 78 values, batch 32, random ids, Adam(0.01).

* ``reference``: the classic course code, written here on purpose - 30 ``Lambda`` slices, 30
  shared ``LSTM_cell`` calls, a list of 30 softmax outputs, categorical crossentropy on 30
  one-hot targets and accuracy on each;
* ``keras_sequence_lstm``: the same maths as one ``keras.layers.LSTM(return_sequences=True)``
  on one-hot ids (for context: the generic Keras recurrent loop);
* ``jazzlstm_fast``: ``JazzLSTM.training_model`` (ids in, one gather for every step's input
  projection, the recurrence on the shared weights, sparse targets) compiled by
  ``JazzLSTM.compile`` (steps_per_execution=16) and fed by ``jazzlstm.data.windows.make_dataset``
  (a new stateless permutation each epoch) through ``fit`` with
  ``jazzlstm.training.fit_steps`` and ``ShuffleEpoch``, exactly as ``jazzlstm train`` does.

The other two get numpy arrays and ``fit``'s own shuffling, as the course code does.

``first_epoch_s`` counts from model construction to the end of epoch 1 (graph building,
tracing and the epoch: what a user waits for). ``samples_per_s`` comes from the median of
steady-state epochs, as in one long ``fit``: the contenders take turns (reference, keras,
jazzlstm, reference, ...), each turn one ``fit`` call of ``--epochs-per-call`` epochs, so that
the ratios are measured side by side on this shared, noisy machine; the first epoch of each
call (which also pays for starting the call's data pipeline) is not timed, and an epoch is
timed from Keras's ``on_epoch_begin`` to its ``on_epoch_end`` (the set-up of each ``fit`` call,
for the reference converting 76 MB of one-hot arrays, is left out).
TensorFlow's threads are set as ``jazzlstm train`` sets them (on a CPU, one thread per
operation: see ``jazzlstm.training.distribute.configure_threads``); the setting is process-wide, so
every contender runs under it. ``--tf-default-threads`` measures with TensorFlow's defaults.
Prints one JSON object. Targets: fast >= 3x the reference in samples/s, first epoch >= 5x sooner.
Run: python benchmarks/bench_train.py [--samples 4096] [--rounds 5] [--epochs-per-call 3]
     [--tf-default-threads]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

TX, N_A, N_VALUES, BATCH = 30, 64, 78, 32


def reference_model() -> keras.Model:
    """The course's djmodel, verbatim in spirit (Lambda slices and all)."""
    LSTM_cell = keras.layers.LSTM(N_A, return_state=True)
    densor = keras.layers.Dense(N_VALUES, activation="softmax")
    reshapor = keras.layers.Reshape((1, N_VALUES))
    X = keras.Input(shape=(TX, N_VALUES))
    a0, c0 = keras.Input(shape=(N_A,)), keras.Input(shape=(N_A,))
    a, c, outputs = a0, c0, []
    for t in range(TX):
        x = keras.layers.Lambda(lambda z, t=t: z[:, t, :], output_shape=(N_VALUES,))(X)
        x = reshapor(x)
        a, _, c = LSTM_cell(x, initial_state=[a, c])
        outputs.append(densor(a))
    model = keras.Model(inputs=[X, a0, c0], outputs=outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="categorical_crossentropy", metrics=["accuracy"] * TX)
    return model


def keras_sequence_model() -> keras.Model:
    """One Keras LSTM layer over the one-hot sequence, densor on every step."""
    ids = keras.Input(shape=(TX,), dtype="int32")
    x = keras.layers.Lambda(lambda i: tf.one_hot(i, N_VALUES), output_shape=(TX, N_VALUES))(ids)
    h = keras.layers.LSTM(N_A, return_sequences=True)(x)
    model = keras.Model(ids, keras.layers.Dense(N_VALUES, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def jazzlstm_model() -> keras.Model:
    from jazzlstm.model import JazzLSTM

    jazz = JazzLSTM.create(N_VALUES, n_a=N_A, tx=TX, seed=0)
    return jazz.compile(learning_rate=0.01, clipnorm=1.0)


class EpochClock(keras.callbacks.Callback):
    """Seconds from the start of each epoch to its end."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


class Contender:
    """A model and how it is fitted: from numpy arrays (``fit`` shuffles them) or from
    ``jazzlstm.data.windows.Batches`` (``y`` None), as ``jazzlstm train`` fits them."""

    def __init__(self, build: Callable[[], keras.Model], x, y=None):
        self.build, self.x, self.y = build, x, y
        self.model: keras.Model | None = None
        self.clock = EpochClock()
        self.timed: list[float] = []

    def fit(self, epochs: int) -> None:
        """``epochs`` more epochs in one ``fit`` call."""
        done = len(self.clock.seconds)
        if self.y is None:
            from jazzlstm.training.fit import ShuffleEpoch, fit_steps

            self.model.fit(self.x.dataset, epochs=done + epochs, initial_epoch=done, verbose=0, shuffle=False,
                           callbacks=[self.clock, ShuffleEpoch(self.x.epoch)], **fit_steps(self.x))
        else:
            self.model.fit(self.x, self.y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[self.clock])

    def first_epoch(self) -> float:
        """Build the model and fit one epoch: seconds from construction to the end of that epoch."""
        start = time.perf_counter()
        self.model = self.build()
        self.fit(1)
        return time.perf_counter() - start


def steady_epochs(contenders: dict[str, Contender], rounds: int, epochs_per_call: int) -> dict[str, list[float]]:
    """Steady-state epoch times of every contender: one ``fit`` call each in turn, ``rounds``
    times over, so that all see the same moments of a shared, noisy machine; the first
    epoch of each call is left out."""
    for _ in range(rounds):
        for contender in contenders.values():
            contender.fit(epochs_per_call)
            contender.timed += contender.clock.seconds[-(epochs_per_call - 1):]
    return {name: contender.timed for name, contender in contenders.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=5, help="turns of every contender")
    parser.add_argument("--epochs-per-call", type=int, default=3,
                        help="epochs per fit call, at least 2 (the first of each call is not timed)")
    parser.add_argument("--tf-default-threads", action="store_true",
                        help="keep TensorFlow's own thread settings instead of jazzlstm's")
    args = parser.parse_args()
    n, rounds, per_call = args.samples, max(1, args.rounds), max(2, args.epochs_per_call)
    if not args.tf_default_threads:
        from jazzlstm.training.distribute import configure_threads

        configure_threads()

    ids = np.random.default_rng(0).integers(0, N_VALUES, size=(n, TX + 1)).astype("int32")
    x_ids, y_ids = ids[:, :-1], ids[:, 1:]
    eye = np.eye(N_VALUES, dtype="float32")
    zeros = np.zeros((n, N_A), "float32")
    reference_x = [eye[x_ids], zeros, zeros]
    reference_y = [eye[y_ids[:, t]] for t in range(TX)]

    from jazzlstm.training.pipeline import make_dataset

    contenders = {
        "reference": Contender(reference_model, reference_x, reference_y),
        "keras_sequence_lstm": Contender(keras_sequence_model, x_ids, y_ids),
        "jazzlstm_fast": Contender(jazzlstm_model, make_dataset(ids, BATCH, shuffle=True, seed=0)),
    }
    results = {name: {"first_epoch_s": round(contender.first_epoch(), 2)} for name, contender in contenders.items()}
    for name, times in steady_epochs(contenders, rounds, per_call).items():
        results[name]["epoch_s"] = [round(t, 2) for t in times]
        results[name]["samples_per_s"] = round(n / statistics.median(times))
    ref, fast = results["reference"], results["jazzlstm_fast"]
    print(json.dumps({
        "benchmark": "train", "tx": TX, "n_a": N_A, "n_values": N_VALUES, "batch": BATCH,
        "samples": n, "rounds": rounds, "epochs_per_call": per_call, "cpu_count": os.cpu_count(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
        "tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version(),
        **results,
        "speedup_samples_per_s": round(fast["samples_per_s"] / ref["samples_per_s"], 2),
        "speedup_first_epoch": round(ref["first_epoch_s"] / fast["first_epoch_s"], 2),
        "targets": {"samples_per_s": ">= 3x", "first_epoch": ">= 5x"},
    }, indent=1))


if __name__ == "__main__":
    main()
