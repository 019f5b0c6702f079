"""Corpus-reading speed: jazzlstm's reader vs a plain music21.converter.parse baseline, and
MIDI parsers side by side.

Builds (once, then reuses) a corpus of MIDI files in --corpus-dir: the bundled midi_samples/
plus Bach chorales and other scores rendered from music21's own corpus with music21's MIDI
writer. The renderings are then made to look like MIDI files from the wild: 480 ticks per
quarter (music21 writes 10,080) and a performance-like spread of onsets (sd 30 ms at 120 bpm)
and velocities; a second set keeps them exactly quantized ("clean"), for comparison. Then
times, on the same files:

* jazzlstm.load_corpus single-process (no cache): read + melody + chords + grammar tokens
  (median of 3 loads: one load takes seconds, the baseline below takes a minute);
* the same with a worker pool (--workers, default: every core);
* the same again reading the cache it just wrote;
* music21.converter.parse of each file (the baseline; parse only, no analysis);
* side by side, one process, on the same files' bytes (read into memory first; median of 3
  passes): jazzlstm's read_score (symusic parse + melody + chords, no tokens), the previous
  parser pretty_midi.PrettyMIDI (parse only), symusic.Score.from_midi alone and
  mido.MidiFile alone, with the ratios read_score vs music21 and read_score vs pretty_midi.

Reading and encoding, per set (issue 14's goal is stated for the whole path): besides the
200 chorale-sized files above (about 3 KB each), a second set of --large-files performance-sized
files (string quartets, piano pieces and a rag from music21's corpus rendered whole, about 60 KB
each, as large as the public songs and performances the issue was measured on; the same
480 ticks and onset spread; rendering them takes music21 about 40 s a file, once). On each
set, in CPU time per file:

* "read_and_encode": ``process_file`` (read + melody + chords + tokens, no cache) of today's
  package, with the classic grammar and with the default encoding;
* "round1_read_and_encode": the same loop over the package as round 1 left it (git commit
  ROUND1_COMMIT, extracted with ``git archive``; pretty_midi parsing, the grammar): the path
  the issue's "10x today's pretty_midi path" is measured against. Each runs in its own child
  process (benchmarks/time_process_file.py), the two taking turns --rounds times; the median
  round counts. Without git history (an installed copy) this is skipped, with a note;
* music21.converter.parse, read_score, and the parsers alone, as above.

Prints one JSON object. Targets: single-process >= 20x the baseline, before the cache (issue
2); reading and encoding >= 500x music21 and >= 10x round 1's pretty_midi path, one process
(issue 14); the parser-only ratios are reported beside them.
Run: python benchmarks/bench_ingest.py [--files 200] [--large-files 16] [--baseline-files N]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUND1_COMMIT = "78b1da274a1e32d74c2f0151717a84877e430630"
"""The package as round 1 left it: MIDI read with pretty_midi, the grammar encoding."""
LARGE_COMPOSERS = ("joplin", "beethoven", "mozart", "haydn", "chopin", "handel", "schubert")
"""music21 corpus composers whose scores, rendered whole, are performance-sized MIDI files."""


def retime(source: Path, target: Path, seed: int | None, resolution: int = 480, spread: float = 0.06) -> None:
    """Rewrite a MIDI file at ``resolution`` ticks per quarter; with a seed, jitter onsets and
    velocities like a human performance (``spread``: standard deviation in quarter notes)."""
    import random

    import mido

    rng = random.Random(seed)
    original = mido.MidiFile(str(source))
    scale = resolution / original.ticks_per_beat
    out = mido.MidiFile(type=original.type, ticks_per_beat=resolution)
    for track in original.tracks:
        events, absolute = [], 0
        for msg in track:
            absolute += msg.time
            tick = int(round(absolute * scale))
            if seed is not None and msg.type in ("note_on", "note_off"):
                tick = max(0, tick + int(rng.gauss(0.0, spread) * resolution))
                if msg.type == "note_on" and msg.velocity > 0:
                    msg = msg.copy(velocity=max(1, min(127, msg.velocity + rng.randint(-15, 15))))
            events.append((tick, msg.type == "end_of_track", msg))
        events.sort(key=lambda e: (e[0], e[1]))
        rebuilt, last = mido.MidiTrack(), 0
        for tick, _, msg in events:
            rebuilt.append(msg.copy(time=tick - last))
            last = tick
        out.tracks.append(rebuilt)
    out.save(str(target))


def build_corpus(folder: Path, n_files: int) -> tuple[list[Path], list[Path]]:
    """(performance-like files, clean files): midi_samples/ plus music21 corpus renderings."""
    performed, clean = folder / "performed", folder / "clean"
    existing = sorted(performed.glob("*.mid"))
    if len(existing) >= n_files:
        return existing[:n_files], sorted(clean.glob("*.mid"))
    performed.mkdir(parents=True, exist_ok=True)
    clean.mkdir(parents=True, exist_ok=True)
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rendered = render_corpus(raw, n_files)
    for i, path in enumerate(rendered):
        retime(path, performed / path.name, seed=i)
        retime(path, clean / path.name, seed=None)
    return sorted(performed.glob("*.mid"))[:n_files], sorted(clean.glob("*.mid"))[:n_files]


def render_corpus(folder: Path, n_files: int) -> list[Path]:
    """Copy midi_samples/ and render music21 corpus scores to MIDI until ``n_files`` exist."""
    from music21 import corpus

    for sample in sorted((ROOT / "midi_samples").glob("*.mid")):
        shutil.copy(sample, folder / f"sample_{sample.name}")
    sources = [str(p) for p in corpus.getComposer("bach")] + [str(p) for p in corpus.getComposer("joplin")]
    sources += [str(p) for p in corpus.getComposer("beethoven")] + [str(p) for p in corpus.getComposer("mozart")]
    made = len(list(folder.glob("*.mid")))
    for i, source in enumerate(sources):
        if made >= n_files:
            break
        target = folder / f"m21_{i:04d}_{Path(source).stem}.mid"
        if target.exists():
            made += 1
            continue
        try:
            score = corpus.parse(source)
            if len(score.parts) < 2 or score.highestTime > 400:
                continue  # keep pieces with accompaniment and of a modest size
            score.write("midi", fp=str(target))
            made += 1
        except Exception as exc:  # a few corpus files do not render: skip them, say so
            print(f"skipping {source}: {exc.__class__.__name__}", file=sys.stderr)
    return sorted(folder.glob("*.mid"))[:n_files]


def time_jazzlstm(files: list[Path], workers: int, cache: Path | bool, repeats: int = 1) -> tuple[float, int]:
    """Median seconds of ``repeats`` loads (a load takes seconds, so one noisy moment on a
    shared machine would otherwise decide the figure), and the usable file count."""
    from jazzlstm.data.corpus import load_corpus

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = load_corpus(files, encoding="grammar", workers=workers, cache=cache, progress=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(result.pieces)


def time_music21(files: list[Path]) -> tuple[float, list[float]]:
    """(wall seconds, CPU seconds per file) of music21.converter.parse over ``files``."""
    from music21 import converter

    converter.parse(str(files[0]), forceSource=True)  # warm-up: music21's lazy imports
    start, cpu = time.perf_counter(), []
    for path in files:
        began = time.process_time()
        converter.parse(str(path), forceSource=True)
        cpu.append(time.process_time() - began)
    return time.perf_counter() - start, cpu


def build_large_corpus(folder: Path, n_files: int) -> list[Path]:
    """Performance-sized files: whole scores of LARGE_COMPOSERS rendered by music21 (one
    rendering per piece: a Humdrum copy of a MusicXML piece is passed over), then given the
    performed timing of :func:`retime`. Made once, then reused."""
    from music21 import corpus

    raw, performed = folder / "large_raw", folder / "large_performed"
    existing = sorted(performed.glob("*.mid"))
    if len(existing) >= n_files:
        return existing[:n_files]
    raw.mkdir(parents=True, exist_ok=True)
    performed.mkdir(parents=True, exist_ok=True)
    sources = [Path(str(p)) for name in LARGE_COMPOSERS for p in corpus.getComposer(name)]
    pieces: dict[Path, Path] = {}  # one source per piece: MusicXML over Humdrum
    for source in sources:
        if source.with_suffix("") not in pieces or source.suffix == ".mxl":
            pieces[source.with_suffix("")] = source
    made = 0
    for i, source in enumerate(sources):
        if made >= n_files:
            break
        if pieces[source.with_suffix("")] != source:
            continue
        name = "_".join(source.with_suffix("").parts[source.parts.index("corpus") + 1:])
        target = raw / f"{i:03d}_{name}.mid"
        if not target.exists():
            print(f"rendering {source.name} with music21 (once)", file=sys.stderr, flush=True)
            try:
                score = corpus.parse(str(source))
                if len(score.parts) < 2:
                    continue
                score.write("midi", fp=str(target))
            except Exception as exc:  # a few corpus files do not render: skip them, say so
                print(f"skipping {source}: {exc.__class__.__name__}", file=sys.stderr)
                continue
        retime(target, performed / target.name, seed=i)
        made += 1
    return sorted(performed.glob("*.mid"))[:n_files]


def round1_tree(folder: Path) -> Path | None:
    """Round 1's package, extracted from git into ``folder`` (None without git history)."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ROUND1_COMMIT, "jazzlstm"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return folder


def time_paths(files: list[Path], trees: dict[str, tuple[Path | None, str]], rounds: int) -> dict[str, dict]:
    """CPU ms per file of ``process_file`` for each contender (name -> (package folder for
    PYTHONPATH or None for today's, encoding)), each in its own child process, taking turns
    ``rounds`` times; the median round per contender."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump([str(f) for f in files], handle)
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    try:
        for _ in range(rounds):
            for name, (tree, encoding) in trees.items():
                env = dict(os.environ)
                env["PYTHONPATH"] = str(tree) if tree else str(ROOT)
                out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "time_process_file.py"),
                                      handle.name, encoding], capture_output=True, text=True, env=env,
                                     cwd=tempfile.gettempdir(), check=True).stdout
                runs[name].append(json.loads(out.strip().splitlines()[-1]))
    finally:
        os.unlink(handle.name)
    return {name: {"ms_per_file": round(statistics.median(r["ms_per_file"] for r in rs), 3),
                   "rounds_ms": [r["ms_per_file"] for r in rs], "usable_files": rs[0]["usable_files"],
                   "per_file_ms": [min(times) for times in zip(*(r["per_file_ms"] for r in rs))],
                   "encoding": rs[0]["encoding"]} for name, rs in runs.items()}


def time_parsers(files: list[Path], repeats: int = 3) -> tuple[dict[str, float], dict[str, int]]:
    """Median CPU seconds of ``repeats`` passes over every file's bytes, per contender (one
    process), and which parser read_score used how often."""
    import io
    import warnings

    import mido
    import pretty_midi
    import symusic

    from jazzlstm.errors import JazzLSTMError
    from jazzlstm.music.reading import read_score

    blobs = [(str(p), p.read_bytes()) for p in files]
    parsers: dict[str, int] = {}

    def jazzlstm_read_score() -> None:
        parsers.clear()
        for path, data in blobs:
            try:
                parser = read_score(path, data=data).info.get("parser", "?")
            except JazzLSTMError:
                parser = "refused"
            parsers[parser] = parsers.get(parser, 0) + 1

    def pretty_midi_parse() -> None:
        for _, data in blobs:
            pretty_midi.PrettyMIDI(io.BytesIO(data))

    def symusic_parse() -> None:
        for _, data in blobs:
            symusic.Score.from_midi(data)

    def mido_parse() -> None:
        for _, data in blobs:
            mido.MidiFile(file=io.BytesIO(data))

    contenders = {"read_score": jazzlstm_read_score, "pretty_midi": pretty_midi_parse,
                  "symusic": symusic_parse, "mido": mido_parse}
    seconds = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi's meta-event warnings
        for name, run in contenders.items():
            run()  # warm-up pass: lazy imports, caches
            times = []
            for _ in range(repeats):
                start = time.process_time()
                run()
                times.append(time.process_time() - start)
            seconds[name] = statistics.median(times)
    return seconds, dict(parsers)


def reading_and_encoding(files: list[Path], baseline_files: list[Path], round1: Path | None,
                         rounds: int) -> dict:
    """One set's figures in CPU ms per file: music21's parse, today's and round 1's read-and-
    encode path, read_score and the parsers alone; and the ratios the issue sets goals for."""
    from jazzlstm.config import CorpusConfig

    trees = {"read_and_encode_grammar": (None, "grammar"),
             "read_and_encode_default": (None, CorpusConfig.encoding)}
    if round1 is not None:
        trees["round1_read_and_encode_grammar"] = (round1, "grammar")
    paths = time_paths(files, trees, rounds)
    parse_seconds, parsers = time_parsers(files)
    _, music21_cpu = time_music21(baseline_files)
    ms = {"music21_parse": 1000 * sum(music21_cpu) / len(baseline_files),
          **{name: 1000 * seconds / len(files) for name, seconds in parse_seconds.items()},
          **{name: row["ms_per_file"] for name, row in paths.items()}}
    result = {
        "files": len(files),
        "mean_kb": round(sum(p.stat().st_size for p in files) / len(files) / 1024, 1),
        "music21_files": len(baseline_files),
        "cpu_ms_per_file": {name: round(value, 3) for name, value in ms.items()},
        "read_score_parsers": parsers,
        "path_rounds_ms": {name: row["rounds_ms"] for name, row in paths.items()},
        "default_encoding": CorpusConfig.encoding,
        "read_and_encode_vs_music21": round(ms["music21_parse"] / ms["read_and_encode_grammar"], 1),
        "read_and_encode_default_vs_music21": round(ms["music21_parse"] / ms["read_and_encode_default"], 1),
        # files/s over a set is dominated by its slowest files for music21 (whose time grows
        # faster than a file's size): per file too, and without the set's largest file.
        **per_file_ratios(baseline_files, music21_cpu, paths["read_and_encode_grammar"]["per_file_ms"]),
        "read_score_vs_music21": round(ms["music21_parse"] / ms["read_score"], 1),
        "read_score_vs_pretty_midi_parse": round(ms["pretty_midi"] / ms["read_score"], 2),
        "symusic_vs_pretty_midi": round(ms["pretty_midi"] / ms["symusic"], 1),
    }
    if round1 is not None:
        result["read_and_encode_vs_round1"] = round(ms["round1_read_and_encode_grammar"] / ms["read_and_encode_grammar"], 2)
    else:
        result["read_and_encode_vs_round1"] = None
        result["note"] = "no git history here: round 1's path was not timed"
    return result


def per_file_ratios(files: list[Path], music21_cpu: list[float], ours_ms: list[float]) -> dict:
    """music21's time over ours per file (median, lowest), and over the set without its
    largest file (``files`` are the first len(music21_cpu) of the set ``ours_ms`` covers)."""
    ratios = [1000 * m / o for m, o in zip(music21_cpu, ours_ms)]
    largest = max(range(len(files)), key=lambda i: files[i].stat().st_size)
    rest = [i for i in range(len(files)) if i != largest]
    return {"read_and_encode_vs_music21_median_file": round(statistics.median(ratios), 1),
            "read_and_encode_vs_music21_lowest_file": round(min(ratios), 1),
            "read_and_encode_vs_music21_without_largest_file": round(
                1000 * sum(music21_cpu[i] for i in rest) / sum(ours_ms[i] for i in rest), 1) if rest else None,
            "largest_file": {"name": files[largest].name, "kb": round(files[largest].stat().st_size / 1024, 1),
                             "music21_share_of_time": round(music21_cpu[largest] / sum(music21_cpu), 3)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--large-files", type=int, default=16, help="performance-sized files (0: none)")
    parser.add_argument("--baseline-files", type=int, default=None, help="time music21 on the first N files only")
    parser.add_argument("--rounds", type=int, default=3, help="turns of today's and round 1's path")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--corpus-dir", type=Path, default=Path(tempfile.gettempdir()) / "jazzlstm-bench-corpus")
    args = parser.parse_args()

    files, clean = build_corpus(args.corpus_dir, args.files)
    large = build_large_corpus(args.corpus_dir, args.large_files) if args.large_files else []
    n = len(files)
    baseline_files = files[: args.baseline_files or n]
    clean_files = clean[: args.baseline_files or n]
    size = sum(p.stat().st_size for p in files)
    import music21  # noqa: F401  (import cost kept out of the timings)
    import pretty_midi  # noqa: F401

    time_jazzlstm(files[:5], 1, False)  # warm caches of lazily imported modules
    with tempfile.TemporaryDirectory() as cache_dir:
        single, usable = time_jazzlstm(files, 1, False, repeats=3)
        pooled, _ = time_jazzlstm(files, args.workers, Path(cache_dir))
        cached, _ = time_jazzlstm(files, 1, Path(cache_dir))
    baseline, _ = time_music21(baseline_files)
    clean_single, _ = time_jazzlstm(clean_files, 1, False, repeats=3)
    clean_baseline, _ = time_music21(clean_files)
    with tempfile.TemporaryDirectory() as old:
        round1 = round1_tree(Path(old))
        sets = {"chorale_sized": reading_and_encoding(files, baseline_files, round1, args.rounds)}
        if large:
            sets["performance_sized"] = reading_and_encoding(large, large[: args.baseline_files or len(large)],
                                                             round1, args.rounds)
    music21_rate = len(baseline_files) / baseline
    result = {
        "files": n,
        "usable_files": usable,
        "total_kb": round(size / 1024, 1),
        "jazzlstm_single_process_files_per_s": round(n / single, 2),
        "jazzlstm_workers": args.workers,
        "jazzlstm_workers_files_per_s": round(n / pooled, 2),
        "jazzlstm_cached_files_per_s": round(n / cached, 2),
        "music21_parse_files": len(baseline_files),
        "music21_parse_files_per_s": round(music21_rate, 2),
        "speedup_single_vs_music21": round((n / single) / music21_rate, 1),
        "speedup_workers_vs_music21": round((n / pooled) / music21_rate, 1),
        "clean_files": len(clean_files),
        "clean_speedup_single_vs_music21": round(clean_baseline / clean_single, 1),
        "target_speedup_single": 20,
        "reading_and_encoding": sets,
        "round1_commit": ROUND1_COMMIT,
        "target_read_and_encode_vs_music21": 500,
        "target_read_and_encode_vs_round1": 10,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
