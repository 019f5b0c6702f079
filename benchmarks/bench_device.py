"""Training speed of jazzlstm's model on the device its Keras backend uses (a GPU, or the CPU).

Builds ``JazzLSTM.training_model`` (the same model code ``jazzlstm train`` fits), compiles it
with :func:`jazzlstm.model.compile_model` and fits random windows (Tx=30, n_a=64, 78 values)
at several batch sizes. Reports the Keras backend, the devices it sees, the device the
weights live on, seconds to the end of the first epoch and samples/s (median of the later
epochs). ``KERAS_BACKEND`` picks the backend (tensorflow by default; jax runs the same model
code on a GPU where TensorFlow is not installed). Prints one JSON object.
Run: [KERAS_BACKEND=jax] python benchmarks/bench_device.py [--batches 32 256 1024] [--epochs 4]
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TX, N_A, N_VALUES = 30, 64, 78


def backend_devices() -> list[str]:
    """The devices the Keras backend can run on."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return [str(d) for d in jax.devices()]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_logical_devices()]
    return ["unknown"]


def weights_device(model) -> str:
    """Where the model's first weight lives: that is where its training step computes."""
    value = model.weights[0].value
    if hasattr(value, "devices"):  # a jax.Array
        return ", ".join(str(d) for d in value.devices())
    return str(getattr(value, "device", "unknown"))


def measure(batch: int, samples: int, epochs: int) -> dict:
    import numpy as np

    from jazzlstm.model import JazzLSTM, compile_model

    ids = np.random.default_rng(0).integers(0, N_VALUES, size=(samples, TX + 1)).astype("int32")
    x, y = ids[:, :-1], ids[:, 1:]
    start = time.perf_counter()
    model = compile_model(JazzLSTM.create(N_VALUES, n_a=N_A, tx=TX, seed=0).training_model, 0.01, 1.0)
    first = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    first_epoch_s = time.perf_counter() - start
    times, last = [], None
    for _ in range(max(1, epochs - 1)):
        t = time.perf_counter()
        last = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        times.append(time.perf_counter() - t)
    return {"batch": batch, "samples": samples, "device": weights_device(model),
            "first_epoch_s": round(first_epoch_s, 2), "epoch_s": [round(t, 3) for t in times],
            "samples_per_s": round(samples / statistics.median(times)),
            "loss_first_epoch": round(first.history["loss"][0], 4), "loss_last_epoch": round(last.history["loss"][0], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 256, 1024])
    parser.add_argument("--steps", type=int, default=128, help="training steps per epoch at each batch size")
    parser.add_argument("--epochs", type=int, default=4, help="at least 2: the first, then the timed ones")
    args = parser.parse_args()
    import keras

    if keras.backend.backend() == "tensorflow":
        from jazzlstm.training.distribute import configure_threads

        configure_threads()  # as jazzlstm train does
    results = [measure(b, b * args.steps, args.epochs) for b in args.batches]
    print(json.dumps({"benchmark": "device", "backend": keras.backend.backend(), "keras": keras.__version__,
                      "python": platform.python_version(), "devices": backend_devices(),
                      "tx": TX, "n_a": N_A, "n_values": N_VALUES, "results": results}, indent=1))


if __name__ == "__main__":
    main()
