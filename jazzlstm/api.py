"""The notebook-sized Python API: what the CLI does, as plain function calls.

Every function takes the settings of :mod:`jazzlstm.config` as keyword arguments (``epochs=5``,
``n_a=128``, ``temperature=0.8`` ...) with the defaults written there; a name no setting has is
an error naming it. The CLI calls these same functions.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

from jazzlstm.config import (DEFAULT_RUN_DIR, MAX_LINE_TX, MUSIC_TX, STREAM_TX, CorpusConfig, DataConfig,
                             ModelConfig, MusicConfig, SamplingConfig, TextConfig, TrainConfig, split_settings)
from jazzlstm.data.corpus import Corpus, load_corpus
from jazzlstm.errors import JazzLSTMError
from jazzlstm.fileio import refuse_existing
from jazzlstm.runs import Run, load_run


def train(midi: str | Path | Sequence[str | Path] | None = None, out: str | Path = DEFAULT_RUN_DIR, *,
          corpus: Corpus | None = None, data: str | Path | None = None, force: bool = False,
          verbose: int | str = "auto", **settings: Any) -> Run:
    """Read a MIDI folder (default: the bundled samples), train, and write a run folder.

    ``settings``: fields of :class:`ModelConfig` (``n_a``, ``tx``), :class:`TrainConfig`
    (``epochs``, ``batch_size``, ``lr`` ...) and :class:`CorpusConfig` (``encoding``,
    ``melody_track``, ``transpose`` ...). Pass ``corpus`` (from :func:`load_corpus`) to train on
    one already read; the reading settings are then those it was read with. Pass ``data`` (a
    folder written by :func:`prepare`) to stream its records instead of reading music files
    (see :mod:`jazzlstm.training.stream`).
    """
    from jazzlstm.resources import bundled_samples_dir

    model_config, train_config, corpus_config = split_settings(settings, ModelConfig, TrainConfig, CorpusConfig)
    refuse_existing(out, force)
    if data is not None:
        from jazzlstm.training.stream import train_stream

        if midi is not None or corpus is not None:
            raise JazzLSTMError("give data= (a prepared folder) or midi= / corpus=, not both")
        if set(settings) & {f for f in CorpusConfig.__dataclass_fields__}:
            raise JazzLSTMError("reading settings apply when preparing: pass them to prepare, not with data=")
        return train_stream(data, out, _with_tx(model_config, MUSIC_TX), train_config, force=force, verbose=verbose)
    if corpus is None:
        corpus = load_corpus(midi if midi is not None else bundled_samples_dir(), corpus_config,
                             progress=bool(verbose) and sys.stderr.isatty())
    elif set(settings) & {f for f in CorpusConfig.__dataclass_fields__}:
        raise JazzLSTMError("reading settings apply when reading: pass them to load_corpus, not with corpus=")
    if verbose:
        print(corpus.summary(), file=sys.stderr)
    read = corpus.config
    data_config = DataConfig(mode="music", encoding=corpus.settings.encoding, melody_track=read.melody_track,
                             transpose=read.transpose, sources=corpus.sources,
                             tokenizer=corpus.settings.tokenizer.config())
    groups = [i for i, piece in enumerate(corpus.pieces) for _ in piece.sequences]  # hold out whole files
    return _fit(corpus.sequences, out, _with_tx(model_config, MUSIC_TX), train_config, data_config,
                progressions=corpus.progressions(), force=force, verbose=verbose, groups=groups)


def prepare(midi: str | Path, out: str | Path, *, runner: str | None = None, shards: int | None = None,
            beam_args: Sequence[str] = (), force: bool = False, verbose: bool = True, **settings: Any):
    """Run the Apache Beam prepare pipeline over the music files under ``midi`` and write a data
    folder at ``out`` for ``train(data=out)`` (see :mod:`jazzlstm.data.prepare`).

    ``settings``: fields of :class:`CorpusConfig` (``encoding``, ``workers``: DirectRunner worker
    processes, ``cache`` ...); ``runner`` and ``shards``: see :class:`PrepareConfig`;
    ``beam_args``: further Beam pipeline options (``["--project=...", "--region=..."]``).
    Returns a :class:`jazzlstm.data.prepare.Prepared`.
    """
    from jazzlstm.config import PrepareConfig
    from jazzlstm.data.prepare import prepare as run_prepare

    (corpus_config,) = split_settings(settings, CorpusConfig)
    given = {k: v for k, v in {"runner": runner, "shards": shards}.items() if v is not None}
    prepared = run_prepare(midi, out, corpus_config, PrepareConfig(**given), beam_args, force=force,
                           verbose=verbose)
    if verbose:
        print(prepared.summary(), file=sys.stderr)
    return prepared


def train_text(text: str | Path, out: str | Path = DEFAULT_RUN_DIR, layout: str = "stream", *, force: bool = False,
               verbose: int | str = "auto", **settings: Any) -> Run:
    """Train a character model on a UTF-8 text file and write a run folder.

    ``layout="lines"``: every line is a sample that ends in a newline (names, titles), and the
    windows are as long as the longest line (up to :data:`~jazzlstm.config.MAX_LINE_TX`)
    unless ``tx`` is given. ``layout="stream"``: running text in consecutive windows of ``tx``
    (default :data:`~jazzlstm.config.STREAM_TX`) characters, the LSTM state carried from
    window to window. ``settings``: as for :func:`train`, less the reading settings.
    """
    from jazzlstm.data.text import read_text, split_lines
    from jazzlstm.tokens.chars import LAYOUTS, LINE_END, CharTokenizer, framed

    model_config, train_config = split_settings(settings, ModelConfig, TrainConfig)
    if layout not in LAYOUTS:
        raise JazzLSTMError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    content = read_text(text)
    if layout == "lines":
        lines = split_lines(content)
        sequences = [framed(line, LINE_END) for line in lines]
        model_config = _with_tx(model_config, min(max(len(s) for s in sequences) - 1, MAX_LINE_TX))
        longer = sum(len(s) - 1 > model_config.tx for s in sequences)
        summary = f"read {text}: {len(lines)} lines, {len(content)} characters; windows of {model_config.tx}" + (
            f" ({longer} longer line(s) are cut into several windows)" if longer else "")
    else:
        sequences = [list(content)]
        model_config = _with_tx(model_config, STREAM_TX)
        summary = f"read {text}: {len(content)} characters of running text; windows of {model_config.tx}"
    if verbose:
        print(summary, file=sys.stderr)
    end_token = LINE_END if layout == "lines" else None
    data_config = DataConfig(mode="text", encoding=CharTokenizer.name, sources=(str(text),), text_layout=layout,
                             end_token=end_token, tokenizer=CharTokenizer(end_token).config())
    refuse_existing(out, force)  # on every process of a cluster, as train() does
    return _fit(sequences, out, model_config, train_config, data_config, force=force, verbose=verbose)


def train_abc(sources: Sequence[str | Path] | None = None, out: str | Path = DEFAULT_RUN_DIR, *,
              tunes: Sequence[str] | None = None, force: bool = False, verbose: int | str = "auto",
              **settings: Any) -> Run:
    """Train a character model on ABC tunes (default: the fiddle tunes in music21's corpus).

    The cleaned tunes (see :mod:`jazzlstm.music.abc`) form one stream with an end token between
    tunes; generation starts a tune after an end token and stops at the next one. ``tunes``
    trains on already cleaned tune texts instead of reading ``sources``.
    """
    from jazzlstm.music.abc import load_tunes
    from jazzlstm.tokens.chars import PIECE_END, CharTokenizer, joined

    model_config, train_config = split_settings(settings, ModelConfig, TrainConfig)
    if tunes is None:
        tunes, skipped = load_tunes(sources)
        if verbose:
            where = "music21's fiddle tunes" if sources is None else ", ".join(str(s) for s in sources)
            print(f"read {where}: {len(tunes)} tunes, {sum(len(t) for t in tunes)} characters, "
                  f"{len(skipped)} file(s) skipped", file=sys.stderr)
            for path, reason in skipped:
                print(f"  skipped {path}: {reason}", file=sys.stderr)
    data_config = DataConfig(mode="abc", encoding=CharTokenizer.name, text_layout="stream", end_token=PIECE_END,
                             sources=tuple(str(s) for s in sources) if sources else ("music21:ryansMammoth",),
                             tokenizer=CharTokenizer(PIECE_END).config())
    refuse_existing(out, force)
    return _fit([joined(tunes, PIECE_END)], out, _with_tx(model_config, STREAM_TX), train_config, data_config,
                specials=(PIECE_END,), force=force, verbose=verbose)


def _with_tx(config: ModelConfig, default_tx: int) -> ModelConfig:
    """``config`` with its window length, ``default_tx`` where none was given."""
    from dataclasses import replace

    return config if config.tx is not None else replace(config, tx=default_tx)


def _fit(sequences, out, model_config: ModelConfig, train_config: TrainConfig, data_config: DataConfig,
         **options) -> Run:
    from jazzlstm.training.fit import train_run

    return train_run(sequences, out, model_config, train_config, data_config, **options)


def _as_run(run: Run | str | Path | None, backend: str = "tf") -> Run:
    """A Run, a run folder, or None for the pretrained run shipped with jazzlstm."""
    from jazzlstm.resources import pretrained_run_dir

    if isinstance(run, Run):
        return run
    return load_run(run if run is not None else pretrained_run_dir(), backend=backend)


def generate(run: Run | str | Path | None, out: str | Path, *, force: bool = False, **settings: Any) -> list[Path]:
    """Generate MIDI file(s) from a music run (a Run, a run folder, or None for the pretrained run).

    ``settings``: fields of :class:`SamplingConfig` (``n``, ``temperature``, ``top_k``,
    ``greedy``, ``seed``) and :class:`MusicConfig` (``bars``, ``chords``, ``chords_from``,
    ``primer``, ``tempo``, ``beam``, ``backend``: a run folder is loaded for numpy by default, no
    TensorFlow). ``n`` files are written: ``out``, or ``OUT_1.mid`` ... ``OUT_n.mid``.
    """
    from jazzlstm.generation.music import generate_music

    sampling, music = split_settings(settings, SamplingConfig, MusicConfig)
    run = _as_run(run, music.backend)
    if run.data_config.is_text:
        raise JazzLSTMError(f"{run.path}: a {run.data_config.mode} run; use jazzlstm.generate_text or generate_tunes")
    return generate_music(run, out, sampling, music, force=force)


def generate_text(run: Run | str | Path, *, backend: str = MusicConfig.backend, **settings: Any) -> list[str]:
    """Sample ``n`` texts from a character run (for ABC runs: tune texts).

    ``settings``: fields of :class:`SamplingConfig` and :class:`TextConfig` (``length``, ``prime``);
    ``backend``: how a run folder is loaded (numpy by default, no TensorFlow; or "tf").
    """
    from jazzlstm.generation.text import sample_texts

    sampling, text = split_settings(settings, SamplingConfig, TextConfig)
    run = _as_run(run, MusicConfig(backend=backend).backend)
    if not run.data_config.is_text:
        raise JazzLSTMError(f"{run.path}: a music run; use jazzlstm.generate for MIDI")
    return sample_texts(run, sampling, text)


def generate_tunes(run: Run | str | Path, out: str | Path, *, force: bool = False, verbose: bool = False,
                   backend: str = MusicConfig.backend, **settings: Any) -> list[Path]:
    """Sample ``n`` ABC tunes from an ABC run that music21 can parse and write each as MIDI
    (``OUT.mid``, or ``OUT_1.mid`` ... with several) with its ABC text beside it (``.abc``).

    Tunes that do not parse are sampled again, a bounded number of times (see
    :func:`jazzlstm.generation.text.render_tunes`); if too few parse, nothing is written and
    the error says why; ``verbose`` tells on stderr how many were sampled again, and why.
    ``settings``: fields of :class:`SamplingConfig`, :class:`TextConfig` and ``tempo``;
    ``backend`` as for :func:`generate_text`.
    """
    from jazzlstm.generation.text import render_tunes

    tempo = settings.pop("tempo", MusicConfig().tempo)
    sampling, text = split_settings(settings, SamplingConfig, TextConfig)
    run = _as_run(run, MusicConfig(backend=backend).backend)
    if run.data_config.mode != "abc":
        raise JazzLSTMError(f"{run.path}: not an ABC run (trained with --abc)")
    written, rejected = render_tunes(run, sampling, text, out, force=force, tempo=MusicConfig(tempo=tempo).tempo)
    if rejected and verbose:
        print(f"jazzlstm: {len(rejected)} generated tune(s) did not parse and were sampled again "
              f"({'; '.join(dict.fromkeys(rejected))[:300]})", file=sys.stderr)
    return written



def evaluate(run: Run | str | Path | None, reference: str | Path | Sequence[str | Path],
             out: str | Path | None = None, *, force: bool = False, verbose: bool = False,
             **settings: Any) -> dict:
    """Evaluate a music run against held-out reference pieces and return the report (a dict, the
    content of report.json; schema in docs/evaluation.md).

    * **likelihood**: the model's bits per note on the reference pieces, beside uniform, unigram
      and Kneser-Ney baselines fitted on the training pieces, in the same units on the same tokens;
    * **metrics** and **comparison**: objective music metrics of the generated, reference and
      training pieces, and Yang & Lerch's overlap area and KL, generated against reference (and
      reference against training, as a yardstick);
    * **memorization**: how much of each generated piece is copied from the training pieces.

    ``run``: a Run, a run folder, or None for the pretrained run. ``reference``: a folder (or
    file, or several) of MIDI/MusicXML pieces the run did not train on, read with the run's
    reading settings. ``settings``: fields of :class:`~jazzlstm.config.EvaluateConfig` (``n``,
    ``chords``, ``bars``, ``temperature``, ``top_k``, ``seed``, ``generated``, ``training``).
    ``out``: a folder to write report.json, report.md, features.png and overlap.png into (an
    existing one only with ``force``; written to a temporary folder renamed at the end).
    ``verbose``: progress lines on stderr.
    """
    import random
    import shutil
    from dataclasses import asdict, replace

    from jazzlstm.config import EvaluateConfig
    from jazzlstm.evaluate.report import (PieceSet, build_report, check_settings, paths_text, read_set,
                                          reading_config, run_info, training_set, write_report)
    from jazzlstm.runs import publish, read_configs, staging_dir

    (config,) = split_settings(settings, EvaluateConfig)
    if out is not None:
        refuse_existing(out, force)
    check_settings(config, reference)

    def say(message: str) -> None:
        if verbose:
            print(f"jazzlstm: evaluate: {message}", file=sys.stderr)

    # What the run is, without loading its model: the readers start before TensorFlow does.
    if not isinstance(run, Run):
        from jazzlstm.resources import pretrained_run_dir

        run = Path(run) if run is not None else pretrained_run_dir()
    data_config = run.data_config if isinstance(run, Run) else read_configs(run)[2]
    if data_config.is_text:
        where = run.path if isinstance(run, Run) else run
        raise JazzLSTMError(f"{where}: a {data_config.mode} run; evaluate works on music runs")
    bar = verbose and sys.stderr.isatty()
    say(f"reading the reference pieces ({paths_text(reference)})")
    reference_set = read_set("reference", reference, reading_config(data_config), progress=bar)
    training = training_set(config.training, data_config, say, bar)
    generated = None
    if config.generated is not None:
        say(f"reading the generated pieces ({config.generated})")
        generated = read_set("generated", config.generated, reading_config(data_config, melody_track=None),
                             progress=bar)
    run = _as_run(run)
    if generated is None:
        from jazzlstm.generation.music import choose_chords, generate_scores

        say(f"sampling {config.n} piece(s) of {config.bars} bars")
        sampling = SamplingConfig(n=config.n, temperature=config.temperature, top_k=config.top_k, seed=config.seed)
        music = MusicConfig(bars=config.bars, chords=config.chords, beam=config.beam,
                            branch_factor=config.branch_factor, harmony_weight=config.harmony_weight)
        if config.chords:  # one progression: one batch, as jazzlstm generate samples
            scores = generate_scores(run, sampling, music)
        else:  # each piece over a stretch of its own of a progression seen in training
            rng = random.Random(config.seed)
            scores = [score for i in range(config.n) for score in generate_scores(
                run, replace(sampling, n=1, seed=config.seed * 1_000_003 + i), music, choose_chords(run, music, rng))]
        over = f"`{config.chords}`" if config.chords else "progressions seen in training"
        generated = PieceSet("generated", f"sampled from {run.path} over {over}", scores,
                             [f"sample_{i + 1}" for i in range(len(scores))])
    from jazzlstm.model.likelihood import token_bits

    report = build_report(run_info(run), {**asdict(config), "reference": paths_text(reference),
                                          "out": None if out is None else str(out)},
                          generated, reference_set, training, lambda ids: token_bits(run.model, ids),
                          run.vocab, run.tokenizer, say)
    if out is not None:
        say(f"writing {out}")
        staging = staging_dir(Path(out), force)
        try:
            write_report(staging, report)
            publish(staging, Path(out))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return report
