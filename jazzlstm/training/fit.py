"""Fitting the jazz LSTM on token sequences and writing the run folder.

Token sequences -> a sorted vocabulary -> a train/validation split -> windows of ``tx + 1``
ids in the run's layout (music, lines or stream: see :mod:`jazzlstm.data.windows`) -> tf.data ->
``model.fit`` under a tf.distribute strategy, with Keras progress bars, loss / accuracy /
perplexity / bits per token each epoch, the best epoch kept (by validation loss when there
is a validation set) and ``history.json`` written. Music and text share all of it.
"""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from jazzlstm.training.checkpoints import Backups, TrainingState, fingerprint
from jazzlstm.config import DataConfig, ModelConfig, TrainConfig, to_dict
from jazzlstm.training.pipeline import Batches
from jazzlstm.errors import JazzLSTMError
from jazzlstm.fileio import refuse_existing, write_json_atomic
from jazzlstm.runs import BASELINES_FILE, MODEL_FILE, Run, publish, write_metadata
from jazzlstm.music.score import Chord
from jazzlstm.tokens.base import MusicTokenizer
from jazzlstm.tokens.registry import tokenizer_from_config
from jazzlstm.tokens.vocab import Vocabulary


@dataclass
class Windows:
    """Training or validation windows: ids (n, tx + 1) and, for padded samples, weights (n, tx)."""

    rows: np.ndarray
    weights: np.ndarray | None = None
    tokens_per_note: float | None = None  # music: predicted tokens over melody notes of these pieces
    target_weights: np.ndarray | None = None  # music: per vocabulary id, its weight as a target

    def __len__(self) -> int:
        return len(self.rows)

    def dataset(self, batch_size: int, shuffle: bool, seed: int, drop_remainder: bool = False, strategy=None,
                first_epoch: int = 0):
        """Batches for ``fit``; see :func:`jazzlstm.training.pipeline.make_dataset`."""
        from jazzlstm.training.pipeline import make_dataset

        return make_dataset(self.rows, batch_size, shuffle, seed, self.weights, drop_remainder, strategy,
                            first_epoch, self.target_weights)


def prepare_windows(sequences: Sequence[Sequence[int]], tx: int, train_config: TrainConfig,
                    layout: str = "music", groups: Sequence[int] | None = None,
                    notes: Sequence[int] | None = None, given: np.ndarray | None = None
                    ) -> tuple[Windows, Windows]:
    """(train, validation) windows. Music and lines are split by file or sample; a stream by
    position (its last ``val_split`` share validates).

    ``groups``: the file each sequence comes from (phrases, melodic lines and transpositions
    of one file stay on one side of the split); default: one file per sequence. ``notes``:
    melody notes per sequence, for bits per note (see :class:`BitsPerNote`). ``given``: per
    vocabulary id, whether the token is given context (bar lines and chords, which generation
    writes from the progression): targets that are given weigh 0 in the loss, so the model
    learns only what it will be asked to predict, and bits per note are those of
    ``jazzlstm evaluate``."""
    from jazzlstm.data.windows import sample_windows, split_stream, stream_windows

    if layout == "stream":
        ids = [i for seq in sequences for i in seq]
        train_ids, val_ids = split_stream(ids, train_config.val_split)
        batch = train_config.batch_size
        train = Windows(stream_windows(train_ids, tx, batch))
        val = Windows(stream_windows(val_ids, tx, batch)) if val_ids else Windows(np.zeros((0, tx + 1), np.int32))
        if len(train) == 0:
            raise JazzLSTMError(f"text too short: {len(train_ids)} training characters do not fill one window "
                                f"in each of --batch-size {batch} streams of --tx {tx} (need {batch * tx + 1})")
        if val_ids and len(val) == 0:
            raise JazzLSTMError(f"validation text too short: {len(val_ids)} characters for --batch-size {batch} "
                                f"streams of --tx {tx} (need {batch * tx + 1}); lower them or use --val-split 0")
        return train, val
    train_idx, val_idx = split_sequences(len(sequences), train_config, groups)
    if layout == "lines":
        train = Windows(*sample_windows([sequences[i] for i in train_idx], tx))
        val = Windows(*sample_windows([sequences[i] for i in val_idx], tx))
    else:
        stride = train_config.stride or 1
        train, val = (_music_windows(sequences, indices, tx, stride, notes, given) for indices in (train_idx, val_idx))
    if len(train) == 0:
        raise JazzLSTMError(f"not enough tokens to train: need at least {tx + 1} per file")
    return train, val


def split_sequences(count: int, train_config: TrainConfig, groups: Sequence[int] | None = None
                    ) -> tuple[list[int], list[int]]:
    """(training, validation) sequence indices, whole files held out (``groups``: the file of
    each sequence; default one file per sequence)."""
    from jazzlstm.data.windows import split_by_file

    groups = list(range(count)) if groups is None else list(groups)
    files = sorted(set(groups))
    _, val_files = split_by_file(len(files), train_config.val_split, train_config.seed)
    held_out = {files[i] for i in val_files}
    return ([i for i, g in enumerate(groups) if g not in held_out],
            [i for i, g in enumerate(groups) if g in held_out])


def validation_baselines(jazz, vocab: Vocabulary, tokenizer: MusicTokenizer, sequences: Sequence[Sequence[str]],
                         train_config: TrainConfig, groups: Sequence[int] | None) -> dict | None:
    """The model against n-gram baselines fitted on the training files, all scored in bits per
    note on the validation files' whole sequences (tokens 2..T; see
    :mod:`jazzlstm.evaluate.heldout`). None without validation files."""
    from jazzlstm.evaluate.heldout import baseline_rates, model_total_bits
    from jazzlstm.model.likelihood import token_bits

    train_idx, val_idx = split_sequences(len(sequences), train_config, groups)
    scored = [list(sequences[i]) for i in val_idx if len(sequences[i]) >= 2]
    if not scored:
        return None
    masks = [tokenizer.predicted(s) for s in scored]
    tokens = sum(map(sum, masks))
    notes = sum(tokenizer.count_notes(s) for s in scored)
    bits = model_total_bits(lambda ids: token_bits(jazz, ids), vocab, scored, masks)
    return {"split": "validation files", "validation_sequences": len(scored), "scored_tokens": tokens,
            "notes": notes,
            "model": {"bits_per_note": bits / notes if notes else None, "bits_per_token": bits / tokens,
                      "total_bits": bits},
            "baselines": baseline_rates([sequences[i] for i in train_idx], scored, masks, notes)}


def given_tokens(tokenizer, vocab: Vocabulary) -> np.ndarray | None:
    """Per vocabulary id, whether the token is given context (:meth:`MusicTokenizer.is_given`:
    generation writes it, so it weighs 0 as a target); None for a character model."""
    if not isinstance(tokenizer, MusicTokenizer):
        return None
    return np.array([tokenizer.is_given(token) for token in vocab.tokens])


def _music_windows(sequences: Sequence[Sequence[int]], indices: Sequence[int], tx: int, stride: int,
                   notes: Sequence[int] | None, given: np.ndarray | None) -> Windows:
    """Windows of the sequences at ``indices``, weighted 0 at given targets (if any), with the
    predicted tokens per melody note of those sequences."""
    from jazzlstm.data.windows import corpus_windows

    rows = corpus_windows([sequences[i] for i in indices], tx, stride)
    target_weights = None
    predicted = sum(len(sequences[i]) for i in indices)
    if given is not None and given.any():
        target_weights = (~given).astype(np.float32)  # looked up per batch: no (windows, tx) array
        predicted = sum(int((~given[np.asarray(sequences[i], np.int64)]).sum()) for i in indices)
    total_notes = sum(notes[i] for i in indices) if notes is not None else 0
    return Windows(rows, None, predicted / total_notes if total_notes else None, target_weights)


def fit_model(train: Windows, val: Windows, model_config: ModelConfig, train_config: TrainConfig,
              backups: Backups, verbose: int | str = "auto", stateful: bool = False,
              bits_name: str = "bits_per_token", keep_best: bool = True):
    """Build and fit a JazzLSTM under the configured strategy, resuming from ``backups``.

    Every epoch ends with a backup of the whole training state (see
    :mod:`jazzlstm.training.checkpoints`), holding the best epoch's model too when ``keep_best``.
    ``stateful``: windows are consecutive stretches of running text (see
    :func:`jazzlstm.data.windows.stream_windows`); the LSTM state is carried from batch to batch and
    reset at the start of every epoch and of every validation pass.
    Returns (model at the last epoch, history of every epoch, resumed runs included).
    """
    from jazzlstm.training.pipeline import is_distributed
    from jazzlstm.training.distribute import describe, is_multi_worker, lstm_macs_per_step, resolve
    from jazzlstm.model import STEPS_PER_EXECUTION, JazzLSTM, compile_model
    from jazzlstm.training.multiworker import common_epoch, for_multi_worker

    macs = lstm_macs_per_step(train_config.batch_size, model_config.n_a, model_config.n_values, model_config.layers)
    strategy, kind, hardware = resolve(train_config.strategy, one_replica=stateful, macs_per_step=macs)  # first: multi-worker must be
    keras.utils.set_random_seed(train_config.seed)
    if stateful and strategy.num_replicas_in_sync > 1:
        raise JazzLSTMError("running text (--stream, --abc) trains on one replica, because its LSTM state is "
                            "carried row by row from batch to batch; use --strategy default or one-device")
    dtype = mixed_precision_policy(kind, hardware) if train_config.mixed_precision else None
    if verbose:
        print(f"jazzlstm: training on {len(train)} windows ({len(val)} for validation), vocabulary "
              f"{model_config.n_values}, strategy {describe(strategy)}"
              + (f", {dtype}" if dtype else "") + (", XLA" if train_config.xla else ""), file=sys.stderr)
    batch = train_config.batch_size
    with strategy.scope():
        jazz = JazzLSTM.create(model_config.n_values, model_config.n_a, model_config.tx, seed=train_config.seed,
                               dtype=dtype, layers=model_config.layers, dropout=model_config.dropout)
        model = jazz.stateful_model(batch) if stateful else jazz.training_model
        multi_worker = is_multi_worker(strategy)
        if multi_worker:
            model = for_multi_worker(model)
        # Several steps per call break Keras 3 under a strategy of several replicas (keras
        # issue 19246: "You must feed a value for placeholder tensor"): one step per call there.
        steps_per_call = 1 if is_distributed(strategy) else STEPS_PER_EXECUTION
        compile_model(model, train_config.lr, train_config.clipnorm, steps_per_call, bits_name,
                      jit_compile=train_config.xla)
        # A cluster resumes from an epoch every worker has backed up (None: the newest).
        resume_at = common_epoch(strategy, backups.epochs(), train_config.epochs) if multi_worker else None
        state = backups.restore(model, resume_at)
    if state.epoch and verbose:
        print(f"jazzlstm: resuming after epoch {state.epoch} of {train_config.epochs} "
              f"(training state in {backups.folder})", file=sys.stderr)
    train_batches = train.dataset(batch, not stateful and train_config.shuffle, train_config.seed, stateful, strategy,
                                  state.epoch)
    val_batches = val.dataset(batch, False, 0, stateful, strategy) if len(val) else None
    if not train_batches.steps:
        raise JazzLSTMError(f"{len(train)} training windows do not fill one batch of {batch} "
                            f"(replicas need whole batches); lower --batch-size")
    if val_batches is not None and not val_batches.steps:
        raise JazzLSTMError(f"{len(val)} validation windows do not fill one batch of {batch}; "
                            f"lower --batch-size or use --val-split 0")
    monitor = "val_loss" if val_batches is not None else "loss"
    epoch_end = EpochBackup(jazz, backups, monitor, state, keep_best)
    callbacks: list = [BitsPerNote(bits_name, train.tokens_per_note, val.tokens_per_note), epoch_end,
                       StepProgress()]
    if stateful:
        callbacks.append(ResetStates())
    if train_batches.epoch is not None:
        callbacks.append(ShuffleEpoch(train_batches.epoch))
    if state.epoch < train_config.epochs:
        model.fit(train_batches.dataset, validation_data=val_batches.dataset if val_batches else None,
                  epochs=train_config.epochs, initial_epoch=state.epoch, callbacks=callbacks, verbose=verbose,
                  shuffle=False, **fit_steps(train_batches, val_batches))  # the dataset shuffles
    history = dict(epoch_end.state.history)
    history["monitor"] = monitor
    history["best_epoch"] = epoch_end.state.best_epoch
    return jazz, history


def mixed_precision_policy(kind: str, hardware) -> str:
    """bfloat16 on TPUs (and CPUs, which have no float16 units), float16 on GPUs."""
    return "mixed_float16" if hardware.gpus and kind != "tpu" else "mixed_bfloat16"


class EpochBackup(keras.callbacks.Callback):
    """After each epoch: extend the history, note the best epoch (lowest ``monitor``) and back
    up the whole training state, with the best epoch's model when ``keep_best``."""

    def __init__(self, jazz, backups: Backups, monitor: str, state: TrainingState, keep_best: bool = True):
        super().__init__()
        self.jazz, self.backups, self.monitor, self.state, self.keep_best = jazz, backups, monitor, state, keep_best

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from jazzlstm.model import save_model

        logs = logs or {}
        for key, value in logs.items():
            self.state.history.setdefault(key, []).append(float(value))
        self.state.epoch = epoch + 1
        value = logs.get(self.monitor)
        improved = value is not None and value < self.state.best  # NaN never compares smaller
        if improved:
            self.state.best, self.state.best_epoch = float(value), epoch + 1
        save_best = (lambda path: save_model(self.jazz, path)) if improved and self.keep_best else None
        self.backups.save(self.model, self.state, save_best)


def fit_steps(train_batches: Batches, val_batches: Batches | None = None) -> dict:
    """The steps per epoch (and per validation) to tell ``fit`` for these datasets.

    A distributed dataset runs on, so Keras needs them to end an epoch. A one-epoch dataset
    needs them for speed: told its steps, Keras makes the next epoch's iterator once, as
    the epoch ends; untold, it makes one at every epoch's start and another, never used,
    at its end (each costs a function set-up). Keras runs past a repeating dataset's epoch when the
    steps are no multiple of ``steps_per_execution``; a one-epoch dataset simply ends.
    """
    return {"steps_per_epoch": train_batches.steps,
            "validation_steps": val_batches.steps if val_batches is not None else None}


class ShuffleEpoch(keras.callbacks.Callback):
    """Tell a one-epoch dataset which epoch's permutation to draw (see make_dataset).

    The dataset reads the variable when its iterator yields its first batch, i.e. after
    ``on_epoch_begin``, also when Keras made that iterator as the previous epoch ended.
    """

    def __init__(self, epoch_variable):
        super().__init__()
        self.epoch_variable = epoch_variable

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_variable.assign(epoch)


class BitsPerNote(keras.callbacks.Callback):
    """Adds ``bits_per_note`` and ``val_bits_per_note`` to each epoch's logs (so to the
    progress bar, ``history.json`` and the plots): bits per predicted token times the
    predicted tokens per melody note of that split's pieces (rests included; the given bar and
    chord tokens of the event encodings are not predicted, as in ``jazzlstm evaluate``).
    Comparable across encodings, where bits per token are not (docs/evaluation.md)."""

    def __init__(self, bits_name: str, train_ratio: float | None, val_ratio: float | None):
        super().__init__()
        self.bits_name, self.ratios = bits_name, {"": train_ratio, "val_": val_ratio}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        for prefix, ratio in self.ratios.items():
            bits = logs.get(prefix + self.bits_name)
            if ratio is not None and bits is not None:
                logs[prefix + "bits_per_note"] = float(bits) * ratio


class StepProgress(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, counting true steps: with several steps per execution Keras
    reports the last step of a run of steps, which at an epoch's end may lie past the epoch
    (20 steps in runs of 16 showed "16/20", then "32/20")."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.target is not None:
            batch = min(batch, self.target - 1)
        super().on_train_batch_end(batch, logs)


class ResetStates(keras.callbacks.Callback):
    """Zero the carried LSTM state at the start of every epoch and every validation pass."""

    def _reset(self, *_args) -> None:
        for layer in self.model.layers:
            if hasattr(layer, "reset_state"):
                layer.reset_state()

    on_epoch_begin = on_test_begin = _reset


class TrainingInterrupted(JazzLSTMError):
    """Ctrl-C during training: the state is kept, the same command resumes."""

    exit_code = 130


def work_folder(out: Path) -> Path:
    """Where a training job keeps its state until the run folder is written: beside ``out``,
    one per process of a cluster (every worker can resume from its own)."""
    from jazzlstm.training.distribute import is_chief, task

    role, index = task()
    suffix = "" if is_chief() else f"-{role}{index}"
    return out.parent / f".{out.name}.training{suffix}"


def train_run(sequences: Sequence[Sequence[str]], out: str | Path, model_config: ModelConfig,
              train_config: TrainConfig, data_config: DataConfig,
              progressions: Sequence[Sequence[Chord]] = (), force: bool = False,
              verbose: int | str = "auto", specials: Sequence[str] = (),
              groups: Sequence[int] | None = None) -> Run:
    """Vocabulary + windows + fit + run folder at ``out``. Returns the Run.

    ``model_config`` gives the LSTM units and the window length; its vocabulary size is the
    vocabulary's. ``groups``: the file each sequence comes from (validation holds out whole
    files).

    The job's state lives in a work folder beside ``out`` (see :func:`work_folder`) and is
    backed up every epoch: the same command, run again after a crash, a kill or Ctrl-C,
    resumes after the last completed epoch. In a cluster only the chief writes ``out``.
    """
    from jazzlstm.training.distribute import is_chief

    out = Path(out)
    if is_chief():
        refuse_existing(out, force)
    vocab = Vocabulary.build(sequences, specials=specials)
    if len(vocab) < 2:
        raise JazzLSTMError("the corpus has fewer than 2 distinct tokens: nothing to learn")
    model_config = replace(model_config, n_values=len(vocab))
    ids = [vocab.encode(seq) for seq in sequences]
    tokenizer = tokenizer_from_config(data_config.tokenizer_config())
    notes = [tokenizer.count_notes(seq) for seq in sequences] if isinstance(tokenizer, MusicTokenizer) else None
    if train_config.stride is None and isinstance(tokenizer, MusicTokenizer):
        train_config = replace(train_config, stride=tokenizer.window_stride)
    train, val = prepare_windows(ids, model_config.tx, train_config, data_config.layout, groups, notes,
                                 given_tokens(tokenizer, vocab))
    def baselines(jazz):
        return validation_baselines(jazz, vocab, tokenizer, sequences, train_config, groups)
    data = {"ids": ids, "groups": list(groups) if groups is not None else None}
    return finish_run(train, val, out, vocab, model_config, train_config, data_config, progressions, data, force,
                      verbose, baselines if notes is not None else None)


def finish_run(train, val, out: Path, vocab: Vocabulary, model_config: ModelConfig, train_config: TrainConfig,
               data_config: DataConfig, progressions: Sequence[Sequence[Chord]], data, force: bool,
               verbose: int | str, baselines=None) -> Run:
    """Fit on ``train`` / ``val`` windows (in memory, or streamed: see
    :mod:`jazzlstm.training.stream`) in a work folder that resumes, and publish the run folder.

    ``data``: what identifies the training data in the job's fingerprint (the ids, or a
    prepared folder's manifest digest); ``baselines``: the model -> baselines.json content."""
    from jazzlstm.training.distribute import is_chief
    from jazzlstm.model import load_model, weights_digest

    chief = is_chief()
    work = work_folder(out)
    job = fingerprint(to_dict(model_config), to_dict(train_config), to_dict(data_config), vocab.tokens,
                      *(data.values() if isinstance(data, dict) else [data]))
    _claim(work, job, force)
    backups = Backups(work / "backups")
    bits_name = "bits_per_char" if data_config.is_text else "bits_per_token"
    try:
        jazz, history = fit_model(train, val, model_config, train_config, backups, verbose,
                                  stateful=data_config.layout == "stream", bits_name=bits_name, keep_best=chief)
    except BaseException as exc:
        done = backups.latest_epoch()
        if not done:  # nothing to resume: leave no folder that would refuse a corrected command
            shutil.rmtree(work, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt):
            resume = (f"run the same command again to resume (state kept in {work})" if done
                      else "nothing was kept")
            raise TrainingInterrupted(f"interrupted after epoch {done} of {train_config.epochs}; {resume}") from None
        raise
    history["final_weights"] = weights_digest(jazz)
    if not chief:
        shutil.rmtree(work, ignore_errors=True)
        return Run(None, jazz, vocab, model_config, train_config, data_config, [list(p) for p in progressions],
                   history)
    best = backups.best_model()
    if best is None:
        raise JazzLSTMError(f"training produced no finite {history['monitor']} (nothing to keep); try a lower --lr")
    # Copied, not moved, and job.json removed last: a run killed while finishing is finished
    # again by the same command.
    shutil.copyfile(best, work / MODEL_FILE)
    jazz = load_model(work / MODEL_FILE, tx=model_config.tx)  # the best epoch, as saved
    run = Run(out, jazz, vocab, model_config, train_config, data_config, [list(p) for p in progressions], history)
    write_metadata(work, run)
    if baselines is not None:
        found = baselines(jazz)
        if found is not None:
            write_json_atomic(work / BASELINES_FILE, found)
    shutil.rmtree(backups.folder)
    (work / JOB_FILE).unlink()
    publish(work, out)
    return run


JOB_FILE = "job.json"


def _claim(work: Path, job: str, force: bool) -> None:
    """Make ``work`` this job's folder: resume the same job, refuse (or with force, replace)
    another one's."""
    job_file = work / JOB_FILE
    if work.exists():
        try:
            previous = json.loads(job_file.read_text(encoding="utf-8")).get("job")
        except (OSError, ValueError, AttributeError):
            previous = None
        if previous != job:
            if not force:
                raise JazzLSTMError(f"{work}: holds an interrupted training with other settings or data; "
                                    f"run that command again to resume it, or use --force to discard it")
            shutil.rmtree(work)
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JazzLSTMError(f"{work}: cannot write the training state ({exc.strerror or exc})") from None
    if not job_file.is_file():
        write_json_atomic(job_file, {"job": job})
