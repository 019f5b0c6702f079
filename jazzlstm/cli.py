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
from .errors import JazzLSTMError


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
                                            "bundled samples) and write a run folder.")
    train.add_argument("--midi", metavar="PATH", default=None,
                       help="a MIDI/MusicXML file or folder (default: the bundled midi_samples)")
    add_corpus_options(train)
    train.add_argument("--out", default="jazzlstm-run", metavar="RUN_DIR", help="run folder to write (default: %(default)s)")
    train.add_argument("--epochs", type=positive_int, default=40, help="training epochs (default: %(default)s)")
    train.add_argument("--batch-size", type=positive_int, default=32, help="global batch size (default: %(default)s)")
    train.add_argument("--n-a", type=positive_int, default=64, help="LSTM units (default: %(default)s)")
    train.add_argument("--tx", type=positive_int, default=30, help="tokens per training window (default: %(default)s)")
    train.add_argument("--stride", type=positive_int, default=1, help="tokens between window starts (default: %(default)s)")
    train.add_argument("--lr", type=positive_float, default=0.01, help="Adam learning rate (default: %(default)s)")
    train.add_argument("--clipnorm", type=non_negative_float, default=1.0,
                       help="gradient clipping norm, 0 for none (default: %(default)s)")
    train.add_argument("--val-split", type=fraction, default=0.1,
                       help="share of files held out for validation (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    train.add_argument("--force", action="store_true", help="overwrite an existing run folder")
    train.add_argument("--quiet", action="store_true", help="one line per epoch instead of progress bars")
    train.set_defaults(handler=run_train)

    generate = commands.add_parser("generate", help="generate music from a trained run",
                                   description="Improvise a melody over a chord progression and write MIDI "
                                               "(melody, comping chords and bass).")
    generate.add_argument("out", metavar="OUT.mid", help="MIDI file to write (numbered with --num-outputs)")
    generate.add_argument("--run", default=None, metavar="RUN_DIR",
                          help="run folder (default: the pretrained run shipped with jazzlstm)")
    generate.add_argument("--bars", type=positive_int, default=8, help="bars to generate (default: %(default)s)")
    generate.add_argument("--chords", default=None, metavar='"Dm7 G7 Cmaj7 Cmaj7"',
                          help="chord progression, one chord per bar, cycled to fill --bars")
    generate.add_argument("--chords-from", default=None, metavar="FILE", help="take the chords of a MIDI/MusicXML file")
    generate.add_argument("--temperature", type=positive_float, default=1.0, help="sampling temperature (default: %(default)s)")
    generate.add_argument("--top-k", type=positive_int, default=None, help="sample among the k most likely tokens (a k above the vocabulary size: all)")
    generate.add_argument("--greedy", action="store_true", help="always take the most likely token")
    generate.add_argument("--seed", type=int, default=0, help="random seed: same seed, same file (default: %(default)s)")
    generate.add_argument("--tempo", type=positive_float, default=120.0, help="tempo in BPM (default: %(default)s)")
    generate.add_argument("--primer", default=None, metavar="FILE.mid", help="continue the melody of this file")
    generate.add_argument("--num-outputs", type=positive_int, default=1, help="files to write (default: %(default)s)")
    generate.add_argument("--force", action="store_true", help="overwrite existing output files")
    generate.set_defaults(handler=run_generate)
    return parser


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
            tensorflow.config.list_logical_devices()  # device probing logs happen here
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def run_train(args: argparse.Namespace) -> int:
    from .api import train
    from .resources import bundled_samples_dir

    source = args.midi or str(bundled_samples_dir())
    _check_out_folder(args.out, args.force)  # before the corpus is read
    # The corpus is read before TensorFlow is imported, so the reader pool can fork.
    corpus = corpus_from_args(args, source)
    import_tensorflow_quietly()
    run = train(corpus=corpus, out=args.out, epochs=args.epochs, batch_size=args.batch_size, n_a=args.n_a,
                tx=args.tx, stride=args.stride, lr=args.lr, clipnorm=args.clipnorm or None,
                val_split=args.val_split, seed=args.seed, force=args.force, verbose=2 if args.quiet else 1)
    best = run.history.get("best_epoch", 0)
    monitor = run.history.get("monitor", "loss")
    value = run.history.get(monitor, [float("nan")])[best - 1] if best else float("nan")
    print(f"jazzlstm: wrote {args.out} (best epoch {best}, {monitor} {value:.3f})")
    return 0


def _check_out_folder(out: str, force: bool) -> None:
    from .errors import OutputExistsError

    if Path(out).exists() and not force:
        raise OutputExistsError(f"{out}: already exists (use --force to overwrite)")


def run_generate(args: argparse.Namespace) -> int:
    from .api import generate
    from .fileio import check_writable
    from .generate import output_paths

    for path in output_paths(args.out, args.num_outputs):  # fail before the model loads
        check_writable(path, args.force)
    if args.chords:
        from .errors import BadChordError
        from .harmony import parse_progression

        try:
            parse_progression(args.chords)
        except BadChordError as exc:
            raise BadChordError(f"--chords: {exc}") from None
    import_tensorflow_quietly()
    written = generate(args.run or _default_run(), args.out, bars=args.bars, chords=args.chords,
                       chords_from=args.chords_from, temperature=args.temperature, top_k=args.top_k,
                       greedy=args.greedy, seed=args.seed, tempo=args.tempo, primer=args.primer,
                       num_outputs=args.num_outputs, force=args.force)
    for path in written:
        print(f"jazzlstm: wrote {path}")
    return 0


def _default_run() -> str:
    from .errors import JazzLSTMError
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
