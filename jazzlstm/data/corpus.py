"""A folder of MIDI / MusicXML files -> encoded pieces, with a cache, workers and a skip report.

``load_corpus`` finds files recursively, reads each one in a worker pool (a progress bar on
stderr), encodes it with the chosen encoding and caches the result on disk under a key made
of the file's content hash and the encoding settings, so a second run reads JSON instead of
parsing MIDI. Files that cannot be used are skipped with their reason; the summary lists
them. A folder with no usable file raises :class:`NoUsableFilesError` (CLI exit code 2).
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from jazzlstm.config import CorpusConfig, split_settings
from jazzlstm.errors import InputFileError, JazzLSTMError, NoUsableFilesError
from jazzlstm.fileio import write_json_atomic
from jazzlstm.music.musicxml import MUSICXML_SUFFIXES
from jazzlstm.music.reading import SUPPORTED_SUFFIXES, read_score
from jazzlstm.music.score import Chord, Score, score_from_dict, score_to_dict
from jazzlstm.tokens.base import MusicTokenizer
from jazzlstm.tokens.grammar import GrammarTokenizer
from jazzlstm.tokens.registry import make_tokenizer, own_options
from jazzlstm.tokens.vocab import Vocabulary

CACHE_VERSION = 3
"""Bump when reading changes meaning, so stale cache entries are not reused (a tokenizer's
own version is part of the key already)."""


@dataclass(frozen=True)
class EncodingSettings:
    """Everything that changes a file's encoded result (and so its cache key): the tokenizer
    and which track is the melody."""

    tokenizer: MusicTokenizer = field(default_factory=GrammarTokenizer)
    melody_track: int | str | None = None

    @classmethod
    def from_config(cls, config: CorpusConfig) -> "EncodingSettings":
        options = own_options(config.encoding, {"transpose": config.transpose, "augment": config.augment})
        return cls(make_tokenizer(config.encoding, **options), config.melody_track)

    @property
    def encoding(self) -> str:
        return self.tokenizer.name

    def cache_key(self) -> str:
        blob = json.dumps({"tokenizer": self.tokenizer.config(), "melody_track": self.melody_track,
                           "version": CACHE_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Piece:
    """One usable file: its Score and its token sequence(s) (more than one with augmentation)."""

    path: str
    score: Score
    sequences: list[list[str]]

    @property
    def tokens(self) -> list[str]:
        return self.sequences[0]


@dataclass
class Corpus:
    """The result of :func:`load_corpus`."""

    pieces: list[Piece]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    settings: EncodingSettings = field(default_factory=EncodingSettings)
    config: CorpusConfig = field(default_factory=CorpusConfig)
    cache_hits: int = 0
    sources: tuple[str, ...] = ()    # the files and folders it was read from

    @property
    def sequences(self) -> list[list[str]]:
        return [seq for piece in self.pieces for seq in piece.sequences]

    @property
    def n_tokens(self) -> int:
        return sum(len(seq) for seq in self.sequences)

    def vocabulary(self, **kwargs) -> Vocabulary:
        return Vocabulary.build(self.sequences, **kwargs)

    def progressions(self) -> list[tuple[Chord, ...]]:
        """The chord timelines of all pieces (used to pick a progression to generate over)."""
        return [piece.score.chords for piece in self.pieces if piece.score.chords]

    def summary(self) -> str:
        """Multi-line report: counts, cache use, and every skipped file with its reason."""
        total = len(self.pieces) + len(self.skipped)
        lines = [f"read {total} file(s): {len(self.pieces)} usable, {len(self.skipped)} skipped; "
                 f"{self.n_tokens} tokens ({self.settings.encoding}); {self.cache_hits} from cache"]
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        if self.ignored:
            lines.append(f"  ignored {len(self.ignored)} file(s) that are not MIDI/MusicXML by name "
                         f"(e.g. {self.ignored[0]})")
        return "\n".join(lines)


def default_cache_dir() -> Path:
    """``$JAZZLSTM_CACHE_DIR``, else ``$XDG_CACHE_HOME/jazzlstm``, else ``~/.cache/jazzlstm``."""
    if os.environ.get("JAZZLSTM_CACHE_DIR"):
        return Path(os.environ["JAZZLSTM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jazzlstm"


def find_files(path: str | Path) -> tuple[list[Path], list[Path]]:
    """(supported files sorted by path, other files) under ``path`` (a file or a folder)."""
    path = Path(path)
    if path.is_file():
        return [path], []
    if not path.is_dir():
        raise JazzLSTMError(f"{path}: no such file or folder")
    found, other = [], []
    for candidate in sorted(p for p in path.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in candidate.relative_to(path).parts):
            continue  # hidden files and folders (.git, editor swap files) are not music
        (found if candidate.suffix.lower() in SUPPORTED_SUFFIXES else other).append(candidate)
    return found, other


def process_file(path: str, settings: EncodingSettings, cache_dir: str | None) -> dict:
    """Read, encode and cache one file. Returns a JSON-ready record; never raises for bad input."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return {"path": path, "skip": f"cannot read ({exc.strerror or exc})"}
    cache_file = None
    if cache_dir is not None:
        digest = hashlib.sha256(data).hexdigest()
        reader = "musicxml" if Path(path).suffix.lower() in MUSICXML_SUFFIXES else "midi"
        cache_file = Path(cache_dir) / settings.cache_key() / reader / digest[:2] / f"{digest}.json"
        if cache_file.is_file():
            try:
                record = json.loads(cache_file.read_text(encoding="utf-8"))
                return {**record, "path": path, "cached": True}
            except (OSError, ValueError):
                pass  # a damaged cache entry is simply recomputed
    score = None
    try:
        score = read_score(path, settings.melody_track, data)
        record: dict = {"sequences": settings.tokenizer.encode_variants(score)}
    except InputFileError as exc:
        record = {"skip": exc.reason}
    except ValueError as exc:
        record = {"skip": f"cannot encode ({exc})"}
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            stored = record if score is None or "skip" in record else {**record, "score": score_to_dict(score)}
            write_json_atomic(cache_file, stored)
        except OSError:
            pass  # a read-only cache must not stop training
    if score is not None and "skip" not in record:
        record["score_obj"] = score  # the Score itself: no JSON round trip when not cached
    return {**record, "path": path, "cached": False}


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork while TensorFlow is not loaded (cheap, no re-import of ``__main__``); otherwise the
    fork server, because forking a process that runs TensorFlow threads can deadlock."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and "tensorflow" not in sys.modules:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def process_files(paths: Sequence[str], settings: EncodingSettings, cache_dir: str | None) -> list[dict]:
    """:func:`process_file` over a chunk (one task per chunk keeps pool overhead small)."""
    return [process_file(path, settings, cache_dir) for path in paths]


def _run(paths: Sequence[str], settings: EncodingSettings, cache_dir: str | None, workers: int,
         progress: bool) -> list[dict]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(paths), desc="reading music", unit="file", disable=not progress, leave=False)
    records: list[dict | None] = [None] * len(paths)
    try:
        if workers > 1 and _main_is_importable():
            try:
                _run_pool(paths, settings, cache_dir, workers, records, bar)
            except BrokenProcessPool:
                print("jazzlstm: worker processes failed; reading the remaining files in this process",
                      file=sys.stderr)
        for i, path in enumerate(paths):
            if records[i] is None:
                records[i] = process_file(path, settings, cache_dir)
                bar.update()
    finally:
        bar.close()
    return [r for r in records if r is not None]


def _main_is_importable() -> bool:
    """Fork-server workers re-import ``__main__`` by path; a script read from stdin has none."""
    if "tensorflow" not in sys.modules:
        return True  # fork: nothing is re-imported
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or os.path.exists(main_file)


def _run_pool(paths: Sequence[str], settings: EncodingSettings, cache_dir: str | None, workers: int,
              records: list[dict | None], bar) -> None:
    """Fill ``records`` using a process pool, in chunks."""
    size = max(1, min(16, len(paths) // (workers * 4)))
    chunks = [range(i, min(i + size, len(paths))) for i in range(0, len(paths), size)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        futures = {pool.submit(process_files, [paths[i] for i in chunk], settings, cache_dir): chunk
                   for chunk in chunks}
        for future in as_completed(futures):
            for i, record in zip(futures[future], future.result()):
                records[i] = record
            bar.update(len(futures[future]))


def load_corpus(path: str | Path | Iterable[str | Path], config: CorpusConfig | None = None,
                progress: bool = True, **settings) -> Corpus:
    """Read every MIDI/MusicXML file under ``path`` (a file, a folder, or a list of either).

    ``config`` (or its fields as keywords: ``encoding``, ``melody_track``, ``transpose``,
    ``augment``, ``workers``, ``cache``; see :class:`~jazzlstm.config.CorpusConfig`).
    ``workers``: processes to use (default: one per core, in-process for small corpora).
    ``cache``: True for :func:`default_cache_dir`, a folder, or False to always re-read.
    """
    if config is None:
        (config,) = split_settings(settings, CorpusConfig)
    elif settings:
        raise JazzLSTMError("give load_corpus a CorpusConfig or keyword settings, not both")
    settings = EncodingSettings.from_config(config)
    cache, workers = config.cache, config.workers
    roots = [path] if isinstance(path, (str, Path)) else list(path)
    files: list[Path] = []
    ignored: list[Path] = []
    for root in roots:
        found, other = find_files(root)
        files += found
        ignored += other
    if not files:
        where = ", ".join(str(r) for r in roots)
        raise NoUsableFilesError(f"{where}: no MIDI or MusicXML files found "
                                 f"(looked for {', '.join(SUPPORTED_SUFFIXES)})")
    cache_dir = None
    if cache:
        cache_dir = str(default_cache_dir() if cache is True else Path(cache))
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if len(files) >= 8 else 1
    records = _run([str(f) for f in files], settings, cache_dir, max(1, int(workers)), progress)
    corpus = Corpus(pieces=[], settings=settings, config=config, ignored=[str(p) for p in ignored],
                    sources=tuple(str(r) for r in roots))
    for record in records:
        corpus.cache_hits += bool(record.get("cached"))
        if "skip" in record:
            corpus.skipped.append((record["path"], record["skip"]))
        else:
            score = record.get("score_obj") or score_from_dict(record["score"])
            corpus.pieces.append(Piece(record["path"], score, record["sequences"]))
    if not corpus.pieces:
        details = "; ".join(f"{Path(p).name}: {r}" for p, r in corpus.skipped[:5])
        raise NoUsableFilesError(f"no usable files among {len(files)} ({details})")
    return corpus
