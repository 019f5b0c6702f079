"""The largest corpus that ships offline: music from music21's corpus, written as MIDI files.

Nothing is downloaded: music21 installs its corpus with it. Used by the pretrained run's
``rebuild.py`` and by ``benchmarks/bench_quality.py``:

* Bach chorales (music21's ``.mxl`` files, exported by music21): soprano melody over the
  harmony of the lower voices, which jazzlstm recognizes as chords when reading them;
* fiddle tunes of Ryan's Mammoth Collection (ABC, parsed by :mod:`jazzlstm.music.abc`): melody
  with its chord symbols, or chords inferred from the melody, written with comping and bass;
* the lead sheets (melody and chord symbols) and Joplin's rag, read by jazzlstm and written
  the same way.

Files are named by collection (``bach_*``, ``tune_*``, ``leadsheet_*``, ``joplin_*``) in a
fixed order, so a corpus built twice is the same corpus.
"""
from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Callable

from jazzlstm.errors import JazzLSTMError

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


def export_chorales(folder: Path, count: int | None = None, log: Log = _quiet) -> int:
    """The first ``count`` (default: all) Bach chorales of music21's corpus, by file name, as MIDI."""
    from music21 import corpus

    paths = sorted((p for p in corpus.getComposer("bach") if Path(p).suffix == ".mxl"), key=lambda p: Path(p).name)
    written = 0
    for path in paths:
        if count is not None and written >= count:
            break
        try:
            corpus.parse(path).write("midi", fp=str(folder / f"bach_{Path(path).stem.replace('.', '_')}.mid"))
            written += 1
        except Exception as exc:  # music21 raises many kinds; a piece it cannot export is skipped, and said
            log(f"skipped {Path(path).name}: music21 cannot export it ({exc.__class__.__name__})")
        if written and written % 50 == 0:
            log(f"{written} chorales written")
    return written


def export_tunes(folder: Path, count: int | None = None, log: Log = _quiet) -> int:
    """The first ``count`` (default: all) fiddle tunes that parse, as MIDI (melody, chords, bass)."""
    from jazzlstm.music.abc import load_tunes, tune_to_score
    from jazzlstm.music.midi import write_midi

    tunes, _ = load_tunes()
    written = skipped = 0
    for i, tune in enumerate(tunes):
        if count is not None and written >= count:
            break
        try:
            write_midi(tune_to_score(tune, f"tune {i}"), folder / f"tune_{i:04d}.mid")
            written += 1
        except JazzLSTMError:
            skipped += 1
    if skipped:
        log(f"{skipped} tune(s) skipped: no melody jazzlstm can write")
    return written


def export_scores(folder: Path, match: str, prefix: str, log: Log = _quiet) -> int:
    """music21 corpus MusicXML files whose path contains ``match``, read by jazzlstm (melody and
    chord symbols or recognized chords) and written as MIDI named ``prefix`` + their stem."""
    from music21 import corpus

    from jazzlstm.music.midi import write_midi
    from jazzlstm.music.musicxml import read_musicxml

    written = 0
    for path in sorted(str(p) for p in corpus.getPaths() if match in str(p)):
        try:
            write_midi(read_musicxml(path), folder / f"{prefix}{Path(path).stem}.mid")
            written += 1
        except JazzLSTMError as exc:
            log(f"skipped {Path(path).name}: {exc}")
    return written


def export_corpus(folder: str | Path, chorales: int | None = None, tunes: int | None = None,
                  log: Log = _quiet) -> dict[str, int]:
    """Write the whole offline corpus (or ``chorales`` / ``tunes`` of each) into ``folder``;
    returns the files written per collection."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"chorales": export_chorales(folder, chorales, log), "tunes": export_tunes(folder, tunes, log),
              "lead_sheets": export_scores(folder, "leadSheet", "leadsheet_", log),
              "joplin": export_scores(folder, "joplin", "joplin_", log)}
    log(", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items()) + f" written to {folder}")
    return counts


def hold_out_files(source: Path, train: Path, heldout: Path, share: float, seed: int) -> tuple[int, int]:
    """Move whole MIDI files out of ``source``: ``share`` of them (at least one, chosen by
    ``seed``) to ``heldout``, the rest to ``train`` (both made afresh); returns (train, held out)."""
    files = sorted(Path(source).glob("*.mid"))
    random.Random(seed).shuffle(files)
    cut = max(1, round(len(files) * share))
    for target, chosen in ((heldout, files[:cut]), (train, files[cut:])):
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for path in chosen:
            shutil.move(str(path), target / path.name)
    return len(files) - cut, cut
