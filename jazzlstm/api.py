"""The notebook-sized Python API: what the CLI does, as plain function calls."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from .config import DataConfig, TrainConfig
from .corpus import Corpus, load_corpus
from .runs import Run, load_run


def train(midi: str | Path | Sequence[str | Path] | None = None, out: str | Path = "jazzlstm-run",
          encoding: str = "grammar", epochs: int = 40, batch_size: int = 32, n_a: int = 64, tx: int = 30,
          stride: int = 1, lr: float = 0.01, clipnorm: float | None = 1.0, val_split: float = 0.1, seed: int = 0,
          melody_track: int | str | None = None, transpose: str = "none", workers: int | None = None,
          cache: bool = True, force: bool = False, verbose: int | str = "auto",
          corpus: Corpus | None = None) -> Run:
    """Read a MIDI folder (default: the bundled samples), train, and write a run folder.

    Pass ``corpus`` (from :func:`~jazzlstm.corpus.load_corpus`) to train on one already read;
    the reading options are then those it was read with.
    """
    from .resources import bundled_samples_dir
    from .runs import staging_dir
    from .train import train_run

    train_config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, clipnorm=clipnorm,
                               val_split=val_split, stride=stride, seed=seed)
    if Path(out).exists() and not force:
        staging_dir(Path(out), force)  # raises the standard "already exists" error
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
    from .generate import MusicOptions, generate_music
    from .resources import pretrained_run_dir

    if not isinstance(run, Run):
        run = load_run(run if run is not None else pretrained_run_dir())
    options = MusicOptions(bars=bars, chords=chords, chords_from=chords_from, temperature=temperature,
                           top_k=top_k, greedy=greedy, seed=seed, tempo=tempo, primer=primer,
                           num_outputs=num_outputs)
    return generate_music(run, out, options, force=force)
