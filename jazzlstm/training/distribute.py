"""Choosing a tf.distribute strategy. Training always runs inside one, even on a CPU.

``auto`` picks, in order: TPUStrategy when a TPU is attached (as on Colab), a
MultiWorkerMirroredStrategy when ``TF_CONFIG`` describes a cluster of several workers,
MirroredStrategy on several GPUs, OneDeviceStrategy on one GPU, and the default strategy on
a CPU. The choice is a pure function of what is present (:func:`choose`), so it is tested
without the hardware.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from jazzlstm.config import STRATEGIES
from jazzlstm.errors import JazzLSTMError



@dataclass(frozen=True)
class Hardware:
    """What a strategy is chosen from."""

    gpus: int = 0
    cpus: int = 1            # logical CPU devices (more than one only when configured so)
    tpu: bool = False
    workers: int = 1         # workers in TF_CONFIG's cluster


def tf_config() -> dict:
    """The parsed ``TF_CONFIG`` environment variable ({} when unset); one-line error if broken."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise JazzLSTMError(f"TF_CONFIG is not valid JSON ({exc})") from None
    if not (isinstance(config, dict) and isinstance(config.get("cluster"), dict)
            and isinstance(config.get("task"), dict)):
        raise JazzLSTMError('TF_CONFIG must have "cluster" and "task" (see README: training on clusters)')
    return config


def cluster_workers(config: dict) -> int:
    cluster = config.get("cluster", {})
    return sum(len(cluster.get(role, [])) for role in ("chief", "worker"))


def tpu_attached(dev: Path = Path("/dev")) -> bool:
    """A TPU is announced by Colab's or Cloud TPU's environment, or by TPU VM device files.

    Only these hints are checked: probing for a TPU without them would wait on a metadata
    server that does not exist off Google Cloud.
    """
    # TPU VMs expose /dev/accel0, /dev/accel1, ...; Linux's accel drivers (NPUs) use a
    # /dev/accel/ folder instead, which is no TPU.
    return bool(os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME")
                or any(p.is_char_device() for p in dev.glob("accel[0-9]*")))


def detect() -> Hardware:
    """The devices TensorFlow sees here."""
    import tensorflow as tf

    return Hardware(gpus=len(tf.config.list_logical_devices("GPU")),
                    cpus=len(tf.config.list_logical_devices("CPU")),
                    tpu=tpu_attached(), workers=cluster_workers(tf_config()))


def choose(name: str, hardware: Hardware, one_replica: bool = False) -> str:
    """The strategy ``name`` resolves to on ``hardware`` (``auto`` decides; others are checked).

    ``one_replica``: the model trains on one replica only (running text carries its state
    row by row), so ``auto`` passes over TPUs and several GPUs for one GPU or the CPU.
    """
    if name not in STRATEGIES:
        raise JazzLSTMError(f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")
    if name == "auto":
        if hardware.tpu and not one_replica:
            return "tpu"
        if hardware.workers > 1:
            return "multi-worker"
        if hardware.gpus > 1 and not one_replica:
            return "mirrored"
        return "one-device" if hardware.gpus >= 1 else "default"
    if name == "tpu" and not hardware.tpu:
        raise JazzLSTMError("--strategy tpu: no TPU found (on Colab: Runtime > Change runtime type > TPU)")
    if name == "multi-worker" and hardware.workers < 1:
        raise JazzLSTMError("--strategy multi-worker needs TF_CONFIG describing the cluster (see README)")
    return name


def make_strategy(kind: str, hardware: Hardware):
    """Build the tf.distribute strategy of a kind returned by :func:`choose`."""
    import tensorflow as tf

    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "one-device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if hardware.gpus else "/cpu:0")
    if kind == "mirrored":
        if hardware.gpus:
            return tf.distribute.MirroredStrategy()
        # Several logical CPUs (configured for testing replicas without GPUs), else one.
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(max(1, hardware.cpus))])
    if kind == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as exc:
            raise JazzLSTMError(f"cannot start the TPU ({exc}); use --strategy default to train on the CPU") from None
        return tf.distribute.TPUStrategy(resolver)
    raise JazzLSTMError(f"unknown strategy {kind!r}")


THREADS_CROSSOVER_MACS = 100_000_000
"""Multiply-adds per LSTM step (batch x 4 n_a x (V + n_a)) from which TensorFlow's own threads beat
one thread per op on 2 CPU cores. From 128 units each step takes one product per gate, and the
four run side by side on the inter-op threads even with one thread per op, so one thread per op
pays up to far larger models than before. ``benchmarks/bench_grid.py``, one thread per op over
TensorFlow's threads (2026-12-01, two runs): 1.09-1.31x at n_a 64, batch 32 (1.0M), 1.00-1.09x at
n_a 256, batch 32 (11.5M), 1.07-1.23x at n_a 512, batch 32 (39.8M), 1.05-1.14x at n_a 256,
batch 256 (92M), 0.98x at n_a 768, batch 32 (85M); 0.83-1.03x at n_a 1,024, batch 32 (147M),
0.93-1.09x at n_a 512, batch 256 (319M), 0.85-0.87x at n_a 1,024, batch 256; docs/performance.md."""
VOCABULARY_GUESS = 100
"""Tokens assumed when the vocabulary is not read yet (music and characters run to a few hundred
at most; the LSTM's own n_a x n_a term dominates where the choice matters)."""


def lstm_macs_per_step(batch_size: int, n_a: int, n_values: int = VOCABULARY_GUESS, layers: int = 1) -> int:
    """Multiply-adds of one LSTM step of a batch: four gates over [input, state], per layer
    (a stacked layer's input is the n_a states below it)."""
    return batch_size * 4 * n_a * ((n_values + n_a) + (layers - 1) * 2 * n_a)


def one_thread_per_op(macs_per_step: int | None) -> bool:
    """Whether a model of ``macs_per_step`` (None: the course's size) trains faster on a CPU with
    one thread per TensorFlow op than with TensorFlow's own threads."""
    return macs_per_step is None or macs_per_step < THREADS_CROSSOVER_MACS


def configure_threads(macs_per_step: int | None = None) -> None:
    """On a machine without GPUs, run each TensorFlow op on one thread, unless the model's steps
    are large (``macs_per_step`` >= :data:`THREADS_CROSSOVER_MACS`), where TensorFlow's own
    threads (one per core) are faster.

    jazzlstm's models at the course's size are made of many small operations (a 32 x 64 by
    64 x 256 product per time step); spreading each over several threads costs more than it
    saves, and the spare cores are better used running independent operations and the input
    pipeline side by side. At n_a 512 and batch 256 the products are large and one thread per
    op halves the throughput. ``TF_NUM_INTRAOP_THREADS`` overrides it. Call before
    TensorFlow's runtime starts; afterwards the setting cannot change and this does nothing.
    """
    import tensorflow as tf

    if os.environ.get("TF_NUM_INTRAOP_THREADS") or tf.config.list_physical_devices("GPU"):
        return
    if not one_thread_per_op(macs_per_step):
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
    except RuntimeError:  # the runtime has started (e.g. in a notebook): keep its setting
        pass


def resolve(name: str = "auto", one_replica: bool = False, macs_per_step: int | None = None):
    """(strategy, kind, hardware) for ``name`` on this machine (threads set for a model of
    ``macs_per_step``, see :func:`configure_threads`).

    A multi-worker strategy is created before anything else touches TensorFlow's devices:
    collective ops can only be configured before the runtime starts.
    """
    configure_threads(macs_per_step)
    workers = cluster_workers(tf_config())
    if name == "multi-worker" or (name == "auto" and workers > 1 and not tpu_attached()):
        if workers < 1:
            choose("multi-worker", Hardware(workers=0))  # raises the one-line error
        strategy = make_strategy("multi-worker", Hardware(workers=workers))
        return strategy, "multi-worker", detect()
    hardware = detect()
    kind = choose(name, hardware, one_replica)
    return make_strategy(kind, hardware), kind, hardware


def summary() -> str:
    """One line: the accelerators TensorFlow sees here and the strategy ``auto`` picks.

    Like training, it first sets TensorFlow's threads (see :func:`configure_threads`).
    """
    configure_threads()
    hardware = detect()
    kind = choose("auto", hardware)
    names = {"default": "the default strategy (CPU)", "one-device": "OneDeviceStrategy (one GPU)",
             "mirrored": f"MirroredStrategy ({hardware.gpus} GPUs)", "tpu": "TPUStrategy",
             "multi-worker": f"MultiWorkerMirroredStrategy ({hardware.workers} workers)"}
    cluster = f", cluster of {hardware.workers} workers" if hardware.workers > 1 else ""
    return f"GPUs: {hardware.gpus}, TPU: {'yes' if hardware.tpu else 'no'}{cluster} -> training uses {names[kind]}"


def task() -> tuple[str, int]:
    """(role, index) of this process in a TF_CONFIG cluster; ("chief", 0) when there is none."""
    config = tf_config()
    if not config:
        return "chief", 0
    role = config["task"].get("type", "worker")
    index = int(config["task"].get("index", 0))
    return role, index


def is_chief() -> bool:
    """The process that writes run folders: the chief, or worker 0 of a cluster without one."""
    role, index = task()
    cluster = tf_config().get("cluster", {})
    return role == "chief" or (role == "worker" and index == 0 and "chief" not in cluster)


def is_multi_worker(strategy) -> bool:
    """Whether ``strategy`` is a MultiWorkerMirroredStrategy (its class is named
    CollectiveAllReduceStrategy)."""
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def describe(strategy) -> str:
    """'MirroredStrategy, 2 replica(s)' for the start-of-training line."""
    name = type(strategy).__name__
    if is_multi_worker(strategy):
        name = "MultiWorkerMirroredStrategy"
    elif name == "_DefaultDistributionStrategy":
        name = "DefaultStrategy"
    return f"{name}, {strategy.num_replicas_in_sync} replica(s)"

