"""tf.distribute: strategy choice, several replicas on one machine, several worker processes."""
from __future__ import annotations

import json
import re
import textwrap

import pytest

from jazzlstm.training.distribute import Hardware, choose, cluster_workers, is_chief, task, tf_config, tpu_attached
from jazzlstm.errors import JazzLSTMError

from conftest import Cluster, run_python, run_python_json
from samples import small_corpus


@pytest.mark.parametrize("hardware, expected", [
    (Hardware(gpus=0), "default"),
    (Hardware(gpus=1), "one-device"),
    (Hardware(gpus=4), "mirrored"),
    (Hardware(gpus=4, tpu=True), "tpu"),
    (Hardware(gpus=0, workers=3), "multi-worker"),
    (Hardware(gpus=2, workers=1), "mirrored"),
])
def test_auto_strategy_follows_the_hardware(hardware, expected):
    assert choose("auto", hardware) == expected


@pytest.mark.parametrize("hardware, expected", [
    (Hardware(gpus=0, tpu=True), "default"),
    (Hardware(gpus=4), "one-device"),
    (Hardware(gpus=1), "one-device"),
    (Hardware(gpus=0, workers=2), "multi-worker"),  # a cluster was asked for: refused later, with the reason
])
def test_auto_gives_running_text_one_replica(hardware, expected):
    assert choose("auto", hardware, one_replica=True) == expected


def test_a_tpu_is_found_by_colab_or_tpu_vm_hints_not_by_an_npu_folder(tmp_path, monkeypatch):
    for name in ("COLAB_TPU_ADDR", "TPU_NAME"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "accel").mkdir()  # Linux accel drivers (NPUs): /dev/accel/accel0
    (tmp_path / "accel0").write_text("")  # a plain file, not a TPU VM's device node
    assert not tpu_attached(tmp_path)
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    assert tpu_attached(tmp_path)


def test_explicit_strategies_are_checked():
    assert choose("mirrored", Hardware(gpus=0)) == "mirrored"
    assert choose("default", Hardware(gpus=4)) == "default"
    with pytest.raises(JazzLSTMError, match="no TPU found"):
        choose("tpu", Hardware())
    with pytest.raises(JazzLSTMError, match="needs TF_CONFIG"):
        choose("multi-worker", Hardware(workers=0))
    with pytest.raises(JazzLSTMError, match="unknown strategy"):
        choose("horovod", Hardware())


def test_tf_config_roles(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert tf_config() == {} and task() == ("chief", 0) and is_chief()
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert cluster_workers(tf_config()) == 2 and not is_chief() and task() == ("worker", 1)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert is_chief()
    with_chief = {**cluster, "chief": ["localhost:3"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": with_chief, "task": {"type": "worker", "index": 0}}))
    assert not is_chief() and cluster_workers(tf_config()) == 3
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": "worker"}))
    with pytest.raises(JazzLSTMError, match='TF_CONFIG must have "cluster" and "task"'):
        tf_config()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(JazzLSTMError, match="TF_CONFIG is not valid JSON"):
        tf_config()


def test_lstm_cell_is_eligible_for_the_cudnn_kernel():
    pytest.importorskip("tensorflow")
    # Keras's own test of the layer's arguments (cudnn_ok adds "and a GPU is present").
    from keras.src.backend.tensorflow.rnn import _do_lstm_arguments_support_cudnn

    from jazzlstm.model import JazzLSTM

    for lstm in JazzLSTM.create(5, n_a=4, layers=3, dropout=0.5).LSTM_cells:  # a stack: every layer
        assert _do_lstm_arguments_support_cudnn(lstm.cell.activation, lstm.cell.recurrent_activation, lstm.unroll,
                                                lstm.cell.use_bias)
        assert lstm.cell.recurrent_dropout == 0 and lstm.cell.dropout == 0


TWO_LOGICAL_CPUS = textwrap.dedent("""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
""")
"""Start of a script that runs replicas on two logical CPUs (before TensorFlow's runtime starts)."""

MIRRORED_SCRIPT = TWO_LOGICAL_CPUS + textwrap.dedent("""
    import json, tempfile
    import numpy as np

    from jazzlstm.training.checkpoints import Backups
    from jazzlstm.config import ModelConfig, TrainConfig
    from jazzlstm.training.fit import Windows, fit_model

    rows = np.random.default_rng(0).integers(0, 12, size=(96, 9)).astype("int32")
    out = {}
    for strategy in ("default", "mirrored"):
        with tempfile.TemporaryDirectory() as folder:
            jazz, history = fit_model(Windows(rows), Windows(rows[:32]), ModelConfig(12, 8, 8, layers=LAYERS),
                                      TrainConfig(epochs=3, batch_size=32, seed=1, strategy=strategy),
                                      Backups(folder), verbose=0)
        out[strategy] = {"loss": history["loss"], "val_loss": history["val_loss"],
                         "weights": [w.numpy().ravel().tolist() for w in jazz.weights]}
    print(json.dumps(out))
""")


@pytest.mark.slow
@pytest.mark.parametrize("layers", [1, 2])  # the classic model and a stack of two LSTMs
def test_mirrored_on_two_logical_cpus_matches_one_device(layers):
    import numpy as np

    # one process per model: two mirrored strategies in one process share collective keys
    out = run_python_json(MIRRORED_SCRIPT.replace("LAYERS", str(layers)))
    single, mirrored = out["default"], out["mirrored"]
    assert len(single["loss"]) == 3 and len(single["weights"]) == 3 * layers + 2
    np.testing.assert_allclose(mirrored["loss"], single["loss"], atol=1e-5)
    np.testing.assert_allclose(mirrored["val_loss"], single["val_loss"], atol=1e-5)
    for a, b in zip(single["weights"], mirrored["weights"]):
        np.testing.assert_allclose(b, a, atol=1e-5)


@pytest.mark.slow
def test_two_workers_train_together_and_only_the_chief_writes(tmp_path):
    corpus = small_corpus(tmp_path / "corpus")
    out = tmp_path / "run"
    args = ["train", "--midi", str(corpus), "--out", str(out), "--strategy", "multi-worker", "--epochs", "2",
            "--n-a", "8", "--tx", "12", "--batch-size", "32", "--val-split", "0", "--quiet", "--no-cache"]
    with Cluster(args, tmp_path) as cluster:
        ended = cluster.wait()
    for code, _, stderr in ended:
        assert code == 0, stderr[-3000:]
    (_, chief_out, chief_err), (_, worker_out, _) = ended
    assert "MultiWorkerMirroredStrategy, 2 replica(s)" in chief_err
    digests = [re.search(r"weights ([0-9a-f]{12})", text).group(1) for text in (chief_out, worker_out)]
    assert digests[0] == digests[1], "both workers end with the same weights"
    assert "wrote" in chief_out and "the chief writes" in worker_out
    assert sorted(p.name for p in out.iterdir()) == ["chords.json", "config.json", "history.json", "model.keras",
                                                      "vocab.json"]
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "run"], "no work folders left behind"


@pytest.mark.slow
def test_running_text_refuses_several_replicas(tmp_path):
    script = TWO_LOGICAL_CPUS + textwrap.dedent(f"""
        from jazzlstm.cli import main
        raise SystemExit(main(["train", "--text", {str(tmp_path / 't.txt')!r}, "--strategy", "mirrored",
                               "--out", {str(tmp_path / 'r')!r}, "--epochs", "1"]))
    """)
    (tmp_path / "t.txt").write_text("some running text. " * 1500)  # long enough to validate
    result = run_python(script, timeout=300)
    assert result.returncode == 1
    assert "trains on one replica" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()
    assert not (tmp_path / ".r.training").exists(), "no work folder to refuse the corrected command"


def test_one_thread_per_op_only_below_the_measured_crossover():
    from jazzlstm.training.distribute import lstm_macs_per_step, one_thread_per_op

    assert lstm_macs_per_step(32, 64, 96) == 32 * 4 * 64 * (96 + 64)
    assert one_thread_per_op(None) and one_thread_per_op(lstm_macs_per_step(32, 64))  # the course's size
    assert one_thread_per_op(lstm_macs_per_step(32, 512)) and one_thread_per_op(lstm_macs_per_step(256, 256))
    assert not one_thread_per_op(lstm_macs_per_step(32, 1024))
    assert not one_thread_per_op(lstm_macs_per_step(256, 512)) and not one_thread_per_op(10 ** 8)


@pytest.mark.slow
@pytest.mark.parametrize("env, macs, expected", [({}, "None", "1"), ({"TF_NUM_INTRAOP_THREADS": "2"}, "None", "0"),
                                                 ({}, "10 ** 9", "0")])
def test_cpu_training_runs_each_op_on_one_thread_unless_told_otherwise(env, macs, expected):
    script = (f"from jazzlstm.training.distribute import configure_threads; configure_threads({macs}); "
              "import tensorflow as tf; print(tf.config.threading.get_intra_op_parallelism_threads())")
    result = run_python(script, timeout=120, **env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == expected  # 0: TensorFlow's own default


def test_summary_names_the_hardware_and_the_strategy(monkeypatch):
    import jazzlstm.training.distribute as distribute

    monkeypatch.setattr(distribute, "detect", lambda: Hardware(gpus=4))
    monkeypatch.setattr(distribute, "configure_threads", lambda: None)
    assert distribute.summary() == "GPUs: 4, TPU: no -> training uses MirroredStrategy (4 GPUs)"


EPOCH_BATCHES_SCRIPT = TWO_LOGICAL_CPUS + textwrap.dedent("""
    import json
    import numpy as np

    from jazzlstm.training.pipeline import make_dataset

    rows = np.arange(10)[:, None].repeat(3, 1).astype("int32")   # 10 windows: 2 batches of 4, 2 left over
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    distributed = make_dataset(rows, 4, True, 7, strategy=strategy)
    single = make_dataset(rows, 4, True, 7, drop_remainder=True)
    batches = iter(distributed.dataset)
    out = {"distributed": [], "single": []}
    for epoch in range(3):
        out["distributed"].append([sorted(np.concatenate([v.numpy()[:, 0] for v in
                                   strategy.experimental_local_results(next(batches)[0])]).tolist())
                                   for _ in range(distributed.steps)])
        single.epoch.assign(epoch)
        out["single"].append([sorted(x.numpy()[:, 0].tolist()) for x, _ in single.dataset])
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_replicas_see_each_epoch_in_the_batches_of_one_device():
    out = run_python_json(EPOCH_BATCHES_SCRIPT)
    assert out["distributed"] == out["single"]
    assert out["single"][0] != out["single"][1], "each epoch is shuffled anew"


@pytest.mark.slow
def test_a_mixed_precision_run_generates(tmp_path):
    import pretty_midi

    import jazzlstm

    run = jazzlstm.train(small_corpus(tmp_path / "corpus"), out=tmp_path / "run", epochs=1, n_a=8, tx=12,
                         val_split=0, mixed_precision=True, cache=False, verbose=0)
    assert run.train_config.mixed_precision
    assert jazzlstm.load_run(tmp_path / "run").model.LSTM_cell.dtype_policy.name == "float32"
    (written,) = jazzlstm.generate(tmp_path / "run", tmp_path / "solo.mid", bars=2, seed=0)
    assert pretty_midi.PrettyMIDI(str(written)).instruments[0].notes
