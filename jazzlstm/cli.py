"""Command-line interface: one subcommand -> one library call. TensorFlow is imported lazily.

Every user error (a JazzLSTMError) is printed as one line ``jazzlstm: error: ...`` with a
non-zero exit code; argparse reports bad flags with exit code 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from ._version import __version__
from .distribute import STRATEGIES
from .errors import JazzLSTMError, UsageError


def melody_track_arg(value: str) -> int | str:
    """``--melody-track``: a track index (as listed by ``inspect``) or a track name."""
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


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that reads a MIDI corpus."""
    parser.add_argument("--encoding", choices=("grammar", "notes"), default="grammar",
                        help="token encoding: jazz grammar (chord-relative) or plain notes (default: grammar)")
    parser.add_argument("--melody-track", type=melody_track_arg, default=None, metavar="INDEX|NAME",
                        help="use this track as the melody instead of the automatic choice")
    parser.add_argument("--transpose", default="none", metavar="none|key|N",
                        help="notes encoding: transpose to C major/A minor ('key') or by N semitones")
    parser.add_argument("--workers", type=positive_int, default=None, help="reader processes (default: one per core)")
    parser.add_argument("--no-cache", action="store_true", help="re-read every file instead of using the cache")


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
    source.add_argument("--abc", metavar="DIR", nargs="?", const="", default=None,
                        help="train a character model on ABC tunes: .abc files under DIR, or without DIR "
                             "the ~1,000 fiddle tunes in music21's corpus")
    layout = train.add_mutually_exclusive_group()
    layout.add_argument("--lines", dest="layout", action="store_const", const="lines",
                        help="--text: every line is one sample ending in a newline (names, titles)")
    layout.add_argument("--stream", dest="layout", action="store_const", const="stream",
                        help="--text: running text in consecutive windows, state carried over (the default)")
    add_corpus_options(train)
    train.add_argument("--out", default="jazzlstm-run", metavar="RUN_DIR", help="run folder to write (default: %(default)s)")
    train.add_argument("--epochs", type=positive_int, default=40, help="training epochs (default: %(default)s)")
    train.add_argument("--batch-size", type=positive_int, default=32,
                       help="global batch size; for running text, the number of parallel streams (default: %(default)s)")
    train.add_argument("--n-a", type=positive_int, default=64, help="LSTM units (default: %(default)s)")
    train.add_argument("--tx", type=positive_int, default=None,
                       help="tokens per training window (default: 30 for music, 64 for running text and ABC, "
                            "the longest line for --lines)")
    train.add_argument("--stride", type=positive_int, default=1,
                       help="music: tokens between window starts (default: %(default)s)")
    train.add_argument("--lr", type=positive_float, default=0.01, help="Adam learning rate (default: %(default)s)")
    train.add_argument("--clipnorm", type=non_negative_float, default=1.0,
                       help="gradient clipping norm, 0 for none (default: %(default)s)")
    train.add_argument("--val-split", type=fraction, default=0.1,
                       help="share held out for validation: files (music), lines, or the end of the text "
                            "(default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    train.add_argument("--strategy", choices=STRATEGIES, default="auto",
                       help="tf.distribute strategy: auto picks a TPU, a TF_CONFIG cluster, several GPUs "
                            "(mirrored), one GPU or the CPU, in that order (default: %(default)s)")
    train.add_argument("--mixed-precision", action="store_true",
                       help="compute the LSTM in float16 (GPU) or bfloat16 (TPU, CPU); the softmax stays float32")
    train.add_argument("--xla", action="store_true", help="compile training steps with XLA")
    train.add_argument("--force", action="store_true",
                       help="overwrite an existing run folder (and discard another job's interrupted training)")
    train.add_argument("--quiet", action="store_true", help="one line per epoch instead of progress bars")
    train.set_defaults(handler=run_train)

    generate = commands.add_parser("generate", help="generate music or text from a trained run",
                                   description="Music runs: improvise a melody over a chord progression and "
                                               "write MIDI (melody, comping chords and bass). Text runs: print "
                                               "samples. ABC runs: write tunes as MIDI (and .abc), or print them.")
    generate.add_argument("out", metavar="OUT", nargs="?", default=None,
                          help="file to write: MIDI for music and ABC runs (numbered with -n), text for text runs")
    generate.add_argument("--run", default=None, metavar="RUN_DIR",
                          help="run folder (default: the pretrained music run shipped with jazzlstm)")
    generate.add_argument("-n", "--num-outputs", type=positive_int, default=1, help="how many pieces or samples "
                          "(default: %(default)s)")
    generate.add_argument("--temperature", type=positive_float, default=1.0, help="sampling temperature (default: %(default)s)")
    generate.add_argument("--top-k", type=positive_int, default=None,
                          help="sample among the k most likely tokens (a k above the vocabulary size: all)")
    generate.add_argument("--greedy", action="store_true", help="always take the most likely token")
    generate.add_argument("--seed", type=int, default=0, help="random seed: same seed, same output (default: %(default)s)")
    generate.add_argument("--tempo", type=positive_float, default=120.0, help="tempo in BPM (default: %(default)s)")
    generate.add_argument("--force", action="store_true", help="overwrite existing output files")
    generate.add_argument("--wav", action="store_true",
                          help="music and ABC runs: also render each MIDI file as audio, OUT.wav beside "
                               "OUT.mid (as jazzlstm render does)")
    music = generate.add_argument_group("music runs")
    music.add_argument("--bars", type=positive_int, default=MUSIC_FLAGS["bars"], help="bars to generate (default: %(default)s)")
    music.add_argument("--chords", default=None, metavar='"Dm7 G7 Cmaj7 Cmaj7"',
                       help="chord progression, one chord per bar, cycled to fill --bars")
    music.add_argument("--chords-from", default=None, metavar="FILE", help="take the chords of a MIDI/MusicXML file")
    music.add_argument("--primer", default=None, metavar="FILE.mid", help="continue the melody of this file")
    text = generate.add_argument_group("text and ABC runs")
    text.add_argument("--length", type=positive_int, default=None,
                      help="characters per sample, at most (default: 200; ABC tunes: 1000); samples of a "
                           "--lines or ABC run stop at their end token")
    text.add_argument("--prime", default=None, metavar="TEXT", help="start every sample with this text")
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
    plot.add_argument("--melody-track", type=melody_track_arg, default=None, metavar="INDEX|NAME",
                      help="use this track as the melody instead of the automatic choice")
    plot.add_argument("--force", action="store_true", help="overwrite an existing image")
    plot.set_defaults(handler=run_plot)
    return parser


def sample_rate_arg(value: str) -> int:
    """``--sample-rate``: a whole number of Hz in the range FluidSynth accepts."""
    from .render import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

    rate = positive_int(value)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise argparse.ArgumentTypeError(f"must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE}, got {rate}")
    return rate


def corpus_from_args(args: argparse.Namespace, path: str | Path):
    from .corpus import load_corpus

    return load_corpus(path, encoding=args.encoding, melody_track=args.melody_track, transpose=args.transpose,
                       workers=args.workers, cache=not args.no_cache, progress=sys.stderr.isatty())


def run_inspect(args: argparse.Namespace) -> int:
    from .inspect_report import corpus_report

    corpus = corpus_from_args(args, args.midi)
    print(corpus_report(corpus, show_tokens=max(0, args.tokens)))
    return 0


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with the C++ start-up log (CUDA probing, oneDNN notes) hidden.

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

            from .distribute import configure_threads

            configure_threads()  # before the runtime starts
            if not os.environ.get("TF_CONFIG"):
                # Device probing logs happen here; in a cluster the runtime must not start
                # before the multi-worker strategy configures it.
                tensorflow.config.list_logical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def run_train(args: argparse.Namespace) -> int:
    from .api import train, train_abc, train_text
    from .resources import bundled_samples_dir

    from .fileio import refuse_existing

    refuse_existing(args.out, args.force)  # before any data is read
    if args.layout and args.text is None:
        raise JazzLSTMError(f"--{args.layout} applies to --text only")
    common = dict(out=args.out, epochs=args.epochs, batch_size=args.batch_size, n_a=args.n_a, tx=args.tx,
                  lr=args.lr, clipnorm=args.clipnorm or None, val_split=args.val_split, seed=args.seed,
                  force=args.force, verbose=2 if args.quiet else 1, strategy=args.strategy,
                  mixed_precision=args.mixed_precision, xla=args.xla)
    if args.text is not None:
        import_tensorflow_quietly()
        run = train_text(args.text, layout=args.layout or "stream", **common)
    elif args.abc is not None:
        import_tensorflow_quietly()
        run = train_abc([args.abc] if args.abc else None, **common)
    else:
        # The corpus is read before TensorFlow is imported, so the reader pool can fork.
        corpus = corpus_from_args(args, args.midi or str(bundled_samples_dir()))
        import_tensorflow_quietly()
        run = train(corpus=corpus, stride=args.stride, **{**common, "tx": args.tx or 30})
    best = run.history.get("best_epoch", 0)
    monitor = run.history.get("monitor", "loss")
    value = run.history.get(monitor, [float("nan")])[best - 1] if best else float("nan")
    weights = run.history.get("final_weights", "?")
    if run.path is None:  # a worker of a cluster: the chief writes the run folder
        print(f"jazzlstm: worker done (weights {weights}); the chief writes {args.out}")
    else:
        print(f"jazzlstm: wrote {args.out} (best epoch {best}, {monitor} {value:.3f}; final weights {weights})")
    return 0


MUSIC_FLAGS = {"bars": 8, "chords": None, "chords_from": None, "primer": None}
TEXT_FLAGS = {"length": None, "prime": None, "out_file": None}


def run_generate(args: argparse.Namespace) -> int:
    from .runs import read_data_config

    run_dir = args.run or _default_run()
    data_config = read_data_config(run_dir)  # the mode decides the outputs; no TensorFlow yet
    if data_config.is_text:
        _refuse(args, MUSIC_FLAGS, f"{run_dir} is a {data_config.mode} run")
        return _generate_text(args, run_dir, data_config.mode)
    _refuse(args, TEXT_FLAGS, f"{run_dir} is a music run")
    return _generate_music(args, run_dir)


def _refuse(args: argparse.Namespace, flags: dict, why: str) -> None:
    """One clear error for flags that belong to the other kind of run."""
    given = [f"--{name.replace('_', '-')}" if name != "out_file" else "--out"
             for name, default in flags.items() if getattr(args, name) != default]
    if given:
        raise JazzLSTMError(f"{', '.join(given)}: not for this run ({why})")


def _generate_music(args: argparse.Namespace, run_dir: str) -> int:
    from .api import generate
    from .fileio import check_writable, numbered_paths

    if args.out is None:
        raise JazzLSTMError("generate: give the MIDI file to write, e.g. jazzlstm generate solo.mid")
    for path in numbered_paths(args.out, args.num_outputs, default_suffix=".mid"):  # before loading
        check_writable(path, args.force)
        if args.wav:
            check_writable(wav_beside(path), args.force)
    if args.chords:
        from .errors import BadChordError
        from .harmony import parse_progression

        try:
            parse_progression(args.chords)
        except BadChordError as exc:
            raise BadChordError(f"--chords: {exc}") from None
    import_tensorflow_quietly()
    written = generate(run_dir, args.out, bars=args.bars, chords=args.chords,
                       chords_from=args.chords_from, temperature=args.temperature, top_k=args.top_k,
                       greedy=args.greedy, seed=args.seed, tempo=args.tempo, primer=args.primer,
                       num_outputs=args.num_outputs, force=args.force)
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
    from .render import render_wav

    noticed = False
    for midi in midi_files:
        result = render_wav(midi, wav_beside(midi), force=force)
        if result.notice and not noticed:
            print(f"jazzlstm: note: {result.notice}", file=sys.stderr)
            noticed = True
        print(f"jazzlstm: wrote {result.path} ({result.describe()})")


def _generate_text(args: argparse.Namespace, run_dir: str, mode: str) -> int:
    from .fileio import check_writable, numbered_paths
    from .runs import load_run
    from .textgen import TextOptions, render_tunes, sample_texts, write_texts

    options = TextOptions(n=args.num_outputs, length=args.length, prime=args.prime, temperature=args.temperature,
                          top_k=args.top_k, greedy=args.greedy, seed=args.seed)
    if args.out is not None and args.out_file is not None:
        raise JazzLSTMError(f"give one output: {args.out} or --out {args.out_file}")
    midi_out = args.out if mode == "abc" else None
    text_out = args.out_file if mode == "abc" else (args.out_file or args.out)
    if args.wav and midi_out is None:
        hint = " without OUT.mid (jazzlstm generate OUT.mid --run RUN --wav)" if mode == "abc" else ""
        raise JazzLSTMError(f"--wav: renders MIDI, and this {mode} run writes none{hint}")
    if text_out is not None:
        check_writable(text_out, args.force)
    if args.wav:
        for path in numbered_paths(midi_out, args.num_outputs, default_suffix=".mid"):
            check_writable(wav_beside(path), args.force)
    import_tensorflow_quietly()
    run = load_run(run_dir)
    if midi_out is not None:
        written, rejected = render_tunes(run, options, midi_out, force=args.force, tempo=args.tempo)
        if rejected:
            print(f"jazzlstm: {len(rejected)} generated tune(s) did not parse and were sampled again "
                  f"({'; '.join(dict.fromkeys(rejected))[:300]})", file=sys.stderr)
        for path in written:
            print(f"jazzlstm: wrote {path} and {path.with_suffix('.abc')}")
        if args.wav:
            render_beside(written, args.force)
        return 0
    texts = sample_texts(run, options)
    # Tunes span several lines: a blank line keeps them apart.
    written = write_texts(texts, text_out, force=args.force, separator="\n\n" if mode == "abc" else "\n")
    for path in written:
        print(f"jazzlstm: wrote {path}", file=sys.stderr)
    return 0


def run_render(args: argparse.Namespace) -> int:
    from .render import render_wav

    result = render_wav(args.midi, args.wav, sample_rate=args.sample_rate, soundfont=args.soundfont,
                        force=args.force)
    if result.notice:
        print(f"jazzlstm: note: {result.notice}", file=sys.stderr)
    print(f"jazzlstm: wrote {result.path} ({result.describe()})")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from .plot import plot_history, plot_piano_roll

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


def _default_run() -> str:
    from .resources import pretrained_run_dir

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
