"""Hostile MIDI input: every file is read or refused with a JazzLSTMError, quickly, in bounded memory.

The CI-budgeted part of the fuzzing (benchmarks/bench_fuzz.py runs 10,000 files); the mutators and
the harness live in tests/midi_mutations.py.

* In-process, fast lane: Hypothesis feeds mutated bytes (light mutation kinds, and byte operations
  it chooses and shrinks) through read_score and every music tokenizer; each example is bounded to
  5 s (SIGALRM) and 1 GiB more address space (RLIMIT_AS), so a hang or a runaway allocation fails
  the test instead of stalling CI.
* In forked children, slow lane: the named hostile cases (tempo 0, meter 4/2^64, a 10^6-beat note
  at 2 ticks per beat, a data byte above 127, an SMPTE division...), one cycle of every mutation
  kind, heavy ones included, and a self-test of the harness.
"""
from __future__ import annotations

import os
import signal
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import midi_mutations as mm

ACCEPTABLE = mm.GOOD_OUTCOMES


def describe(result: dict, label: str) -> str:
    detail = " ".join(str(result.get(k, "")) for k in ("error", "where") if result.get(k))
    return f"{label}: {result['outcome']} at stage {result.get('stage', '?')}: {detail}"


# --- the mutators themselves ----------------------------------------------------------------------


def test_every_kind_makes_the_same_bytes_from_the_same_seed():
    for kind in mm.LIGHT_KINDS:
        first = mm.make(kind, 7)
        assert isinstance(first, bytes) and first == mm.make(kind, 7), kind
    assert [m.kind for m in mm.mutants(3, 5)] == list(mm.SCHEDULE[:5])
    assert mm.mutant(3, 4) == mm.mutant(3, 4)


def test_the_hostile_cases_are_what_they_say():
    data = mm.HOSTILE_CASES["meter 4/2^64"]()
    assert b"\xff\x58\x04\x04\x40" in data
    assert b"\xff\x51\x03\x00\x00\x00" in mm.HOSTILE_CASES["tempo 0"]()
    huge = mm.HOSTILE_CASES["10^6-beat note at 2 ticks per beat"]()
    assert huge[12:14] == b"\x00\x02" and mm.vlq(2 * 10 ** 6) + b"\x80\x48" in huge
    assert mm.HOSTILE_CASES["SMPTE division (-25 fps, 40 ticks)"]()[12:14] == b"\xe7\x28"
    assert b"\x90\xc8" in mm.HOSTILE_CASES["data byte > 127"]()


# --- in process, with Hypothesis ------------------------------------------------------------------


@settings(max_examples=300, deadline=None, derandomize=True, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(mm.LIGHT_KINDS), seed=st.integers(0, 2 ** 32 - 1))
def test_mutated_files_are_read_or_refused(kind, seed):
    """Mutants of every light kind (no shrinking: a smaller seed is just another file)."""
    result = mm.check_bytes_bounded(mm.make(kind, seed))
    assert result["outcome"] in ACCEPTABLE, describe(result, f"mm.make({kind!r}, {seed})")


BYTE_OPS = st.lists(st.tuples(st.sampled_from(tuple(mm.BYTE_MUTATORS)), st.integers(0, 1 << 16),
                              st.integers(1, 256), st.binary(max_size=8)), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(sample=st.sampled_from([name for name, _ in mm.sample_bytes()]), ops=BYTE_OPS)
def test_byte_mutations_of_the_samples_are_read_or_refused(sample, ops):
    """Byte operations Hypothesis chooses (and shrinks) on a bundled sample."""
    data = mm.apply_byte_ops(dict(mm.sample_bytes())[sample], ops)
    result = mm.check_bytes_bounded(data)
    assert result["outcome"] in ACCEPTABLE, describe(result, f"apply_byte_ops({sample!r}, {ops!r})")


# --- in forked children, each under 5 s and 1 GiB ---------------------------------------------------


@pytest.fixture(scope="module")
def hostile_results():
    """Every named hostile case, checked in its own child (two at a time)."""
    jobs = [(name, make) for name, make in mm.HOSTILE_CASES.items()]
    return {r["key"]: r for r in mm.run_isolated(jobs, workers=2)}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(mm.HOSTILE_CASES))
def test_hostile_case_no_hang_no_traceback(hostile_results, name):
    result = hostile_results[name]
    assert result["outcome"] in ACCEPTABLE, describe(result, name)
    assert result["seconds"] < mm.TIME_LIMIT and result["peak_rss_mb"] < mm.MEMORY_LIMIT / 2 ** 20


@pytest.mark.slow
def test_one_cycle_of_every_mutation_kind_in_children():
    """Each kind in the benchmark's schedule once (heavy kinds too), each file in a bounded child."""
    jobs = [(index, (lambda index=index: mm.mutant(1, index))) for index in range(len(mm.KINDS))]
    bad = [describe(r, f"mm.mutant(1, {r['key']}) [{r.get('kind')}]") for r in mm.run_isolated(jobs, workers=2)
           if r["outcome"] not in ACCEPTABLE]
    assert not bad, "\n".join(bad)


def _sleep(data, name="fuzz.mid"):
    time.sleep(30)


def _sleep_in_c(data, name="fuzz.mid"):
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # as if stuck in one C call
    time.sleep(30)


def _allocate(data, name="fuzz.mid"):
    hoard = bytearray(2 << 30)
    return {"outcome": "read", "size": len(hoard)}


def _abort(data, name="fuzz.mid"):
    os.abort()


@pytest.mark.slow
def test_the_harness_catches_hangs_memory_and_crashes(monkeypatch):
    """A hang is stopped at the time limit (killed if SIGALRM cannot reach it), a 2 GiB allocation
    fails under the 1 GiB limit, an abort is a crash (the stand-ins replace check_bytes before the
    fork); a plain sample is read and text is a clean error; a hang's report says where it was."""
    assert mm.check_isolated(dict(mm.sample_bytes())["blues_in_f.mid"])["outcome"] == "read"
    assert mm.check_isolated(b"not midi")["outcome"] == "clean error"
    for stand_in, outcome in ((_sleep, "hang"), (_allocate, "memory"), (_abort, "crash")):
        monkeypatch.setattr(mm, "check_bytes", stand_in)
        start = time.monotonic()
        result = mm.check_isolated(b"MThd", time_limit=1.0)
        assert result["outcome"] == outcome, result
        assert time.monotonic() - start < 10
    monkeypatch.setattr(mm, "check_bytes", _sleep)
    assert "_sleep" in mm.check_isolated(b"MThd", time_limit=1.0)["where"]
    monkeypatch.setattr(mm, "check_bytes", _sleep_in_c)
    result = mm.check_isolated(b"MThd", time_limit=1.0)
    assert result["outcome"] == "hang" and result["where"] == "(killed in C code)", result
