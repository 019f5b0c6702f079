"""``jazzlstm prepare``: a folder of music files -> a prepared data folder, on Apache Beam.

The pipeline (runs unchanged on the DirectRunner here, and by name on Dataflow, Flink or
Spark, which were not tested)::

    files found (discover: sorted, with what could not be looked into)
      ──Create((rank, path))──▶ read + encode each (corpus.process_file: the same code as load_corpus)
      ├─ skipped ──▶ counters by kind + skipped.json
      └─ pieces ──▶ vocabulary (a combiner: the union of token sets, sorted)
                 ──ids (vocabulary as a side input)──▶ (shard, record) ──GroupByKey──▶ TFRecord shards
                 ──▶ manifest.json, chords.json, vocab.json, encoding.json

Everything is written into a staging folder beside ``--out`` and renamed into place when the
pipeline has succeeded, so a failed run leaves no half-written data folder; an existing
``--out`` is refused without ``--force``. See docs/scale.md.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from jazzlstm._version import __version__
from jazzlstm.config import CorpusConfig, PrepareConfig, to_dict
from jazzlstm.data import records as rec
from jazzlstm.data.corpus import (SKIP_KINDS, BoundedReader, EncodingSettings, ReadLimits, default_cache_dir, discover,
                                  process_file, skip_kind)
from jazzlstm.errors import JazzLSTMError, NoUsableFilesError
from jazzlstm.fileio import file_sha256
from jazzlstm.music.reading import SUPPORTED_SUFFIXES

COUNTER_NAMESPACE = "jazzlstm.prepare"
FILES_PER_SHARD = 1000
MAX_SHARDS = 1024


def default_shards(n_files: int) -> int:
    """One record file per :data:`FILES_PER_SHARD` files, at least 1, at most :data:`MAX_SHARDS`."""
    return max(1, min(MAX_SHARDS, math.ceil(n_files / FILES_PER_SHARD)))


@dataclass
class Prepared:
    """What :func:`prepare` wrote: the data folder and its manifest's counts."""

    path: Path
    counts: dict
    skip_counts: dict
    skipped: list = field(default_factory=list)
    counters: dict = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        c = self.counts
        lines = [f"prepared {c['files']} file(s): {c['pieces']} usable, {c['skipped']} skipped; {c['sequences']} "
                 f"sequence(s), {c['tokens']} tokens, vocabulary {c['vocabulary']}; {c['shards']} record file(s) "
                 f"in {self.seconds:.1f} s"]
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped[:50]]
        if len(self.skipped) > 50:
            lines.append(f"  ... and {len(self.skipped) - 50} more (all in {self.path / rec.SKIPPED_FILE})")
        if self.skip_counts:
            lines.append("  skips by reason: " + ", ".join(f"{n} {kind}" for kind, n in self.skip_counts.items()))
        return "\n".join(lines)


# --- the pipeline's steps (module level, so that runners can pickle them) ------------------------

def sha256_of(path: str) -> str | None:
    """The file's content hash for the manifest (None: it cannot be read, which its record says)."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def encode_file(rank: int, path: str, settings: EncodingSettings, cache_dir: str | None,
                reader: BoundedReader | None = None) -> dict:
    """One file read and encoded by :func:`jazzlstm.data.corpus.process_file`, as a plain dict:
    ``rank``, ``path``, ``sha256``, and ``skip`` or ``sequences`` (tokens), ``notes``, ``predicted``
    (tokens that are not given context), ``chords``."""
    if reader is not None:  # in a reader process, under the time and memory limits
        record = reader.read(path)
    else:
        try:
            record = process_file(path, settings, cache_dir)
        except MemoryError:
            record = {"skip": "ran out of memory while reading"}
    out = {"rank": rank, "path": path, "sha256": sha256_of(path)}
    if "skip" in record:
        return {**out, "skip": record["skip"]}
    sequences = record["sequences"]
    score = record["score_obj"]
    tokenizer = settings.tokenizer
    return {**out, "sequences": sequences,
            "notes": sum(tokenizer.count_notes(seq) for seq in sequences),
            "predicted": sum(not tokenizer.is_given(t) for seq in sequences for t in seq),
            "chords": [[c.start, c.duration, c.root, c.quality] for c in score.chords]}


def _beam():
    """apache_beam, imported with its start-up notices (missing optional clients) hidden."""
    import logging

    if "apache_beam" not in sys.modules:
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            import apache_beam  # noqa: F401
        except ImportError:
            raise JazzLSTMError("jazzlstm prepare needs Apache Beam: pip install 'jazzlstm[beam]'") from None
        finally:
            root.setLevel(level)
        logging.getLogger("apache_beam").setLevel(logging.ERROR)  # worker chatter; failures still raise
    import apache_beam as beam

    return beam


def build_pipeline(pipeline, files: Sequence[str], staging: str, settings: EncodingSettings,
                   cache_dir: str | None, n_shards: int, header: dict, limits: ReadLimits = ReadLimits()) -> None:
    """Add the prepare steps to a Beam ``pipeline``: read ``files`` (ranked in this order) and
    write the data folder's files under ``staging``."""
    beam = _beam()
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.metrics import Metrics

    n_files = len(files)

    class Encode(beam.DoFn):
        def setup(self):
            # Each worker reads through its own reader process, bounded as load_corpus's are.
            self.reader = BoundedReader(settings, cache_dir, limits)
            self.pieces = Metrics.counter(COUNTER_NAMESPACE, "pieces")
            self.tokens = Metrics.counter(COUNTER_NAMESPACE, "tokens")
            self.skips = {kind: Metrics.counter(COUNTER_NAMESPACE, f"skipped: {kind}")
                          for kind in [k for k, _ in SKIP_KINDS] + ["other"]}

        def teardown(self):
            self.reader.close()

        def process(self, item):
            rank, path = item
            record = encode_file(rank, path, settings, cache_dir, self.reader)
            if "skip" in record:
                self.skips[skip_kind(record["skip"])].inc()
                yield beam.pvalue.TaggedOutput("skipped", record)
            else:
                self.pieces.inc()
                self.tokens.inc(sum(len(s) for s in record["sequences"]))
                yield record

    class VocabularyFn(beam.CombineFn):
        """The union of every piece's tokens, sorted (as Vocabulary sorts them)."""

        def create_accumulator(self):
            return set()

        def add_input(self, tokens, record):
            for seq in record["sequences"]:
                tokens.update(seq)
            return tokens

        def merge_accumulators(self, accumulators):
            merged = set()
            for tokens in accumulators:
                merged |= tokens
            return merged

        def extract_output(self, tokens):
            return sorted(tokens)

    def to_record(record, vocab_tokens):
        index = {token: i for i, token in enumerate(vocab_tokens)}  # cheap next to reading a file
        ids = [index[t] for seq in record["sequences"] for t in seq]
        lengths = [len(seq) for seq in record["sequences"]]
        data = rec.encode_example(ids, lengths, record["rank"], record["notes"], record["path"], record["chords"])
        entry = {"rank": record["rank"], "path": record["path"], "sha256": record["sha256"], "lengths": lengths,
                 "notes": record["notes"], "predicted": record["predicted"], "chords": record["chords"]}
        return rec.shard_of(record["rank"], n_files, n_shards), (record["rank"], data, entry)

    def write_shard(item):
        shard, members = item
        members = sorted(members, key=lambda m: m[0])
        name = rec.shard_name(shard, n_shards)
        with FileSystems.create(FileSystems.join(staging, rec.RECORDS_DIR, name)) as handle:
            for _, data, _ in members:
                handle.write(rec.frame(data))
        return {"shard": shard, "file": f"{rec.RECORDS_DIR}/{name}", "pieces": [m[2] for m in members]}

    def write_json(name, obj):
        with FileSystems.create(FileSystems.join(staging, name)) as handle:
            handle.write((json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"))

    def write_metadata(_, vocab_tokens, shards, skipped):
        from jazzlstm.tokens.vocab import Vocabulary

        shards = sorted(shards, key=lambda s: s["shard"])
        pieces = [p for s in shards for p in s["pieces"]]
        skipped = sorted(skipped, key=lambda r: r["rank"])
        counts_by_kind = Counter(skip_kind(r["skip"]) for r in skipped)
        write_json(rec.VOCAB_FILE, Vocabulary(vocab_tokens).to_json())
        write_json(rec.CHORDS_FILE, [p["chords"] for p in pieces if p["chords"]])
        write_json(rec.SKIPPED_FILE, {"counts": dict(counts_by_kind.most_common()),
                                      "files": [[r["path"], r["skip"], r["sha256"]]
                                                for r in skipped]})
        shard_rows = [{"file": s["file"], "pieces": len(s["pieces"]),
                       "tokens": sum(sum(p["lengths"]) for p in s["pieces"])} for s in shards]
        manifest = {**header, "counts": {
            "files": n_files, "pieces": len(pieces), "skipped": len(skipped),
            "sequences": sum(len(p["lengths"]) for p in pieces),
            "tokens": sum(sum(p["lengths"]) for p in pieces), "notes": sum(p["notes"] for p in pieces),
            "vocabulary": len(vocab_tokens), "shards": len(shards)},
            "shards": shard_rows,
            "pieces": [[p["rank"], p["path"], p["sha256"], p["lengths"], p["notes"], s["shard"], p["predicted"]]
                       for s in shards for p in s["pieces"]]}
        write_json(rec.MANIFEST_FILE, manifest)

    results = (pipeline | "files" >> beam.Create(list(enumerate(files)))
               | "read and encode" >> beam.ParDo(Encode()).with_outputs("skipped", main="pieces"))
    pieces, skipped = results.pieces, results.skipped
    vocab = pieces | "vocabulary" >> beam.CombineGlobally(VocabularyFn())
    shards = (pieces | "token ids" >> beam.Map(to_record, vocab_tokens=beam.pvalue.AsSingleton(vocab))
              | "by shard" >> beam.GroupByKey()
              | "write shards" >> beam.Map(write_shard))
    (pipeline | "once" >> beam.Create([None])
     | "write metadata" >> beam.Map(write_metadata, vocab_tokens=beam.pvalue.AsSingleton(vocab),
                                    shards=beam.pvalue.AsList(shards), skipped=beam.pvalue.AsList(skipped)))


def pipeline_options(runner: str, workers: int, beam_args: Sequence[str] = ()):
    """Beam options: the DirectRunner with ``workers`` processes (multi-processing mode from
    two), or another runner with the user's own options (``beam_args``)."""
    _beam()
    from apache_beam.options.pipeline_options import PipelineOptions

    args = [f"--runner={runner}", "--default_sdk_harness_log_level=ERROR", *beam_args]
    if runner == "DirectRunner" and not any(a.startswith("--direct_running_mode") for a in beam_args):
        mode = "multi_processing" if workers > 1 else "in_memory"
        args += [f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"]
    return PipelineOptions(args)


def prepare(midi: str | Path, out: str | Path, config: CorpusConfig | None = None,
            prepare_config: PrepareConfig | None = None, beam_args: Sequence[str] = (), force: bool = False,
            verbose: bool = True) -> Prepared:
    """Run the prepare pipeline on the files under ``midi`` and write the data folder ``out``."""
    from jazzlstm.runs import publish, staging_dir

    config = config or CorpusConfig()
    prepare_config = prepare_config or PrepareConfig()
    out = Path(out)
    if out.exists() and not force:
        raise JazzLSTMError(f"{out}: already exists (use --force to overwrite)")
    found, other, problems = discover(midi)
    if not found:
        trouble = "; ".join(f"{p}: {r}" for p, r in problems[:3])
        raise NoUsableFilesError(f"{midi}: no MIDI or MusicXML files found (looked for "
                                 f"{', '.join(SUPPORTED_SUFFIXES)})" + (f"; could not look into {trouble}" if trouble else ""))
    files = [str(f) for f in found]
    settings = EncodingSettings.from_config(config)
    cache_dir = None
    if config.cache:
        cache_dir = str(default_cache_dir() if config.cache is True else Path(config.cache))
    workers = config.workers or min(os.cpu_count() or 1, 8)
    n_shards = min(prepare_config.shards or default_shards(len(files)), len(files))
    header = {"format": rec.FORMAT, "version": __version__, "sources": [str(midi)],
              "encoding": settings.encoding, "tokenizer": settings.tokenizer.config(),
              "corpus": to_dict(config), "runner": prepare_config.runner,
              "ignored": len(other)}
    staging = staging_dir(out, force)
    started = time.monotonic()
    try:
        if verbose:
            print(f"jazzlstm: preparing {len(files)} file(s) on the {prepare_config.runner}"
                  + (f" with {workers} worker(s)" if prepare_config.runner == "DirectRunner" else "")
                  + f" into {n_shards} record file(s)", file=sys.stderr)
        (staging / rec.RECORDS_DIR).mkdir()
        beam = _beam()
        pipeline = beam.Pipeline(options=pipeline_options(prepare_config.runner, workers, beam_args))
        build_pipeline(pipeline, files, str(staging), settings, cache_dir, n_shards, header,
                       ReadLimits.from_config(config))
        result = pipeline.run()
        result.wait_until_finish()
        counters = _counters(result)
        # What discover could not look into is reported too (never dropped silently).
        manifest = json.loads((staging / rec.MANIFEST_FILE).read_text(encoding="utf-8"))
        skipped_doc = json.loads((staging / rec.SKIPPED_FILE).read_text(encoding="utf-8"))
        if problems:
            skipped_doc["files"] += [[p, r, None] for p, r in problems]
            counts = Counter(skipped_doc["counts"])
            counts.update(skip_kind(r) for _, r in problems)
            skipped_doc["counts"] = dict(counts.most_common())
            manifest["counts"]["skipped"] += len(problems)
            _write_json(staging / rec.SKIPPED_FILE, skipped_doc)
            _write_json(staging / rec.MANIFEST_FILE, manifest)
        if not manifest["counts"]["pieces"]:
            counts = ", ".join(f"{n} {kind}" for kind, n in skipped_doc["counts"].items())
            details = "; ".join(f"{Path(p).name}: {r}" for p, r, _ in skipped_doc["files"][:5])
            raise NoUsableFilesError(f"no usable files among {len(skipped_doc['files'])} ({counts}; {details})")
        _write_json(staging / rec.ENCODING_FILE, {"format": rec.FORMAT, "encoding": settings.encoding,
                                                  "tokenizer": settings.tokenizer.config(),
                                                  "corpus": to_dict(config)})
        publish(staging, out)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, (JazzLSTMError, KeyboardInterrupt)):
            raise
        raise JazzLSTMError(f"prepare failed on the {prepare_config.runner}: "
                            f"{exc.__class__.__name__}: {str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else ''}"
                            ) from exc
    return Prepared(out, manifest["counts"], skipped_doc["counts"], [(p, r) for p, r, _ in skipped_doc["files"]],
                    counters, time.monotonic() - started)


def _write_json(path: Path, obj) -> None:
    from jazzlstm.fileio import write_json_atomic

    write_json_atomic(path, obj)


def _counters(result) -> dict:
    """The pipeline's counters by name (committed values; attempted where a runner has none)."""
    from apache_beam.metrics.metric import MetricsFilter

    try:
        found = result.metrics().query(MetricsFilter().with_namespace(COUNTER_NAMESPACE))["counters"]
    except Exception:  # a runner without metrics
        return {}
    out: dict[str, int] = {}
    for counter in found:
        value = counter.committed if counter.committed is not None else counter.attempted
        out[counter.key.metric.name] = out.get(counter.key.metric.name, 0) + int(value or 0)
    return {k: v for k, v in sorted(out.items()) if v}


# --- reading a data folder -----------------------------------------------------------------------

def read_manifest(data_dir: str | Path) -> dict:
    """A data folder's manifest, checked for the format (one clear error otherwise)."""
    data_dir = Path(data_dir)
    path = data_dir / rec.MANIFEST_FILE
    if not data_dir.is_dir():
        raise JazzLSTMError(f"{data_dir}: no such data folder (make one with jazzlstm prepare)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise JazzLSTMError(f"{data_dir}: not a prepared data folder (cannot read {rec.MANIFEST_FILE}: "
                            f"{getattr(exc, 'strerror', None) or exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != rec.FORMAT:
        raise JazzLSTMError(f"{path}: not a jazzlstm data manifest ({rec.FORMAT})")
    return manifest


def iter_records(data_dir: str | Path, manifest: dict | None = None) -> Iterable[dict]:
    """Every record of a data folder, parsed in Python, in rank order (for tests and tools)."""
    data_dir = Path(data_dir)
    manifest = manifest or read_manifest(data_dir)
    for shard in manifest["shards"]:
        with open(data_dir / shard["file"], "rb") as handle:
            for data in rec.read_frames(handle):
                yield rec.parse_example(data)
