"""jazzlstm prepare: the record format (fast, in Python) and the Apache Beam pipeline on the
DirectRunner over a few dozen files (slow)."""
from __future__ import annotations

import io
import json
import random

import pytest

from jazzlstm.data import records as rec


def _random_record(rng: random.Random) -> dict:
    lengths = [rng.randint(0, 40) for _ in range(rng.randint(1, 4))]
    return {"ids": [rng.randint(0, 5000) for _ in range(sum(lengths))], "lengths": lengths,
            "rank": rng.randint(0, 10 ** 6), "notes": rng.randint(0, 300),
            "path": f"/music/{rng.random()}/ü é.mid",
            "chords": [[rng.randint(0, 64) / 2, 4.0, rng.randint(0, 11), rng.choice(["maj7", "m7", "7"])]
                       for _ in range(rng.randint(0, 5))]}


def test_records_round_trip_through_example_and_tfrecord_framing():
    rng = random.Random(17)
    made = [_random_record(rng) for _ in range(30)]
    handle = io.BytesIO(b"".join(rec.frame(rec.encode_example(**r)) for r in made))
    read = [rec.parse_example(data) for data in rec.read_frames(handle)]
    assert read == made
    assert [sum(map(len, rec.split_ids(r))) for r in read] == [sum(r["lengths"]) for r in made]
    assert [list(map(len, rec.split_ids(r))) for r in read] == [r["lengths"] for r in made]


def test_damaged_record_is_refused():
    data = bytearray(rec.frame(rec.encode_example([1, 2, 3], [3], 0, 1, "a.mid", [])))
    data[20] ^= 0xFF
    with pytest.raises(ValueError, match="corrupt"):
        list(rec.read_frames(io.BytesIO(bytes(data))))


@pytest.mark.parametrize("n_files,n_shards", [(1, 1), (7, 3), (100, 8), (20000, 20), (5, 5)])
def test_shards_hold_contiguous_runs_of_ranks_in_order(n_files, n_shards):
    shards = [rec.shard_of(r, n_files, n_shards) for r in range(n_files)]
    assert shards == sorted(shards)                    # reading shards in order gives file order
    assert set(shards) == set(range(min(n_files, n_shards)))  # none empty, none past the count


# --- the Beam pipeline ---------------------------------------------------------------------------

def _corpus(folder, n_good: int = 30):
    from midi_factory import write_drums_only, write_empty, write_text_as_midi, write_trio

    folder.mkdir()
    rng = random.Random(5)
    for i in range(n_good):
        sub = folder / f"set{i % 3}"
        sub.mkdir(exist_ok=True)
        write_trio(sub / f"tune_{i:02d}.mid", seed=i, bars=rng.choice([2, 4, 8, 12]))
    bad = {"empty.mid": write_empty, "text.mid": write_text_as_midi, "drums.mid": write_drums_only}
    for name, make in bad.items():
        make(folder / name)
    return folder, sorted(bad)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from jazzlstm.data.prepare import prepare
    from jazzlstm.config import CorpusConfig, PrepareConfig

    root = tmp_path_factory.mktemp("prep")
    midi, bad = _corpus(root / "midi")
    result = prepare(midi, root / "data", CorpusConfig(cache=False, workers=2), PrepareConfig(shards=4),
                     verbose=False)
    return midi, root / "data", result, bad


@pytest.mark.slow
def test_beam_pipeline_writes_what_load_corpus_reads(prepared):
    from jazzlstm.data.corpus import load_corpus
    from jazzlstm.data.prepare import iter_records, read_manifest
    from jazzlstm.tokens.vocab import Vocabulary

    midi, data, result, bad = prepared
    corpus = load_corpus(midi, cache=False, workers=1, progress=False)
    vocab = Vocabulary.load(data / rec.VOCAB_FILE)
    assert vocab == corpus.vocabulary()
    records = list(iter_records(data))
    assert [r["path"] for r in records] == [p.path for p in corpus.pieces]          # file order
    assert [[vocab.decode(s) for s in rec.split_ids(r)] for r in records] == [p.sequences for p in corpus.pieces]
    assert [r["chords"] for r in records] == [[list(c) for c in p.score.chords] for p in corpus.pieces]
    manifest = read_manifest(data)
    counts = manifest["counts"]
    assert (counts["pieces"], counts["skipped"], counts["files"]) == (len(corpus.pieces), len(corpus.skipped),
                                                                      len(corpus.pieces) + len(corpus.skipped))
    assert counts["tokens"] == corpus.n_tokens and counts["shards"] == len(manifest["shards"]) > 1
    assert all(len(p[2]) == 64 for p in manifest["pieces"])  # content hashes
    skipped = json.loads((data / rec.SKIPPED_FILE).read_text())
    assert sorted(p.rsplit("/", 1)[1] for p, _, _ in skipped["files"]) == bad   # every bad file named
    assert sum(skipped["counts"].values()) == len(bad) == sum(v for k, v in result.counters.items()
                                                              if k.startswith("skipped"))
    assert result.counters["pieces"] == counts["pieces"]
    assert not [p for p in data.parent.iterdir() if p.name.startswith(".")]  # no staging left


@pytest.mark.slow
def test_records_parse_with_tensorflow(prepared):
    import tensorflow as tf

    from jazzlstm.data.prepare import iter_records, read_manifest

    _, data, _, _ = prepared
    files = [str(data / s["file"]) for s in read_manifest(data)["shards"]]
    spec = {"ids": tf.io.VarLenFeature(tf.int64), "lengths": tf.io.VarLenFeature(tf.int64),
            "rank": tf.io.FixedLenFeature([], tf.int64), "notes": tf.io.FixedLenFeature([], tf.int64),
            "path": tf.io.FixedLenFeature([], tf.string), "chords": tf.io.FixedLenFeature([], tf.string)}
    parsed = [tf.io.parse_single_example(x, spec) for x in tf.data.TFRecordDataset(files)]
    expected = list(iter_records(data))
    assert len(parsed) == len(expected)
    for got, want in zip(parsed, expected):
        assert tf.sparse.to_dense(got["ids"]).numpy().tolist() == want["ids"]
        assert tf.sparse.to_dense(got["lengths"]).numpy().tolist() == want["lengths"]
        assert (int(got["rank"]), int(got["notes"]), got["path"].numpy().decode()) == (
            want["rank"], want["notes"], want["path"])
        assert json.loads(got["chords"].numpy()) == want["chords"]


@pytest.mark.slow
def test_prepare_refuses_an_existing_folder_and_an_empty_one(prepared, tmp_path, capsys):
    from jazzlstm.cli import main

    midi, data, _, _ = prepared
    before = (data / rec.MANIFEST_FILE).read_bytes()
    assert main(["prepare", "--midi", str(midi), "--out", str(data)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (data / rec.MANIFEST_FILE).read_bytes() == before
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.mid").write_bytes(b"not midi at all")
    assert main(["prepare", "--midi", str(junk), "--out", str(tmp_path / "out"), "--no-cache"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("jazzlstm: error: no usable files among 1")
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["junk"]


@pytest.mark.slow
def test_a_file_over_the_time_limit_is_skipped_and_the_rest_prepared(tmp_path, monkeypatch):
    """Beam workers read through a bounded reader process, as load_corpus does: a file that
    would hang is skipped with load_corpus's reason, and the pipeline finishes."""
    import multiprocessing
    import time

    import jazzlstm.data.corpus as corpus_module
    from jazzlstm.config import CorpusConfig
    from jazzlstm.data.prepare import prepare
    from midi_factory import write_trio

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs the fork start method")
    # Readers forked from this process run the stub (the DirectRunner's in-memory mode runs here).
    monkeypatch.setattr(corpus_module, "_pool_context", lambda: multiprocessing.get_context("fork"))
    real = corpus_module.read_score

    def hanging(path, *args, **kwargs):
        if "slow" in str(path):
            time.sleep(60)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(corpus_module, "read_score", hanging)
    folder = tmp_path / "midi"
    folder.mkdir()
    for i in range(3):
        write_trio(folder / f"good{i}.mid", seed=i)
    write_trio(folder / "slow.mid", seed=9)
    started = time.monotonic()
    result = prepare(folder, tmp_path / "data", CorpusConfig(cache=False, workers=1, file_timeout=0.5), verbose=False)
    assert time.monotonic() - started < 40
    skipped = json.loads((tmp_path / "data" / rec.SKIPPED_FILE).read_text())
    assert skipped["files"] == [[str(folder / "slow.mid"), "took longer than 0.5 s to read", skipped["files"][0][2]]]
    manifest = json.loads((tmp_path / "data" / rec.MANIFEST_FILE).read_text())
    assert manifest["counts"]["pieces"] == 3 and result is not None
