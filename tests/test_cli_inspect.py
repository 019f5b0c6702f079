"""``jazzlstm inspect --midi DIR``: per-file tracks, melody choice, bars, chords, tokens; totals."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from jazzlstm.cli import main
from jazzlstm.data.corpus import load_corpus
from jazzlstm.music.reading import SUPPORTED_SUFFIXES
from midi_factory import (TrackSpec, bass_notes, chord_notes, drum_notes, melody_notes, write_text_as_midi,
                          write_tracks, write_trio)
from samples import SAMPLES_DIR as SAMPLES, sample_files


def parse_report(out: str) -> tuple[dict[str, list[str]], list[str]]:
    """{piece path: its indented lines} and the unindented lines after the pieces."""
    blocks: dict[str, list[str]] = {}
    tail: list[str] = []
    current: list[str] | None = None
    for line in out.splitlines():
        if line.startswith("read ") or line.startswith("vocabulary:") or tail:
            tail.append(line)
        elif not line.startswith(" "):
            current = blocks.setdefault(line, [])
        else:
            assert current is not None, line
            current.append(line)
    return blocks, tail


def track_lines(block: list[str]) -> dict[int, str]:
    found = {}
    for line in block:
        match = re.match(r"^  track\s+(\d+) ", line)
        if match:
            found[int(match.group(1))] = line
    return found


def check_piece_block(block: list[str], piece) -> None:
    """Everything ``inspect`` must show for one piece, checked against the loaded Corpus."""
    info = piece.score.info
    tracks = track_lines(block)
    assert sorted(tracks) == sorted(t["index"] for t in info["tracks"])
    for t in info["tracks"]:
        line = tracks[t["index"]]
        assert repr(t["name"][:24]) in line
        assert f"{t['notes']} notes" in line
        assert ("drums" in line) == t["is_drum"]
        assert line.endswith("<- melody") == (t["index"] == info["melody_track"]), line
    assert sum(line.endswith("<- melody") for line in block) == 1
    melody_line = [line for line in block if line.startswith("  melody: ")]
    assert melody_line == [f"  melody: track {info['melody_track']} - {info['melody_reason']}"]
    bars_line = next(line for line in block if " bars; chords (" in line)
    assert f"{len(piece.score.melody)} melody notes, {info['bars']} bars" in bars_line
    assert f"chords ({info['chord_source']}): " in bars_line
    labels = bars_line.split("): ", 1)[1].split(" ... ")[0].split()
    assert labels == [c.label for c in piece.score.chords][:16]
    tokens_line = next(line for line in block if re.match(r"^  \d+ tokens", line))
    assert tokens_line.startswith(f"  {len(piece.tokens)} tokens")


def band_file(path: Path) -> Path:
    """Melody on track 3 of a band with drums."""
    return write_tracks(path, [
        TrackSpec("Piano", chord_notes()),
        TrackSpec("Bass", bass_notes(), program=33),
        TrackSpec("Drums", drum_notes(), is_drum=True),
        TrackSpec("Trumpet", melody_notes(8), program=56),
    ])


def test_inspect_report_per_file_and_totals(tmp_path, capsys):
    folder = tmp_path / "songs"
    folder.mkdir()
    trio = write_trio(folder / "a_trio.mid", seed=1)
    band = band_file(folder / "b_band.mid")
    bad = write_text_as_midi(folder / "c_bad.mid")
    code = main(["inspect", "--midi", str(folder), "--tokens", "5"])
    out, err = capsys.readouterr()
    assert code == 0, err
    blocks, tail = parse_report(out)
    assert list(blocks) == [str(trio), str(band)]

    corpus = load_corpus(folder, cache=False, progress=False, workers=1)
    for piece in corpus.pieces:
        check_piece_block(blocks[piece.path], piece)

    trio_tracks = track_lines(blocks[str(trio)])
    assert "'Lead'" in trio_tracks[0] and trio_tracks[0].endswith("<- melody")
    assert any(line.startswith("  melody: track 0 - highest melody score") for line in blocks[str(trio)])
    assert "8 bars; chords (accompaniment): Dm7 G7 Cmaj7 Fmaj7 Bm7b5 E7 Am7" in "\n".join(blocks[str(trio)])
    band_tracks = track_lines(blocks[str(band)])
    assert band_tracks[3].endswith("<- melody") and "'Trumpet'" in band_tracks[3]
    assert "drums" in band_tracks[2]
    assert any(line.startswith("  melody: track 3 - ") for line in blocks[str(band)])
    # --tokens 5: the first five tokens of the piece, then "..."
    tokens_line = next(line for line in blocks[str(trio)] if " tokens" in line and "melody" not in line)
    assert tokens_line == f"  {len(corpus.pieces[0].tokens)} tokens: {' '.join(corpus.pieces[0].tokens[:5])} ..."

    assert tail[0] == (f"read 3 file(s): 2 usable, 1 skipped; {corpus.n_tokens} tokens (grammar-events); 0 from cache")
    assert f"  skipped {bad}: not a MIDI file (no MThd header)" in tail
    assert tail[-1] == f"vocabulary: {len(corpus.vocabulary())} distinct grammar-events tokens"


def test_inspect_second_run_uses_cache_and_same_report(tmp_path, capsys):
    write_trio(tmp_path / "trio.mid", seed=2)
    assert main(["inspect", "--midi", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert main(["inspect", "--midi", str(tmp_path)]) == 0
    second = capsys.readouterr().out
    assert "0 from cache" in first and "1 from cache" in second
    assert first.replace("0 from cache", "1 from cache") == second


def test_inspect_notes_encoding_and_override(tmp_path, capsys):
    trio = write_trio(tmp_path / "trio.mid", seed=3)
    code = main(["inspect", "--midi", str(tmp_path), "--encoding", "notes", "--melody-track", "piano"])
    out, err = capsys.readouterr()
    assert code == 0, err
    blocks, tail = parse_report(out)
    block = blocks[str(trio)]
    assert track_lines(block)[1].endswith("<- melody")
    assert "  melody: track 1 - chosen by --melody-track 'piano'" in block  # the whole line
    assert re.search(r"^  \d+ tokens: P\d+,", "\n".join(block), re.M)
    assert re.fullmatch(r"vocabulary: \d+ distinct notes tokens", tail[-1])


@pytest.mark.slow
def test_inspect_subprocess(tmp_path, run_cli):
    trio = write_trio(tmp_path / "trio.mid")
    result = run_cli("inspect", "--midi", tmp_path, "--tokens", "0")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    blocks, tail = parse_report(result.stdout)
    assert list(blocks) == [str(trio)]
    assert re.fullmatch(r"  \d+ tokens", blocks[str(trio)][-1])
    assert tail[0].startswith("read 1 file(s): 1 usable, 0 skipped;")
    assert re.fullmatch(r"vocabulary: [1-9]\d* distinct grammar-events tokens", tail[-1])


def test_inspect_bundled_midi_samples(capsys):
    midi = sample_files((".mid", ".midi"))
    if not midi:
        pytest.skip("midi_samples/ has no .mid files yet")
    music = sorted(str(p) for p in SAMPLES.rglob("*")
                   if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(SAMPLES).parts))
    code = main(["inspect", "--midi", str(SAMPLES), "--no-cache"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in out + err
    blocks, tail = parse_report(out)
    skipped = [line for line in tail if line.startswith("  skipped ")]
    for path in music:
        assert path in blocks or any(line.startswith(f"  skipped {path}: ") for line in skipped), path
    assert len(blocks) + len(skipped) == len(music)
    assert len(blocks) >= len(midi) // 2, "most bundled samples should be usable"
    corpus = load_corpus(SAMPLES, cache=False, progress=False, workers=1)
    for piece in corpus.pieces:
        check_piece_block(blocks[piece.path], piece)
    assert tail[0].startswith(f"read {len(music)} file(s): {len(corpus.pieces)} usable")
    assert tail[-1] == f"vocabulary: {len(corpus.vocabulary())} distinct grammar-events tokens"
