"""The notebook-sized Python API: what the CLI does, as plain function calls."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from .config import DataConfig, TrainConfig
from .corpus import Corpus, load_corpus
from .errors import JazzLSTMError
from .runs import Run, load_run


def train(midi: str | Path | Sequence[str | Path] | None = None, out: str | Path = "jazzlstm-run",
          encoding: str = "grammar", epochs: int = 40, batch_size: int = 32, n_a: int = 64, tx: int = 30,
          stride: int = 1, lr: float = 0.01, clipnorm: float | None = 1.0, val_split: float = 0.1, seed: int = 0,
          melody_track: int | str | None = None, transpose: str = "none", workers: int | None = None,
          cache: bool = True, force: bool = False, verbose: int | str = "auto",
          corpus: Corpus | None = None, strategy: str = "auto", mixed_precision: bool = False,
          xla: bool = False) -> Run:
    """Read a MIDI folder (default: the bundled samples), train, and write a run folder.

    Pass ``corpus`` (from :func:`~jazzlstm.corpus.load_corpus`) to train on one already read;
    the reading options are then those it was read with.
    """
    from .fileio import refuse_existing
    from .resources import bundled_samples_dir
    from .training import train_run

    train_config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, clipnorm=clipnorm,
                               val_split=val_split, stride=stride, seed=seed, strategy=strategy,
                               mixed_precision=mixed_precision, xla=xla)
    refuse_existing(out, force)
    if corpus is None:
        corpus = load_corpus(midi if midi is not None else bundled_samples_dir(), encoding=encoding,
                             melody_track=melody_track, transpose=transpose, workers=workers, cache=cache,
                             progress=bool(verbose) and sys.stderr.isatty())
    if verbose:
        print(corpus.summary(), file=sys.stderr)
    settings = corpus.settings
    data_config = DataConfig(mode="music", encoding=settings.encoding, melody_track=settings.melody_track,
                             transpose=settings.transpose, sources=corpus.sources)
    return train_run(corpus.sequences, out, {"n_a": n_a, "tx": tx}, train_config, data_config,
                     corpus.progressions(), force=force, verbose=verbose)


def generate(run: Run | str | Path | None, out: str | Path, bars: int = 8, chords: str | None = None,
             chords_from: str | None = None, temperature: float = 1.0, top_k: int | None = None,
             greedy: bool = False, seed: int = 0, tempo: float = 120.0, primer: str | None = None,
             num_outputs: int = 1, force: bool = False) -> list[Path]:
    """Generate MIDI file(s) from a run (a Run, a run folder, or None for the pretrained run)."""
    from .musicgen import MusicOptions, generate_music
    from .resources import pretrained_run_dir

    if not isinstance(run, Run):
        run = load_run(run if run is not None else pretrained_run_dir())
    options = MusicOptions(bars=bars, chords=chords, chords_from=chords_from, temperature=temperature,
                           top_k=top_k, greedy=greedy, seed=seed, tempo=tempo, primer=primer,
                           num_outputs=num_outputs)
    return generate_music(run, out, options, force=force)


DEFAULT_STREAM_TX = 64
"""Window length for running text: the longest window the fast path unrolls."""
MAX_LINE_TX = 128
"""Longest window for one-sample-per-line text; longer lines are cut into several windows."""


def train_text(text: str | Path, out: str | Path = "jazzlstm-run", layout: str = "stream", epochs: int = 40,
               batch_size: int = 32, n_a: int = 64, tx: int | None = None, lr: float = 0.01,
               clipnorm: float | None = 1.0, val_split: float = 0.1, seed: int = 0, force: bool = False,
               verbose: int | str = "auto", strategy: str = "auto", mixed_precision: bool = False,
               xla: bool = False) -> Run:
    """Train a character model on a UTF-8 text file and write a run folder.

    ``layout="lines"``: every line is a sample that ends in a newline (names, titles), and the
    windows are as long as the longest line (up to :data:`MAX_LINE_TX`) unless ``tx`` is given.
    ``layout="stream"``: running text in consecutive windows of ``tx`` (default
    :data:`DEFAULT_STREAM_TX`) characters, the LSTM state carried from window to window.
    """
    from .text import LAYOUTS, LINE_END, framed, read_text, split_lines

    if layout not in LAYOUTS:
        raise JazzLSTMError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    content = read_text(text)
    if layout == "lines":
        lines = split_lines(content)
        sequences = [framed(line, LINE_END) for line in lines]
        tx = tx or min(max(len(s) for s in sequences) - 1, MAX_LINE_TX)
        longer = sum(len(s) - 1 > tx for s in sequences)
        summary = f"read {text}: {len(lines)} lines, {len(content)} characters; windows of {tx}" + (
            f" ({longer} longer line(s) are cut into several windows)" if longer else "")
    else:
        sequences = [list(content)]
        tx = tx or DEFAULT_STREAM_TX
        summary = f"read {text}: {len(content)} characters of running text; windows of {tx}"
    if verbose:
        print(summary, file=sys.stderr)
    data_config = DataConfig(mode="text", encoding="chars", sources=(str(text),), text_layout=layout,
                             end_token=LINE_END if layout == "lines" else None)
    train_config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, clipnorm=clipnorm, val_split=val_split,
                               seed=seed, strategy=strategy, mixed_precision=mixed_precision, xla=xla)
    return _train_chars(sequences, (), data_config, out, tx, n_a, train_config, force, verbose)


def train_abc(sources: Sequence[str | Path] | None = None, out: str | Path = "jazzlstm-run", epochs: int = 40,
              batch_size: int = 32, n_a: int = 64, tx: int | None = None, lr: float = 0.01,
              clipnorm: float | None = 1.0, val_split: float = 0.1, seed: int = 0, force: bool = False,
              verbose: int | str = "auto", tunes: Sequence[str] | None = None, strategy: str = "auto",
              mixed_precision: bool = False, xla: bool = False) -> Run:
    """Train a character model on ABC tunes (default: the fiddle tunes in music21's corpus).

    The cleaned tunes (see :mod:`jazzlstm.abc`) form one stream with an end token between
    tunes; generation starts a tune after an end token and stops at the next one. ``tunes``
    trains on already cleaned tune texts instead of reading ``sources``.
    """
    from .abc import load_tunes
    from .text import PIECE_END, joined

    if tunes is None:
        tunes, skipped = load_tunes(sources)
        if verbose:
            where = "music21's fiddle tunes" if sources is None else ", ".join(str(s) for s in sources)
            print(f"read {where}: {len(tunes)} tunes, {sum(len(t) for t in tunes)} characters, "
                  f"{len(skipped)} file(s) skipped", file=sys.stderr)
            for path, reason in skipped:
                print(f"  skipped {path}: {reason}", file=sys.stderr)
    sequences = [joined(tunes, PIECE_END)]
    data_config = DataConfig(mode="abc", encoding="chars", text_layout="stream", end_token=PIECE_END,
                             sources=tuple(str(s) for s in sources) if sources else ("music21:ryansMammoth",))
    train_config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, clipnorm=clipnorm, val_split=val_split,
                               seed=seed, strategy=strategy, mixed_precision=mixed_precision, xla=xla)
    return _train_chars(sequences, (PIECE_END,), data_config, out, tx or DEFAULT_STREAM_TX, n_a, train_config,
                        force, verbose)


def _train_chars(sequences, specials, data_config, out, tx, n_a, train_config, force, verbose) -> Run:
    from .fileio import refuse_existing
    from .training import train_run

    refuse_existing(out, force)  # on every process of a cluster, as train() does
    return train_run(sequences, out, {"n_a": n_a, "tx": tx}, train_config, data_config, force=force,
                     verbose=verbose, specials=specials)


def generate_text(run: Run | str | Path, n: int = 1, length: int | None = None, prime: str | None = None,
                  temperature: float = 1.0, top_k: int | None = None, greedy: bool = False, seed: int = 0
                  ) -> list[str]:
    """Sample ``n`` texts from a character run (for ABC runs: tune texts)."""
    from .textgen import TextOptions, sample_texts

    run = run if isinstance(run, Run) else load_run(run)
    if not run.data_config.is_text:
        raise JazzLSTMError(f"{run.path}: a music run; use jazzlstm.generate for MIDI")
    return sample_texts(run, TextOptions(n=n, length=length, prime=prime, temperature=temperature, top_k=top_k,
                                         greedy=greedy, seed=seed))


def generate_tunes(run: Run | str | Path, out: str | Path, n: int = 1, temperature: float = 1.0,
                   top_k: int | None = None, seed: int = 0, tempo: float = 120.0, force: bool = False
                   ) -> list[Path]:
    """Sample ``n`` ABC tunes from an ABC run that music21 can parse and write each as MIDI
    (``OUT.mid``, or ``OUT_1.mid`` ... with several) with its ABC text beside it (``.abc``).

    Tunes that do not parse are sampled again, a bounded number of times (see
    :func:`jazzlstm.textgen.render_tunes`); if too few parse, nothing is written and the
    error says why.
    """
    from .textgen import TextOptions, render_tunes

    run = run if isinstance(run, Run) else load_run(run)
    if run.data_config.mode != "abc":
        raise JazzLSTMError(f"{run.path}: not an ABC run (trained with --abc)")
    written, _ = render_tunes(run, TextOptions(n=n, temperature=temperature, top_k=top_k, seed=seed), out,
                              force=force, tempo=tempo)
    return written
