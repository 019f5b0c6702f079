"""Training speed over a grid of sizes: jazzlstm's fast path against Keras's own LSTM layer and
PyTorch's nn.LSTM, side by side in one run (issue 19).

The task, the same for every contender: random ids over V tokens (default 96), windows of Tx,
one-hot inputs (jazzlstm gathers the input kernel's rows instead of multiplying the one-hot
columns), one LSTM layer of n_a units, a dense layer to V logits, softmax crossentropy over V
at every step, Adam (learning rate 0.001) with gradient clipping at 5. The grid:
n_a in {64, 256, 512, 1024} x Tx in {30, 100} x batch in {32, 256} (``--points`` picks others
as ``n_a x batch x Tx``, ``--quick`` three of them).

Contenders, each in its own long-lived process (thread settings are process-wide and must be
made before TensorFlow or PyTorch starts its thread pools; two pools in one process would
fight over the cores):

* ``jazzlstm``: ``JazzLSTM.create(V, n_a, tx)``, compiled by ``JazzLSTM.compile`` (as
  ``jazzlstm train`` compiles it: steps_per_execution 16, accuracy, perplexity and bits per
  token), fed by ``jazzlstm.training.pipeline.make_dataset`` through ``fit`` with
  ``fit_steps`` and ``ShuffleEpoch``, with the threads ``jazzlstm train`` sets for this size
  (``jazzlstm.training.distribute.configure_threads(lstm_macs_per_step(batch, n_a, V))``:
  one thread per TensorFlow op below ``THREADS_CROSSOVER_MACS``, TensorFlow's own above).
  The result comes from whichever of the two jazzlstm processes runs that setting.
* ``jazzlstm_tf_threads``: the same with TensorFlow's default threads (for reference; where
  the policy picks TensorFlow's threads already it is the same measurement);
  ``jazzlstm_one_thread`` (not in the default set): the same with one thread per op. The two
  together show what the policy's choice gains or loses at each point.
* ``keras_lstm``: ``keras.layers.LSTM(n_a, return_sequences=True)`` on ``keras.ops.one_hot``
  of the ids, ``Dense(V)`` logits, ``SparseCategoricalCrossentropy(from_logits=True)``,
  ``Adam(clipnorm=5)``, ``model.fit`` on numpy arrays with Keras's defaults (threads too).
* ``torch_lstm``: ``nn.LSTM(V, n_a, batch_first=True)`` on ``F.one_hot(ids).float()`` +
  ``nn.Linear(n_a, V)``, ``nn.CrossEntropyLoss``, ``torch.optim.Adam``,
  ``clip_grad_norm_(5)``, ``torch.set_num_threads(os.cpu_count())``, a plain Python loop over
  shuffled batches. Skipped, with a note in the JSON, when torch is not installed
  (``pip install -e .[bench]``); the package itself never imports torch.
* ``torch_lstm_one_thread``: the same with ``torch.set_num_threads(1)`` (not in the default
  set; ``--contenders``). On a machine shared with other busy processes, PyTorch's OpenMP
  threads wait at a barrier after every parallel operation for a thread the kernel has
  descheduled, so ``os.cpu_count()`` threads can run several times slower than one; this
  contender shows how much of a ratio is that.

Timing: at each grid point every contender builds its model and runs one untimed epoch (the
same batches as a timed one: tracing, first-step allocations), then the contenders take turns
(``--repeats`` timed epochs each, the order rotating each round) so that their ratios are
measured at the same moments of a shared machine. An epoch is a fixed number of steps chosen
from the FLOP count (``--gflop-per-epoch`` of nominal work, default 100, at least
``--min-steps``), timed
from Keras's ``on_epoch_begin`` to ``on_epoch_end`` (around the step loop for PyTorch).
tokens/s = steps x batch x Tx / seconds (median over repeats).

FLOPs counted (nominal, the same count for every contender; ``flops_per_token``): forward,
per time step and sample, ``2 * 4 n_a (V + n_a)`` for the four gates' products over the
one-hot input and the previous state plus ``2 n_a V`` for the output layer; forward +
backward = 3 x forward. Not counted: gate nonlinearities, elementwise products, biases,
softmax and loss, the optimizer. jazzlstm's input product is a gather, so of the counted
``8 n_a V`` x 3 input FLOPs it computes none (52% of the count at n_a 64, 26% at 256, 15% at
512, 8% at 1024, with V 96).

numpy's matmul peak (float32 2048 x 2048 @ 2048 x 2048, best of ``--peak-repeats``, numpy's
own BLAS threads) is measured in a fresh process before the workers start, before each point
(while the workers wait) and after the grid; the highest is the reference for
``pct_numpy_peak`` (on a shared machine the lower ones show how busy it was).

Prints one JSON object (also written to ``--json``); progress goes to stderr.
Run: python benchmarks/bench_grid.py [--quick | --points 512x256x100,...] [--repeats 1]
     [--contenders jazzlstm,jazzlstm_tf_threads,keras_lstm,torch_lstm[,torch_lstm_one_thread]]
     [--json grid.json]
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

V = 96
LEARNING_RATE = 0.001
CLIPNORM = 5.0
GRID_N_A, GRID_TX, GRID_BATCH = (64, 256, 512, 1024), (30, 100), (32, 256)
QUICK_POINTS = "64x32x30,256x256x30,512x256x100"
GOAL_POINT = (512, 256, 100)  # (n_a, batch, tx) of the second goal
CONTENDERS = ("jazzlstm", "jazzlstm_one_thread", "jazzlstm_tf_threads", "keras_lstm", "torch_lstm",
              "torch_lstm_one_thread")
DEFAULT_CONTENDERS = ("jazzlstm", "jazzlstm_tf_threads", "keras_lstm", "torch_lstm")
TORCH_CONTENDERS = ("torch_lstm", "torch_lstm_one_thread")
REPLY = "@@grid "  # workers prefix their answers, so stray library output cannot be mistaken for one


# ------------------------------------------------------------------------------------------------
# Counting
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    n_a: int
    batch: int
    tx: int
    v: int = V

    @property
    def label(self) -> str:
        return f"{self.n_a}x{self.batch}x{self.tx}"


def forward_flops_per_token(n_a: int, v_in: int, v_out: int) -> int:
    """Forward FLOPs of one time step of one sample: the four gates' products over [input,
    state] (2 * 4 n_a (v_in + n_a)) and the output layer (2 n_a v_out); multiply-add = 2."""
    return 2 * 4 * n_a * (v_in + n_a) + 2 * n_a * v_out


def flops_per_token(n_a: int, v: int) -> int:
    """Training FLOPs per token: forward + backward = 3 x forward (the backward pass makes two
    products, for the inputs' and the weights' gradients, for each forward one)."""
    return 3 * forward_flops_per_token(n_a, v, v)


def flops_per_step(point: Point) -> int:
    return point.batch * point.tx * flops_per_token(point.n_a, point.v)


GFLOP_PER_EPOCH = 100.0
"""Nominal work in a timed epoch. Keras spends a few tens of milliseconds starting and ending
each epoch (``fit``'s iterator and callbacks), which a training run pays once per pass over
its corpus; with 20 GFLOP an epoch (the earlier default) the n_a 512, batch 32 point was 3
steps and that start weighed about a quarter of jazzlstm's epoch (14,111 tokens/s, against
18,849 at 100 GFLOP in a run minutes later, same code; PyTorch 21,755 and 20,401). PyTorch's
plain loop has no such cost."""


def steps_per_epoch(point: Point, gflop_per_epoch: float, min_steps: int) -> int:
    """A fixed number of steps: about ``gflop_per_epoch`` of counted work, at least ``min_steps``."""
    return max(min_steps, math.ceil(gflop_per_epoch * 1e9 / flops_per_step(point)))


def policy_one_thread(point: Point) -> bool:
    """Whether ``jazzlstm train`` runs this size with one thread per TensorFlow op."""
    from jazzlstm.training.distribute import lstm_macs_per_step, one_thread_per_op

    return one_thread_per_op(lstm_macs_per_step(point.batch, point.n_a, point.v))


def parse_points(text: str, v: int = V) -> list[Point]:
    """'all' (the 16-point grid) or comma-separated ``n_a x batch x Tx``."""
    if text == "all":
        return [Point(n_a, batch, tx, v) for n_a in GRID_N_A for tx in GRID_TX for batch in GRID_BATCH]
    points = []
    for item in text.split(","):
        try:
            n_a, batch, tx = (int(x) for x in item.strip().lower().split("x"))
        except ValueError:
            raise SystemExit(f"--points: {item!r} is not n_a x batch x Tx (e.g. 512x256x100)") from None
        points.append(Point(n_a, batch, tx, v))
    return points


def numpy_peak_gflops(n: int = 2048, repeats: int = 10) -> dict:
    """float32 n x n @ n x n with numpy's BLAS: GFLOP/s of the best and the median run."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)  # warm-up: BLAS threads, page faults
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        seconds.append(time.perf_counter() - start)
    flops = 2 * n ** 3
    return {"n": n, "best_gflops": round(flops / min(seconds) / 1e9, 1),
            "median_gflops": round(flops / statistics.median(seconds) / 1e9, 1)}


# ------------------------------------------------------------------------------------------------
# Contenders: build(point, steps) then epoch() -> seconds; the same code runs in a worker process
# ------------------------------------------------------------------------------------------------
class Runner(Protocol):
    def build(self, point: Point, steps: int) -> None: ...
    def epoch(self) -> float: ...
    def free(self) -> None: ...


def random_ids(point: Point, steps: int):
    import numpy as np

    return np.random.default_rng(0).integers(0, point.v, size=(steps * point.batch, point.tx + 1)).astype("int32")


class KerasRunner:
    """Shared by the TensorFlow contenders: an epoch is one ``fit`` call of one epoch, timed
    from ``on_epoch_begin`` to ``on_epoch_end``."""

    clear_session = True  # in a worker process; tests running in-process keep Keras's global state

    def __init__(self):
        self.model = None

    def _clock(self):
        import keras

        class Clock(keras.callbacks.Callback):
            seconds = 0.0

            def on_epoch_begin(self, epoch, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                Clock.seconds = time.perf_counter() - self.started

        return Clock

    def check_steps(self, before: int) -> None:
        """Every step of the epoch ran (Keras's loop of several steps per call ends with the data)."""
        ran = int(self.model.optimizer.iterations.numpy()) - before
        if ran != self.steps:
            raise RuntimeError(f"an epoch ran {ran} optimizer steps, not {self.steps}")

    def free(self) -> None:
        import gc

        import keras

        self.model = None
        if self.clear_session:
            keras.backend.clear_session()
        gc.collect()


class JazzRunner(KerasRunner):
    """jazzlstm's fast path, compiled and fed as ``jazzlstm train`` does (less its per-epoch
    callbacks: backups, bits per note, progress)."""

    def build(self, point: Point, steps: int) -> None:
        from jazzlstm.model import JazzLSTM
        from jazzlstm.training.pipeline import make_dataset

        jazz = JazzLSTM.create(point.v, n_a=point.n_a, tx=point.tx, seed=0)
        self.model = jazz.compile(learning_rate=LEARNING_RATE, clipnorm=CLIPNORM)
        self.batches = make_dataset(random_ids(point, steps), point.batch, shuffle=True, seed=0)
        self.done, self.steps = 0, steps

    def epoch(self) -> float:
        from jazzlstm.training.fit import ShuffleEpoch, fit_steps

        clock, before = self._clock(), int(self.model.optimizer.iterations.numpy())
        self.model.fit(self.batches.dataset, epochs=self.done + 1, initial_epoch=self.done, verbose=0,
                       shuffle=False, callbacks=[clock(), ShuffleEpoch(self.batches.epoch)],
                       **fit_steps(self.batches))
        self.done += 1
        self.check_steps(before)
        return clock.seconds


class KerasLSTMRunner(KerasRunner):
    """Keras's own LSTM layer, written as a Keras user would."""

    def build(self, point: Point, steps: int) -> None:
        import keras

        ids = keras.Input(shape=(point.tx,), dtype="int32")
        h = keras.layers.LSTM(point.n_a, return_sequences=True)(keras.ops.one_hot(ids, point.v))
        model = keras.Model(ids, keras.layers.Dense(point.v)(h))
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, clipnorm=CLIPNORM),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        rows = random_ids(point, steps)
        self.model, self.x, self.y, self.batch = model, rows[:, :-1], rows[:, 1:], point.batch
        self.steps = steps

    def epoch(self) -> float:
        clock = self._clock()
        before = int(self.model.optimizer.iterations.numpy()) if self.model.optimizer.built else 0
        self.model.fit(self.x, self.y, batch_size=self.batch, epochs=1, verbose=0, callbacks=[clock()])
        self.check_steps(before)
        return clock.seconds


class TorchRunner:
    """PyTorch's nn.LSTM, written as a PyTorch user would (one-hot inputs, as the others)."""

    def __init__(self, threads: int | None = None):
        import torch

        torch.set_num_threads(threads or os.cpu_count() or 1)
        self.model = None

    def build(self, point: Point, steps: int) -> None:
        import torch
        from torch import nn

        torch.manual_seed(0)

        class CharLSTM(nn.Module):
            def __init__(self, vocab: int, hidden: int):
                super().__init__()
                self.vocab = vocab
                self.lstm = nn.LSTM(vocab, hidden, batch_first=True)
                self.out = nn.Linear(hidden, vocab)

            def forward(self, ids):
                h, _ = self.lstm(nn.functional.one_hot(ids, self.vocab).float())
                return self.out(h)

        self.model = CharLSTM(point.v, point.n_a)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE)
        self.loss_fn = nn.CrossEntropyLoss()
        self.rows = torch.from_numpy(random_ids(point, steps)).long()
        self.point, self.steps = point, steps

    def epoch(self) -> float:
        import torch

        v, batch = self.point.v, self.point.batch
        start = time.perf_counter()
        order = torch.randperm(len(self.rows))
        for step in range(self.steps):
            rows = self.rows[order[step * batch:(step + 1) * batch]]
            x, y = rows[:, :-1], rows[:, 1:]
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(x).reshape(-1, v), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), CLIPNORM)
            self.optimizer.step()
        loss.item()
        return time.perf_counter() - start

    def free(self) -> None:
        self.model = self.optimizer = self.rows = None


def make_runner(kind: str) -> Runner:
    """The runner of a worker kind; TensorFlow's threads are set first, as ``jazzlstm train`` sets them."""
    if kind in ("jazzlstm_one_thread", "jazzlstm_tf_threads", "keras_lstm"):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow  # noqa: F401

        if kind != "keras_lstm":
            from jazzlstm.training.distribute import THREADS_CROSSOVER_MACS, configure_threads

            # the package's own call: below the crossover one thread per op, at it TF's threads
            configure_threads(0 if kind == "jazzlstm_one_thread" else THREADS_CROSSOVER_MACS)
        return KerasLSTMRunner() if kind == "keras_lstm" else JazzRunner()
    if kind in TORCH_CONTENDERS:
        return TorchRunner(1 if kind == "torch_lstm_one_thread" else None)
    raise ValueError(f"unknown worker kind {kind!r}")


def worker_facts(kind: str) -> dict:
    if kind in TORCH_CONTENDERS:
        import torch

        return {"torch": torch.__version__, "threads": torch.get_num_threads()}
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "default"}


def worker_main(kind: str) -> None:
    """Answer commands from the driver, one JSON line each way, until stdin closes."""
    out = sys.stdout
    sys.stdout = sys.stderr  # library chatter must not reach the driver's pipe

    def reply(**message) -> None:
        out.write(REPLY + json.dumps(message) + "\n")
        out.flush()

    try:
        runner = make_runner(kind)
        reply(ok=True, **worker_facts(kind))
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which skips this contender
        reply(ok=False, error=f"{type(exc).__name__}: {exc}")
        return
    for line in sys.stdin:
        command = json.loads(line)
        try:
            if command["cmd"] == "build":
                start = time.perf_counter()
                runner.build(Point(**command["point"]), command["steps"])
                reply(ok=True, seconds=time.perf_counter() - start)
            elif command["cmd"] == "epoch":
                reply(ok=True, seconds=runner.epoch())
            elif command["cmd"] == "free":
                runner.free()
                reply(ok=True)
        except Exception as exc:  # noqa: BLE001 - e.g. out of memory at one size: report, go on
            reply(ok=False, error=f"{type(exc).__name__}: {str(exc)[:300]}")


# ------------------------------------------------------------------------------------------------
# The driver
# ------------------------------------------------------------------------------------------------
class Worker(Protocol):
    facts: dict
    def call(self, cmd: str, **kwargs) -> dict: ...
    def close(self) -> None: ...


class LocalWorker:
    """A runner in this process (tests; no thread settings)."""

    def __init__(self, kind: str):
        self.runner = {"torch_lstm": TorchRunner, "torch_lstm_one_thread": lambda: TorchRunner(1),
                       "keras_lstm": KerasLSTMRunner}.get(kind, JazzRunner)()
        self.runner.clear_session = False
        self.facts = {"in_process": True}

    def call(self, cmd: str, **kwargs) -> dict:
        try:
            if cmd == "build":
                start = time.perf_counter()
                self.runner.build(Point(**kwargs["point"]), kwargs["steps"])
                return {"ok": True, "seconds": time.perf_counter() - start}
            if cmd == "epoch":
                return {"ok": True, "seconds": self.runner.epoch()}
            self.runner.free()
            return {"ok": True}
        except Exception as exc:  # noqa: BLE001
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    def close(self) -> None:
        pass


class ProcessWorker:
    """``bench_grid.py --worker KIND`` in a fresh process, with the environment ``jazzlstm
    train`` would see (TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS removed: the policy decides)."""

    def __init__(self, kind: str):
        env = {k: v for k, v in os.environ.items() if k not in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        self.kind = kind
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", kind],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, cwd=ROOT, env=env)
        self.facts: dict = {}

    def read(self) -> dict:
        for line in self.process.stdout:
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY):])
        return {"ok": False, "error": f"worker {self.kind} exited (code {self.process.wait()})"}

    def start(self) -> dict:
        self.facts = self.read()
        return self.facts

    def call(self, cmd: str, **kwargs) -> dict:
        if self.process.poll() is not None:
            return {"ok": False, "error": f"worker {self.kind} exited (code {self.process.returncode})"}
        self.process.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        self.process.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def worker_kinds(points: list[Point], contenders: list[str]) -> list[str]:
    """The worker processes the grid needs (which one measures ``jazzlstm`` depends on the point)."""
    kinds = set()
    if "jazzlstm" in contenders:
        kinds |= {"jazzlstm_one_thread" if policy_one_thread(p) else "jazzlstm_tf_threads" for p in points}
    kinds |= {c for c in ("jazzlstm_one_thread", "jazzlstm_tf_threads") if c in contenders}
    kinds |= {c for c in ("keras_lstm", *TORCH_CONTENDERS) if c in contenders}
    return sorted(kinds)


def point_workers(point: Point, contenders: list[str]) -> dict[str, str]:
    """{contender: worker kind} at ``point``; both jazzlstm contenders may share one kind."""
    chosen = {}
    for contender in contenders:
        if contender == "jazzlstm":
            chosen[contender] = "jazzlstm_one_thread" if policy_one_thread(point) else "jazzlstm_tf_threads"
        else:
            chosen[contender] = contender
    return chosen


def log(message: str) -> None:
    print(f"[bench_grid {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure_point(point: Point, steps: int, contenders: list[str], workers: dict[str, Worker],
                  repeats: int) -> dict:
    """Build every contender's model, one untimed epoch each, then ``repeats`` timed epochs in
    turns (the order rotating each round). Returns the point's JSON row."""
    chosen = {c: k for c, k in point_workers(point, contenders).items() if k in workers}
    kinds = list(dict.fromkeys(chosen.values()))  # each process once, in contender order
    seconds: dict[str, list[float]] = {k: [] for k in kinds}
    errors: dict[str, str] = {}
    build_s: dict[str, float] = {}
    for kind in kinds:
        for cmd in ("build", "epoch"):
            answer = workers[kind].call(cmd, point=asdict(point), steps=steps) if cmd == "build" \
                else workers[kind].call(cmd)
            if not answer.get("ok"):
                errors[kind] = answer.get("error", "failed")
                break
            build_s[kind] = build_s.get(kind, 0.0) + answer["seconds"]
    live = [k for k in kinds if k not in errors]
    for r in range(repeats):
        for kind in live[r % len(live):] + live[:r % len(live)] if live else []:
            if kind in errors:
                continue
            answer = workers[kind].call("epoch")
            if answer.get("ok"):
                seconds[kind].append(answer["seconds"])
            else:
                errors[kind] = answer.get("error", "failed")
    for kind in kinds:
        workers[kind].call("free")

    tokens = steps * point.batch * point.tx
    flops = steps * flops_per_step(point)
    results = {}
    for contender, kind in chosen.items():
        if kind in errors or not seconds[kind]:
            results[contender] = {"error": errors.get(kind, "not measured")}
            continue
        median = statistics.median(seconds[kind])
        results[contender] = {
            "process": kind, "epoch_s": [round(s, 6) for s in seconds[kind]],
            "warmup_s": round(build_s[kind], 2),
            "tokens_per_s": round(tokens / median), "gflops": round(flops / median / 1e9, 3)}
    one = policy_one_thread(point)
    return {"n_a": point.n_a, "batch": point.batch, "tx": point.tx, "v": point.v, "steps": steps,
            "tokens_per_epoch": tokens, "flops_per_token": flops_per_token(point.n_a, point.v),
            "gflop_per_step": round(flops_per_step(point) / 1e9, 3),
            "macs_per_lstm_step": point.batch * 4 * point.n_a * (point.v + point.n_a),
            "policy_threads": "one per op" if one else "tensorflow default",
            "results": results}


def add_ratios(row: dict, peak_gflops: float | None) -> None:
    """Ratios of jazzlstm to each other contender and its share of numpy's peak, in place."""
    results = row["results"]

    def speed(name):
        return results.get(name, {}).get("tokens_per_s")

    ratios = {}
    for mine in ("jazzlstm", "jazzlstm_tf_threads"):
        for other in ("torch_lstm", "torch_lstm_one_thread", "keras_lstm"):
            if speed(mine) and speed(other):
                ratios[f"{mine}_vs_{other}"] = round(speed(mine) / speed(other), 2)
    for other in ("jazzlstm_tf_threads", "jazzlstm_one_thread"):
        if speed("jazzlstm") and speed(other):
            ratios[f"policy_vs_{other.removeprefix('jazzlstm_')}"] = round(speed("jazzlstm") / speed(other), 2)
    row["ratios"] = ratios
    if peak_gflops:
        for result in results.values():
            if "gflops" in result:
                result["pct_numpy_peak"] = round(100 * result["gflops"] / peak_gflops, 1)


def goals(rows: list[dict]) -> dict:
    """The issue's goals, checked on what was measured (None where not measured)."""
    vs_torch = [r["ratios"].get("jazzlstm_vs_torch_lstm") for r in rows]
    measured = [x for x in vs_torch if x is not None]
    goal_row = next((r for r in rows if (r["n_a"], r["batch"], r["tx"]) == GOAL_POINT), None)
    at_goal = goal_row["ratios"].get("jazzlstm_vs_torch_lstm") if goal_row else None
    pct = goal_row["results"].get("jazzlstm", {}).get("pct_numpy_peak") if goal_row else None
    return {
        "every_point_vs_torch_ge_1": (all(x >= 1.0 for x in measured) if measured else None),
        "points_below_1x_torch": [f"{r['n_a']}x{r['batch']}x{r['tx']}" for r, x in zip(rows, vs_torch)
                                  if x is not None and x < 1.0],
        "goal_point": "n_a 512, batch 256, Tx 100",
        "goal_point_vs_torch": at_goal, "goal_point_vs_torch_ge_1_5": None if at_goal is None else at_goal >= 1.5,
        "goal_point_pct_numpy_peak": pct, "goal_point_pct_numpy_peak_ge_50": None if pct is None else pct >= 50,
    }


def peak_in_fresh_process(repeats: int) -> dict:
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--numpy-peak", str(repeats)],
                            capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_grid(points: list[Point], contenders: list[str], repeats: int = 1,
             gflop_per_epoch: float = GFLOP_PER_EPOCH,
             min_steps: int = 2, peak_repeats: int = 10, local: bool = False, peak_n: int = 2048) -> dict:
    """Measure every point; returns the benchmark's JSON object. ``local``: runners in this
    process (tests), numpy's peak too."""
    notes = []
    contenders = list(contenders)
    if not torch_available():
        for name in TORCH_CONTENDERS:
            if name in contenders:
                contenders.remove(name)
                notes.append(f"{name} skipped: torch is not installed (pip install -e .[bench])")
    started = datetime.datetime.now().astimezone()
    load_start = os.getloadavg()
    peak_start = numpy_peak_gflops(peak_n, peak_repeats) if local else peak_in_fresh_process(peak_repeats)
    log(f"numpy matmul peak {peak_start['best_gflops']} GFLOP/s")
    kinds = worker_kinds(points, contenders)
    workers: dict[str, Worker] = {}
    if local:
        workers = {kind: LocalWorker(kind) for kind in kinds}
    else:
        started_workers = {kind: ProcessWorker(kind) for kind in kinds}  # imports run side by side
        for kind, worker in started_workers.items():
            facts = worker.start()
            if facts.get("ok"):
                workers[kind] = worker
            else:
                notes.append(f"{kind} could not start: {facts.get('error')}")
                worker.close()
    rows, peaks = [], []
    try:
        for point in points:
            steps = steps_per_epoch(point, gflop_per_epoch, min_steps)
            if not local:  # numpy's peak beside each point: the machine is shared, its speed varies
                peaks.append(peak_in_fresh_process(peak_repeats))
            log(f"{point.label}: {steps} steps an epoch, {flops_per_step(point) / 1e9:.2f} GFLOP a step")
            row = measure_point(point, steps, contenders, workers, repeats)
            log(json.dumps({c: r.get("tokens_per_s", r.get("error")) for c, r in row["results"].items()}))
            rows.append(row)
    finally:
        for worker in workers.values():
            worker.close()
    peak_end = numpy_peak_gflops(peak_n, peak_repeats) if local else peak_in_fresh_process(peak_repeats)
    peak = max(p["best_gflops"] for p in [peak_start, *peaks, peak_end])
    for row, beside in zip(rows, peaks):
        row["numpy_gflops_beside"] = beside["best_gflops"]
    for row in rows:
        add_ratios(row, peak)
    import numpy as np

    return {
        "benchmark": "grid", "date": started.isoformat(timespec="seconds"),
        "command": "python " + " ".join(shlex.quote(a) for a in ["benchmarks/bench_grid.py", *sys.argv[1:]]),
        "seconds": round((datetime.datetime.now().astimezone() - started).total_seconds()),
        "cpu_count": os.cpu_count(), "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(), "numpy": np.__version__,
        "workers": {kind: getattr(w, "facts", {}) for kind, w in workers.items()},
        "contenders": contenders, "notes": notes, "repeats": repeats, "gflop_per_epoch": gflop_per_epoch,
        "min_steps": min_steps, "learning_rate": LEARNING_RATE, "clipnorm": CLIPNORM,
        "flops": "per token: 3 x (2*4*n_a*(V + n_a) + 2*n_a*V) (forward gates over one-hot input and "
                 "state, output layer; backward = 2 x forward); nonlinearities, softmax, optimizer not counted",
        "numpy_peak": {"start": peak_start, "end": peak_end, "gflops": peak,
                       "beside_points": [p["best_gflops"] for p in peaks]},
        "points": rows, "goals": goals(rows),
    }


def markdown_table(result: dict) -> str:
    """The grid as a Markdown table (tokens/s, ratios, jazzlstm's GFLOP/s and share of numpy's peak)."""
    names = [c for c in CONTENDERS if c in result["contenders"]]
    titles = {"jazzlstm": "jazzlstm (policy)", "jazzlstm_one_thread": "jazzlstm (1 thread per op)",
              "jazzlstm_tf_threads": "jazzlstm (TF threads)",
              "keras_lstm": "Keras LSTM", "torch_lstm": "PyTorch", "torch_lstm_one_thread": "PyTorch 1 thread"}
    ratios = [r for r in ("jazzlstm_vs_torch_lstm", "jazzlstm_vs_torch_lstm_one_thread", "jazzlstm_vs_keras_lstm")
              if any(r in row["ratios"] for row in result["points"])]
    ratio_titles = {"jazzlstm_vs_torch_lstm": "vs PyTorch", "jazzlstm_vs_torch_lstm_one_thread": "vs PyTorch 1 thread",
                    "jazzlstm_vs_keras_lstm": "vs Keras"}
    head = ["n_a", "Tx", "batch", "policy", *(titles[n] for n in names), *(ratio_titles[r] for r in ratios),
            "jazzlstm GFLOP/s", "% numpy peak", "numpy beside"]
    lines = ["| " + " | ".join(head) + " |", "|" + " ---: |" * len(head)]
    for row in result["points"]:
        res = row["results"]
        cells = [row["n_a"], row["tx"], row["batch"], "1 thread" if row["policy_threads"] == "one per op" else "TF"]
        cells += [f"{res[n]['tokens_per_s']:,}" if "tokens_per_s" in res.get(n, {}) else "-" for n in names]
        cells += [f"{row['ratios'][r]:.2f}x" if r in row["ratios"] else "-" for r in ratios]
        mine = res.get("jazzlstm", {})
        cells += [f"{mine['gflops']:.1f}" if "gflops" in mine else "-", mine.get("pct_numpy_peak", "-"),
                  row.get("numpy_gflops_beside", "-")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="all", help="'all' or comma-separated n_a x batch x Tx")
    parser.add_argument("--quick", action="store_true", help=f"only {QUICK_POINTS}")
    parser.add_argument("--repeats", type=int, default=1, help="timed epochs per contender and point")
    parser.add_argument("--contenders", default=",".join(DEFAULT_CONTENDERS),
                        help=f"comma-separated, from {', '.join(CONTENDERS)}")
    parser.add_argument("--v", type=int, default=V, help="vocabulary size")
    parser.add_argument("--gflop-per-epoch", type=float, default=GFLOP_PER_EPOCH,
                        help="counted work of one timed epoch (sets the steps; at least --min-steps)")
    parser.add_argument("--min-steps", type=int, default=2)
    parser.add_argument("--peak-repeats", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the JSON here")
    parser.add_argument("--table", type=Path, help="print the Markdown table of a JSON this benchmark wrote, and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--numpy-peak", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return
    if args.table:
        print(markdown_table(json.loads(args.table.read_text())))
        return
    if args.numpy_peak:
        print(json.dumps(numpy_peak_gflops(repeats=args.numpy_peak)))
        return
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = sorted(set(contenders) - set(CONTENDERS))
    if unknown:
        raise SystemExit(f"--contenders: unknown {', '.join(unknown)} (choose from {', '.join(CONTENDERS)})")
    points = parse_points(QUICK_POINTS if args.quick else args.points, args.v)
    result = run_grid(points, contenders, max(1, args.repeats), args.gflop_per_epoch, max(1, args.min_steps),
                      args.peak_repeats)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
