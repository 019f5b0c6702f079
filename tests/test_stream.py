"""train --data: windows streamed from a prepared folder are the folder path's windows."""
from __future__ import annotations

import random

import numpy as np
import pytest

from jazzlstm.data.windows import corpus_windows
from jazzlstm.training.stream import window_count


def test_window_count_is_what_corpus_windows_cuts():
    rng = random.Random(3)
    for _ in range(300):
        length, tx, stride = rng.randint(0, 80), rng.randint(1, 40), rng.randint(1, 4)
        seq = [rng.randint(0, 9) for _ in range(length)]
        assert window_count(length, tx, stride) == len(corpus_windows([seq], tx, stride))


def _rows(dataset, target_weights=None) -> list[tuple[int, ...]]:
    """The windows of ``dataset``, checking each batch's weights: those of its targets' ids."""
    rows = []
    for x, y, *weights in dataset:
        x, y = np.asarray(x), np.asarray(y)
        assert (x[:, 1:] == y[:, :-1]).all()
        if target_weights is None:
            assert not weights
        else:
            assert (np.asarray(weights[0]) == target_weights[y]).all()
        rows += [tuple(r) for r in np.concatenate([x, y[:, -1:]], axis=1)]
    return rows


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from test_prepare import _corpus

    from jazzlstm.config import CorpusConfig, PrepareConfig
    from jazzlstm.data.prepare import prepare

    root = tmp_path_factory.mktemp("stream")
    midi, _ = _corpus(root / "midi", n_good=24)
    prepare(midi, root / "data", CorpusConfig(cache=False, workers=1), PrepareConfig(shards=5), verbose=False)
    return midi, root / "data"


@pytest.mark.slow
@pytest.mark.parametrize("seed,tx,stride", [(0, 30, 2), (4, 12, 1)])
def test_streamed_windows_equal_in_memory_windows(folder, seed, tx, stride):
    from jazzlstm.config import TrainConfig
    from jazzlstm.data.corpus import load_corpus
    from jazzlstm.data.prepare import read_manifest
    from jazzlstm.training.fit import prepare_windows
    from jazzlstm.training.stream import StreamWindows, held_out_ranks

    midi, data = folder
    corpus = load_corpus(midi, cache=False, workers=1, progress=False)
    vocab = corpus.vocabulary()
    groups = [i for i, p in enumerate(corpus.pieces) for _ in p.sequences]
    config = TrainConfig(seed=seed, stride=stride, val_split=0.2)
    given = np.array([corpus.settings.tokenizer.is_given(t) for t in vocab.tokens])
    train, val = prepare_windows([vocab.encode(s) for s in corpus.sequences], tx, config, "music", groups,
                                 [corpus.settings.tokenizer.count_notes(s) for s in corpus.sequences], given)
    manifest = read_manifest(data)
    held = held_out_ranks(manifest, config)
    assert len(held) == round(0.2 * len(corpus.pieces))
    s_train, s_val = (StreamWindows(data, manifest, held, side, tx, stride, 50, given) for side in (False, True))
    assert (len(s_train), len(s_val)) == (len(train), len(val))
    # Bar and chord targets weigh 0 in both, and bits per note count the same predicted tokens.
    assert given.any() and (s_train.predicted == train.target_weights.astype(bool)).all()
    assert (s_train.tokens_per_note, s_val.tokens_per_note) == pytest.approx((train.tokens_per_note,
                                                                              val.tokens_per_note))
    ordered = _rows(s_train.dataset(7, False, seed).dataset, train.target_weights)
    assert ordered == [tuple(r) for r in train.rows]                  # shuffle off: the same order
    assert _rows(s_val.dataset(7, False, 0).dataset, train.target_weights) == [tuple(r) for r in val.rows]
    shuffled = s_train.dataset(7, True, seed)
    epoch0 = _rows(shuffled.dataset, train.target_weights)
    assert sorted(epoch0) == sorted(ordered) and epoch0 != ordered   # the same windows, mixed
    again = s_train.dataset(7, True, seed, first_epoch=0)
    assert _rows(again.dataset, train.target_weights) == epoch0  # reproducible from (seed, epoch)
    shuffled.epoch.assign(1)
    epoch1 = _rows(shuffled.dataset, train.target_weights)
    assert sorted(epoch1) == sorted(ordered) and epoch1 != epoch0
    resumed = s_train.dataset(7, True, seed, first_epoch=1).dataset  # a resume at epoch 1
    assert _rows(resumed, train.target_weights) == epoch1


def test_a_folder_prepared_before_predicted_counts_trains_every_target():
    """Manifest rows of six fields (no count of predicted tokens): no weights, all tokens per note."""
    from jazzlstm.training.stream import StreamWindows

    shards = [{"file": "records/part-00000-of-00001.tfrecord"}]
    rows = [[0, "a.mid", "x", [40, 20], 20, 0, 48], [1, "b.mid", "y", [50], 25, 0, 40]]
    given = np.array([True, False, False])
    new = StreamWindows("data", {"counts": {"files": 2}, "shards": shards, "pieces": rows}, set(), False, 10, 2, 64,
                        given)
    assert (new.predicted == ~given).all() and new.tokens_per_note == pytest.approx(88 / 45)
    old = StreamWindows("data", {"counts": {"files": 2}, "shards": shards, "pieces": [r[:6] for r in rows]},
                        set(), False, 10, 2, 64, given)
    assert old.predicted is None and old.tokens_per_note == pytest.approx(110 / 45)


@pytest.mark.slow
def test_train_data_matches_train_midi(folder, tmp_path):
    import json

    from jazzlstm import api

    midi, data = folder
    common = dict(epochs=1, n_a=8, batch_size=16, shuffle=False, seed=3, verbose=0)
    streamed = api.train(data=data, out=tmp_path / "streamed", **common)
    direct = api.train(midi, out=tmp_path / "direct", cache=False, **common)
    assert streamed.vocab == direct.vocab
    assert abs(streamed.history["loss"][0] - direct.history["loss"][0]) < 1e-6
    assert abs(streamed.history["val_loss"][0] - direct.history["val_loss"][0]) < 1e-6
    for name in ("vocab.json", "config.json", "chords.json", "baselines.json"):
        assert json.loads((tmp_path / "streamed" / name).read_text()) == json.loads(
            (tmp_path / "direct" / name).read_text()), name


@pytest.mark.slow
def test_train_data_errors_are_one_line(tmp_path, folder):
    from jazzlstm import api
    from jazzlstm.errors import JazzLSTMError

    midi, data = folder
    with pytest.raises(JazzLSTMError) as missing:
        api.train(data=tmp_path / "nothing", out=tmp_path / "r", verbose=0)
    assert str(missing.value) == f"{tmp_path / 'nothing'}: no such data folder (make one with jazzlstm prepare)"
    with pytest.raises(JazzLSTMError, match="pass them to prepare"):
        api.train(data=data, out=tmp_path / "r", encoding="notes", verbose=0)
    with pytest.raises(JazzLSTMError, match="not both"):
        api.train(midi, data=data, out=tmp_path / "r", verbose=0)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_train_data_cli_errors_are_one_line(tmp_path, capsys, folder):
    from jazzlstm.cli import main

    _, data = folder
    assert main(["train", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")]) == 1
    assert capsys.readouterr().err.strip() == f"jazzlstm: error: {tmp_path / 'nothing'}: no such data folder " \
                                              f"(make one with jazzlstm prepare)"
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "r"), "--encoding", "notes"]) == 2
    assert "belong to jazzlstm prepare" in capsys.readouterr().err


@pytest.mark.slow
def test_each_worker_of_a_cluster_reads_only_its_own_record_files(folder, monkeypatch):
    """Under a multi-worker strategy every worker's input pipeline reads files i, i + n, ... of the
    n workers (auto-sharding by file), each the same number of batches per epoch."""
    import tensorflow as tf

    from jazzlstm.config import TrainConfig
    from jazzlstm.data.prepare import read_manifest
    from jazzlstm.training import distribute
    from jazzlstm.training.stream import StreamWindows, held_out_ranks

    _, data = folder
    manifest = read_manifest(data)
    train = StreamWindows(data, manifest, held_out_ranks(manifest, TrainConfig(val_split=0.2)), False, 12, 1, 50)
    read_by = {}
    real_windows = StreamWindows._windows

    def recording(self, files, *args):
        read_by.setdefault(len(read_by), list(files))
        return real_windows(self, files, *args)

    class TwoWorkers:  # what MultiWorkerMirroredStrategy asks of the input side, one CPU replica each
        num_replicas_in_sync = 2

        def distribute_datasets_from_function(self, fn):
            return [fn(tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i, num_replicas_in_sync=2))
                    for i in range(2)]

    monkeypatch.setattr(StreamWindows, "_windows", recording)
    monkeypatch.setattr(distribute, "is_multi_worker", lambda strategy: True)
    monkeypatch.setattr(distribute, "cluster_workers", lambda config: 2)
    monkeypatch.setattr(distribute, "tf_config", lambda: {})
    batches = train.dataset(4, True, 0, strategy=TwoWorkers())
    per_worker = [list(pipeline.take(batches.steps)) for pipeline in batches.dataset]
    files = train.files
    assert read_by == {0: files[0::2], 1: files[1::2]}                   # disjoint, and every file read
    assert all(len(b) == batches.steps > 0 and all(x.shape[0] == 2 for x, _ in b) for b in per_worker)
