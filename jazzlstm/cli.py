"""Command-line interface: one subcommand -> one library call. TensorFlow is imported lazily.

Every user error (a JazzLSTMError) is printed as one line ``jazzlstm: error: ...`` with a
non-zero exit code; argparse reports bad flags with exit code 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from jazzlstm._version import __version__
from jazzlstm.config import (DEFAULT_RUN_DIR, CorpusConfig, EvaluateConfig, ModelConfig, MusicConfig,
                             PrepareConfig, SamplingConfig, TextConfig, TrainConfig)
from jazzlstm.errors import JazzLSTMError, UsageError
from jazzlstm.tokens.registry import music_tokenizer_names


def melody_track_arg(value: str) -> int | str:
    """``--melody-track``: a track index (as listed by ``inspect``), a track name, or ``all``."""
    value = value.strip()
    if not value:
        raise argparse.ArgumentTypeError("must be a track index or a track name")
    if value.lstrip("-").isdigit():
        index = int(value)
        if index < 0:
            raise argparse.ArgumentTypeError(f"track index must be >= 0, not {index}")
        return index
    return value


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {number}")
    return number


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return number


def non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {value}")
    return number


def fraction(value: str) -> float:
    number = non_negative_float(value)
    if number >= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return number


def add_setting(parser, config: type, name: str, *flags: str, **options: Any) -> None:
    """A flag for the field ``name`` of a :mod:`jazzlstm.config` record: its default and help
    come from there (``flags``: the flag names, default ``--the-name``)."""
    spec = config.__dataclass_fields__[name]
    meta = dict(spec.metadata)
    help_text = options.pop("help", meta.pop("help"))
    default = spec.default
    if default is False:
        options.setdefault("action", "store_true")
    elif default is True:  # a setting on by default gets a --no-... flag
        options.setdefault("action", "store_false")
        flags = flags or (f"--no-{name.replace('_', '-')}",)
    elif default is not None:
        help_text += " (default: %(default)s)"
    parser.add_argument(*(flags or (f"--{name.replace('_', '-')}",)), dest=name, default=default,
                        help=help_text, **{**meta, **options})


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that reads a MIDI corpus."""
    add_setting(parser, CorpusConfig, "encoding", choices=music_tokenizer_names())
    add_setting(parser, CorpusConfig, "melody_track", "--melody-track", "--melody", type=melody_track_arg,
                metavar="INDEX|NAME|all")
    add_setting(parser, CorpusConfig, "transpose", metavar="none|key|N")
    add_setting(parser, CorpusConfig, "split_silence_bars", type=positive_int, metavar="BARS")
    add_setting(parser, CorpusConfig, "workers", type=positive_int)
    add_setting(parser, CorpusConfig, "cache", help="re-read every file instead of using the cache")
    add_setting(parser, CorpusConfig, "file_timeout", type=non_negative_float, metavar="SECONDS")
    add_setting(parser, CorpusConfig, "file_memory_mb", type=non_negative_float, metavar="MB")


def settings_of(args: argparse.Namespace, *configs: type) -> dict[str, Any]:
    """The values of ``configs``' fields among the parsed flags (for the API's keywords)."""
    names = {name for config in configs for name in config.__dataclass_fields__}
    return {name: value for name, value in vars(args).items() if name in names}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jazzlstm", description="Learn and generate music with recurrent networks.")
    parser.add_argument("--version", action="version", version=f"jazzlstm {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inspect = commands.add_parser("inspect", help="show what jazzlstm reads from a MIDI folder",
                                  description="Per file: tracks, melody choice and why, notes, bars, chords, "
                                              "tokens; then skipped files, totals and vocabulary size.")
    inspect.add_argument("--midi", required=True, metavar="PATH", help="a MIDI/MusicXML file or a folder")
    inspect.add_argument("--tokens", type=int, default=8, metavar="N", help="show the first N tokens per file")
    add_corpus_options(inspect)
    inspect.set_defaults(handler=run_inspect)

    train = commands.add_parser("train", help="train a model and write a run folder",
                                description="Train the jazz LSTM on a MIDI/MusicXML folder (default: the "
                                            "bundled samples), a text file (--text) or ABC tunes (--abc), "
                                            "and write a run folder.")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--midi", metavar="PATH", default=None,
                        help="a MIDI/MusicXML file or folder (default: the bundled midi_samples)")
    source.add_argument("--text", metavar="FILE", default=None, help="train a character model on a UTF-8 text file")
    source.add_argument("--data", metavar="DATA_DIR", default=None,
                        help="stream a data folder written by jazzlstm prepare (bounded memory; see docs/scale.md)")
    source.add_argument("--abc", metavar="DIR", nargs="?", const="", default=None,
                        help="train a character model on ABC tunes: .abc files under DIR, or without DIR "
                             "the ~1,000 fiddle tunes in music21's corpus")
    layout = train.add_mutually_exclusive_group()
    layout.add_argument("--lines", dest="layout", action="store_const", const="lines",
                        help="--text: every line is one sample ending in a newline (names, titles)")
    layout.add_argument("--stream", dest="layout", action="store_const", const="stream",
                        help="--text: running text in consecutive windows, state carried over (the default)")
    add_corpus_options(train)
    train.add_argument("--out", default=DEFAULT_RUN_DIR, metavar="RUN_DIR", help="run folder to write (default: %(default)s)")
    add_setting(train, TrainConfig, "epochs", type=positive_int)
    add_setting(train, TrainConfig, "batch_size", type=positive_int)
    add_setting(train, ModelConfig, "n_a", type=positive_int)
    add_setting(train, ModelConfig, "layers", type=positive_int)
    add_setting(train, ModelConfig, "dropout", type=fraction)
    add_setting(train, ModelConfig, "tx", type=positive_int)
    add_setting(train, TrainConfig, "stride", type=positive_int)
    add_setting(train, TrainConfig, "lr", type=positive_float)
    add_setting(train, TrainConfig, "clipnorm", type=non_negative_float)
    add_setting(train, TrainConfig, "val_split", type=fraction)
    add_setting(train, TrainConfig, "seed", type=int)
    add_setting(train, TrainConfig, "strategy")
    add_setting(train, TrainConfig, "mixed_precision")
    add_setting(train, TrainConfig, "xla")
    add_setting(train, TrainConfig, "shuffle", "--no-shuffle")
    add_setting(train, TrainConfig, "shuffle_buffer", type=positive_int, metavar="WINDOWS")
    train.add_argument("--force", action="store_true",
                       help="overwrite an existing run folder (and discard another job's interrupted training)")
    train.add_argument("--quiet", action="store_true", help="one line per epoch instead of progress bars")
    train.set_defaults(handler=run_train)

    prepare = commands.add_parser("prepare", help="prepare a large corpus on Apache Beam for train --data",
                                  description="Read and encode every MIDI/MusicXML file under --midi in an Apache "
                                              "Beam pipeline (the DirectRunner with --workers processes, or "
                                              "--runner with its own options after --) and write a data folder: "
                                              "TFRecord shards of token ids, vocab.json, encoding.json, "
                                              "manifest.json, skipped.json (see docs/scale.md).")
    prepare.add_argument("--midi", required=True, metavar="DIR", help="a MIDI/MusicXML file or folder")
    prepare.add_argument("--out", required=True, metavar="DATA_DIR", help="data folder to write")
    add_corpus_options(prepare)
    add_setting(prepare, PrepareConfig, "runner")
    add_setting(prepare, PrepareConfig, "shards", type=positive_int, metavar="N")
    prepare.add_argument("--force", action="store_true", help="replace an existing data folder")
    prepare.add_argument("beam_args", nargs=argparse.REMAINDER, metavar="-- BEAM_OPTIONS",
                         help="Apache Beam pipeline options, after -- (e.g. -- --project=P --region=R)")
    prepare.set_defaults(handler=run_prepare)

    generate = commands.add_parser("generate", help="generate music or text from a trained run",
                                   description="Music runs: improvise a melody over a chord progression and "
                                               "write MIDI (melody, comping chords and bass). Text runs: print "
                                               "samples. ABC runs: write tunes as MIDI (and .abc), or print them.")
    generate.add_argument("out", metavar="OUT", nargs="?", default=None,
                          help="file to write: MIDI for music and ABC runs (numbered with -n), text for text runs")
    generate.add_argument("--run", default=None, metavar="RUN_DIR",
                          help="run folder (default: the pretrained music run shipped with jazzlstm)")
    add_setting(generate, SamplingConfig, "n", "-n", "--num-outputs", type=positive_int)
    add_setting(generate, SamplingConfig, "temperature", type=positive_float)
    add_setting(generate, SamplingConfig, "top_k", type=positive_int)
    add_setting(generate, SamplingConfig, "greedy")
    add_setting(generate, SamplingConfig, "seed", type=int)
    add_setting(generate, MusicConfig, "tempo", type=positive_float)
    add_setting(generate, MusicConfig, "backend")
    generate.add_argument("--force", action="store_true", help="overwrite existing output files")
    generate.add_argument("--wav", action="store_true",
                          help="music and ABC runs: also render each MIDI file as audio, OUT.wav beside "
                               "OUT.mid (as jazzlstm render does)")
    music = generate.add_argument_group("music runs")
    add_setting(music, MusicConfig, "bars", type=positive_int)
    add_setting(music, MusicConfig, "chords", metavar='"Dm7 G7 Cmaj7 Cmaj7"')
    add_setting(music, MusicConfig, "chords_from", metavar="FILE")
    add_setting(music, MusicConfig, "primer", metavar="FILE.mid")
    add_setting(music, MusicConfig, "beam", type=positive_int, metavar="N")
    add_setting(music, MusicConfig, "branch_factor", type=positive_int, metavar="N")
    add_setting(music, MusicConfig, "harmony_weight", type=float, metavar="W")
    text = generate.add_argument_group("text and ABC runs")
    add_setting(text, TextConfig, "length", type=positive_int)
    add_setting(text, TextConfig, "prime", metavar="TEXT")
    text.add_argument("--out", dest="out_file", default=None, metavar="FILE",
                      help="write the samples to FILE instead of printing them")
    generate.set_defaults(handler=run_generate)

    render = commands.add_parser("render", help="render a MIDI file as a WAV",
                                 description="Render MIDI to a 16-bit WAV with FluidSynth and a General MIDI "
                                             "SoundFont when they are installed, else with a built-in "
                                             "synthesizer (a notice says so).")
    render.add_argument("midi", metavar="IN.mid", help="MIDI file to render")
    render.add_argument("wav", metavar="OUT.wav", help="WAV file to write")
    render.add_argument("--sample-rate", type=sample_rate_arg, default=44100, metavar="HZ",
                        help="samples per second, 8000 to 96000 (default: %(default)s)")
    render.add_argument("--soundfont", default=None, metavar="FILE.sf2",
                        help="SoundFont for FluidSynth (default: $JAZZLSTM_SOUNDFONT, then the system's "
                             "General MIDI SoundFont, e.g. /usr/share/sounds/sf2/FluidR3_GM.sf2)")
    render.add_argument("--force", action="store_true", help="overwrite an existing OUT.wav")
    render.set_defaults(handler=run_render)

    plot = commands.add_parser("plot", help="draw a piano roll of a MIDI file, or a run's training curves",
                               usage="jazzlstm plot IN.mid OUT.png [--melody-track INDEX|NAME] [--force]\n"
                                     "       jazzlstm plot --run RUN_DIR OUT.png [--force]",
                               description="IN.mid OUT.png: a piano roll of the melody and chords jazzlstm "
                                           "reads from a MIDI/MusicXML file. --run RUN_DIR OUT.png: training "
                                           "and validation loss and perplexity per epoch. The image format "
                                           "follows OUT's suffix (.png, .svg, .pdf).")
    plot.add_argument("files", nargs="+", metavar="FILE", help="IN.mid OUT.png, or OUT.png with --run")
    plot.add_argument("--run", default=None, metavar="RUN_DIR", help="plot this run folder's history.json")
    add_setting(plot, CorpusConfig, "melody_track", type=melody_track_arg, metavar="INDEX|NAME",
                help="use this track (index or name) as the melody instead of the automatic choice")
    plot.add_argument("--force", action="store_true", help="overwrite an existing image")
    plot.set_defaults(handler=run_plot)

    evaluate = commands.add_parser("evaluate", help="measure a music run against held-out pieces",
                                   description="Held-out likelihood (bits per note of the model against "
                                               "uniform, unigram and Kneser-Ney baselines), music metrics of "
                                               "generated, reference and training pieces with Yang & Lerch's "
                                               "overlap and KL, and memorization of the training pieces; writes "
                                               "report.json, report.md and plots to --out (see docs/evaluation.md).")
    evaluate.add_argument("--run", default=None, metavar="RUN_DIR",
                          help="a music run folder (default: the pretrained music run shipped with jazzlstm)")
    evaluate.add_argument("--reference", required=True, metavar="DIR",
                          help="held-out MIDI/MusicXML pieces the run did not train on (a folder or a file)")
    add_setting(evaluate, EvaluateConfig, "generated", metavar="DIR")
    add_setting(evaluate, EvaluateConfig, "training", metavar="DIR")
    add_setting(evaluate, EvaluateConfig, "n", "-n", "--num-outputs", type=positive_int)
    add_setting(evaluate, EvaluateConfig, "chords", metavar='"Dm7 G7 Cmaj7 Cmaj7"')
    add_setting(evaluate, EvaluateConfig, "bars", type=positive_int, metavar="N")
    add_setting(evaluate, EvaluateConfig, "temperature", type=positive_float, metavar="F")
    add_setting(evaluate, EvaluateConfig, "top_k", type=positive_int, metavar="K")
    add_setting(evaluate, EvaluateConfig, "seed", type=int, metavar="N")
    add_setting(evaluate, EvaluateConfig, "beam", type=positive_int, metavar="N")
    add_setting(evaluate, EvaluateConfig, "branch_factor", type=positive_int, metavar="N")
    add_setting(evaluate, EvaluateConfig, "harmony_weight", type=float, metavar="W")
    evaluate.add_argument("--out", default="evaluation", metavar="REPORT_DIR",
                          help="folder to write the report into (default: %(default)s)")
    evaluate.add_argument("--force", action="store_true", help="replace an existing report folder")
    evaluate.set_defaults(handler=run_evaluate)

    info = commands.add_parser("info", help="what a run folder holds: its settings and its weights, layer by layer",
                               description="Print a run's encoding, vocabulary, model and training settings and "
                                           "its weights per layer (the LSTM's four gates' input kernels, "
                                           "recurrent kernels and biases, the dense layer) and in total, "
                                           "without loading TensorFlow.")
    info.add_argument("--run", default=None, metavar="RUN_DIR",
                      help="run folder (default: the pretrained music run shipped with jazzlstm)")
    info.set_defaults(handler=run_info)
    return parser


def sample_rate_arg(value: str) -> int:
    """``--sample-rate``: a whole number of Hz in the range FluidSynth accepts."""
    from jazzlstm.music.audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

    rate = positive_int(value)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise argparse.ArgumentTypeError(f"must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE}, got {rate}")
    return rate


def corpus_from_args(args: argparse.Namespace, path: str | Path):
    from jazzlstm.data.corpus import load_corpus

    return load_corpus(path, CorpusConfig(**settings_of(args, CorpusConfig)), progress=sys.stderr.isatty())


def run_inspect(args: argparse.Namespace) -> int:
    from jazzlstm.data.report import corpus_report

    corpus = corpus_from_args(args, args.midi)
    print(corpus_report(corpus, show_tokens=max(0, args.tokens)))
    return 0


def import_tensorflow_quietly(macs_per_step: int | None = None) -> None:
    """Import TensorFlow with the C++ start-up log (CUDA probing, oneDNN notes) hidden, and set
    its threads for a model of ``macs_per_step`` (see ``configure_threads``).

    TensorFlow writes those lines to file descriptor 2 before any logging setting applies,
    so the descriptor is pointed at /dev/null for the import only. Python errors still
    surface as exceptions. Set JAZZLSTM_TF_LOGS=1 to see the lines.
    """
    if "tensorflow" in sys.modules or os.environ.get("JAZZLSTM_TF_LOGS"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401

            from jazzlstm.training.distribute import configure_threads

            configure_threads(macs_per_step)  # before the runtime starts
            if not os.environ.get("TF_CONFIG"):
                # Device probing logs happen here; in a cluster the runtime must not start
                # before the multi-worker strategy configures it.
                tensorflow.config.list_logical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def run_train(args: argparse.Namespace) -> int:
    from jazzlstm.api import train, train_abc, train_text
    from jazzlstm.fileio import refuse_existing
    from jazzlstm.resources import bundled_samples_dir

    refuse_existing(args.out, args.force)  # before any data is read
    if args.layout and args.text is None:
        raise UsageError(f"--{args.layout} applies to --text only")
    common = dict(out=args.out, force=args.force, verbose=2 if args.quiet else 1,
                  **settings_of(args, ModelConfig, TrainConfig))
    from jazzlstm.training.distribute import lstm_macs_per_step

    macs = lstm_macs_per_step(args.batch_size, args.n_a, layers=args.layers)  # the vocabulary is not read yet: a guess
    if args.data is not None:
        changed = [f"--{name.replace('_', '-')}" for name, value in settings_of(args, CorpusConfig).items()
                   if value != CorpusConfig.__dataclass_fields__[name].default]
        if changed:
            raise UsageError(f"{', '.join(changed)}: reading settings belong to jazzlstm prepare, not train --data")
        import_tensorflow_quietly(macs)
        run = train(data=args.data, **common)
    elif args.text is not None:
        import_tensorflow_quietly(macs)
        run = train_text(args.text, layout=args.layout or "stream", **common)
    elif args.abc is not None:
        import_tensorflow_quietly(macs)
        run = train_abc([args.abc] if args.abc else None, **common)
    else:
        # The corpus is read before TensorFlow is imported, so the reader pool can fork.
        corpus = corpus_from_args(args, args.midi or str(bundled_samples_dir()))
        import_tensorflow_quietly(macs)
        run = train(corpus=corpus, **common)
    best = run.history.get("best_epoch", 0)
    monitor = run.history.get("monitor", "loss")
    value = run.history.get(monitor, [float("nan")])[best - 1] if best else float("nan")
    weights = run.history.get("final_weights", "?")
    if run.path is None:  # a worker of a cluster: the chief writes the run folder
        print(f"jazzlstm: worker done (weights {weights}); the chief writes {args.out}")
    else:
        print(f"jazzlstm: wrote {args.out} (best epoch {best}, {monitor} {value:.3f}; final weights {weights})")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    from jazzlstm.api import prepare
    from jazzlstm.fileio import refuse_existing

    refuse_existing(args.out, args.force)  # before any file is read
    beam_args = list(args.beam_args)
    if beam_args and beam_args[0] == "--":
        beam_args = beam_args[1:]
    prepared = prepare(args.midi, args.out, runner=args.runner, shards=args.shards, beam_args=beam_args,
                       force=args.force, **settings_of(args, CorpusConfig))
    counters = ", ".join(f"{k} {v}" for k, v in prepared.counters.items())
    print(f"jazzlstm: wrote {args.out} ({prepared.counts['pieces']} pieces, {prepared.counts['tokens']} tokens, "
          f"{prepared.counts['skipped']} skipped" + (f"; counters: {counters}" if counters else "") + ")")
    return 0


MUSIC_FLAGS = ("bars", "chords", "chords_from", "primer", "beam", "branch_factor", "harmony_weight")
TEXT_FLAGS = ("length", "prime", "out_file")


def run_generate(args: argparse.Namespace) -> int:
    from jazzlstm.runs import read_data_config

    run_dir = args.run or _default_run()
    data_config = read_data_config(run_dir)  # the mode decides the outputs; no TensorFlow yet
    if data_config.is_text:
        _refuse(args, MUSIC_FLAGS, f"{run_dir} is a {data_config.mode} run")
        return _generate_text(args, run_dir, data_config.mode)
    _refuse(args, TEXT_FLAGS, f"{run_dir} is a music run")
    return _generate_music(args, run_dir)


def _refuse(args: argparse.Namespace, flags: Sequence[str], why: str) -> None:
    """One clear error for flags that belong to the other kind of run (given other than default)."""
    defaults = {**asdict(MusicConfig()), **asdict(TextConfig()), "out_file": None}
    given = [f"--{name.replace('_', '-')}" if name != "out_file" else "--out"
             for name in flags if getattr(args, name) != defaults[name]]
    if given:
        raise JazzLSTMError(f"{', '.join(given)}: not for this run ({why})")


def _generate_music(args: argparse.Namespace, run_dir: str) -> int:
    from jazzlstm.api import generate
    from jazzlstm.fileio import check_writable, numbered_paths

    if args.out is None:
        raise JazzLSTMError("generate: give the MIDI file to write, e.g. jazzlstm generate solo.mid")
    for path in numbered_paths(args.out, args.n, default_suffix=".mid"):  # before loading
        check_writable(path, args.force)
        if args.wav:
            check_writable(wav_beside(path), args.force)
    if args.chords:
        from jazzlstm.errors import BadChordError
        from jazzlstm.music.harmony import parse_progression

        try:
            parse_progression(args.chords)
        except BadChordError as exc:
            raise BadChordError(f"--chords: {exc}") from None
    if args.backend == "tf":
        import_tensorflow_quietly()
    written = generate(run_dir, args.out, force=args.force, **settings_of(args, SamplingConfig, MusicConfig))
    for path in written:
        print(f"jazzlstm: wrote {path}")
    if args.wav:
        render_beside(written, args.force)
    return 0


def wav_beside(midi: Path) -> Path:
    """OUT.wav for OUT.mid (refusing a MIDI name that is itself the .wav)."""
    wav = Path(midi).with_suffix(".wav")
    if wav == Path(midi):
        raise JazzLSTMError(f"{midi}: --wav writes {wav} beside the MIDI file; give the MIDI file a .mid name")
    return wav


def render_beside(midi_files: Sequence[Path], force: bool) -> None:
    """``--wav``: render every MIDI file just written; the built-in synthesizer notice once."""
    from jazzlstm.music.audio import render_wav

    noticed = False
    for midi in midi_files:
        result = render_wav(midi, wav_beside(midi), force=force)
        if result.notice and not noticed:
            print(f"jazzlstm: note: {result.notice}", file=sys.stderr)
            noticed = True
        print(f"jazzlstm: wrote {result.path} ({result.describe()})")


def _generate_text(args: argparse.Namespace, run_dir: str, mode: str) -> int:
    from jazzlstm.api import generate_text, generate_tunes
    from jazzlstm.fileio import check_writable, numbered_paths
    from jazzlstm.generation.text import write_texts
    from jazzlstm.runs import load_run

    if args.out is not None and args.out_file is not None:
        raise UsageError(f"give one output: {args.out} or --out {args.out_file}")
    midi_out = args.out if mode == "abc" else None
    text_out = args.out_file if mode == "abc" else (args.out_file or args.out)
    if args.wav and midi_out is None:
        hint = " without OUT.mid (jazzlstm generate OUT.mid --run RUN --wav)" if mode == "abc" else ""
        raise JazzLSTMError(f"--wav: renders MIDI, and this {mode} run writes none{hint}")
    if text_out is not None:
        check_writable(text_out, args.force)
    if args.wav:
        for path in numbered_paths(midi_out, args.n, default_suffix=".mid"):
            check_writable(wav_beside(path), args.force)
    settings = settings_of(args, SamplingConfig, TextConfig)
    if args.backend == "tf":
        import_tensorflow_quietly()
    run = load_run(run_dir, backend=args.backend)
    if midi_out is not None:
        written = generate_tunes(run, midi_out, force=args.force, verbose=True, tempo=args.tempo, **settings)
        for path in written:
            print(f"jazzlstm: wrote {path} and {path.with_suffix('.abc')}")
        if args.wav:
            render_beside(written, args.force)
        return 0
    texts = generate_text(run, **settings)
    # Tunes span several lines: a blank line keeps them apart.
    written = write_texts(texts, text_out, force=args.force, separator="\n\n" if mode == "abc" else "\n")
    for path in written:
        print(f"jazzlstm: wrote {path}", file=sys.stderr)
    return 0


def run_render(args: argparse.Namespace) -> int:
    from jazzlstm.music.audio import render_wav

    result = render_wav(args.midi, args.wav, sample_rate=args.sample_rate, soundfont=args.soundfont,
                        force=args.force)
    if result.notice:
        print(f"jazzlstm: note: {result.notice}", file=sys.stderr)
    print(f"jazzlstm: wrote {result.path} ({result.describe()})")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from jazzlstm.plot import plot_history, plot_piano_roll

    if args.run is not None:
        if len(args.files) != 1:
            raise UsageError(f"plot --run {args.run}: give only the image to write, e.g. "
                             f"jazzlstm plot --run {args.run} history.png")
        if args.melody_track is not None:
            raise UsageError("--melody-track: for piano rolls of a file, not with --run")
        written = plot_history(args.run, args.files[0], force=args.force)
    else:
        if len(args.files) != 2:
            raise UsageError("plot: give IN.mid OUT.png (a piano roll) or --run RUN_DIR OUT.png (training curves)")
        written = plot_piano_roll(args.files[0], args.files[1], force=args.force, melody_track=args.melody_track)
    print(f"jazzlstm: wrote {written}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from jazzlstm.api import evaluate
    from jazzlstm.evaluate.report import check_settings
    from jazzlstm.fileio import refuse_existing
    from jazzlstm.runs import read_data_config

    refuse_existing(args.out, args.force)  # before anything is read
    run_dir = args.run or _default_run()
    data_config = read_data_config(run_dir)
    if data_config.is_text:
        raise JazzLSTMError(f"{run_dir}: a {data_config.mode} run; evaluate works on music runs")
    check_settings(EvaluateConfig(**settings_of(args, EvaluateConfig)), args.reference)
    import_tensorflow_quietly()
    report = evaluate(run_dir, args.reference, args.out, force=args.force, verbose=True,
                      **settings_of(args, EvaluateConfig))
    print(f"jazzlstm: wrote {args.out} ({evaluation_summary(report)})")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from jazzlstm.model.params import breakdown_lines
    from jazzlstm.runs import read_configs

    run_dir = args.run or _default_run()
    model, train, data, version = read_configs(run_dir)
    if model.n_values is None:
        raise JazzLSTMError(f"{run_dir}: config.json does not give the vocabulary size (n_values)")
    encoding = data.tokenizer_config().get("name", data.encoding)
    print(f"{run_dir}: a {data.mode} run of jazzlstm {version}, encoding {encoding}, "
          f"{model.n_values} tokens, {_stack(model)}, windows of {model.tx}; trained "
          f"{train.epochs} epochs (batch {train.batch_size}, lr {train.lr:g}, seed {train.seed})")
    print("\n".join(breakdown_lines(model.n_values, model.n_a, model.layers)))
    return 0


def _stack(model: ModelConfig) -> str:
    """"64 LSTM units", or "3 stacked LSTM layers of 512 units, dropout 0.5"."""
    stack = (f"{model.n_a} LSTM units" if model.layers == 1
             else f"{model.layers} stacked LSTM layers of {model.n_a} units")
    return stack + (f", dropout {model.dropout:g}" if model.dropout else "")


def evaluation_summary(report: dict) -> str:
    """One line of an evaluation report's headline figures."""
    def num(value: Any) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    likelihood, parts = report["likelihood"], []
    if "model" in likelihood:
        parts.append(f"model {num(likelihood['model']['bits_per_note'])} bits/note")
        unsaid = likelihood.get("unsaid_pitch_bits")
        if unsaid and unsaid["bits_per_note"]:
            parts.append(f"exact melody {num(likelihood['model']['exact_bits_per_note'])}")
    best = likelihood["baselines"].get("best_kneser_ney")
    if best:
        parts.append(f"Kneser-Ney (n={best['order']}) {num(best['bits_per_note'])}")
    parts.append(f"mean overlap {num(report['comparison']['generated_vs_reference']['mean_overlap_a'])}")
    memorization = report["memorization"]
    if memorization.get("available"):
        parts.append(f"copies over 2 bars {num(memorization['summary']['pieces_with_copy_over_2_bars'])}")
    return "; ".join(parts)


def _default_run() -> str:
    from jazzlstm.resources import pretrained_run_dir

    path = pretrained_run_dir()
    if not path.is_dir():
        raise JazzLSTMError(f"no --run given and the pretrained run is missing ({path})")
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow C++ notices; real failures still raise
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except JazzLSTMError as exc:
        print(f"jazzlstm: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("jazzlstm: interrupted", file=sys.stderr)
        return 130
