"""Command-line interface: one subcommand -> one library call. TensorFlow is imported lazily.

Every user error (a JazzLSTMError) is printed as one line ``jazzlstm: error: ...`` with a
non-zero exit code; argparse reports bad flags with exit code 2.
"""
from __future__ import annotations

import argparse
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


def main(argv: Sequence[str] | None = None) -> int:
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
