"""``train --data``: training windows streamed from a prepared data folder, never all in memory.

A prepared folder (see :mod:`jazzlstm.data.records`) holds one record per piece in TFRecord
shards. Each epoch this pipeline reads the shards (in an order drawn from the seed and the
epoch, several at a time: interleave), keeps the records of its side of the split, cuts each
piece's sequences into windows on the fly (the same windows as
:func:`jazzlstm.data.windows.corpus_windows`: stride, short pieces repeated), mixes them in a
shuffle buffer (seeded by the seed and the epoch), batches and prefetches. Memory holds a few
records, the shuffle buffer and the prefetched batches, whatever the corpus size.

The split is the folder path's: whole pieces, chosen by
:func:`jazzlstm.data.windows.split_by_file` over the usable pieces in file order with the run's
seed and ``val_split``, so ``train --data`` holds out the same files as ``train --midi``.
Window counts per record file come from the manifest (exact: Keras is told the steps).

Under a multi-worker strategy every worker reads only its own record files (file i goes to
worker i mod n: auto-sharding by file), and every worker runs the same number of steps
(the smallest share's whole batches).
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from jazzlstm.config import CorpusConfig, DataConfig, ModelConfig, TrainConfig, from_dict
from jazzlstm.data import records as rec
from jazzlstm.data.prepare import iter_records, read_manifest
from jazzlstm.errors import JazzLSTMError
from jazzlstm.fileio import file_sha256
from jazzlstm.training.pipeline import Batches, is_distributed

BASELINE_TOKEN_LIMIT = 2_000_000
"""Corpora up to this many tokens get the n-gram baselines of the folder path (baselines.json),
fitted in memory; larger ones skip them (``jazzlstm evaluate`` reports them)."""
CYCLE_LENGTH = 8
"""Record files read at a time when shuffling."""


def window_count(length: int, tx: int, stride: int) -> int:
    """Windows :func:`jazzlstm.data.windows.corpus_windows` cuts from a sequence of ``length`` ids."""
    if length <= 0:
        return 0
    padded = length * math.ceil((tx + 1) / length) if length < tx + 1 else length
    return len(range(0, padded - tx, stride))


def held_out_ranks(manifest: dict, train_config: TrainConfig) -> set[int]:
    """The ranks of the validation pieces: the folder path's split (whole files, seeded)."""
    from jazzlstm.data.windows import split_by_file

    ranks = [p[0] for p in manifest["pieces"]]  # file order, as load_corpus keeps them
    _, val = split_by_file(len(ranks), train_config.val_split, train_config.seed)
    return {ranks[i] for i in val}


class StreamWindows:
    """One side (training or validation) of a data folder's windows, as a stream.

    Offers what :func:`jazzlstm.training.fit.fit_model` uses of
    :class:`~jazzlstm.training.fit.Windows`: ``len``, ``dataset(...)`` and ``tokens_per_note``.
    """

    def __init__(self, data_dir: str | Path, manifest: dict, held_out: set[int], validation: bool, tx: int,
                 stride: int, shuffle_buffer: int, given: np.ndarray | None = None):
        self.data_dir = Path(data_dir)
        self.tx, self.stride, self.shuffle_buffer = tx, stride, shuffle_buffer
        self.validation = validation
        n_files = manifest["counts"]["files"]
        keep = np.zeros(n_files, np.bool_)
        per_shard = [0] * len(manifest["shards"])
        tokens = notes = predicted = 0
        shard_index = {int(s["file"].rsplit("part-", 1)[1].split("-")[0]): i for i, s in enumerate(manifest["shards"])}
        # A piece's 7th field, the tokens that are not given context, is written since given
        # targets weigh 0 in the loss (see fit.prepare_windows); without it (an older data
        # folder) every target weighs 1, as it did when the folder was prepared.
        counted = all(len(row) > 6 for row in manifest["pieces"])
        for rank, _path, _sha, lengths, piece_notes, shard, *rest in manifest["pieces"]:
            if (rank in held_out) != validation:
                continue
            keep[rank] = True
            per_shard[shard_index[shard]] += sum(window_count(n, tx, stride) for n in lengths)
            tokens += sum(lengths)
            notes += piece_notes
            predicted += rest[0] if counted else sum(lengths)
        self.keep = keep
        self.files = [str(self.data_dir / s["file"]) for s in manifest["shards"]]
        self.shard_windows = per_shard
        self.n_windows = sum(per_shard)
        self.predicted = ~given if counted and given is not None and given.any() else None
        self.tokens_per_note = (predicted if self.predicted is not None else tokens) / notes if notes else None

    def __len__(self) -> int:
        return self.n_windows

    # --- tf.data ---------------------------------------------------------------------------------

    def _windows(self, files, shuffle: bool, seed: int, epoch, per_batch: int, drop: bool):
        """Batches of one epoch over ``files`` (a list of paths)."""
        import tensorflow as tf

        tx, stride = self.tx, self.stride
        keep = tf.constant(self.keep)
        names = tf.constant(files)
        n = len(files)
        order = tf.range(n, dtype=tf.int64)
        if shuffle and n > 1:
            key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
            order = tf.random.experimental.index_shuffle(order, key, n - 1)
        cycle = min(n, CYCLE_LENGTH) if shuffle else 1
        spec = {"ids": tf.io.VarLenFeature(tf.int64), "lengths": tf.io.VarLenFeature(tf.int64),
                "rank": tf.io.FixedLenFeature([], tf.int64)}

        def parse(data):
            example = tf.io.parse_single_example(data, spec)
            return (tf.cast(tf.sparse.to_dense(example["ids"]), tf.int32),
                    tf.sparse.to_dense(example["lengths"]), example["rank"])

        def sequence_windows(seq):
            length = tf.shape(seq)[0]
            reps = (tx + length) // length  # ceil((tx + 1) / length); 1 when length > tx
            seq = tf.tile(seq, [reps])
            starts = tf.range(0, length * reps - tx, stride)
            return tf.gather(seq, starts[:, None] + tf.range(tx + 1)[None, :])

        def piece_windows(ids, lengths, _rank):
            sequences = tf.RaggedTensor.from_row_lengths(ids, lengths)
            return (tf.data.Dataset.from_tensor_slices(sequences)
                    .filter(lambda seq: tf.size(seq) > 0).map(sequence_windows).unbatch())

        parallel = {"num_parallel_calls": cycle, "deterministic": True} if cycle > 1 else {}
        records = tf.data.Dataset.from_tensor_slices(tf.gather(names, order)).interleave(
            tf.data.TFRecordDataset, cycle_length=cycle, block_length=1, **parallel)
        parallel = {"num_parallel_calls": 2, "deterministic": True} if shuffle else {}
        windows = (records.map(parse, **parallel)
                   .filter(lambda ids, lengths, rank: tf.gather(keep, rank))
                   .flat_map(piece_windows))
        if shuffle:
            # A stateless shuffle buffer: each run of `shuffle_buffer` windows is permuted by a
            # permutation drawn from (seed, epoch, run), so an epoch's order is reproducible after a
            # resume (tf.data's own shuffle draws from a seed generator whose state a resume loses).
            def permuted(index, block):
                n_rows = tf.cast(tf.shape(block)[0], tf.int64)
                key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64) * (1 << 32) + index])
                rows = tf.random.experimental.index_shuffle(tf.range(n_rows), key, tf.maximum(n_rows - 1, 0))
                return tf.gather(block, rows)

            windows = windows.batch(self.shuffle_buffer).enumerate().map(permuted).unbatch()
        batches = windows.batch(per_batch, drop_remainder=drop)
        if self.predicted is None:
            return batches.map(lambda rows: (rows[:, :-1], rows[:, 1:]))
        weights = tf.constant(self.predicted.astype(np.float32))
        return batches.map(lambda rows: (rows[:, :-1], rows[:, 1:], tf.gather(weights, rows[:, 1:])))

    def dataset(self, batch_size: int, shuffle: bool, seed: int, drop_remainder: bool = False, strategy=None,
                first_epoch: int = 0) -> Batches:
        """Batches for ``fit``, as :func:`jazzlstm.training.pipeline.make_dataset` makes them:
        one epoch long on one replica (epoch e drawn from (seed, e): see ``Batches.epoch``); run on
        epoch after epoch, each worker reading its own record files, under a strategy of several
        replicas or workers."""
        import tensorflow as tf

        if not is_distributed(strategy):
            drop = drop_remainder
            steps = self.n_windows // batch_size if drop else -(-self.n_windows // batch_size)
            epoch = tf.Variable(first_epoch, dtype=tf.int64, trainable=False) if shuffle else None
            start = tf.data.Dataset.range(1).flat_map(lambda _: self._windows(
                self.files, shuffle, seed, epoch.read_value() if shuffle else 0, batch_size, drop))
            return Batches(_prefetched(start.apply(tf.data.experimental.assert_cardinality(steps))), steps, epoch)

        from jazzlstm.training.distribute import cluster_workers, is_multi_worker, tf_config

        pipelines = cluster_workers(tf_config()) if is_multi_worker(strategy) else 1
        if len(self.files) < pipelines:
            raise JazzLSTMError(f"{self.data_dir}: {len(self.files)} record file(s) for {pipelines} workers; every "
                                f"worker reads its own: prepare again with --shards {pipelines} or more")
        replicas = strategy.num_replicas_in_sync
        per_replica = batch_size // replicas
        local = replicas // pipelines
        shares = [sum(self.shard_windows[i::pipelines]) for i in range(pipelines)]
        steps = min(share // (per_replica * local) for share in shares)
        files = self.files

        def per_input_pipeline(context):
            index, count = context.input_pipeline_id, context.num_input_pipelines
            mine = files[index::count]  # auto-sharding by file: no worker reads another's records

            def epoch_batches(epoch):
                return self._windows(mine, shuffle, seed, epoch, per_replica, True).take(steps * local)

            epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
            return _prefetched(epochs.flat_map(epoch_batches))

        return Batches(strategy.distribute_datasets_from_function(per_input_pipeline), steps)


def _prefetched(batches):
    """Prefetch two batches; tf.data's autotuner off (see pipeline._fixed_pipeline)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(2).with_options(options)


def read_data_folder(data_dir: str | Path):
    """(manifest, vocabulary, encoding record) of a prepared data folder."""
    from jazzlstm.tokens.vocab import Vocabulary

    data_dir = Path(data_dir)
    manifest = read_manifest(data_dir)
    vocab = Vocabulary.load(data_dir / rec.VOCAB_FILE)
    try:
        encoding = json.loads((data_dir / rec.ENCODING_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise JazzLSTMError(f"{data_dir}: cannot read {rec.ENCODING_FILE} ({exc})") from None
    missing = [s["file"] for s in manifest["shards"] if not (data_dir / s["file"]).is_file()]
    if missing:
        raise JazzLSTMError(f"{data_dir}: record file(s) missing: {', '.join(missing[:3])}")
    if len(vocab) != manifest["counts"]["vocabulary"]:
        raise JazzLSTMError(f"{data_dir}: {rec.VOCAB_FILE} does not match the manifest")
    return manifest, vocab, encoding


def train_stream(data_dir: str | Path, out: str | Path, model_config: ModelConfig, train_config: TrainConfig,
                 force: bool = False, verbose: int | str = "auto"):
    """Train on a prepared data folder, streaming; write the same run folder as the folder path."""
    from jazzlstm.training.fit import finish_run, given_tokens
    from jazzlstm.fileio import refuse_existing
    from jazzlstm.tokens.registry import tokenizer_from_config
    from jazzlstm.training.distribute import is_chief

    out = Path(out)
    if is_chief():
        refuse_existing(out, force)
    data_dir = Path(data_dir)
    manifest, vocab, encoding = read_data_folder(data_dir)
    corpus = from_dict(CorpusConfig, encoding.get("corpus", {}))
    data_config = DataConfig(mode="music", encoding=encoding["encoding"], melody_track=corpus.melody_track,
                             transpose=corpus.transpose, sources=tuple(manifest.get("sources", ())),
                             tokenizer=encoding["tokenizer"])
    tokenizer = tokenizer_from_config(data_config.tokenizer_config())
    if len(vocab) < 2:
        raise JazzLSTMError("the corpus has fewer than 2 distinct tokens: nothing to learn")
    model_config = replace(model_config, n_values=len(vocab))
    if train_config.stride is None:
        train_config = replace(train_config, stride=tokenizer.window_stride)
    held_out = held_out_ranks(manifest, train_config)
    tx = model_config.tx
    given = given_tokens(tokenizer, vocab)
    train, val = (StreamWindows(data_dir, manifest, held_out, validation, tx, train_config.stride,
                                train_config.shuffle_buffer, given) for validation in (False, True))
    if len(train) == 0:
        raise JazzLSTMError(f"not enough tokens to train: need at least {tx + 1} per file")
    if verbose:
        c = manifest["counts"]
        print(f"jazzlstm: streaming {data_dir}: {c['pieces']} pieces ({len(held_out)} held out), {c['tokens']} "
              f"tokens, {len(manifest['shards'])} record file(s)", file=sys.stderr)
    digest = file_sha256(data_dir / rec.MANIFEST_FILE)
    n_tokens = manifest["counts"]["tokens"]
    del manifest  # the per-piece lists are not needed while training

    def baselines(jazz):
        if n_tokens > BASELINE_TOKEN_LIMIT:
            if verbose:
                print(f"jazzlstm: {n_tokens} tokens: n-gram baselines skipped (over {BASELINE_TOKEN_LIMIT}); "
                      f"jazzlstm evaluate reports them", file=sys.stderr)
            return None
        from jazzlstm.training.fit import validation_baselines

        sequences, groups = [], []
        for i, record in enumerate(iter_records(data_dir)):
            for seq in rec.split_ids(record):
                sequences.append(vocab.decode(seq))
                groups.append(i)
        return validation_baselines(jazz, vocab, tokenizer, sequences, train_config, groups)

    progressions = _progressions(data_dir)
    job = {"data": digest}
    return finish_run(train, val, out, vocab, model_config, train_config, data_config, progressions, job, force,
                      verbose, baselines if val.n_windows or held_out else None)


def _progressions(data_dir: Path) -> list:
    from jazzlstm.music.score import Chord

    try:
        rows = json.loads((data_dir / rec.CHORDS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise JazzLSTMError(f"{data_dir}: cannot read {rec.CHORDS_FILE} ({exc})") from None
    return [[Chord(float(s), float(d), int(r), str(q)) for s, d, r, q in p] for p in rows]
