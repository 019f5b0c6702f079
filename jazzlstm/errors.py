"""Exceptions that carry a one-line message meant for the user.

The CLI prints ``jazzlstm: error: <message>`` for any :class:`JazzLSTMError` and exits
non-zero; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

from pathlib import Path


class JazzLSTMError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""

    exit_code = 1


class InputFileError(JazzLSTMError):
    """One input file cannot be used (not MIDI, corrupt, empty, drums only, no melody...)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UsageError(JazzLSTMError):
    """Arguments that do not fit together (argparse's own exit code for usage errors)."""

    exit_code = 2


class NoUsableFilesError(JazzLSTMError):
    """A corpus folder produced no usable file at all."""

    exit_code = 2


class ConfigError(JazzLSTMError, ValueError):
    """A setting with a value it cannot take (see :mod:`jazzlstm.config`); exit code 2 like a bad flag."""

    exit_code = 2


class EncodingError(JazzLSTMError, ValueError):
    """A piece an encoding cannot represent (no chords for the grammar, pitches out of range)."""


class BadChordError(JazzLSTMError, ValueError):
    """A chord name that cannot be parsed."""


class UnknownTokenError(JazzLSTMError, KeyError):
    """Tokens that are not in a vocabulary."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class OutputExistsError(JazzLSTMError):
    """Refusing to overwrite a file the user made without ``--force``."""
