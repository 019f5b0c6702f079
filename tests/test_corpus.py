"""load_corpus: discovery, order, ignored files, cache, workers, augmentation, vocabulary."""
from __future__ import annotations

import errno
import json
import multiprocessing
import os
from pathlib import Path

import pytest

import jazzlstm.data.corpus as corpus_module
from jazzlstm.data.corpus import load_corpus
from jazzlstm.music.reading import read_score
from jazzlstm.errors import NoUsableFilesError
from jazzlstm.music.score import score_to_dict
from midi_factory import (TrackSpec, bass_notes, chord_notes, melody_notes, write_empty, write_text_as_midi,
                          write_tracks, write_trio)
from conftest import run_python

QUIET = dict(progress=False)


@pytest.fixture
def fork_readers(monkeypatch):
    """Reader processes forked from this one, so that a reader stubbed here is the one they run
    (with TensorFlow loaded, load_corpus would start them from the fork server, which imports
    the package afresh)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs the fork start method")
    monkeypatch.setattr(corpus_module, "_pool_context", lambda: multiprocessing.get_context("fork"))


def make_tree(root: Path) -> list[Path]:
    """Files in nested folders, created out of order; returns the music files in sorted order."""
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a").mkdir()
    made = [
        write_trio(root / "b" / "deep" / "z.mid", seed=1),
        write_trio(root / "a" / "TUNE.MID", seed=2),
        write_trio(root / "top.midi", seed=3),
        write_trio(root / "a" / "blues.mid", seed=4),
    ]
    (root / "README.txt").write_text("my jazz collection\n")
    (root / "a" / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    (root / ".git").mkdir()
    write_text_as_midi(root / ".git" / "objects.mid")  # hidden folders are not music
    write_text_as_midi(root / "a" / ".swap.mid")
    return sorted(made)


def same_pieces(a, b) -> None:
    assert [p.path for p in a.pieces] == [p.path for p in b.pieces]
    assert [p.sequences for p in a.pieces] == [p.sequences for p in b.pieces]
    assert [score_to_dict(p.score) for p in a.pieces] == [score_to_dict(p.score) for p in b.pieces]
    assert a.skipped == b.skipped


# --- discovery ---------------------------------------------------------------------------------


def test_recursive_discovery_and_order(tmp_path):
    music = make_tree(tmp_path)
    corpus = load_corpus(tmp_path, cache=False, workers=1, **QUIET)
    assert [p.path for p in corpus.pieces] == [str(p) for p in music]
    assert any(p.path.endswith("TUNE.MID") for p in corpus.pieces)  # upper-case suffix
    assert any(p.path.endswith("z.mid") and "deep" in p.path for p in corpus.pieces)
    again = load_corpus(tmp_path, cache=False, workers=1, **QUIET)
    same_pieces(corpus, again)


def test_non_music_files_are_reported_not_dropped(tmp_path):
    make_tree(tmp_path)
    corpus = load_corpus(tmp_path, cache=False, workers=1, **QUIET)
    assert sorted(corpus.ignored) == sorted([str(tmp_path / "README.txt"), str(tmp_path / "a" / "cover.jpg")])
    assert corpus.skipped == []  # the hidden fake .mid files were never read
    summary = corpus.summary()
    assert "ignored 2 file(s)" in summary


def test_list_of_paths_and_single_file(tmp_path):
    music = make_tree(tmp_path)
    single = load_corpus(music[0], cache=False, workers=1, **QUIET)
    assert [p.path for p in single.pieces] == [str(music[0])]
    several = load_corpus([tmp_path / "a", music[-1]], cache=False, workers=1, **QUIET)
    assert [p.path for p in several.pieces] == [str(tmp_path / "a" / "TUNE.MID"), str(tmp_path / "a" / "blues.mid"),
                                                str(music[-1])]


def test_folder_without_music_raises(tmp_path):
    (tmp_path / "README.txt").write_text("x")
    with pytest.raises(NoUsableFilesError):
        load_corpus(tmp_path, cache=False, **QUIET)


def test_summary_mentions_skipped_files(tmp_path):
    write_trio(tmp_path / "good.mid")
    bad = write_text_as_midi(tmp_path / "bad.mid")
    empty = write_empty(tmp_path / "empty.mid")
    corpus = load_corpus(tmp_path, cache=False, workers=1, **QUIET)
    assert len(corpus.pieces) == 1
    assert sorted(corpus.skipped) == sorted([(str(bad), "not a MIDI file (no MThd header)"),
                                             (str(empty), "empty file (0 bytes)")])
    summary = corpus.summary()
    assert "1 usable, 2 skipped" in summary
    assert f"skipped {bad}: not a MIDI file" in summary
    assert f"skipped {empty}: empty file (0 bytes)" in summary


# --- cache -------------------------------------------------------------------------------------


def test_cache_reuse_invalidation_and_encoding_key(tmp_path, monkeypatch, fork_readers):
    music = tmp_path / "music"
    music.mkdir()
    files = [write_trio(music / f"tune{i}.mid", seed=i) for i in range(4)]
    cache = tmp_path / "cache"
    n = len(files)

    first = load_corpus(music, cache=cache, workers=1, **QUIET)
    assert first.cache_hits == 0
    assert any(cache.rglob("*.json"))

    second = load_corpus(music, cache=cache, workers=1, **QUIET)
    assert second.cache_hits == n
    same_pieces(first, second)
    assert "4 from cache" in second.summary()

    # Rewrite one file with different notes: only that one is read again.
    write_trio(files[2], seed=99)
    log = tmp_path / "read.log"
    real_read_score = corpus_module.read_score

    def counting_read_score(path, *args, **kwargs):
        with open(log, "a", encoding="utf-8") as out:  # runs in a reader process: tell the test by file
            out.write(f"{path}\n")
        return real_read_score(path, *args, **kwargs)

    def reads() -> list[str]:
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []

    monkeypatch.setattr(corpus_module, "read_score", counting_read_score)
    third = load_corpus(music, cache=cache, workers=1, **QUIET)
    read = reads()
    assert third.cache_hits == n - 1
    assert read == [str(files[2])]
    assert third.pieces[2].tokens != first.pieces[2].tokens
    for i in (0, 1, 3):
        assert third.pieces[i].sequences == first.pieces[i].sequences

    # Another encoding must not reuse the default encoding's entries.
    log.unlink()
    notes1 = load_corpus(music, encoding="notes", cache=cache, workers=1, **QUIET)
    read = reads()
    assert notes1.cache_hits == 0
    assert len(read) == n
    assert all(tok[0] in "PR" for seq in notes1.sequences for tok in seq)
    notes2 = load_corpus(music, encoding="notes", cache=cache, workers=1, **QUIET)
    assert notes2.cache_hits == n
    same_pieces(notes1, notes2)

    # ... and the default encoding's entries are still there.
    grammar_again = load_corpus(music, cache=cache, workers=1, **QUIET)
    assert grammar_again.cache_hits == n
    same_pieces(third, grammar_again)


def test_melody_track_setting_changes_cache_key(tmp_path):
    write_trio(tmp_path / "trio.mid")
    cache = tmp_path / "cache"
    auto = load_corpus(tmp_path / "trio.mid", cache=cache, workers=1, **QUIET)
    bass = load_corpus(tmp_path / "trio.mid", melody_track="Bass", cache=cache, workers=1, **QUIET)
    assert bass.cache_hits == 0
    assert bass.pieces[0].score.info["melody_track"] == 2
    assert auto.pieces[0].tokens != bass.pieces[0].tokens


def test_damaged_cache_entry_is_recomputed(tmp_path):
    write_trio(tmp_path / "trio.mid")
    cache = tmp_path / "cache"
    first = load_corpus(tmp_path / "trio.mid", cache=cache, workers=1, **QUIET)
    (entry,) = list(cache.rglob("*.json"))
    entry.write_text("{not json")
    second = load_corpus(tmp_path / "trio.mid", cache=cache, workers=1, **QUIET)
    assert second.cache_hits == 0
    same_pieces(first, second)


def test_cache_false_writes_nothing(tmp_path, isolated_cache):
    write_trio(tmp_path / "trio.mid")
    load_corpus(tmp_path, cache=False, workers=1, **QUIET)
    assert not any(isolated_cache.rglob("*.json"))
    again = load_corpus(tmp_path, cache=False, workers=1, **QUIET)
    assert again.cache_hits == 0


def test_cache_true_uses_env_cache_dir(tmp_path, isolated_cache):
    write_trio(tmp_path / "trio.mid")
    load_corpus(tmp_path, cache=True, workers=1, **QUIET)
    assert any(isolated_cache.rglob("*.json"))
    assert load_corpus(tmp_path, cache=True, workers=1, **QUIET).cache_hits == 1


# --- workers -----------------------------------------------------------------------------------


def test_two_workers_match_one(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    for i in range(9):
        write_tracks(music / f"t{i:02d}.mid", [TrackSpec("Lead", melody_notes(i, bars=4), 65),
                                               TrackSpec("Piano", chord_notes(4)), TrackSpec("Bass", bass_notes(4), 33)])
    write_text_as_midi(music / "t04b.mid")
    serial = load_corpus(music, cache=False, workers=1, **QUIET)
    pooled = load_corpus(music, cache=False, workers=2, **QUIET)
    assert len(serial.pieces) == 9 and len(serial.skipped) == 1
    same_pieces(serial, pooled)
    assert [p.path for p in pooled.pieces] == sorted(p.path for p in pooled.pieces)


# --- notes encoding, augmentation --------------------------------------------------------------


def test_notes_key_transpose_with_augmentation(tmp_path):
    write_trio(tmp_path / "a.mid", seed=1)
    write_tracks(tmp_path / "b.mid", [TrackSpec("Sax", melody_notes(2), 65)])
    corpus = load_corpus(tmp_path, encoding="notes", transpose="key", augment=(1, -1), cache=False, workers=1,
                         **QUIET)
    assert len(corpus.pieces) == 2
    for piece in corpus.pieces:
        assert len(piece.sequences) == 3
        base, up, down = (_pitches(seq) for seq in piece.sequences)
        assert up == [p + 1 for p in base]
        assert down == [p - 1 for p in base]
    assert len(corpus.sequences) == 6
    plain = load_corpus(tmp_path, encoding="notes", cache=False, workers=1, **QUIET)
    assert all(len(p.sequences) == 1 for p in plain.pieces)


def _pitches(tokens: list[str]) -> list[int]:
    return [int(t[1:].split(",")[0]) for t in tokens if t.startswith("P")]


# --- vocabulary in two processes ---------------------------------------------------------------

VOCAB_SCRIPT = """
import json, sys
from jazzlstm.data.corpus import load_corpus
corpus = load_corpus(sys.argv[1], encoding=sys.argv[2], cache=False, progress=False, workers=1)
print(json.dumps(corpus.vocabulary().to_json()))
"""


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["grammar", "notes"])
def test_vocabulary_identical_across_processes(tmp_path, encoding):
    for i in range(3):
        write_trio(tmp_path / f"tune{i}.mid", seed=10 + i)
    outputs = []
    for hash_seed in ("1", "4242"):  # different set/dict iteration orders in each process
        result = run_python(VOCAB_SCRIPT, tmp_path, encoding, timeout=60, PYTHONHASHSEED=hash_seed)
        assert result.returncode == 0, result.stderr
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    tokens = outputs[0]["tokens"]
    assert len(tokens) > 10
    assert tokens == sorted(tokens)
    here = load_corpus(tmp_path, encoding=encoding, cache=False, workers=1, **QUIET).vocabulary()
    assert list(here.tokens) == tokens


# --- MusicXML lead sheet -----------------------------------------------------------------------


def test_music21_lead_sheet_uses_chord_symbols():
    music21 = pytest.importorskip("music21")
    path = music21.corpus.getWork("leadSheet/fosterBrownHair.mxl")
    score = read_score(path)
    assert score.info["chord_source"] == "chord symbols"
    assert score.info["format"] == "musicxml"
    assert len(score.chords) > 8
    assert len(score.melody) > 20
    # The melody is monophonic and sorted; chords tile the piece without gaps.
    starts = [n.start for n in score.melody]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for a, b in zip(score.chords, score.chords[1:]):
        assert a.end == pytest.approx(b.start)
    assert score.chords[0].start == 0.0
    assert score.chords[0].label == "F"  # the tune is in F


def test_music21_lead_sheet_through_load_corpus(tmp_path):
    music21 = pytest.importorskip("music21")
    source = Path(music21.corpus.getWork("leadSheet/fosterBrownHair.mxl"))
    target = tmp_path / "sheets" / source.name
    target.parent.mkdir()
    target.write_bytes(source.read_bytes())
    corpus = load_corpus(tmp_path, cache=tmp_path / "cache", workers=1, **QUIET)
    assert [p.path for p in corpus.pieces] == [str(target)]
    assert corpus.pieces[0].score.info["chord_source"] == "chord symbols"
    assert corpus.pieces[0].tokens
    again = load_corpus(tmp_path, cache=tmp_path / "cache", workers=1, **QUIET)
    assert again.cache_hits == 1
    same_pieces(corpus, again)


# --- regressions: chord symbols in a later part, cache entries per reader ------------------------


def _two_part_lead_sheet(path: Path, progression=("Dm7", "G7", "Cmaj7", "A7")) -> Path:
    """Part 1: melody without symbols; part 2: a piano part that carries the chord symbols."""
    from music21 import harmony, meter, note, stream

    score = stream.Score()
    melody, piano = stream.Part(), stream.Part()
    melody.partName, piano.partName = "Voice", "Piano"
    melody.append(meter.TimeSignature("4/4"))
    piano.append(meter.TimeSignature("4/4"))
    for bar, label in enumerate(progression):
        for i in range(4):
            melody.append(note.Note(62 + 2 * i + bar, quarterLength=1))
        piano.append(harmony.ChordSymbol(label))
        piano.append(note.Rest(quarterLength=4))
    score.insert(0, melody)
    score.insert(0, piano)
    score.write("musicxml", fp=str(path))
    return path


def test_chord_symbols_from_second_part(tmp_path):
    pytest.importorskip("music21")
    path = _two_part_lead_sheet(tmp_path / "two_parts.musicxml")
    score = read_score(path)
    assert score.info["chord_source"] == "chord symbols"
    assert [c.label for c in score.chords] == ["Dm7", "G7", "Cmaj7", "A7"]


def test_cache_key_distinguishes_midi_and_musicxml_readers(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    write_trio(music / "good.mid")
    same = b"not music at all\n"
    (music / "a.mid").write_bytes(same)
    (music / "b.musicxml").write_bytes(same)
    uncached = dict(load_corpus(music, cache=False, workers=1, **QUIET).skipped)
    cached = dict(load_corpus(music, cache=tmp_path / "cache", workers=1, **QUIET).skipped)
    assert uncached[str(music / "b.musicxml")].startswith("not a readable MusicXML file")
    assert cached == uncached


# --- a cache that cannot be poisoned -------------------------------------------------------------


def _poisoned_entries(valid: dict) -> dict[str, object]:
    """Entries that are valid JSON of the wrong shape, built from a valid one."""
    import copy

    def edited(change):
        entry = copy.deepcopy(valid)
        change(entry)
        return entry

    return {
        "list": [1, 2, 3],
        "string": "sequences",
        "number": 42,
        "null": None,
        "empty dict": {},
        "no score": {"sequences": valid["sequences"]},
        "no sequences": {"score": valid["score"]},
        "sequences not a list": edited(lambda e: e.update(sequences="C,1.000")),
        "empty sequences": edited(lambda e: e.update(sequences=[])),
        "tokens not strings": edited(lambda e: e.update(sequences=[[1, 2, 3]])),
        "score a list": edited(lambda e: e.update(score=[])),
        "no chords": edited(lambda e: e["score"].pop("chords")),
        "no melody": edited(lambda e: e["score"].pop("melody")),
        "chords a dict": edited(lambda e: e["score"].update(chords={"a": 1})),
        "short chord row": edited(lambda e: e["score"]["chords"].__setitem__(0, [0.0, 4.0, 2])),
        "unknown quality": edited(lambda e: e["score"]["chords"][0].__setitem__(3, "hyper")),
        "root out of range": edited(lambda e: e["score"]["chords"][0].__setitem__(2, 12)),
        "pitch a string": edited(lambda e: e["score"]["melody"][0].__setitem__(2, "C4")),
        "start NaN": edited(lambda e: e["score"]["melody"][0].__setitem__(0, float("nan"))),
        "pitch a bool": edited(lambda e: e["score"]["melody"][0].__setitem__(2, True)),
        "time signature zero": edited(lambda e: e["score"]["time_signatures"][0].__setitem__(2, 0)),
        "tempo a string": edited(lambda e: e["score"].update(tempo="fast")),
        "info a list": edited(lambda e: e["score"].update(info=[])),
        "track without notes": edited(lambda e: e["score"]["info"]["tracks"][0].pop("notes")),
        "tracks not a list": edited(lambda e: e["score"]["info"].update(tracks="Lead")),
        "skip a number": {"skip": 5},
        "skip empty": {"skip": ""},
    }


def test_poisoned_cache_entries_are_misses(tmp_path):
    write_trio(tmp_path / "trio.mid")
    cache = tmp_path / "cache"
    first = load_corpus(tmp_path / "trio.mid", cache=cache, workers=1, **QUIET)
    (entry,) = list(cache.rglob("*.json"))
    valid = json.loads(entry.read_text())
    assert corpus_module.cache_entry_record(valid) is not None
    for name, poisoned in _poisoned_entries(valid).items():
        assert corpus_module.cache_entry_record(poisoned) is None, name
        entry.write_text(json.dumps(poisoned))
        again = load_corpus(tmp_path / "trio.mid", cache=cache, workers=1, **QUIET)
        assert again.cache_hits == 0, name
        same_pieces(first, again)
        assert json.loads(entry.read_text()) == valid, name  # recomputed and rewritten
    # Deeply nested JSON (a RecursionError when decoded) and bytes that are not UTF-8.
    for raw in (b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe{}"):
        entry.write_bytes(raw)
        again = load_corpus(tmp_path / "trio.mid", cache=cache, workers=1, **QUIET)
        assert again.cache_hits == 0
        same_pieces(first, again)
    assert load_corpus(tmp_path / "trio.mid", cache=cache, workers=1, **QUIET).cache_hits == 1


def test_cached_skip_is_reused_and_a_poisoned_one_is_not(tmp_path):
    bad = write_text_as_midi(tmp_path / "bad.mid")
    write_trio(tmp_path / "good.mid")
    cache = tmp_path / "cache"
    first = load_corpus(tmp_path, cache=cache, workers=1, **QUIET)
    assert load_corpus(tmp_path, cache=cache, workers=1, **QUIET).cache_hits == 2
    entries = [e for e in cache.rglob("*.json") if "skip" in json.loads(e.read_text())]
    assert len(entries) == 1
    entries[0].write_text(json.dumps({"skip": ["not", "a", "reason"]}))
    again = load_corpus(tmp_path, cache=cache, workers=1, **QUIET)
    assert again.cache_hits == 1 and again.skipped == first.skipped == [(str(bad), "not a MIDI file (no MThd header)")]


# --- links, loops and folders that cannot be read -----------------------------------------------


def test_symlink_loops_and_broken_links_are_listed_not_dropped(tmp_path):
    music = tmp_path / "music"
    (music / "sub").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    good = write_trio(music / "good.mid", seed=1)
    linked_tune = write_trio(elsewhere / "linked_tune.mid", seed=2)
    (music / "sub" / "loop").symlink_to("..")                  # back to music/
    (music / "self.mid").symlink_to("self.mid")                # a link to itself
    (music / "broken.mid").symlink_to("nowhere.mid")
    (music / "notes.txt").symlink_to("nowhere.txt")           # not music by name: only ignored
    (music / "linked").symlink_to(elsewhere)                   # a linked collection is read...
    (music / "twice").symlink_to(elsewhere)                    # ... once
    (music / ".hidden").symlink_to(".hidden")                  # hidden: passed over
    corpus = load_corpus(music, cache=False, workers=1, **QUIET)
    assert [p.path for p in corpus.pieces] == [str(good), str(music / "linked" / linked_tune.name)]
    assert sorted(corpus.skipped) == sorted([
        (str(music / "sub" / "loop"), f"symbolic link loop (leads back to {music})"),
        (str(music / "self.mid"), "symbolic link loop"),
        (str(music / "broken.mid"), "broken symbolic link (to nowhere.mid)"),
        (str(music / "twice"), f"symbolic link to a folder read already ({music / 'linked'})"),
    ])
    assert corpus.ignored == [str(music / "notes.txt")]
    summary = corpus.summary()
    assert f"  skipped {music / 'sub' / 'loop'}: symbolic link loop" in summary
    assert summary.splitlines()[-1] == "  skips by reason: 4 link or special file"


def test_unreadable_subfolder_is_listed(tmp_path, monkeypatch):
    music = tmp_path / "music"
    (music / "locked").mkdir(parents=True)
    write_trio(music / "locked" / "hidden_away.mid")
    good = write_trio(music / "good.mid")
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == music / "locked":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    corpus = load_corpus(music, cache=False, workers=1, **QUIET)
    assert [p.path for p in corpus.pieces] == [str(good)]
    assert corpus.skipped == [(str(music / "locked"), f"cannot read folder ({os.strerror(errno.EACCES)})")]
    assert corpus.skip_counts() == [("unreadable", 1)]


def test_folder_of_only_loops_says_so(tmp_path):
    (tmp_path / "loop").symlink_to(".")
    (tmp_path / "a.mid").symlink_to("b.mid")
    (tmp_path / "b.mid").symlink_to("a.mid")
    with pytest.raises(NoUsableFilesError, match="no MIDI or MusicXML files found.*could not look into.*"
                                                 "symbolic link loop"):
        load_corpus(tmp_path, cache=False, **QUIET)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_pipe_named_like_midi_is_not_read(tmp_path):
    good = write_trio(tmp_path / "good.mid")
    os.mkfifo(tmp_path / "pipe.mid")  # reading it would wait forever
    corpus = load_corpus(tmp_path, cache=False, workers=1, **QUIET)
    assert [p.path for p in corpus.pieces] == [str(good)]
    assert corpus.skipped == [(str(tmp_path / "pipe.mid"), "not a regular file (a pipe, socket or device)")]


def test_a_pipe_given_as_the_corpus_is_named_as_such(tmp_path):
    import os

    from jazzlstm.errors import JazzLSTMError

    fifo = tmp_path / "live.mid"
    os.mkfifo(fifo)
    with pytest.raises(JazzLSTMError, match="not a regular file"):
        load_corpus(fifo, cache=False, progress=False)
