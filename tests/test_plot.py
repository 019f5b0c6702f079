"""Pictures: piano rolls and training curves are real PNGs of a sensible size; chord names
never overlap; bad run folders are one-line errors."""
from __future__ import annotations

import dataclasses
import json
import struct
from pathlib import Path

import pytest

from conftest import run_python
from jazzlstm import plot
from jazzlstm.music.reading import read_score
from jazzlstm.errors import JazzLSTMError
from jazzlstm.music.score import Chord, Note
from midi_factory import write_text_as_midi, write_trio
from samples import SAMPLES_DIR

MIN_BYTES = 10_000
"""A drawn figure with curves or notes; an empty canvas compresses to far less."""


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG header (signature, then the IHDR chunk)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_picture(path: Path, min_width: int, min_height: int) -> tuple[int, int]:
    import matplotlib.image

    assert path.stat().st_size > MIN_BYTES, path.stat().st_size
    width, height = png_size(path)
    assert width >= min_width and height >= min_height, (width, height)
    assert width <= 2400 and height <= 2400, (width, height)  # capped
    assert matplotlib.image.imread(path).shape[:2] == (height, width)
    return width, height


def write_history(run_dir: Path, epochs: int = 6) -> Path:
    """A run folder with the history.json keys jazzlstm train writes (no model needed to plot)."""
    run_dir.mkdir()
    loss = [4.5 - 0.4 * e for e in range(epochs)]
    val_loss = [4.7 - 0.2 * e + 0.05 * max(0, e - 3) ** 2 for e in range(epochs)]
    history = {
        "loss": loss, "val_loss": val_loss,
        "perplexity": [2.718 ** v for v in loss], "val_perplexity": [2.718 ** v for v in val_loss],
        "accuracy": [0.1 * e for e in range(epochs)], "val_accuracy": [0.08 * e for e in range(epochs)],
        "bits_per_token": [v / 0.693 for v in loss], "val_bits_per_token": [v / 0.693 for v in val_loss],
        "best_epoch": 4, "monitor": "val_loss", "final_weights": "0123456789ab",
    }
    (run_dir / "history.json").write_text(json.dumps(history))
    return run_dir


@pytest.mark.slow
def test_piano_roll_of_a_bundled_sample(tmp_path, run_cli):
    out = tmp_path / "blues.png"
    result = run_cli("plot", SAMPLES_DIR / "blues_in_f.mid", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"jazzlstm: wrote {out}"
    width, height = assert_picture(out, 800, 600)
    assert height > width * 0.6, "24 bars wrap into several rows"


def test_piano_roll_of_a_file_made_in_code(tmp_path):
    midi = write_trio(tmp_path / "trio.mid", seed=2, bars=4)
    out = plot.plot_piano_roll(midi, tmp_path / "trio.png")
    width, height = assert_picture(out, 800, 300)
    assert width > height, "4 bars make one row"


@pytest.mark.slow
def test_history_plot_of_a_run_folder(tmp_path, run_cli):
    run_dir = write_history(tmp_path / "run")
    out = tmp_path / "history.png"
    result = run_cli("plot", "--run", run_dir, out)
    assert result.returncode == 0, result.stderr
    width, height = assert_picture(out, 1000, 400)
    assert width > 2 * height, "two panels side by side"


def test_history_without_perplexity_or_validation_still_plots(tmp_path):
    run_dir = tmp_path / "old-run"
    run_dir.mkdir()
    (run_dir / "history.json").write_text(json.dumps({"loss": [3.0, 2.0, float("nan"), 1.5], "best_epoch": 4}))
    assert_picture(plot.plot_history(run_dir, tmp_path / "h.png"), 1000, 400)


@pytest.mark.slow
@pytest.mark.parametrize("setup, reason", [
    (lambda d: None, "no such run folder"),
    (lambda d: d.mkdir(), "no history.json"),
    (lambda d: (d.mkdir(), (d / "history.json").write_text("{not json")), "history.json: corrupt run file"),
    (lambda d: (d.mkdir(), (d / "history.json").write_text('{"loss": []}')), "no per-epoch loss"),
], ids=["missing", "no-history", "corrupt", "no-loss"])
def test_bad_run_folder_is_one_line(setup, reason, tmp_path, run_cli):
    run_dir = tmp_path / "run"
    setup(run_dir)
    result = run_cli("plot", "--run", run_dir, tmp_path / "h.png")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"jazzlstm: error: {run_dir}") and reason in lines[0], lines
    assert not (tmp_path / "h.png").exists()


@pytest.mark.slow
def test_existing_image_is_refused_without_force(tmp_path, run_cli):
    out = tmp_path / "roll.png"
    out.write_bytes(b"keep me")
    result = run_cli("plot", SAMPLES_DIR / "waltz_3_4.mid", out)
    assert result.returncode == 1
    assert result.stderr.strip() == f"jazzlstm: error: {out}: already exists (use --force to overwrite)"
    assert out.read_bytes() == b"keep me"
    assert run_cli("plot", SAMPLES_DIR / "waltz_3_4.mid", out, "--force").returncode == 0
    assert_picture(out, 800, 300)


def test_bad_input_and_bad_usage(tmp_path):
    from jazzlstm.cli import main

    with pytest.raises(JazzLSTMError, match="not a MIDI file"):
        plot.plot_piano_roll(write_text_as_midi(tmp_path / "notes.mid"), tmp_path / "a.png")
    with pytest.raises(JazzLSTMError, match="cannot write .txt images"):
        plot.plot_piano_roll(SAMPLES_DIR / "waltz_3_4.mid", tmp_path / "a.txt")
    assert main(["plot", str(tmp_path / "only.png")]) == 2
    assert main(["plot", "--run", str(tmp_path), "a.png", "b.png"]) == 2
    assert not list(tmp_path.glob("*.png"))


def test_rows_are_balanced_whole_bars():
    bars = [4.0 * i for i in range(24)]
    rows = plot.rows_of_bars(bars, 96.0)
    assert [(first, start, stop) for first, start, stop in rows] == [(0, 0.0, 32.0), (8, 32.0, 64.0), (16, 64.0, 96.0)]
    twelve = plot.rows_of_bars([4.0 * i for i in range(12)], 48.0)
    assert [stop - start for _, start, stop in twelve] == [24.0, 24.0]
    long = plot.rows_of_bars([4.0 * i for i in range(200)], 800.0)
    assert len(long) == plot.MAX_ROWS and long[-1][2] == 800.0


def test_chord_names_never_overlap():
    """Seven choruses of rhythm changes (two chords a bar) on a width-capped figure."""
    score = read_score(SAMPLES_DIR / "rhythm_changes_bb.mid")
    shifts = [64.0 * k for k in range(7)]  # the chorus is 16 bars of 4/4
    long = dataclasses.replace(
        score,
        melody=tuple(Note(n.start + s, n.duration, n.pitch, n.velocity) for s in shifts for n in score.melody),
        chords=tuple(Chord(c.start + s, c.duration, c.root, c.quality) for s in shifts for c in score.chords))
    fig = plot.piano_roll_figure(long, "long.mid")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = {c.label for c in long.chords}
    stacked = 0
    for ax in fig.axes:
        names = [t for t in ax.texts if t.get_text() in labels]
        assert names
        for line in (False, True):  # the first line of names, and the second above it
            boxes = sorted((t.get_window_extent(renderer) for t in names if (t.get_position()[1] > 1.0) == line),
                           key=lambda box: box.x0)
            stacked += line * len(boxes)
            for a, b in zip(boxes, boxes[1:]):
                assert a.x1 <= b.x0, (a, b)
    assert stacked, "a dense row needs a second line of names"


@pytest.mark.slow
def test_importing_plot_does_not_import_matplotlib():
    code = "import sys, jazzlstm.plot, jazzlstm.music.audio; assert 'matplotlib' not in sys.modules"
    done = run_python(code)
    assert done.returncode == 0, done.stderr
