"""Bad input through the real CLI: one clear line on stderr, the right exit code, no traceback."""
from __future__ import annotations

import pytest

from jazzlstm.cli import main
from midi_factory import (write_drums_only, write_empty, write_no_notes, write_text_as_midi, write_trio,
                          write_truncated)


def write_garbage_musicxml(path):
    path.write_text("<?xml version='1.0' encoding='UTF-8'?>\n<score-partwise><part id='P1'><measure <<< garbage",
                    encoding="utf-8")
    return path


# (file name, writer, a piece of the reason the user must see)
BAD_FILES = [
    ("notes.mid", write_text_as_midi, "not a MIDI file"),
    ("cut.mid", write_truncated, "corrupt MIDI file"),
    ("zero.mid", write_empty, "empty file (0 bytes)"),
    ("silent.mid", write_no_notes, "empty (no notes)"),
    ("drums.mid", write_drums_only, "drums only"),
    ("broken.musicxml", write_garbage_musicxml, "not a readable MusicXML file"),
]
BAD_IDS = [name for name, _, _ in BAD_FILES]


def assert_one_error_line(err: str, *needles: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("jazzlstm: error:"), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


# --- one bad file alone in a folder ------------------------------------------------------------


@pytest.mark.parametrize("name, writer, reason", BAD_FILES, ids=BAD_IDS)
def test_single_bad_file_in_folder(tmp_path, capsys, name, writer, reason):
    folder = tmp_path / "music"
    folder.mkdir()
    writer(folder / name)
    code = main(["inspect", "--midi", str(folder)])
    out, err = capsys.readouterr()
    assert code == 2
    assert_one_error_line(err, name, reason)
    assert out == ""


@pytest.mark.slow
@pytest.mark.parametrize("name, writer, reason", [BAD_FILES[0], BAD_FILES[1]], ids=BAD_IDS[:2])
def test_single_bad_file_subprocess_no_traceback(tmp_path, run_cli, name, writer, reason):
    folder = tmp_path / "music"
    folder.mkdir()
    writer(folder / name)
    result = run_cli("inspect", "--midi", folder, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result.stderr, name, reason)
    assert result.stdout == ""


def test_bad_file_given_directly(tmp_path, capsys):
    path = write_text_as_midi(tmp_path / "fake.mid")
    assert main(["inspect", "--midi", str(path)]) == 2
    assert_one_error_line(capsys.readouterr().err, "fake.mid", "not a MIDI file")


def test_folder_without_music_files(tmp_path, capsys):
    (tmp_path / "README.txt").write_text("nothing to see")
    assert main(["inspect", "--midi", str(tmp_path)]) == 2
    assert_one_error_line(capsys.readouterr().err, "no MIDI or MusicXML files")


# --- a folder mixing good and bad files --------------------------------------------------------


def test_mixed_folder_skips_bad_files_with_reasons(tmp_path, capsys):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    good = [write_trio(folder / "good1.mid", seed=1), write_trio(folder / "sub" / "good2.mid", seed=2)]
    bad = {str(writer(folder / name)): reason for name, writer, reason in BAD_FILES}
    code = main(["inspect", "--midi", str(folder), "--no-cache"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in out + err
    for path, reason in bad.items():
        lines = [line for line in out.splitlines() if line.strip().startswith(f"skipped {path}: ")]
        assert len(lines) == 1, (path, out)
        assert reason in lines[0]
    for path in good:
        assert f"\n{path}\n" in f"\n{out}"
    assert f"{len(good) + len(bad)} file(s): {len(good)} usable, {len(bad)} skipped" in out


@pytest.mark.slow
def test_mixed_folder_subprocess(tmp_path, run_cli):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_trio(folder / "good.mid")
    write_empty(folder / "zero.mid")
    write_truncated(folder / "cut.mid")
    result = run_cli("inspect", "--midi", folder, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"skipped {folder / 'zero.mid'}: empty file (0 bytes)" in result.stdout
    assert f"skipped {folder / 'cut.mid'}: corrupt MIDI file" in result.stdout
    assert "1 usable, 2 skipped" in result.stdout


def test_corrupt_musicxml_is_skipped_with_reason(tmp_path):
    from jazzlstm.data.corpus import load_corpus

    write_trio(tmp_path / "good.mid")
    broken = write_garbage_musicxml(tmp_path / "broken.musicxml")
    corpus = load_corpus(tmp_path, cache=False, progress=False, workers=1)
    assert [p.path for p in corpus.pieces] == [str(tmp_path / "good.mid")]
    assert len(corpus.skipped) == 1
    path, reason = corpus.skipped[0]
    assert path == str(broken)
    assert reason.startswith("not a readable MusicXML file")
    assert "\n" not in reason


# --- paths and flags ---------------------------------------------------------------------------


def test_nonexistent_path(tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "folder"
    code = main(["inspect", "--midi", str(missing)])
    assert code != 0
    assert_one_error_line(capsys.readouterr().err, str(missing), "no such file or folder")


@pytest.mark.slow
def test_nonexistent_path_subprocess(tmp_path, run_cli):
    result = run_cli("inspect", "--midi", tmp_path / "nowhere.mid")
    assert result.returncode != 0
    assert_one_error_line(result.stderr, "nowhere.mid", "no such file or folder")


@pytest.mark.parametrize("flags, message", [
    (["--melody-track", ""], "--melody-track"),
    (["--melody-track", "   "], "--melody-track"),
    (["--melody-track", "-1"], "--melody-track"),
    (["--workers", "0"], "--workers"),
    (["--workers", "two"], "--workers"),
    (["--encoding", "foo"], "--encoding"),
])
def test_bad_flag_values(tmp_path, capsys, flags, message):
    write_trio(tmp_path / "good.mid")
    with pytest.raises(SystemExit) as info:
        main(["inspect", "--midi", str(tmp_path), *flags])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("jazzlstm inspect: error: argument")
    assert message in last


def test_bad_transpose_value_is_one_line(tmp_path, capsys):
    write_trio(tmp_path / "good.mid")
    code = main(["inspect", "--midi", str(tmp_path), "--encoding", "notes", "--transpose", "up"])
    assert code != 0
    assert_one_error_line(capsys.readouterr().err, "transpose", "'up'")


def test_melody_track_missing_in_every_file(tmp_path, capsys):
    write_trio(tmp_path / "a.mid")
    code = main(["inspect", "--midi", str(tmp_path), "--melody-track", "Trumpet"])
    assert code == 2
    line = assert_one_error_line(capsys.readouterr().err, "a.mid", "Trumpet")
    assert "'Lead'" in line and "'Bass'" in line


def test_mixed_folder_ends_with_skips_counted_by_reason(tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_trio(folder / "good.mid")
    for name, writer, _ in BAD_FILES:
        writer(folder / name)
    write_text_as_midi(folder / "notes2.mid")
    code = main(["inspect", "--midi", str(folder), "--no-cache"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-1].startswith("vocabulary: ")
    assert lines[-2] == ("  skips by reason: 2 not a MIDI file, 2 no melody, 1 empty file, "
                         "1 not readable MusicXML, 1 corrupt")
