"""ABC tunes: finding them, cleaning them for a character model, and reading them as music.

By default the tunes are the fiddle tunes of Ryan's Mammoth Collection that ship inside
music21's corpus (about 1,000, one per file), so ``jazzlstm train --abc`` needs no download.

Cleaning keeps what a tune needs to be played and little else, one tune per sample:
the ``M:`` (meter), ``L:`` (unit note length) and ``K:`` (key, which ends the header) fields,
then the body. Dropped: the other header fields (index, title, composer, source, notes...),
comments, lyrics, and quoted annotations that are not chord names (fingerings such as
``"4"``, text such as ``"^SEGUE"``); chord names such as ``"G"`` or ``"Am7"`` stay.
Reading a tune back (:func:`tune_to_score`) goes through music21's ABC parser.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from jazzlstm.errors import BadChordError, InputFileError, JazzLSTMError, NoUsableFilesError
from jazzlstm.music.harmony import parse_chord
from jazzlstm.music.score import Score

ABC_SUFFIXES = (".abc",)
KEPT_FIELDS = ("M", "L", "K")
DEFAULT_COLLECTION = "ryansMammoth"
_FIELD_RE = re.compile(r"^([A-Za-z]):(.*)$")
_QUOTED_RE = re.compile(r'"([^"\n]*)"')
_NOTE_LETTERS = frozenset("ABCDEFGabcdefg")


def default_abc_files() -> list[Path]:
    """The ABC files of music21's bundled fiddle-tune collection, sorted."""
    from music21 import corpus

    paths = [Path(p) for p in corpus.getPaths(fileExtensions=("abc",))]
    return sorted(p for p in paths if DEFAULT_COLLECTION in p.parts)


def split_tunes(text: str) -> list[str]:
    """The tunes of an ABC file, each starting at its ``X:`` line."""
    tunes, current = [], None
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("X:"):
            if current:
                tunes.append("\n".join(current))
            current = [line]
        elif current is not None:
            current.append(line)
    if current:
        tunes.append("\n".join(current))
    return tunes


def clean_tune(raw: str) -> str | None:
    """The playable core of one tune (see the module docstring); None if it has no key or body."""
    header: list[str] = []
    body: list[str] = []
    for line in raw.split("\n"):
        line = line.split("%")[0].rstrip()  # comments run to the end of the line
        if not line.strip():
            continue
        match = _FIELD_RE.match(line)
        # In the body a line such as "e:|" is music, not a field: note letters never start one.
        if match and not (body and match.group(1) in _NOTE_LETTERS):
            field = match.group(1)
            if field in KEPT_FIELDS:
                (body if body or (header and header[-1].startswith("K:")) else header).append(
                    f"{field}:{match.group(2).strip()}")
            continue  # other fields: dropped (titles, lyrics w:, notes...)
        if not header or not header[-1].startswith("K:") and not body:
            continue  # text before the key line
        cleaned = _QUOTED_RE.sub(lambda m: m.group(0) if _is_chord_name(m.group(1)) else "", line)
        if cleaned.strip():
            body.append(cleaned)
    if not body:
        return None
    return "\n".join(header + body)


def _is_chord_name(text: str) -> bool:
    try:
        parse_chord(text)
    except BadChordError:
        return False
    return True


def abc_files(source: str | Path) -> list[Path]:
    """``source`` itself if it is a file, else every .abc file under it (sorted)."""
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise JazzLSTMError(f"{source}: no such file or folder")
    return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in ABC_SUFFIXES)


def load_tunes(sources: Iterable[str | Path] | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """Cleaned tunes from ABC files or folders (default: music21's fiddle tunes).

    Returns (tunes, skipped) where skipped lists (file, reason) for files without a usable
    tune; a tune without a key line or a body inside a usable file is skipped quietly only
    when the file has other tunes, and counted in the reason otherwise.
    """
    files = default_abc_files() if sources is None else [f for s in sources for f in abc_files(s)]
    if not files:
        where = "music21's corpus" if sources is None else ", ".join(str(s) for s in sources)
        raise NoUsableFilesError(f"{where}: no .abc files found")
    tunes: list[str] = []
    skipped: list[tuple[str, str]] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            skipped.append((str(path), f"cannot read ({exc.strerror or exc})"))
            continue
        raw = split_tunes(text)
        cleaned = [t for t in (clean_tune(r) for r in raw) if t]
        if not cleaned:
            reason = "no X: tune header" if not raw else f"none of its {len(raw)} tune(s) has a K: line and notes"
            skipped.append((str(path), reason))
        tunes += cleaned
    if not tunes:
        raise NoUsableFilesError(f"no usable ABC tune in {len(files)} file(s) "
                                 f"({'; '.join(f'{Path(p).name}: {r}' for p, r in skipped[:3])})")
    return tunes, skipped


def tune_to_score(tune: str, name: str = "generated tune") -> Score:
    """Parse one ABC tune with music21 into a Score (melody, chord symbols or inferred chords).

    Raises :class:`InputFileError` naming ``name`` when it is not an ABC tune (ABC 2.1: a
    header that ends with a ``K:`` field), music21 cannot parse it, or it has no notes. A
    missing ``L:`` gets the standard's default (see :func:`with_default_unit_length`).
    """
    from music21 import converter

    from jazzlstm.music.musicxml import score_from_music21

    if not any(line.startswith("K:") for line in tune.split("\n")):
        raise InputFileError(name, "not an ABC tune: no K: field (a tune's header ends with its key)")
    text = with_default_unit_length(tune if tune.lstrip().startswith("X:") else f"X:1\n{tune}")
    try:
        parsed = converter.parse(text, format="abc")
    except Exception as exc:  # music21's ABC parser raises many types
        detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputFileError(name, f"not parsable ABC ({detail[:120]})") from None
    try:
        return score_from_music21(parsed, name, source_format="abc")
    except InputFileError:
        raise
    except Exception as exc:  # odd structures music21 accepted but cannot flatten
        raise InputFileError(name, f"not usable as music ({exc.__class__.__name__}: {str(exc)[:120]})") from None


def with_default_unit_length(tune: str) -> str:
    """``tune`` with an ``L:`` line after ``X:`` when its header has none.

    ABC 2.1 (section 3.1.7) defines the unit note length a tune without ``L:`` gets: 1/16
    when the meter is below 3/4, else 1/8 (also with no ``M:`` or ``M:none``). music21's
    parser refuses such tunes instead, and generated tunes do leave ``L:`` out.
    """
    lines = tune.split("\n")
    header_end = next((i for i, line in enumerate(lines) if line.startswith("K:")), len(lines))
    fields = {m.group(1): m.group(2).strip() for line in lines[:header_end] if (m := _FIELD_RE.match(line))}
    if "L" in fields:
        return tune
    unit = "1/16" if _meter_value(fields.get("M", "")) < 0.75 else "1/8"
    at = 1 if lines and lines[0].startswith("X:") else 0
    return "\n".join([*lines[:at], f"L:{unit}", *lines[at:]])


def _meter_value(meter: str) -> float:
    """M:6/8 -> 0.75; C -> 1.0; C| -> 1.0; none or unreadable -> 1.0 (the 1/8 default)."""
    if meter in ("C", "C|"):
        return 1.0
    match = re.fullmatch(r"\(?([\d+]+)\)?\s*/\s*(\d+)", meter)
    if not match:
        return 1.0
    numerator = sum(int(n) for n in match.group(1).split("+") if n)
    return numerator / int(match.group(2)) if int(match.group(2)) else 1.0
