"""Choosing a tf.distribute strategy. Training always runs inside one, even on a CPU."""
from __future__ import annotations

from .errors import JazzLSTMError

STRATEGIES = ("auto", "default", "one-device", "mirrored")


def get_strategy(name: str = "auto"):
    """``auto``: MirroredStrategy on several GPUs, OneDeviceStrategy on one, else the default."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise JazzLSTMError(f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "default" or (name == "auto" and not gpus):
        return tf.distribute.get_strategy()
    if name == "one-device" or (name == "auto" and len(gpus) == 1):
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    return tf.distribute.MirroredStrategy()


def describe(strategy) -> str:
    """'OneDeviceStrategy, 1 replica' for the start-of-training line."""
    return f"{type(strategy).__name__}, {strategy.num_replicas_in_sync} replica(s)"
