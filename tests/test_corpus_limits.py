"""Bounded work per file: a file that takes too long or needs too much memory to read, or whose
reader fails in a way no reader meant, is skipped with a plain reason and the rest of the
folder is read. Readers are stubbed in this process and inherited by forked reader processes."""
from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

import jazzlstm.data.corpus as corpus_module
from jazzlstm.cli import build_parser, main
from jazzlstm.config import CorpusConfig
from jazzlstm.data.corpus import ReadLimits, load_corpus, skip_kind
from jazzlstm.errors import ConfigError, NoUsableFilesError
from midi_factory import write_text_as_midi, write_trio

QUIET = dict(progress=False)


@pytest.fixture
def fork_readers(monkeypatch):
    """Reader processes forked from this one, so that the reader stubbed here is the one they run."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs the fork start method")
    monkeypatch.setattr(corpus_module, "_pool_context", lambda: multiprocessing.get_context("fork"))


def stub_reader(monkeypatch, **behaviours):
    """Files whose name starts with a key of ``behaviours`` run that function instead of being read."""
    real = corpus_module.read_score

    def reader(path, *args, **kwargs):
        for prefix, behave in behaviours.items():
            if Path(path).name.startswith(prefix):
                behave()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(corpus_module, "read_score", reader)


def sleep_long():
    time.sleep(60)


def allocate_2gb():
    hog = bytearray(2 * 2 ** 30)  # the reader's address space is capped far below this
    hog[-1] = 1


def allocate_slowly():
    hog = []
    while True:
        hog.append(bytearray(16 * 2 ** 20))


def folder_with(tmp_path: Path, *bad_names: str, good: int = 2) -> tuple[list[Path], list[Path]]:
    """``good`` real trios and one real trio under each of ``bad_names`` (stubs make them bad)."""
    folder = tmp_path / "music"
    folder.mkdir()
    good_files = [write_trio(folder / f"good{i}.mid", seed=i) for i in range(good)]
    bad_files = [write_trio(folder / name, seed=9) for name in bad_names]
    return good_files, bad_files


def no_readers_left() -> bool:
    return not [p for p in multiprocessing.active_children() if p.name == "jazzlstm-reader"]


# --- time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_file_over_the_time_limit_is_skipped_and_the_rest_is_read(tmp_path, monkeypatch, fork_readers, workers):
    good, (slow,) = folder_with(tmp_path, "slow.mid")
    stub_reader(monkeypatch, slow=sleep_long)
    start = time.monotonic()
    corpus = load_corpus(tmp_path / "music", cache=False, workers=workers, file_timeout=0.5, **QUIET)
    assert time.monotonic() - start < 20
    assert [p.path for p in corpus.pieces] == [str(p) for p in good]
    assert corpus.skipped == [(str(slow), "took longer than 0.5 s to read")]
    assert no_readers_left()


def test_several_slow_files_each_get_their_own_deadline(tmp_path, monkeypatch, fork_readers):
    good, slow = folder_with(tmp_path, "slow1.mid", "slow2.mid", "slow3.mid", good=3)
    stub_reader(monkeypatch, slow=sleep_long)
    corpus = load_corpus(tmp_path / "music", cache=False, workers=2, file_timeout=0.5, **QUIET)
    assert sorted(corpus.skipped) == [(str(p), "took longer than 0.5 s to read") for p in slow]
    assert [p.path for p in corpus.pieces] == [str(p) for p in good]
    assert corpus.skip_counts() == [("too long to read", 3)]


def test_time_limit_off(tmp_path, monkeypatch, fork_readers):
    good, (slow,) = folder_with(tmp_path, "slow.mid", good=1)
    stub_reader(monkeypatch, slow=lambda: time.sleep(0.6))
    corpus = load_corpus(tmp_path / "music", cache=False, workers=1, file_timeout=0, **QUIET)
    assert corpus.config.file_timeout is None
    assert len(corpus.pieces) == 2 and not corpus.skipped


def test_timed_out_file_is_not_cached(tmp_path, monkeypatch, fork_readers):
    good, (slow,) = folder_with(tmp_path, "slow.mid", good=1)
    cache = tmp_path / "cache"
    stub_reader(monkeypatch, slow=sleep_long)
    first = load_corpus(tmp_path / "music", cache=cache, workers=1, file_timeout=0.5, **QUIET)
    assert [p for p, _ in first.skipped] == [str(slow)]
    monkeypatch.undo()  # the real reader again (and the default start method)
    second = load_corpus(tmp_path / "music", cache=cache, workers=1, **QUIET)
    assert not second.skipped and second.cache_hits == 1  # the good file from cache, the slow one read now


# --- memory -------------------------------------------------------------------------------------


@pytest.mark.parametrize("hog", [allocate_2gb, allocate_slowly], ids=["at-once", "slowly"])
def test_file_over_the_memory_limit_is_skipped_and_the_rest_is_read(tmp_path, monkeypatch, fork_readers, hog):
    pytest.importorskip("resource")
    good, (greedy,) = folder_with(tmp_path, "greedy.mid", good=3)
    stub_reader(monkeypatch, greedy=hog)
    corpus = load_corpus(tmp_path / "music", cache=False, workers=1, file_memory_mb=256, **QUIET)
    assert corpus.skipped == [(str(greedy), "needed more than 256 MB to read")]
    assert [p.path for p in corpus.pieces] == [str(p) for p in good]
    assert corpus.skip_counts() == [("too much memory", 1)]
    assert no_readers_left()


def test_memory_limit_leaves_this_process_alone(tmp_path, monkeypatch, fork_readers):
    pytest.importorskip("resource")
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    folder_with(tmp_path, good=1)
    load_corpus(tmp_path / "music", cache=False, workers=1, file_memory_mb=64, **QUIET)
    assert resource.getrlimit(resource.RLIMIT_AS) == before


# --- files queued behind a bad one --------------------------------------------------------------


@pytest.mark.parametrize("behave, reason", [
    (sleep_long, "took longer than 0.5 s to read"),
    (allocate_2gb, "needed more than 256 MB to read"),
    (lambda: segfault(), "the reader crashed (SIGSEGV)"),
], ids=["slow", "greedy", "crash"])
def test_files_queued_behind_a_bad_one_are_still_read(tmp_path, monkeypatch, fork_readers, behave, reason):
    folder = tmp_path / "music"
    folder.mkdir()
    bad = write_trio(folder / "a_bad.mid", seed=9)  # first in order: the others wait behind it
    good = [write_trio(folder / f"tune{i}.mid", seed=i) for i in range(3)]
    stub_reader(monkeypatch, a_bad=behave)
    corpus = load_corpus(folder, cache=False, workers=1, file_timeout=0.5, file_memory_mb=256, **QUIET)
    assert corpus.skipped == [(str(bad), reason)]
    assert [p.path for p in corpus.pieces] == [str(p) for p in good]
    assert no_readers_left()


# --- failures no reader meant -------------------------------------------------------------------


def raise_key_error():
    raise KeyError("tempo")


def raise_recursion():
    raise RecursionError("maximum recursion depth exceeded while calling a Python object")


def exit_the_process():
    os._exit(3)


def segfault():
    faulthandler.disable()  # pytest's, inherited: no stack dump from the reader process
    os.kill(os.getpid(), signal.SIGSEGV)


def test_unexpected_exceptions_and_crashes_are_skips(tmp_path, monkeypatch, fork_readers):
    good, (keyerror, deep, exits, crash) = folder_with(tmp_path, "keyerror.mid", "recursion.mid", "exit.mid",
                                                       "segv.mid")
    stub_reader(monkeypatch, keyerror=raise_key_error, recursion=raise_recursion, exit=exit_the_process,
                segv=segfault)
    corpus = load_corpus(tmp_path / "music", cache=False, workers=2, **QUIET)
    assert [p.path for p in corpus.pieces] == [str(p) for p in good]
    reasons = dict(corpus.skipped)
    assert reasons[str(keyerror)] == "reader error (KeyError: 'tempo')"
    assert reasons[str(deep)] == "reader error (RecursionError: maximum recursion depth exceeded while calling a " \
                                 "Python object)"
    assert reasons[str(exits)] == "the reader crashed (exit code 3)"
    assert reasons[str(crash)] == "the reader crashed (SIGSEGV)"
    assert all("\n" not in reason for reason in reasons.values())
    assert dict(corpus.skip_counts()) == {"reader error": 2, "reader crashed": 2}
    assert no_readers_left()


def test_memory_error_in_this_process_is_a_skip(tmp_path, monkeypatch):
    """Where no reader process can be started, a MemoryError is still a skip, not a traceback."""
    good, (greedy,) = folder_with(tmp_path, "greedy.mid", good=1)

    def fail(*args, **kwargs):
        raise MemoryError

    stub_reader(monkeypatch, greedy=fail)
    monkeypatch.setattr(corpus_module, "_can_start_readers", lambda: False)
    corpus = load_corpus(tmp_path / "music", cache=False, workers=1, **QUIET)
    assert corpus.skipped == [(str(greedy), "ran out of memory while reading")]
    assert len(corpus.pieces) == 1


def test_readers_that_cannot_start_fall_back_to_this_process(tmp_path, monkeypatch, capsys):
    good, _ = folder_with(tmp_path, good=2)

    class NoProcesses:
        def __init__(self, *args, **kwargs):
            raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(corpus_module, "_Reader", NoProcesses)
    corpus = load_corpus(tmp_path / "music", cache=False, workers=2, **QUIET)
    assert [p.path for p in corpus.pieces] == [str(p) for p in good]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "reader processes failed" in err and "without time and memory limits" in err


# --- the fork server (TensorFlow loaded) ----------------------------------------------------------


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="needs forkserver")
def test_limits_hold_with_fork_server_readers(tmp_path, monkeypatch):
    good, _ = folder_with(tmp_path, good=2)
    monkeypatch.setattr(corpus_module, "_pool_context", lambda: multiprocessing.get_context("forkserver"))
    served = load_corpus(tmp_path / "music", cache=False, workers=2, **QUIET)
    assert [p.path for p in served.pieces] == [str(p) for p in good]
    # No read finishes within a microsecond: every reader is killed at its deadline and replaced.
    with pytest.raises(NoUsableFilesError, match="took longer than 1e-06 s to read"):
        load_corpus(tmp_path / "music", cache=False, workers=1, file_timeout=1e-6, **QUIET)
    assert no_readers_left()


# --- report, settings, command line -------------------------------------------------------------


def test_skip_kinds():
    assert skip_kind("not a MIDI file (no MThd header)") == "not a MIDI file"
    assert skip_kind("corrupt MIDI file (data byte must be in range 0..127)") == "corrupt"
    assert skip_kind("drums only (no pitched track)") == "no melody"
    assert skip_kind("no melody (no pitched track with at least 8 notes)") == "no melody"
    assert skip_kind("empty file (0 bytes)") == "empty file"
    assert skip_kind("empty (no notes)") == "no melody"
    assert skip_kind(ReadLimits(timeout=20).timeout_reason()) == "too long to read"
    assert skip_kind(ReadLimits(memory_mb=1024).memory_reason()) == "too much memory"
    assert skip_kind("symbolic link loop") == "link or special file"
    assert skip_kind("cannot read folder (Permission denied)") == "unreadable"
    assert skip_kind("something new") == "other"
    assert ReadLimits().timeout_reason() == "took longer than 20 s to read"
    assert ReadLimits().memory_reason() == "needed more than 1024 MB to read"


def test_limit_settings():
    config = CorpusConfig()
    assert (config.file_timeout, config.file_memory_mb) == (20.0, 1024)
    assert CorpusConfig(file_timeout=0, file_memory_mb=0).file_timeout is None
    assert CorpusConfig(file_memory_mb=0).file_memory_mb is None
    with pytest.raises(ConfigError, match="file_timeout must be positive"):
        CorpusConfig(file_timeout=-1)
    with pytest.raises(ConfigError, match="file_memory_mb must be positive"):
        CorpusConfig(file_memory_mb=-5)
    args = build_parser().parse_args(["inspect", "--midi", "x", "--file-timeout", "2.5", "--file-memory-mb", "300"])
    assert (args.file_timeout, args.file_memory_mb) == (2.5, 300)
    defaults = build_parser().parse_args(["inspect", "--midi", "x"])
    assert (defaults.file_timeout, defaults.file_memory_mb) == (20.0, 1024)


def test_inspect_reports_limits_and_counts_skips_by_reason(tmp_path, monkeypatch, fork_readers, capsys):
    good, (slow, greedy) = folder_with(tmp_path, "slow.mid", "greedy.mid", good=1)
    bad = write_text_as_midi(tmp_path / "music" / "bad.mid")
    stub_reader(monkeypatch, slow=sleep_long, greedy=allocate_2gb)
    code = main(["inspect", "--midi", str(tmp_path / "music"), "--no-cache", "--file-timeout", "0.5",
                 "--file-memory-mb", "256"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in out + err
    lines = out.splitlines()
    assert f"  skipped {slow}: took longer than 0.5 s to read" in lines
    assert f"  skipped {greedy}: needed more than 256 MB to read" in lines
    assert f"  skipped {bad}: not a MIDI file (no MThd header)" in lines
    assert "read 4 file(s): 1 usable, 3 skipped;" in out
    assert lines[-2] == "  skips by reason: 1 not a MIDI file, 1 too long to read, 1 too much memory"
    assert lines[-1].startswith("vocabulary: ")


# --- a reader never outlives its program ----------------------------------------------------------

STUCK_SCRIPT = """
import os, sys, time
from pathlib import Path
import jazzlstm.data.corpus as corpus

def stuck(path, *args, **kwargs):
    Path(sys.argv[2], str(os.getpid())).write_text("reading")
    time.sleep(600)

corpus.read_score = stuck  # inherited by the forked readers
corpus.load_corpus(sys.argv[1], cache=False, workers=2, file_timeout=0, progress=False)
"""


def process_ended(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in status  # dead, waiting for whoever adopted it to reap it


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_readers_end_when_their_program_is_killed(tmp_path):
    import subprocess
    import sys

    from conftest import require_slow, subprocess_env

    require_slow("Python")
    folder_with(tmp_path, good=2)
    pids = tmp_path / "pids"
    pids.mkdir()
    program = subprocess.Popen([sys.executable, "-c", STUCK_SCRIPT, str(tmp_path / "music"), str(pids)],
                               env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline and program.poll() is None:
            time.sleep(0.05)
        readers = [int(p.name) for p in pids.iterdir()]
        assert len(readers) == 2, program.communicate(timeout=10)
    finally:
        program.kill()  # SIGKILL: no cleanup of its own runs
        program.communicate()
    deadline = time.monotonic() + 10
    while not all(process_ended(pid) for pid in readers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(process_ended(pid) for pid in readers)
