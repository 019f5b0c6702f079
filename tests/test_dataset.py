"""The tf.data pipeline that feeds training: batches, epochs, shuffling, pipeline options."""
from __future__ import annotations

import numpy as np
import pytest

from jazzlstm.training.pipeline import batch_rows, make_dataset

ROWS = np.arange(10)[:, None].repeat(4, 1).astype("int32")  # window i is [i, i, i, i]


def epoch_batches(batches, epoch: int) -> list[list[int]]:
    """The first column (the window number) of every batch of one epoch."""
    if batches.epoch is not None:
        batches.epoch.assign(epoch)
    return [x.numpy()[:, 0].tolist() for x, _ in batches.dataset]


def test_an_epoch_visits_every_window_once_with_a_smaller_last_batch():
    batches = make_dataset(ROWS, 4, shuffle=True, seed=3)
    first = epoch_batches(batches, 0)
    assert [len(b) for b in first] == [4, 4, 2] and batches.steps == 3
    assert sorted(sum(first, [])) == list(range(10))
    second = epoch_batches(batches, 1)
    assert sorted(sum(second, [])) == list(range(10)) and second != first
    assert epoch_batches(batches, 0) == first, "an epoch's order depends on (seed, epoch) only"


def test_targets_are_the_windows_shifted_by_one():
    rows = np.arange(12, dtype="int32").reshape(3, 4)
    (x, y), = [(x.numpy(), y.numpy()) for x, y in make_dataset(rows, 3, shuffle=False, seed=0).dataset]
    assert x.tolist() == rows[:, :-1].tolist() and y.tolist() == rows[:, 1:].tolist()


def test_drop_remainder_keeps_whole_batches_only():
    batches = make_dataset(ROWS, 4, shuffle=False, seed=0, drop_remainder=True)
    assert epoch_batches(batches, 0) == [[0, 1, 2, 3], [4, 5, 6, 7]] and batches.steps == 2


@pytest.mark.parametrize("n, size, drop, expected", [
    (10, 4, False, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]),
    (10, 4, True, [[0, 1, 2, 3], [4, 5, 6, 7]]),
    (8, 4, False, [[0, 1, 2, 3], [4, 5, 6, 7]]),
    (3, 4, True, []),
])
def test_batch_rows(n, size, drop, expected):
    import tensorflow as tf

    assert [b.numpy().tolist() for b in batch_rows(tf.range(n, dtype=tf.int64), size, drop)] == expected


def test_the_pipeline_runs_without_tf_data_autotuning():
    """Autotuning has nothing to tune in two gathers, and its thread stalled every other epoch."""
    assert make_dataset(ROWS, 4, shuffle=True, seed=0).dataset.options().autotune.enabled is False


def test_fit_trains_each_epoch_on_its_own_permutation_once():
    """Through Keras's fit as `jazzlstm train` runs it (fit_steps, ShuffleEpoch): each epoch
    trains exactly its own permutation's batches, also when the steps per epoch are no
    multiple of the steps per call, and when fit resumes at a later epoch."""
    import keras
    import tensorflow as tf

    from jazzlstm.training.fit import ShuffleEpoch, fit_steps

    class Recorder(keras.layers.Layer):
        """Logs the window numbers of every training batch it sees, in order."""

        def build(self, input_shape):
            self.log = self.add_weight(shape=(64, 4), initializer="zeros", dtype="int32", trainable=False)
            self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False)

        def call(self, x, training=False):
            if training:
                row = tf.pad(x[:, 0] + 1, [[0, 4 - tf.shape(x)[0]]])  # 0 marks a short batch's end
                count = tf.convert_to_tensor(self.count)
                self.log.assign(tf.tensor_scatter_nd_update(tf.convert_to_tensor(self.log), [[count]], row[None]))
                self.count.assign_add(1)
            return tf.cast(x, "float32")

    def trained_batches(initial_epoch: int, epochs: int) -> list[list[int]]:
        batches = make_dataset(ROWS, 4, shuffle=True, seed=3, first_epoch=initial_epoch)
        recorder = Recorder()
        inputs = keras.Input((3,), dtype="int32")
        model = keras.Model(inputs, keras.layers.Dense(3)(recorder(inputs)))
        model.compile("sgd", "mse", steps_per_execution=2)  # 3 steps per epoch: 2 calls, 2 + 1
        model.fit(batches.dataset, epochs=epochs, initial_epoch=initial_epoch, verbose=0, shuffle=False,
                  callbacks=[ShuffleEpoch(batches.epoch)], **fit_steps(batches))
        log = recorder.log.numpy()[:int(recorder.count.numpy())]
        return [[i - 1 for i in row if i] for row in log]

    expected = make_dataset(ROWS, 4, shuffle=True, seed=3)
    by_epoch = [epoch_batches(expected, e) for e in range(3)]
    assert trained_batches(0, 3) == by_epoch[0] + by_epoch[1] + by_epoch[2]
    assert trained_batches(2, 3) == by_epoch[2], "a resumed fit starts at its own epoch's permutation"


def test_target_weights_are_looked_up_from_each_batch_targets():
    rows = np.arange(40, dtype=np.int32).reshape(8, 5) % 6
    table = np.array([1, 0, 1, 1, 0, 1], np.float32)  # ids 1 and 4 are given context
    batches = list(make_dataset(rows, 3, shuffle=True, seed=1, target_weights=table).dataset)
    assert len(batches) == 3
    for x, y, w in batches:
        assert (w.numpy() == table[y.numpy()]).all()
    with pytest.raises(ValueError, match="not both"):
        make_dataset(rows, 3, False, 0, weights=np.ones((8, 4), np.float32), target_weights=table)


def test_event_encodings_train_only_on_the_tokens_they_predict():
    """Bar and chord targets weigh 0 (generation writes them from the progression), and bits
    per note count predicted tokens only: the progress bar's figure is evaluate's."""
    from jazzlstm.config import TrainConfig
    from jazzlstm.data.corpus import load_corpus
    from jazzlstm.training.fit import prepare_windows
    from samples import sample_files

    for encoding, has_given in (("grammar-events", True), ("grammar", False)):
        corpus = load_corpus(sample_files()[:4], encoding=encoding, cache=False, workers=1, progress=False)
        vocab, tokenizer = corpus.vocabulary(), corpus.settings.tokenizer
        given = np.array([tokenizer.is_given(t) for t in vocab.tokens])
        notes = [tokenizer.count_notes(s) for s in corpus.sequences]
        train, _ = prepare_windows([vocab.encode(s) for s in corpus.sequences], 30, TrainConfig(val_split=0),
                                   "music", None, notes, given)
        predicted = sum(not tokenizer.is_given(t) for s in corpus.sequences for t in s)
        assert train.tokens_per_note == pytest.approx(predicted / sum(notes))
        if has_given:
            assert (train.target_weights == ~given).all() and not train.target_weights[vocab.encode(["Bar"])[0]]
            assert predicted < sum(map(len, corpus.sequences))
        else:
            assert train.target_weights is None
