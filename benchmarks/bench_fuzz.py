"""Fuzzing the MIDI reader with hostile files: no traceback, no hang, bounded memory.

Makes --files hostile MIDI files (tests/midi_mutations.py: byte-level mutations of the bundled
midi_samples/, structure-aware mutations such as tempo 0, a 4/2^64 meter, a 10^6-beat note,
data bytes above 127, SMPTE divisions, thousands of tracks, and files built from scratch), each
deterministic from --seed and its index. Each file is read with jazzlstm.music.reading.read_score
and, when that gives a Score, encoded with every music tokenizer (and notes transposed by key),
in a forked child limited to --time-limit seconds (else: hang, the child is killed) and
--memory-limit MiB of address space (RLIMIT_AS: an allocation past it fails: memory), --workers
children at a time. The child's peak RSS comes from wait4.

Outcomes: read, clean error (a JazzLSTMError: the expected way to refuse a file), and the bugs:
traceback (any other exception), hang, memory, crash (the child died without a report).
Goals (issue "Real-world MIDI"): >= 10,000 files, 0 tracebacks, 0 hangs over 5 s, peak RSS < 1 GB.

Prints one JSON object: counts per outcome and per mutation kind (with mean and max seconds),
the slowest file, the largest peak RSS, the first few bugs, every bug grouped by (outcome,
error type, innermost jazzlstm function) and the commonest clean-error reasons. With --save DIR,
each offending input is written there as <index>_<outcome>_<kind>.mid (any file can be rebuilt
with midi_mutations.mutant(seed, index)).

Every file gets a fresh forked child (about 6 ms of the parent's time each): nothing leaks from
one file to the next, and the peak RSS is that file's. The children inherit the parent's loaded
modules, so a run tests the code as it was when the run started.

Run: python benchmarks/bench_fuzz.py [--files 10000] [--seed 0] [--workers 2] [--save DIR]
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one file, one thread: children stay small
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import midi_mutations as mm  # noqa: E402

BUGS = ("traceback", "hang", "memory", "crash")


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def _reason(error: str) -> str:
    """A clean error's message without the file name, numbers as #: to count them by reason."""
    message = error.split(": ", 1)[-1]
    message = message.replace("fuzz.mid: ", "", 1)
    return re.sub(r"\d+(\.\d+)?", "#", message)[:120]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="first file index (to rerun a slice)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=mm.TIME_LIMIT, help="seconds per file")
    parser.add_argument("--memory-limit", type=int, default=mm.MEMORY_LIMIT >> 20, help="MiB per file")
    parser.add_argument("--kinds", default="", help="comma-separated mutation kinds (prefixes) to run only")
    parser.add_argument("--save", type=Path, help="write the offending inputs into this folder")
    parser.add_argument("--examples", type=int, default=5, help="how many first bugs to list")
    parser.add_argument("--reasons", type=int, default=15, help="how many clean-error reasons to list")
    parser.add_argument("--progress", action="store_true", help="a line on stderr every 500 files")
    args = parser.parse_args(argv)

    wanted = tuple(k for k in args.kinds.split(",") if k)
    indices = [i for i in range(args.start, args.start + args.files)
               if not wanted or mm.SCHEDULE[i % len(mm.SCHEDULE)].startswith(wanted)]
    if wanted:  # keep --files files of the wanted kinds
        i = args.start + args.files
        while len(indices) < args.files:
            if mm.SCHEDULE[i % len(mm.SCHEDULE)].startswith(wanted):
                indices.append(i)
            i += 1
    seed = args.seed
    jobs = ((index, (lambda index=index: mm.mutant(seed, index))) for index in indices)

    outcomes: Counter = Counter()
    by_kind: dict[str, Counter] = defaultdict(Counter)
    groups: dict[tuple, dict] = {}
    first_bugs: list[dict] = []
    slowest = {"seconds": 0.0}
    biggest = {"peak_rss_mb": 0.0}
    read_seconds: list[float] = []
    kind_seconds: dict[str, list[float]] = defaultdict(list)
    reasons: Counter = Counter()
    start = time.perf_counter()
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    for done, result in enumerate(mm.run_isolated(jobs, args.workers, args.time_limit, args.memory_limit << 20), 1):
        index = result["key"]
        kind = result.get("kind") or mm.SCHEDULE[index % len(mm.SCHEDULE)]
        outcome = result["outcome"]
        outcomes[outcome] += 1
        by_kind[kind][outcome] += 1
        seconds = float(result.get("seconds", 0.0))
        kind_seconds[kind].append(seconds)
        read_seconds.append(seconds)
        if seconds > slowest["seconds"]:
            slowest = {"seconds": seconds, "index": index, "kind": kind, "outcome": outcome}
        if result["peak_rss_mb"] > biggest["peak_rss_mb"]:
            biggest = {"peak_rss_mb": result["peak_rss_mb"], "index": index, "kind": kind, "outcome": outcome}
        if outcome == "clean error":
            reasons[_reason(result.get("error", ""))] += 1
        if outcome in BUGS:
            error = result.get("error", "")
            chain = result.get("chain", "")
            site = chain.split(" < ")[0] if chain else re.sub(r":\d+", "", result.get("where", ""))
            group_key = (outcome, error.split(":")[0], site)
            group = groups.setdefault(group_key, {"outcome": outcome, "error": error, "site": site,
                                                  "where": result.get("where", ""), "chain": chain,
                                                  "stage": result.get("stage", ""), "count": 0, "kinds": Counter(),
                                                  "indices": []})
            group["count"] += 1
            group["kinds"][kind] += 1
            if len(group["indices"]) < 5:
                group["indices"].append(index)
            if len(first_bugs) < args.examples:
                first_bugs.append({"index": index, "kind": kind, "outcome": outcome, "error": error,
                                   "where": result.get("where", ""), "stage": result.get("stage", "")})
            if args.save:
                data = mm.mutant(seed, index).data
                (args.save / f"{index:06d}_{_safe(outcome)}_{_safe(kind)}.mid").write_bytes(data)
        if args.progress and done % 500 == 0:
            print(f"{done} files, {time.perf_counter() - start:.0f} s, {dict(outcomes)}", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    read_seconds.sort()
    report = {
        "files": sum(outcomes.values()),
        "seed": seed,
        "workers": args.workers,
        "limits": {"seconds": args.time_limit, "memory_mib": args.memory_limit},
        "wall_s": round(elapsed, 1),
        "files_per_s": round(sum(outcomes.values()) / elapsed, 1),
        "outcomes": {name: outcomes.get(name, 0) for name in mm.OUTCOMES},
        "bugs": sum(outcomes[name] for name in BUGS),
        "goals_met": {
            "files >= 10000": sum(outcomes.values()) >= 10000,
            "0 tracebacks": outcomes["traceback"] == 0 and outcomes["crash"] == 0,
            "0 hangs": outcomes["hang"] == 0,
            "peak RSS < 1 GB": outcomes["memory"] == 0 and biggest["peak_rss_mb"] < 1000,
        },
        "median_file_s": read_seconds[len(read_seconds) // 2] if read_seconds else None,
        "slowest_file": slowest,
        "max_peak_rss": biggest,
        "first_bugs": first_bugs,
        "bug_groups": sorted(({**g, "kinds": dict(g["kinds"].most_common())} for g in groups.values()),
                             key=lambda g: -g["count"]),
        "clean_error_reasons": dict(reasons.most_common(args.reasons)),
        "by_kind": {kind: {**counts, "mean_s": round(sum(kind_seconds[kind]) / len(kind_seconds[kind]), 4),
                           "max_s": max(kind_seconds[kind])} for kind, counts in sorted(by_kind.items())},
    }
    if args.save:
        report["saved_to"] = str(args.save)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
