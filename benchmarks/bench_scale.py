"""Issue 17: prepare on Apache Beam and streamed training against the in-memory folder path.

Builds a synthetic corpus of N MIDI files in code (varied lengths, tracks and meters), then
measures, each in a fresh process (peak RSS from wait4):

* ``load_corpus`` files/s (one reader process) and ``prepare`` files/s on the DirectRunner
  with 1 and 2 workers;
* peak RSS of ``prepare``, of ``train --data`` for one epoch and of the in-memory path
  (``load_corpus`` + ``train``) for one epoch;
* training tokens/s (windows x tx over the time of ``train``), streamed against in memory.

Prints JSON. ``python benchmarks/bench_scale.py --files 2000`` takes a few minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METERS = [(4, 4), (3, 4), (6, 8), (2, 4), (5, 4)]
PROGRESSIONS = [[(2, 0), (7, 1), (0, 2)], [(0, 2), (9, 0), (2, 0), (7, 1)], [(5, 2), (10, 1), (3, 2), (8, 2)]]
QUALITY = {0: (0, 3, 7, 10), 1: (0, 4, 7, 10), 2: (0, 4, 7, 11)}


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def _track(events: list[tuple[int, bytes]]) -> bytes:
    events.sort(key=lambda e: e[0])
    body, now = bytearray(), 0
    for tick, data in events:
        body += _vlq(tick - now) + data
        now = tick
    body += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def synthetic_midi(seed: int) -> bytes:
    """A type-1 file: tempo and meter, a melody, and (mostly) chords and bass."""
    rng = random.Random(seed)
    tpq = 480
    num, den = rng.choice(METERS)
    bar = tpq * 4 * num // den
    bars = rng.choice([4, 8, 12, 16, 24, 32, 48])
    prog = rng.choice(PROGRESSIONS)
    key = rng.randrange(12)
    meta = [(0, b"\xff\x51\x03" + struct.pack(">I", 60_000_000 // rng.randint(80, 200))[1:]),
            (0, bytes([0xFF, 0x58, 4, num, den.bit_length() - 1, 24, 8]))]
    melody, chords, bass = [], [], []
    pitch = 67
    for b in range(bars):
        root, quality = prog[b % len(prog)]
        root = (root + key) % 12
        t = b * bar
        while t < (b + 1) * bar:
            length = min(rng.choice([240, 240, 480, 160, 120, 720]), (b + 1) * bar - t)
            if rng.random() > 0.08:
                pitch = min(max(pitch + rng.choice([-4, -3, -2, -1, 1, 2, 3, 4]), 60), 84)
                melody += [(t, bytes([0x90, pitch, 90])), (t + length, bytes([0x80, pitch, 0]))]
            t += length
        for iv in QUALITY[quality]:
            p = 48 + (root + iv) % 12
            chords += [(b * bar, bytes([0x91, p, 70])), ((b + 1) * bar, bytes([0x81, p, 0]))]
        bass += [(b * bar, bytes([0x92, 36 + root, 80])), ((b + 1) * bar, bytes([0x82, 36 + root, 0]))]
    tracks = [_track(meta), _track(melody)]
    if rng.random() < 0.8:
        tracks += [_track(chords), _track(bass)]
    return b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), tpq) + b"".join(tracks)


def make_corpus(folder: Path, n: int) -> None:
    for i in range(n):
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"piece_{i:06d}.mid").write_bytes(synthetic_midi(i))


CHILD = r'''
import json, sys, time
what, args = sys.argv[1], json.loads(sys.argv[2])
out = {}
if what == "load":
    from jazzlstm.data.corpus import load_corpus
    t = time.perf_counter(); c = load_corpus(args["midi"], cache=False, workers=1, progress=False)
    out = {"seconds": time.perf_counter() - t, "pieces": len(c.pieces), "tokens": c.n_tokens}
elif what == "prepare":
    from jazzlstm.api import prepare
    t = time.perf_counter()
    p = prepare(args["midi"], args["out"], cache=False, workers=args["workers"], force=True, verbose=False)
    out = {"seconds": time.perf_counter() - t, "pieces": p.counts["pieces"], "tokens": p.counts["tokens"]}
else:
    import os; os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from jazzlstm import api
    from jazzlstm.cli import import_tensorflow_quietly
    settings = dict(epochs=1, n_a=args["n_a"], batch_size=args["batch"], verbose=0, force=True)
    if what == "train_memory":
        from jazzlstm.data.corpus import load_corpus
        corpus = load_corpus(args["midi"], cache=False, workers=2, progress=False)
        import_tensorflow_quietly()
        t = time.perf_counter(); run = api.train(corpus=corpus, out=args["out"], **settings)
    else:
        import_tensorflow_quietly()
        t = time.perf_counter(); run = api.train(data=args["data"], out=args["out"], **settings)
    out = {"seconds": time.perf_counter() - t, "loss": run.history["loss"][0]}
print("RESULT " + json.dumps(out))
'''


def child(what: str, **args) -> dict:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, what, json.dumps(args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{what} failed:\n{err[-3000:]}")
    result = json.loads([line for line in out.splitlines() if line.startswith("RESULT ")][-1][7:])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--n-a", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--skip-train", action="store_true", help="only the reading and preparing figures")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_scale.") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        make_corpus(tmp / "midi", args.files)
        report: dict = {"files": args.files, "corpus_build_s": round(time.perf_counter() - t, 1),
                        "cpus": os.cpu_count()}
        load = child("load", midi=str(tmp / "midi"))
        report["tokens"] = load["tokens"]
        report["load_corpus"] = {**load, "files_per_s": round(args.files / load["seconds"], 1)}
        for workers in (1, 2):
            run = child("prepare", midi=str(tmp / "midi"), out=str(tmp / "data"), workers=workers)
            report[f"prepare_{workers}_worker"] = {**run, "files_per_s": round(args.files / run["seconds"], 1)}
        report["prepare_speedup_2_vs_1"] = round(report["prepare_1_worker"]["seconds"]
                                                 / report["prepare_2_worker"]["seconds"], 2)
        if not args.skip_train:
            from jazzlstm.data.prepare import read_manifest
            from jazzlstm.training.stream import window_count

            manifest = read_manifest(tmp / "data")
            windows = sum(window_count(n, 30, 2) for p in manifest["pieces"] for n in p[3])
            common = dict(n_a=args.n_a, batch=args.batch_size)
            streamed = child("train_stream", data=str(tmp / "data"), out=str(tmp / "run_s"), **common)
            memory = child("train_memory", midi=str(tmp / "midi"), out=str(tmp / "run_m"), **common)
            # Windows of both splits (validation is evaluated too); tx = 30 tokens each.
            for name, run in (("train_data", streamed), ("train_in_memory", memory)):
                report[name] = {**run, "tokens_per_s": round(windows * 30 / run["seconds"])}
            report["streamed_vs_memory_tokens_per_s"] = round(memory["seconds"] / streamed["seconds"], 3)
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
