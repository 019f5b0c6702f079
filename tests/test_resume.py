"""Fault tolerance: Ctrl-C, SIGKILL and the same command again; damaged backups are refused."""
from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import Cluster, run_cli, start_cli
from samples import small_corpus

EPOCHS = 20


def train_args(corpus: Path, out: Path) -> list[str]:
    """``jazzlstm ARGS``: a 20-epoch training run of the small corpus."""
    return ["train", "--midi", str(corpus), "--out", str(out),
            "--epochs", str(EPOCHS), "--n-a", "16", "--tx", "12", "--batch-size", "4", "--val-split", "0",
            "--quiet", "--no-cache"]


def backed_up_epochs(work: Path) -> int:
    """Epochs of the newest complete backup in a training work folder (0 when none)."""
    backups = work / "backups"
    names = [p.name for p in backups.iterdir()] if backups.is_dir() else []
    return max((int(n.split("-")[1]) for n in names if n.startswith("epoch-") and not n.endswith(".tmp")),
               default=0)


def start_and_stop(args: list[str], work: Path, sig: int, at_least: int) -> subprocess.CompletedProcess:
    """Start ``jazzlstm ARGS``, send ``sig`` once ``at_least`` epochs are backed up, return how it ended."""
    process = start_cli(*args)
    try:
        deadline = time.monotonic() + 120
        while backed_up_epochs(work) < at_least and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, "training ended before it could be interrupted"
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.slow
def test_interrupted_and_killed_training_resumes_to_the_uninterrupted_result(tmp_path):
    corpus = small_corpus(tmp_path / "corpus")
    out = tmp_path / "run"
    work = tmp_path / ".run.training"
    args = train_args(corpus, out)

    # Ctrl-C: a clean stop, one line saying how to resume, the state kept.
    stopped = start_and_stop(args, work, signal.SIGINT, at_least=1)
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "run the same command again to resume" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert not out.exists() and backed_up_epochs(work) >= 1

    # SIGKILL, at any moment: nothing can be cleaned up, yet a complete backup remains.
    killed = start_and_stop(args, work, signal.SIGKILL, at_least=backed_up_epochs(work) + 1)
    assert killed.returncode == -signal.SIGKILL
    reached = backed_up_epochs(work)
    assert 2 <= reached < EPOCHS

    resumed = run_cli(*args, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming after epoch {reached} of {EPOCHS}" in resumed.stderr
    assert f"Epoch {reached + 1}/{EPOCHS}" in resumed.stdout and f"Epoch {reached}/{EPOCHS}" not in resumed.stdout
    assert not work.exists(), "the work folder is removed once the run folder is written"

    straight = run_cli(*train_args(corpus, tmp_path / "straight"), timeout=300)
    assert straight.returncode == 0, straight.stderr[-2000:]
    history = json.loads((out / "history.json").read_text())
    expected = json.loads((tmp_path / "straight" / "history.json").read_text())
    assert len(history["loss"]) == EPOCHS, "no epoch lost or repeated"
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-6)
    assert history["best_epoch"] == expected["best_epoch"]
    final = [re.search(r"final weights ([0-9a-f]{12})", run.stdout).group(1) for run in (resumed, straight)]
    assert final[0] == final[1], "the very weights of a run never stopped"


@pytest.fixture
def backed_up(tmp_path):
    """A compiled tiny model and a folder holding one backup of it after one epoch."""
    from jazzlstm.training.checkpoints import Backups, TrainingState
    from jazzlstm.model import JazzLSTM, compile_model

    model = compile_model(JazzLSTM.create(6, n_a=4, tx=5, seed=0).training_model)
    rows = np.random.default_rng(0).integers(0, 6, size=(8, 6)).astype("int32")
    model.fit(rows[:, :-1], rows[:, 1:], epochs=1, verbose=0)
    backups = Backups(tmp_path / "backups")
    backups.save(model, TrainingState(epoch=1, history={"loss": [1.5]}, best=1.5, best_epoch=1))
    return model, backups


def test_backup_restores_weights_optimizer_and_history(backed_up):
    from jazzlstm.model import JazzLSTM, compile_model

    model, backups = backed_up
    fresh = compile_model(JazzLSTM.create(6, n_a=4, tx=5, seed=9).training_model)
    state = backups.restore(fresh)
    assert (state.epoch, state.history, state.best_epoch) == (1, {"loss": [1.5]}, 1)
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) > 0


@pytest.mark.parametrize("damage", ["flip a byte of the weights", "truncate the state", "remove the weights"])
def test_a_damaged_backup_is_reported_never_loaded(backed_up, damage):
    from jazzlstm.training.checkpoints import STATE_FILE, WEIGHTS_FILE, CorruptCheckpointError
    from jazzlstm.model import JazzLSTM, compile_model

    _, backups = backed_up
    folder = backups.latest()
    if damage == "flip a byte of the weights":
        data = bytearray((folder / WEIGHTS_FILE).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (folder / WEIGHTS_FILE).write_bytes(bytes(data))
    elif damage == "truncate the state":
        (folder / STATE_FILE).write_text('{"epoch": 1, "hist')
    else:
        (folder / WEIGHTS_FILE).unlink()
    fresh = compile_model(JazzLSTM.create(6, n_a=4, tx=5, seed=9).training_model)
    before = [w.numpy().copy() for w in fresh.weights]
    with pytest.raises(CorruptCheckpointError, match="corrupt checkpoint"):
        backups.restore(fresh)
    for a, b in zip(before, fresh.weights):
        np.testing.assert_array_equal(a, b.numpy())


def test_a_half_written_backup_is_ignored(backed_up):
    _, backups = backed_up
    (backups.folder / "epoch-0002.tmp").mkdir()  # what a kill during the second backup leaves
    assert backups.latest_epoch() == 1


@pytest.mark.slow
def test_a_cluster_resumes_from_an_epoch_every_worker_backed_up(tmp_path):
    corpus = small_corpus(tmp_path / "corpus")
    epochs = 12

    def command(out: Path) -> list[str]:
        return ["train", "--midi", str(corpus), "--out", str(out),
                "--strategy", "multi-worker", "--epochs", str(epochs), "--n-a", "8", "--tx", "12",
                "--batch-size", "8", "--val-split", "0", "--quiet", "--no-cache"]

    chief_work, worker_work = tmp_path / ".run.training", tmp_path / ".run.training-worker1"
    with Cluster(command(tmp_path / "run"), tmp_path) as cluster:
        deadline = time.monotonic() + 120
        while (min(len(backup_epochs(chief_work)), len(backup_epochs(worker_work))) < 2
               and all(p.poll() is None for p in cluster.processes) and time.monotonic() < deadline):
            time.sleep(0.01)
        assert all(p.poll() is None for p in cluster.processes), "training ended before it could be killed"
        cluster.kill()  # SIGKILL, one worker after the other
    # The chief died just before its last backup: the workers now hold different newest epochs.
    newest = backup_epochs(chief_work)[-1]
    shutil.rmtree(chief_work / "backups" / f"epoch-{newest:04d}")
    common = max(set(backup_epochs(chief_work)) & set(backup_epochs(worker_work)) | {0})
    assert backup_epochs(worker_work)[-1] > common, "the worker is ahead of the epoch they share"

    with Cluster(command(tmp_path / "run"), tmp_path) as cluster:
        resumed = cluster.wait()
    with Cluster(command(tmp_path / "straight"), tmp_path) as cluster:
        straight = cluster.wait()
    for code, _, stderr in resumed + straight:
        assert code == 0, stderr[-3000:]
    for _, _, stderr in resumed:
        assert (f"resuming after epoch {common} of {epochs}" in stderr) == (common > 0)
    digests = {re.search(r"weights ([0-9a-f]{12})", out).group(1) for _, out, _ in resumed + straight}
    assert len(digests) == 1, "both workers end with the weights of a cluster that was never stopped"
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    expected = json.loads((tmp_path / "straight" / "history.json").read_text())
    assert len(history["loss"]) == epochs
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-6)


def backup_epochs(work: Path) -> list[int]:
    """The epochs of the complete backups in a work folder, oldest first."""
    from jazzlstm.training.checkpoints import Backups

    return Backups(work / "backups").epochs()
