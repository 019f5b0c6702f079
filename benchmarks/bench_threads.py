"""CPU training speed of the fast path with one thread per TensorFlow op vs TensorFlow's default
threads, over model sizes: where does one thread per op stop paying?

For each size (``--sizes``: n_a x batch x Tx, V = 96 tokens) and each thread setting, a fresh
process (the setting is process-wide) builds ``JazzLSTM.training_model``, compiles it as
``jazzlstm train`` does and fits random ids through jazzlstm's tf.data pipeline; the epochs after
the first are timed (median). The two settings of a size run one after the other, alternating
``--rounds`` times, so each ratio is side by side. Prints one JSON object: tokens/s per setting,
the ratio, and the multiply-adds per LSTM step (batch x 4 n_a x (V + n_a)) the policy in
``jazzlstm.training.distribute.configure_threads`` keys on.

Run: python benchmarks/bench_threads.py [--sizes 64x32x30,512x256x100] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
V = 96
WORKER = r'''
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
n_a, batch, tx, threads, windows = (int(v) for v in sys.argv[1:6])
import numpy as np
import tensorflow as tf
if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
import keras
from jazzlstm.model import JazzLSTM
from jazzlstm.training.fit import fit_steps
from jazzlstm.training.pipeline import make_dataset

class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)

ids = np.random.default_rng(0).integers(0, %(V)d, size=(windows, tx + 1)).astype("int32")
jazz = JazzLSTM.create(%(V)d, n_a=n_a, tx=tx, seed=0)
model = jazz.compile(learning_rate=0.001, clipnorm=1.0)
batches = make_dataset(ids, batch, shuffle=True, seed=0)
clock = Clock(); clock.seconds = []
model.fit(batches.dataset, epochs=4, verbose=0, callbacks=[clock], **fit_steps(batches))
print(json.dumps({"tokens_per_s": windows * tx / statistics.median(clock.seconds[1:])}))
''' % {"V": V}


def measure(n_a: int, batch: int, tx: int, threads: int) -> float:
    # About 2 s an epoch whatever the size: windows scaled by the work per window.
    windows = max(batch * 4, int(4e9 / (8 * n_a * (V + n_a) * tx)) // batch * batch)
    script = "import statistics\n" + WORKER
    result = subprocess.run([sys.executable, "-c", script, str(n_a), str(batch), str(tx), str(threads), str(windows)],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])["tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64x32x30,128x32x30,256x32x30,64x256x30,256x256x30,512x256x100")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results = []
    for size in args.sizes.split(","):
        n_a, batch, tx = (int(v) for v in size.split("x"))
        runs: dict[str, list[float]] = {"one_thread": [], "default_threads": []}
        for _ in range(args.rounds):
            runs["one_thread"].append(measure(n_a, batch, tx, 1))
            runs["default_threads"].append(measure(n_a, batch, tx, 0))
        one, default = (statistics.median(runs[k]) for k in ("one_thread", "default_threads"))
        row = {"n_a": n_a, "batch": batch, "tx": tx, "macs_per_step": batch * 4 * n_a * (V + n_a),
               "one_thread_tokens_per_s": round(one), "default_threads_tokens_per_s": round(default),
               "one_thread_vs_default": round(one / default, 2)}
        print(json.dumps(row), file=sys.stderr, flush=True)
        results.append(row)
    print(json.dumps({"V": V, "rounds": args.rounds, "sizes": results}, indent=1))


if __name__ == "__main__":
    main()
