"""A folder of MIDI / MusicXML files -> encoded pieces, with a cache, workers and a skip report.

``load_corpus`` finds files recursively, reads each one in a worker process (a progress bar on
stderr), encodes it with the chosen encoding and caches the result on disk under a key made
of the file's content hash and the encoding settings, so a second run reads JSON instead of
parsing MIDI. Every file is read under a time limit and a memory limit (``file_timeout``,
``file_memory_mb``): a reader process that overruns is killed and replaced, so one hostile
file can neither stall nor exhaust a folder. Files that cannot be used are skipped with their
reason; the summary lists them and counts them by kind. A folder with no usable file raises
:class:`NoUsableFilesError` (CLI exit code 2).
"""
from __future__ import annotations

import errno
import hashlib
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import stat
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from jazzlstm.config import CorpusConfig, split_settings
from jazzlstm.errors import InputFileError, JazzLSTMError, NoUsableFilesError
from jazzlstm.fileio import write_json_atomic
from jazzlstm.music.harmony import CHORD_TEMPLATES
from jazzlstm.music.musicxml import MUSICXML_SUFFIXES
from jazzlstm.music.analysis import melody_versions
from jazzlstm.music.reading import SUPPORTED_SUFFIXES, read_score
from jazzlstm.music.score import Chord, Score, score_from_dict, score_to_dict
from jazzlstm.tokens.base import MusicTokenizer
from jazzlstm.tokens.registry import make_tokenizer, own_options
from jazzlstm.tokens.vocab import Vocabulary

CACHE_VERSION = 4
"""Bump when reading changes meaning, so stale cache entries are not reused (a tokenizer's
own version is part of the key already)."""

READER_START_TIMEOUT = 60.0
"""Seconds a reader process may take to start (not counted against any file's time limit)."""

SKIP_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("empty file", ("empty file",)),
    ("not a MIDI file", ("not a MIDI file",)),
    ("not readable MusicXML", ("not a readable MusicXML",)),
    ("corrupt", ("corrupt",)),
    ("no melody", ("empty (no notes)", "drums only", "no melody", "--melody-track")),
    ("too long to read", ("took longer than",)),
    ("too much memory", ("needed more than", "ran out of memory")),
    ("reader crashed", ("the reader crashed", "the reader process")),
    ("reader error", ("reader error",)),
    ("cannot encode", ("cannot encode",)),
    ("unreadable", ("cannot read",)),
    ("link or special file", ("symbolic link", "broken symbolic link", "not a regular file")),
)
"""The kinds a skip reason is counted under in the summary (the first whose prefix matches)."""


def skip_kind(reason: str) -> str:
    """The kind of a skip reason, for the counts at the end of the summary."""
    for kind, prefixes in SKIP_KINDS:
        if reason.startswith(prefixes):
            return kind
    return "other"


@dataclass(frozen=True)
class EncodingSettings:
    """Everything that changes a file's encoded result (and so its cache key): the tokenizer
    and which track is the melody."""

    tokenizer: MusicTokenizer = field(default_factory=lambda: make_tokenizer(CorpusConfig.encoding))
    melody_track: int | str | None = None

    @classmethod
    def from_config(cls, config: CorpusConfig) -> "EncodingSettings":
        given = {"transpose": config.transpose, "augment": config.augment,
                 "split_silence_bars": config.split_silence_bars}
        options = own_options(config.encoding, {k: v for k, v in given.items() if v is not None})
        return cls(make_tokenizer(config.encoding, **options), config.melody_track)

    @property
    def encoding(self) -> str:
        return self.tokenizer.name

    def cache_key(self) -> str:
        blob = json.dumps({"tokenizer": self.tokenizer.config(), "melody_track": self.melody_track,
                           "version": CACHE_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ReadLimits:
    """What reading one file may take: wall-clock seconds and memory in MB beyond what a
    reader process holds when it starts (None: no limit)."""

    timeout: float | None = 20.0
    memory_mb: float | None = 1024

    @classmethod
    def from_config(cls, config: CorpusConfig) -> "ReadLimits":
        return cls(config.file_timeout, config.file_memory_mb)

    def timeout_reason(self) -> str:
        return f"took longer than {self.timeout:g} s to read"

    def memory_reason(self) -> str:
        if self.memory_mb:
            return f"needed more than {self.memory_mb:g} MB to read"
        return "ran out of memory while reading"


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

    def skip_counts(self) -> list[tuple[str, int]]:
        """(kind, number of skipped entries) for each kind of skip reason, most frequent first."""
        counts = Counter(skip_kind(reason) for _, reason in self.skipped)
        order = {kind: i for i, (kind, _) in enumerate(SKIP_KINDS)}
        return sorted(counts.items(), key=lambda item: (-item[1], order.get(item[0], len(order))))

    def summary(self) -> str:
        """Multi-line report: counts, cache use, every skipped file with its reason, and at the
        end the number of skipped files of each kind of reason."""
        total = len(self.pieces) + len(self.skipped)
        lines = [f"read {total} file(s): {len(self.pieces)} usable, {len(self.skipped)} skipped; "
                 f"{self.n_tokens} tokens ({self.settings.encoding}); {self.cache_hits} from cache"]
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        if self.ignored:
            lines.append(f"  ignored {len(self.ignored)} file(s) that are not MIDI/MusicXML by name "
                         f"(e.g. {self.ignored[0]})")
        if self.skipped:
            lines.append("  skips by reason: " + ", ".join(f"{n} {kind}" for kind, n in self.skip_counts()))
        return "\n".join(lines)


def default_cache_dir() -> Path:
    """``$JAZZLSTM_CACHE_DIR``, else ``$XDG_CACHE_HOME/jazzlstm``, else ``~/.cache/jazzlstm``."""
    if os.environ.get("JAZZLSTM_CACHE_DIR"):
        return Path(os.environ["JAZZLSTM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jazzlstm"


# --- finding files ------------------------------------------------------------------------------


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def discover(path: str | Path) -> tuple[list[Path], list[Path], list[tuple[str, str]]]:
    """(supported files sorted by path, other files, (path, reason) of what could not be looked
    into) under ``path`` (a file or a folder).

    Hidden files and folders are passed over. Symbolic links to folders are followed once the
    real folders are done; a link back to a folder above it (a loop), a second way into a folder
    already read, a folder that cannot be listed, a broken link with a music suffix and a pipe
    or device with one are reported, never dropped silently.
    """
    path = Path(path)
    if path.is_file():
        return [path], [], []
    if path.exists() and not path.is_dir():
        raise JazzLSTMError(f"{path}: not a regular file (a pipe, socket or device)")
    if not path.is_dir():
        raise JazzLSTMError(f"{path}: no such file or folder")
    found: list[Path] = []
    other: list[Path] = []
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[int, int], Path] = {}
    folders: list[Path] = [path]     # real folders to list
    links: deque[Path] = deque()     # links to folders, listed after the real ones
    while folders or links:
        folder = folders.pop() if folders else links.popleft()
        try:
            info = os.stat(folder)
            key = (info.st_dev, info.st_ino)
        except OSError as exc:
            problems.append((str(folder), f"cannot read folder ({_os_reason(exc)})"))
            continue
        if key in seen:
            first = seen[key]
            reason = (f"symbolic link loop (leads back to {first})" if folder.is_relative_to(first)
                      else f"symbolic link to a folder read already ({first})")
            problems.append((str(folder), reason))
            continue
        seen[key] = folder
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            problems.append((str(folder), f"cannot read folder ({_os_reason(exc)})"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue  # hidden files and folders (.git, editor swap files) are not music
            candidate = folder / entry.name
            music = candidate.suffix.lower() in SUPPORTED_SUFFIXES
            link = False
            try:
                link = entry.is_symlink()
                mode = os.stat(candidate).st_mode  # through links
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    problems.append((str(candidate), "symbolic link loop"))
                elif link and not music:
                    other.append(candidate)
                elif link:
                    problems.append((str(candidate), f"broken symbolic link (to {_link_target(candidate)})"))
                else:
                    problems.append((str(candidate), f"cannot read ({_os_reason(exc)})"))
                continue
            if stat.S_ISDIR(mode):
                (links if link else folders).append(candidate)
            elif stat.S_ISREG(mode):
                (found if music else other).append(candidate)
            elif music:
                problems.append((str(candidate), "not a regular file (a pipe, socket or device)"))
            else:
                other.append(candidate)
    return sorted(found), sorted(other), sorted(problems, key=lambda item: Path(item[0]))


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


# --- one file -----------------------------------------------------------------------------------

def process_file(path: str, settings: EncodingSettings, cache_dir: str | None) -> dict:
    """Read, encode and cache one file. Returns a record (``sequences`` and ``score_obj``, or
    ``skip`` with the reason); never raises for bad input, except MemoryError, which the caller
    turns into a skip (it knows the limit that was hit)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return {"path": path, "skip": f"cannot read ({exc.strerror or exc})", "cached": False}
    cache_file = None
    if cache_dir is not None:
        cache_file = _cache_file(path, data, settings, cache_dir)
        cached = read_cache_entry(cache_file)
        if cached is not None:
            return {**cached, "path": path, "cached": True}
    score = None
    try:
        score = read_score(path, settings.melody_track, data)
        record: dict = {"sequences": [seq for version in melody_versions(score)
                                      for seq in settings.tokenizer.encode_variants(version)]}
    except InputFileError as exc:
        record = {"skip": exc.reason}
    except ValueError as exc:
        record = {"skip": f"cannot encode ({exc})"}
    except MemoryError:
        raise
    except Exception as exc:  # a reader's bug or a library's surprise: a skip, never a traceback (not cached)
        return {"path": path, "skip": unexpected_reason(exc), "cached": False}
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            stored = record if score is None or "skip" in record else {**record, "score": score_to_dict(score)}
            write_json_atomic(cache_file, stored)
        except OSError:
            pass  # a read-only cache must not stop training
    if score is not None and "skip" not in record:
        record["score_obj"] = score  # the Score itself: no JSON round trip
    return {**record, "path": path, "cached": False}


def _cache_file(path: str, data: bytes, settings: EncodingSettings, cache_dir: str) -> Path:
    """Where the record of a file with these bytes, read with these settings, is cached."""
    digest = hashlib.sha256(data).hexdigest()
    reader = "musicxml" if Path(path).suffix.lower() in MUSICXML_SUFFIXES else "midi"
    return Path(cache_dir) / settings.cache_key() / reader / digest[:2] / f"{digest}.json"


PEEK_FILE_BYTES = 8 * 2 ** 20
PEEK_ENTRY_BYTES = 4 * 2 ** 20
"""The largest music file and cache entry whose cache look-up is done in this process; larger
ones are looked up by a reader process, under the limits."""


def peek_cache(path: str, settings: EncodingSettings, cache_dir: str | None) -> dict | None:
    """The cached record of a file, looked up in this process without a reader process: a
    bounded amount of work (a regular file and a cache entry of limited size, opened without
    blocking), so reading an unchanged corpus costs no process at all. None: not cached here."""
    if cache_dir is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a pipe must not block us
    except OSError:
        return None
    try:
        with open(fd, "rb") as music:
            info = os.fstat(music.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > PEEK_FILE_BYTES:
                return None
            data = music.read(PEEK_FILE_BYTES + 1)
        if len(data) > PEEK_FILE_BYTES:
            return None
        cache_file = _cache_file(path, data, settings, cache_dir)
        if cache_file.stat().st_size > PEEK_ENTRY_BYTES:
            return None
    except OSError:
        return None
    cached = read_cache_entry(cache_file)
    return None if cached is None else {**cached, "path": path, "cached": True}


def unexpected_reason(exc: BaseException) -> str:
    """A one-line skip reason for an exception no reader meant to raise."""
    text = str(exc).strip().splitlines()
    detail = f"{exc.__class__.__name__}: {text[0][:200]}" if text else exc.__class__.__name__
    return f"reader error ({detail})"


# --- the cache: entries are checked before use --------------------------------------------------


def read_cache_entry(cache_file: Path) -> dict | None:
    """The record a cache file holds (``sequences`` and ``score_obj``, or ``skip``), or None
    when there is none or it is damaged or of the wrong shape (then the file is re-read)."""
    try:
        if not cache_file.is_file():
            return None
        entry = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return cache_entry_record(entry)


def cache_entry_record(entry: Any) -> dict | None:
    """A decoded cache entry as a record, or None if it is not exactly what :func:`process_file`
    writes (every field's shape and type is checked, so a poisoned entry is only a miss)."""
    if not isinstance(entry, dict):
        return None
    if "skip" in entry:
        skip = entry["skip"]
        return {"skip": skip} if isinstance(skip, str) and skip.strip() else None
    sequences, score = entry.get("sequences"), entry.get("score")
    if not (isinstance(sequences, list) and sequences
            and all(isinstance(seq, list) and all(isinstance(t, str) for t in seq) for seq in sequences)):
        return None
    if not _valid_score_dict(score):
        return None
    try:
        score_obj = score_from_dict(score)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    return {"sequences": sequences, "score_obj": score_obj}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any, low: int | None = None, high: int | None = None) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)
            and (low is None or value >= low) and (high is None or value <= high))


def _rows(value: Any, width: int, check) -> bool:
    return isinstance(value, list) and all(isinstance(row, list) and len(row) == width and check(*row)
                                           for row in value)


_TRACK_FIELDS = {"index": _whole, "name": lambda v: isinstance(v, str), "is_drum": lambda v: isinstance(v, bool),
                 "program": _whole, "notes": _whole, "monophony": _number, "mean_pitch": _number}


def _valid_score_dict(score: Any) -> bool:
    """The shape :func:`~jazzlstm.music.score.score_to_dict` writes, with the types the report
    and the tokenizers rely on."""
    if not isinstance(score, dict):
        return False
    if not _rows(score.get("melody"), 4, lambda s, d, p, v: _number(s) and _number(d) and d >= 0
                 and _whole(p, 0, 127) and _whole(v, 0, 127)):
        return False
    if not _rows(score.get("chords"), 4, lambda s, d, r, q: _number(s) and _number(d) and d >= 0
                 and _whole(r, 0, 11) and isinstance(q, str) and q in CHORD_TEMPLATES):
        return False
    if not _rows(score.get("time_signatures"), 3, lambda s, n, d: _number(s) and _whole(n, 1) and _whole(d, 1)):
        return False
    if "tempo" in score and not (_number(score["tempo"]) and score["tempo"] > 0):
        return False
    info = score.get("info", {})
    if not isinstance(info, dict):
        return False
    tracks = info.get("tracks", [])
    return isinstance(tracks, list) and all(
        isinstance(track, dict) and all(name in track and check(track[name]) for name, check in _TRACK_FIELDS.items())
        for track in tracks)


# --- reader processes ---------------------------------------------------------------------------


READER_IMPORTS = ("symusic", "mido")
"""The MIDI parsers a reader imports lazily: imported once before readers are forked (or by the
fork server), so that each reader need not (one that is not installed is passed over)."""


def _import_for_readers(context) -> None:
    if context.get_start_method() != "fork":
        return  # the fork server preloads them itself
    for name in READER_IMPORTS:
        try:
            __import__(name)
        except ImportError:
            pass


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork while TensorFlow is not loaded (cheap, no re-import of ``__main__``); otherwise the
    fork server, because forking a process that runs TensorFlow threads can deadlock."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and "tensorflow" not in sys.modules:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, *READER_IMPORTS])
        return context
    return multiprocessing.get_context("spawn")


def _limit_memory(megabytes: float | None) -> None:
    """Cap this process's address space at what it holds now plus ``megabytes`` (where the
    platform has RLIMIT_AS): an allocation beyond it raises MemoryError instead of exhausting
    the machine."""
    if not megabytes:
        return
    try:
        import resource
    except ImportError:  # Windows: no limit
        return
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return  # no /proc (macOS, which does not enforce RLIMIT_AS anyway): no limit
    limit = current + int(megabytes * 2 ** 20)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        for bound in (soft, hard):  # a tighter limit set by the user (ulimit -v) stays
            if bound != resource.RLIM_INFINITY:
                limit = min(limit, bound)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError, AttributeError):
        pass  # a platform without the limit: reading still works, unbounded


def _die_with_parent() -> None:
    """Linux: have the kernel end this process (SIGKILL) when its parent ends, even by SIGKILL,
    so that a reader stuck in a hostile file never outlives the program that started it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        parent = os.getppid()
        if ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0 and os.getppid() != parent:
            os._exit(1)  # PR_SET_PDEATHSIG (1) came too late: the parent is gone already
    except (OSError, AttributeError, TypeError):
        pass


def _reader_main(conn, settings: EncodingSettings, cache_dir: str | None, limits: ReadLimits,
                 inherited: Sequence[int]) -> None:
    """A reader process: ("ready",), then for each (index, path) received, ("done", index,
    record, retire). ``retire``: this process ran out of memory and ends (a fresh one is started)."""
    _die_with_parent()
    for fd in inherited:  # fork: pipe ends of the parent and of the other readers
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _limit_memory(limits.memory_mb)
    try:
        conn.send(("ready",))
    except OSError:
        return
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if task is None:
            return
        index, path = task
        retire = False
        try:
            record = process_file(path, settings, cache_dir)
        except MemoryError:
            record, retire = {"path": path, "skip": limits.memory_reason()}, True
        except (Exception, SystemExit) as exc:
            record = {"path": path, "skip": unexpected_reason(exc)}
        message = ("done", index, record, retire)
        del record
        try:
            conn.send(message)  # pickled whole before anything is written
        except MemoryError:
            message = None
            retire = True
            conn.send(("done", index, {"path": path, "skip": limits.memory_reason()}, True))
        except (OSError, EOFError):
            return
        except Exception as exc:  # a record that cannot be pickled
            conn.send(("done", index, {"path": path, "skip": unexpected_reason(exc)}, False))
        message = None
        if retire:
            return


class _ReadersFailed(Exception):
    """Reader processes cannot be started here (the caller reads in this process)."""


READER_QUEUE = 2
"""Files handed to a reader at a time: the next one waits in its pipe, so that the reader never
idles while this process takes a result and sends more work."""


class _Reader:
    """One reader process, seen from the parent, and the files it has been given (the first is
    the one it is reading; its deadline runs from when the reader could start it)."""

    def __init__(self, context, settings: EncodingSettings, cache_dir: str | None, limits: ReadLimits,
                 others: Sequence["_Reader"]):
        parent_end, child_end = context.Pipe()
        inherited: list[int] = []
        if context.get_start_method() == "fork":
            inherited = [parent_end.fileno(), *(other.conn.fileno() for other in others)]
        self.process = context.Process(target=_reader_main, name="jazzlstm-reader", daemon=True,
                                       args=(child_end, settings, cache_dir, limits, inherited))
        try:
            self.process.start()
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self.conn = parent_end
        self.timeout = limits.timeout
        self.ready = False
        self.tasks: deque[tuple[int, str]] = deque()
        self.deadline = time.monotonic() + READER_START_TIMEOUT

    def assign(self, index: int, path: str) -> None:
        try:
            self.conn.send((index, path))
        except OSError:
            pass  # the reader has just ended (out of memory, or crashed): the file goes back when we hear
        self.tasks.append((index, path))
        if len(self.tasks) == 1:
            self._start_clock()

    def finished(self) -> tuple[int, str]:
        """The file just read; the next one's clock starts."""
        task = self.tasks.popleft()
        self._start_clock()
        return task

    def _start_clock(self) -> None:
        self.deadline = (time.monotonic() + self.timeout if self.tasks and self.timeout else
                         math.inf)

    def close(self, kill: bool = False) -> None:
        """End the process: politely when idle, at once (SIGKILL) when ``kill``."""
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():  # not ending by itself, or stuck in the kernel (a dead mount)
            self.process.kill()
            self.process.join(5)  # a daemon process: whatever still runs ends with this program

    def death(self) -> str:
        """Why the process ended by itself, as a skip reason for the file it was reading."""
        self.close(kill=True)
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if -code == signal.SIGKILL:
                return f"the reader process was killed ({name}; out of memory?)"
            return f"the reader crashed ({name})"
        return f"the reader crashed (exit code {code})"


def _read_in_processes(paths: Sequence[str], settings: EncodingSettings, cache_dir: str | None, workers: int,
                       limits: ReadLimits, records: list[dict | None], bar) -> None:
    """Fill ``records`` with up to ``workers`` reader processes, one file at a time each, under
    ``limits``: a reader past its file's deadline is killed (the file is skipped) and replaced,
    and the files queued behind it go to another reader."""
    context = _pool_context()
    _import_for_readers(context)
    todo = deque(i for i, record in enumerate(records) if record is None)
    readers: list[_Reader] = []
    failed_starts = 0
    started = False  # has any reader become ready?

    def done(index: int, record: dict) -> None:
        records[index] = record
        bar.update()

    def lost(reader: _Reader, reason: str) -> None:
        """A reader gone with files: the first is skipped for ``reason``, the rest read again."""
        readers.remove(reader)
        (index, path), *rest = reader.tasks
        done(index, {"path": path, "skip": reason})
        todo.extendleft(i for i, _ in reversed(rest))

    def start_failed(why: str) -> None:
        """A reader that never became ready: give up at once if none ever did (the next would
        fail alike: a ``__main__`` that cannot be imported, say), else after three."""
        nonlocal failed_starts
        failed_starts += 1
        if not started or failed_starts >= 3:
            raise _ReadersFailed(why)

    try:
        while True:
            queued = sum(len(reader.tasks) for reader in readers)
            if not todo and not queued:
                break
            while len(readers) < min(workers, queued + len(todo)):
                try:
                    readers.append(_Reader(context, settings, cache_dir, limits, readers))
                except (OSError, AssertionError, ValueError) as exc:  # no fork, or a daemon process
                    raise _ReadersFailed(str(exc)) from None
            for depth in range(1, READER_QUEUE + 1):  # one file each before a second is queued,
                for reader in readers:                  # and a file kept for each reader still starting
                    spare = len(todo) - (depth > 1) * sum(not r.ready for r in readers)
                    if reader.ready and len(reader.tasks) < depth and spare > 0:
                        index = todo.popleft()
                        reader.assign(index, paths[index])
            wait = max(0.0, min(reader.deadline for reader in readers) - time.monotonic())
            ready = multiprocessing.connection.wait([reader.conn for reader in readers],
                                                    timeout=None if wait == math.inf else wait)
            for reader in [r for r in readers if r.conn in ready]:
                try:
                    message = reader.conn.recv()
                except (EOFError, OSError):
                    if reader.tasks:
                        lost(reader, reader.death())
                    else:
                        readers.remove(reader)
                        reader.close(kill=True)
                        start_failed(f"a reader process ended at start (exit code {reader.process.exitcode})")
                    continue
                if message[0] == "ready":
                    reader.ready = started = True
                    reader._start_clock()
                    continue
                _, index, record, retire = message
                reader.finished()
                done(index, record)
                if retire:  # out of memory: a fresh process reads what was queued behind
                    readers.remove(reader)
                    todo.extendleft(i for i, _ in reversed(reader.tasks))
                    reader.close(kill=True)
            now = time.monotonic()
            for reader in [r for r in readers if r.deadline <= now]:
                reader.close(kill=True)
                if reader.tasks:
                    lost(reader, limits.timeout_reason())
                else:
                    readers.remove(reader)
                    start_failed(f"a reader process did not start in {READER_START_TIMEOUT:g} s")
    except BaseException:
        for reader in readers:
            reader.close(kill=True)
        raise
    for reader in readers:
        reader.close()


class BoundedReader:
    """One reader process for files read one at a time (a Beam worker's, say), under the same
    time and memory limits as :func:`load_corpus`: a file past them is skipped with the reason
    and the process is replaced. Where no reader process can start, files are read in this
    process, without limits (as load_corpus does, and says)."""

    def __init__(self, settings: EncodingSettings, cache_dir: str | None, limits: ReadLimits):
        self.settings, self.cache_dir, self.limits = settings, cache_dir, limits
        self.reader: _Reader | None = None
        self.context = None

    def _ready(self) -> "_Reader | None":
        if self.reader is not None:
            return self.reader
        if not _can_start_readers():
            return None
        if self.context is None:
            self.context = _pool_context()
            _import_for_readers(self.context)
        try:
            reader = _Reader(self.context, self.settings, self.cache_dir, self.limits, [])
        except (OSError, AssertionError, ValueError):
            return None
        try:
            started = reader.conn.poll(READER_START_TIMEOUT) and reader.conn.recv()[0] == "ready"
        except (EOFError, OSError):
            started = False
        if not started:
            reader.close(kill=True)
            return None
        reader.ready = True
        self.reader = reader
        return reader

    def read(self, path: str) -> dict:
        """:func:`process_file`'s record for ``path``, or a skip for a file over the limits."""
        reader = self._ready()
        if reader is None:
            return _read_here(path, self.settings, self.cache_dir)
        reader.assign(0, path)
        timeout = self.limits.timeout
        try:
            answered = reader.conn.poll(timeout) if timeout else reader.conn.poll(None)
            message = reader.conn.recv() if answered else None
        except (EOFError, OSError):
            self.reader = None
            return {"path": path, "skip": reader.death()}
        if message is None:  # past its deadline: the reader is killed, a fresh one reads the next file
            self.reader = None
            reader.close(kill=True)
            return {"path": path, "skip": self.limits.timeout_reason()}
        _, _, record, retire = message
        reader.finished()
        if retire:  # out of memory: this process ends, the next file gets a fresh one
            self.reader = None
            reader.close(kill=True)
        return record

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None


def _read_here(path: str, settings: EncodingSettings, cache_dir: str | None) -> dict:
    """:func:`process_file` in this process (no time or memory limit can be enforced here)."""
    try:
        return process_file(path, settings, cache_dir)
    except MemoryError:
        return {"path": path, "skip": "ran out of memory while reading"}


def _run(paths: Sequence[str], settings: EncodingSettings, cache_dir: str | None, workers: int,
         progress: bool, limits: ReadLimits = ReadLimits()) -> list[dict]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(paths), desc="reading music", unit="file", disable=not progress, leave=False)
    records: list[dict | None] = [None] * len(paths)
    try:
        if cache_dir is not None:
            for i, path in enumerate(paths):
                records[i] = peek_cache(path, settings, cache_dir)
                bar.update(records[i] is not None)
        left = any(record is None for record in records)  # none left: no reader process needed
        if left and _can_start_readers():
            try:
                _read_in_processes(paths, settings, cache_dir, workers, limits, records, bar)
            except _ReadersFailed as exc:
                print(f"jazzlstm: reader processes failed ({exc}); reading the remaining files in this "
                      f"process, without time and memory limits", file=sys.stderr)
        for i, path in enumerate(paths):
            if records[i] is None:
                records[i] = _read_here(path, settings, cache_dir)
                bar.update()
    finally:
        bar.close()
    return [r for r in records if r is not None]


def _can_start_readers() -> bool:
    """Reader processes need a process that may have children and, for the fork server, a
    ``__main__`` it can re-import by path (a script read from stdin has none)."""
    if multiprocessing.current_process().daemon:
        return False
    if "tensorflow" not in sys.modules:
        return True  # fork: nothing is re-imported
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or os.path.exists(main_file)


def load_corpus(path: str | Path | Iterable[str | Path], config: CorpusConfig | None = None,
                progress: bool = True, **settings) -> Corpus:
    """Read every MIDI/MusicXML file under ``path`` (a file, a folder, or a list of either).

    ``config`` (or its fields as keywords: ``encoding``, ``melody_track``, ``transpose``,
    ``augment``, ``workers``, ``cache``, ``file_timeout``, ``file_memory_mb``; see
    :class:`~jazzlstm.config.CorpusConfig`).
    ``workers``: reader processes to use (default: one per core, one for small corpora).
    ``cache``: True for :func:`default_cache_dir`, a folder, or False to always re-read.
    ``file_timeout`` / ``file_memory_mb``: a file that takes longer or needs more memory to
    read is skipped with that reason, and the rest of the folder is read.
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
    problems: list[tuple[str, str]] = []
    for root in roots:
        found, other, trouble = discover(root)
        files += found
        ignored += other
        problems += trouble
    if not files:
        where = ", ".join(str(r) for r in roots)
        trouble = "; ".join(f"{p}: {r}" for p, r in problems[:3])
        raise NoUsableFilesError(f"{where}: no MIDI or MusicXML files found "
                                 f"(looked for {', '.join(SUPPORTED_SUFFIXES)})"
                                 + (f"; could not look into {trouble}" if trouble else ""))
    cache_dir = None
    if cache:
        cache_dir = str(default_cache_dir() if cache is True else Path(cache))
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if len(files) >= 8 else 1
    records = _run([str(f) for f in files], settings, cache_dir, max(1, int(workers)), progress,
                   ReadLimits.from_config(config))
    corpus = Corpus(pieces=[], settings=settings, config=config, ignored=[str(p) for p in ignored],
                    sources=tuple(str(r) for r in roots))
    for record in records:
        corpus.cache_hits += bool(record.get("cached"))
        if "skip" in record:
            corpus.skipped.append((record["path"], record["skip"]))
        else:
            corpus.pieces.append(Piece(record["path"], record["score_obj"], record["sequences"]))
    corpus.skipped += problems
    if not corpus.pieces:
        counts = ", ".join(f"{n} {kind}" for kind, n in corpus.skip_counts())
        details = "; ".join(f"{Path(p).name}: {r}" for p, r in corpus.skipped[:5])
        raise NoUsableFilesError(f"no usable files among {len(corpus.skipped)} ({counts}; {details})")
    return corpus
