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

Prints one JSON object. Targets: single-process >= 20x the baseline, before the cache (issue
2); read_score >= 500x music21 and >= 10x pretty_midi's parser, one process (issue 14).
Run: python benchmarks/bench_ingest.py [--files 200] [--baseline-files N]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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
    import statistics

    from jazzlstm.data.corpus import load_corpus

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = load_corpus(files, encoding="grammar", workers=workers, cache=cache, progress=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(result.pieces)


def time_music21(files: list[Path]) -> float:
    from music21 import converter

    start = time.perf_counter()
    for path in files:
        converter.parse(str(path), forceSource=True)
    return time.perf_counter() - start


def time_parsers(files: list[Path], repeats: int = 3) -> tuple[dict[str, float], dict[str, int]]:
    """Median seconds of ``repeats`` passes over every file's bytes, per contender (one process),
    and which parser read_score used how often."""
    import io
    import statistics
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
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            seconds[name] = statistics.median(times)
    return seconds, dict(parsers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--baseline-files", type=int, default=None, help="time music21 on the first N files only")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--corpus-dir", type=Path, default=Path(tempfile.gettempdir()) / "jazzlstm-bench-corpus")
    args = parser.parse_args()

    files, clean = build_corpus(args.corpus_dir, args.files)
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
    baseline = time_music21(baseline_files)
    clean_single, _ = time_jazzlstm(clean_files, 1, False, repeats=3)
    clean_baseline = time_music21(clean_files)
    parse_seconds, parsers = time_parsers(files)
    music21_rate = len(baseline_files) / baseline
    rates = {name: n / s for name, s in parse_seconds.items()}
    result = {
        "files": n,
        "usable_files": usable,
        "total_kb": round(size / 1024, 1),
        "jazzlstm_single_process_files_per_s": round(n / single, 2),
        "jazzlstm_workers": args.workers,
        "jazzlstm_workers_files_per_s": round(n / pooled, 2),
        "jazzlstm_cached_files_per_s": round(n / cached, 2),
        "music21_parse_files": len(baseline_files),
        "music21_parse_files_per_s": round(len(baseline_files) / baseline, 2),
        "speedup_single_vs_music21": round((n / single) / (len(baseline_files) / baseline), 1),
        "speedup_workers_vs_music21": round((n / pooled) / (len(baseline_files) / baseline), 1),
        "clean_files": len(clean_files),
        "clean_speedup_single_vs_music21": round(clean_baseline / clean_single, 1),
        "target_speedup_single": 20,
        "read_score_files_per_s": round(rates["read_score"], 2),
        "read_score_parsers": parsers,
        "pretty_midi_parse_files_per_s": round(rates["pretty_midi"], 2),
        "symusic_parse_files_per_s": round(rates["symusic"], 2),
        "mido_parse_files_per_s": round(rates["mido"], 2),
        "read_score_vs_music21": round(rates["read_score"] / music21_rate, 1),
        "read_score_vs_pretty_midi": round(rates["read_score"] / rates["pretty_midi"], 2),
        "target_read_score_vs_music21": 500,
        "target_read_score_vs_pretty_midi": 10,
        "symusic_vs_pretty_midi": round(rates["symusic"] / rates["pretty_midi"], 1),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
