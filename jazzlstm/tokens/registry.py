"""The one place encodings are looked up by name: run folders, the corpus and the CLI ask here."""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping

from jazzlstm.errors import JazzLSTMError
from jazzlstm.tokens.base import MusicTokenizer, Tokenizer
from jazzlstm.tokens.chars import CharTokenizer
from jazzlstm.tokens.degree_events import DegreeEventTokenizer
from jazzlstm.tokens.grammar import GrammarTokenizer
from jazzlstm.tokens.grammar_events import GrammarEventTokenizer
from jazzlstm.tokens.note_events import NoteEventTokenizer
from jazzlstm.tokens.notes import NoteTokenizer

TOKENIZERS: dict[str, type[Tokenizer]] = {cls.name: cls for cls in (GrammarTokenizer, GrammarEventTokenizer, NoteTokenizer,
                                                                  NoteEventTokenizer, DegreeEventTokenizer,
                                                                  CharTokenizer)}


def music_tokenizer_names() -> tuple[str, ...]:
    """Encodings a music corpus can be read with."""
    return tuple(name for name, cls in TOKENIZERS.items() if issubclass(cls, MusicTokenizer))


def tokenizer_from_config(config: Mapping[str, Any], where: str = "config") -> Tokenizer:
    """Rebuild a tokenizer from :meth:`Tokenizer.config` (a run's or the cache's).

    A config of a newer version than this jazzlstm knows is refused with one line naming it."""
    name = config.get("name")
    cls = TOKENIZERS.get(str(name))
    if cls is None:
        raise JazzLSTMError(f"{where}: unknown encoding {name!r} (this jazzlstm knows {', '.join(TOKENIZERS)})")
    version = int(config.get("version", 1))
    if version > cls.version:
        raise JazzLSTMError(f"{where}: encoding {name} version {version} is newer than this jazzlstm's "
                            f"(version {cls.version}); upgrade jazzlstm to use it")
    options = {k: (tuple(v) if isinstance(v, list) else v) for k, v in config.items() if k not in ("name", "version")}
    try:
        return cls(**options)
    except TypeError as exc:
        raise JazzLSTMError(f"{where}: bad options for encoding {name} ({exc})") from None


def make_tokenizer(name: str, **options: Any) -> Tokenizer:
    """A tokenizer by encoding name, with its options (e.g. ``transpose`` for notes)."""
    return tokenizer_from_config({"name": name, **options}, where="encoding")


def own_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``options`` the encoding ``name`` takes (reading settings carry options of every
    encoding, e.g. ``transpose`` for notes; each tokenizer keeps its own)."""
    cls = TOKENIZERS.get(name)
    own = {f.name for f in fields(cls)} if cls is not None else set()
    return {key: value for key, value in options.items() if key in own}
