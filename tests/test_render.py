"""MIDI -> WAV: both renderers give audio of the MIDI's length that is not silent; the CLI
refuses existing files and bad input in one line, and says when it fell back."""
from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from jazzlstm.music import audio as render
from midi_factory import write_text_as_midi, write_trio, write_truncated

MIN_RMS = 0.02
"""Root mean square (full scale = 1) that only real audio exceeds; silence is 0."""
FLUIDSYNTH_READY = shutil.which("fluidsynth") is not None and render.find_soundfont() is not None


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples in [-1, 1], shape (frames, channels), and the sample rate; checks 16-bit PCM."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2, "16-bit PCM"
        frames = wav.readframes(wav.getnframes())
        audio = np.frombuffer(frames, dtype="<i2").reshape(-1, wav.getnchannels()) / 32768.0
        return audio, wav.getframerate()


def assert_sounds_like(wav_path: Path, midi_path: Path, sample_rate: int) -> np.ndarray:
    """The WAV lasts the MIDI's end time (within 0.5 s), is not silent and does not clip."""
    audio, rate = read_wav(wav_path)
    assert rate == sample_rate
    end = pretty_midi.PrettyMIDI(str(midi_path)).get_end_time()
    assert abs(len(audio) / rate - end) <= 0.5, (len(audio) / rate, end)
    rms = float(np.sqrt(np.mean(audio ** 2)))
    assert rms > MIN_RMS, rms
    assert np.max(np.abs(audio)) < 0.99, "normalized below full scale"
    return audio


@pytest.fixture
def trio(tmp_path) -> Path:
    """Melody, block chords and bass: 2 bars at 120 BPM, 4 seconds."""
    return write_trio(tmp_path / "trio.mid", seed=1, bars=2)


@pytest.fixture
def no_fluidsynth(tmp_path, monkeypatch) -> None:
    """A PATH without the fluidsynth program."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_builtin_synthesizer_when_fluidsynth_is_missing(trio, tmp_path, no_fluidsynth):
    result = render.render_wav(trio, tmp_path / "trio.wav", sample_rate=22050)
    assert result.renderer == "builtin" and result.channels == 1
    assert "fluidsynth" in result.notice and "apt-get install fluidsynth fluid-soundfont-gm" in result.notice
    audio = assert_sounds_like(tmp_path / "trio.wav", trio, 22050)
    # Sound where the notes are: the first second is far louder than the faded tail.
    assert np.sqrt(np.mean(audio[:22050] ** 2)) > 10 * np.sqrt(np.mean(audio[-500:] ** 2))


def test_builtin_synthesizer_when_no_soundfont_is_found(trio, tmp_path, monkeypatch):
    monkeypatch.delenv(render.SOUNDFONT_ENV, raising=False)
    monkeypatch.setattr(render, "SOUNDFONT_PATHS", (str(tmp_path / "missing.sf2"),))
    result = render.render_wav(trio, tmp_path / "trio.wav", sample_rate=22050)
    assert result.renderer == "builtin"
    if shutil.which("fluidsynth"):
        assert "no General MIDI SoundFont found" in result.notice and "--soundfont" in result.notice
    assert_sounds_like(tmp_path / "trio.wav", trio, 22050)


@pytest.mark.skipif(not FLUIDSYNTH_READY, reason="FluidSynth or a General MIDI SoundFont is not installed "
                                                  "(apt-get install fluidsynth fluid-soundfont-gm)")
def test_fluidsynth_renders_with_a_soundfont(trio, tmp_path):
    result = render.render_wav(trio, tmp_path / "trio.wav")
    assert result.renderer == "fluidsynth" and result.notice is None
    assert result.channels == 2 and result.soundfont is not None
    assert_sounds_like(tmp_path / "trio.wav", trio, 44100)


def test_builtin_synthesizer_when_fluidsynth_fails(trio, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "fluidsynth"
    fake.write_text("#!/bin/sh\necho 'fluidsynth: error: out of voices' >&2\nexit 3\n")
    fake.chmod(0o755)
    font = tmp_path / "tiny.sf2"
    font.write_bytes(b"RIFF\x04\x00\x00\x00sfbk")  # only the header is checked before FluidSynth runs
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv(render.SOUNDFONT_ENV, str(font))
    result = render.render_wav(trio, tmp_path / "trio.wav", sample_rate=22050)
    assert result.renderer == "builtin"
    assert "FluidSynth failed" in result.notice and "exit code 3: fluidsynth: error: out of voices" in result.notice
    assert_sounds_like(tmp_path / "trio.wav", trio, 22050)


def test_a_named_soundfont_must_exist_and_be_one(trio, tmp_path):
    with pytest.raises(render.JazzLSTMError, match="no such SoundFont file"):
        render.render_wav(trio, tmp_path / "a.wav", soundfont=tmp_path / "nope.sf2")
    with pytest.raises(render.JazzLSTMError, match="not a SoundFont"):
        render.render_wav(trio, tmp_path / "a.wav", soundfont=trio)
    assert not (tmp_path / "a.wav").exists()


@pytest.mark.slow
def test_cli_fallback_prints_exactly_one_notice(trio, tmp_path, run_cli):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    out = tmp_path / "out.wav"
    done = run_cli("render", trio, out, "--sample-rate", "22050", PATH=str(empty))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("jazzlstm: note:") and "built-in synthesizer" in lines[0]
    assert "apt-get install fluidsynth fluid-soundfont-gm" in lines[0]
    assert f"wrote {out}" in done.stdout
    assert_sounds_like(out, trio, 22050)


@pytest.mark.slow
def test_cli_refuses_an_existing_wav_without_force(trio, tmp_path, run_cli):
    out = tmp_path / "out.wav"
    out.write_bytes(b"keep me")
    refused = run_cli("render", trio, out)
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"jazzlstm: error: {out}: already exists (use --force to overwrite)"
    assert out.read_bytes() == b"keep me"
    forced = run_cli("render", trio, out, "--force", "--sample-rate", "22050")
    assert forced.returncode == 0, forced.stderr
    assert_sounds_like(out, trio, 22050)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav", "trio.mid"]  # no temporary left


@pytest.mark.slow
@pytest.mark.parametrize("make, reason", [
    (write_text_as_midi, "not a MIDI file (no MThd header)"),
    (write_truncated, "corrupt MIDI file"),
    (None, "cannot read (No such file or directory)"),
], ids=["text", "truncated", "missing"])
def test_cli_bad_input_is_one_line(make, reason, tmp_path, run_cli):
    source = tmp_path / "in.mid"
    if make is not None:
        make(source)
    result = run_cli("render", source, tmp_path / "out.wav")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"jazzlstm: error: {source}: {reason}"), result.stderr
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.slow
def test_cli_sample_rate_out_of_range_is_a_usage_error(trio, tmp_path, run_cli):
    result = run_cli("render", trio, tmp_path / "out.wav", "--sample-rate", "1000")
    assert result.returncode == 2
    assert "--sample-rate: must be between 8000 and 96000" in result.stderr


def fake_text_run(folder: Path) -> Path:
    """A run folder whose config says 'text run' (enough for generate to pick its mode)."""
    folder.mkdir()
    for name in ("model.keras", "vocab.json"):
        (folder / name).write_text("{}")
    (folder / "config.json").write_text(json.dumps({"format": "jazzlstm-run/1", "model": {"n_values": 3},
                                                    "data": {"mode": "text", "encoding": "chars"}}))
    return folder


@pytest.mark.slow
def test_generate_wav_is_refused_for_a_text_run(tmp_path, run_cli):
    result = run_cli("generate", "--run", fake_text_run(tmp_path / "text-run"), "--wav")
    assert result.returncode == 1
    assert result.stderr.strip() == "jazzlstm: error: --wav: renders MIDI, and this text run writes none"


@pytest.mark.slow
def test_generate_wav_refuses_an_existing_wav_before_writing(tmp_path, run_cli):
    (tmp_path / "solo.wav").write_bytes(b"keep me")
    result = run_cli("generate", tmp_path / "solo.mid", "--wav")
    assert result.returncode == 1
    assert "solo.wav: already exists" in result.stderr
    assert not (tmp_path / "solo.mid").exists()


@pytest.mark.slow
def test_generate_wav_writes_audio_beside_each_midi(tmp_path, run_cli):
    result = run_cli("generate", tmp_path / "solo.mid", "--wav", "-n", "2", "--bars", "2", "--seed", "3",
                     timeout=180)
    assert result.returncode == 0, result.stderr
    for name in ("solo_1", "solo_2"):
        midi, wav = tmp_path / f"{name}.mid", tmp_path / f"{name}.wav"
        assert f"wrote {wav}" in result.stdout
        with wave.open(str(wav), "rb") as handle:
            rate = handle.getframerate()
        assert_sounds_like(wav, midi, rate)
    # One notice at most, however many files fell back to the built-in synthesizer.
    assert result.stderr.count("jazzlstm: note:") == (0 if FLUIDSYNTH_READY else 1)
