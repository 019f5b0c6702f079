"""MIDI -> 16-bit WAV (``jazzlstm render``, ``jazzlstm generate --wav``).

FluidSynth with a General MIDI SoundFont gives real instrument sounds; when either is
missing (or FluidSynth fails) a built-in additive synthesizer (pretty_midi's
``synthesize`` with a few sine harmonics) renders the notes instead, and the result says
so in ``notice``. Either way the audio lasts the MIDI's end time plus a short release
tail, is peak-normalized below full scale (no clipping) and is written atomically.

FluidSynth is run as its command-line program (``fluidsynth -F``, "fast render") rather
than through pyfluidsynth: the program reads the MIDI file itself (tempo map, program
changes, drums on channel 10) in C, needs no extra Python package whose API has changed
between releases, and a crash in the synthesizer cannot take the Python process down.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jazzlstm.errors import InputFileError, JazzLSTMError
from jazzlstm.fileio import atomic_path, check_writable, refuse_input_as_output

SOUNDFONT_ENV = "JAZZLSTM_SOUNDFONT"
"""Environment variable naming a SoundFont, searched before :data:`SOUNDFONT_PATHS`."""
SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",    # Debian/Ubuntu: fluid-soundfont-gm
    "/usr/share/sounds/sf2/default-GM.sf2",    # Debian/Ubuntu: the system's default GM SoundFont
    "/usr/share/soundfonts/FluidR3_GM.sf2",    # Fedora: fluid-soundfont-gm; Arch: soundfont-fluid
    "/usr/share/soundfonts/default.sf2",       # Fedora, Arch: the default SoundFont link
)
"""Where a General MIDI SoundFont is looked for when none is given, in this order."""
INSTALL_HINT = "Debian/Ubuntu: apt-get install fluidsynth fluid-soundfont-gm"
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 96000
"""FluidSynth's own limits for its sample rate; the built-in synthesizer keeps to them too."""
TAIL_SECONDS = 0.3
"""Audio kept after the MIDI's last event, so the last notes end in their release, not a cut."""
FADE_SECONDS = 0.1
"""Fade-out at the very end, so trimming a longer release (reverb) never clicks."""
PEAK = 10 ** (-1 / 20)
"""Normalized peak level: 1 dB below full scale, headroom for converters that overshoot."""


@dataclass(frozen=True)
class RenderResult:
    """What :func:`render_wav` wrote and how."""

    path: Path
    renderer: str                 # "fluidsynth" or "builtin"
    sample_rate: int
    channels: int
    seconds: float
    soundfont: Path | None = None
    notice: str | None = None     # when the built-in synthesizer was used: why, and how to get FluidSynth

    def describe(self) -> str:
        """'47.8 s, 44100 Hz stereo, FluidSynth with FluidR3_GM.sf2' for the CLI."""
        layout = "stereo" if self.channels == 2 else "mono"
        how = (f"FluidSynth with {self.soundfont.name}" if self.renderer == "fluidsynth"
               else "built-in synthesizer")
        return f"{self.seconds:.1f} s, {self.sample_rate} Hz {layout}, {how}"


def render_wav(midi_path: str | Path, wav_path: str | Path, sample_rate: int = 44100,
               soundfont: str | Path | None = None, force: bool = False) -> RenderResult:
    """Render a MIDI file to a 16-bit WAV (FluidSynth when available, else the built-in synthesizer).

    ``soundfont`` overrides the search (``$JAZZLSTM_SOUNDFONT``, then :data:`SOUNDFONT_PATHS`).
    Refuses an existing ``wav_path`` without ``force``; bad input raises :class:`InputFileError`.
    """
    from jazzlstm.music.midi import load_midi  # pretty_midi only when rendering

    check_sample_rate(sample_rate)
    wav_path = check_writable(wav_path, force)
    refuse_input_as_output(wav_path, midi_path)
    pm = load_midi(midi_path)  # one-line errors for missing, non-MIDI and corrupt files
    if not any(inst.notes for inst in pm.instruments):
        raise InputFileError(midi_path, "no notes to render")
    font = find_soundfont(soundfont)
    program = shutil.which("fluidsynth")
    audio, notice = None, None
    if program is None:
        notice = ("the fluidsynth program was not found; for real instrument sounds install FluidSynth "
                  f"and a General MIDI SoundFont ({INSTALL_HINT})")
    elif font is None:
        notice = (f"no General MIDI SoundFont found (looked at ${SOUNDFONT_ENV}, {', '.join(SOUNDFONT_PATHS)}); "
                  f"for real instrument sounds install one ({INSTALL_HINT}) or give --soundfont FILE.sf2")
    else:
        try:
            audio = fluidsynth_audio(program, font, midi_path, sample_rate)
        except JazzLSTMError as exc:
            notice = f"FluidSynth failed with {font} ({exc})"
    if audio is None:
        audio = builtin_audio(pm, sample_rate)
        notice = f"rendered {wav_path} with the built-in synthesizer (simple sine-wave tones): {notice}"
    audio = normalize(fit_length(audio, pm.get_end_time(), sample_rate))
    write_wav(wav_path, audio, sample_rate)
    return RenderResult(wav_path, "builtin" if notice else "fluidsynth", sample_rate, audio.shape[1],
                        audio.shape[0] / sample_rate, None if notice else font, notice)


def check_sample_rate(sample_rate: int) -> int:
    """Refuse sample rates FluidSynth cannot render at (one line)."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise JazzLSTMError(f"--sample-rate must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz, "
                            f"got {sample_rate}")
    return sample_rate


def find_soundfont(explicit: str | Path | None = None) -> Path | None:
    """The SoundFont to use: ``explicit``, else ``$JAZZLSTM_SOUNDFONT``, else the first of
    :data:`SOUNDFONT_PATHS` that is a SoundFont; None when there is none.

    A SoundFont the user named (argument or variable) that is missing or is not a SoundFont
    is an error, not a silent fallback: they asked for that sound.
    """
    named = explicit if explicit is not None else os.environ.get(SOUNDFONT_ENV) or None
    if named is not None:
        what = str(named) if explicit is not None else f"{SOUNDFONT_ENV}={named}"
        path = Path(named).expanduser()
        if not path.is_file():
            raise JazzLSTMError(f"{what}: no such SoundFont file")
        if not is_soundfont(path):
            raise JazzLSTMError(f"{what}: not a SoundFont (no RIFF sfbk header)")
        return path
    return next((Path(p) for p in SOUNDFONT_PATHS if Path(p).is_file() and is_soundfont(Path(p))), None)


def is_soundfont(path: Path) -> bool:
    """SoundFont 2 (and compressed SF3) files are RIFF files of form type 'sfbk'."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"sfbk"


def fluidsynth_audio(program: str, soundfont: Path, midi_path: str | Path, sample_rate: int) -> np.ndarray:
    """Render with the fluidsynth program; float samples, shape (frames, 2).

    It writes raw little-endian float32 so that normalization happens here, on the
    unclipped signal, and the WAV is written by the same code for both renderers.
    """
    with tempfile.TemporaryDirectory(prefix="jazzlstm-render-") as folder:
        raw = Path(folder) / "audio.raw"
        # -n: no MIDI input driver, -i: no shell, -q: no banner; absolute paths so that a
        # file name starting with '-' is never read as an option.
        command = [program, "-n", "-i", "-q", "-F", str(raw), "-T", "raw", "-O", "float", "-E", "little",
                   "-r", str(sample_rate), str(soundfont.resolve()), str(Path(midi_path).resolve())]
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  errors="replace")
        except OSError as exc:
            raise JazzLSTMError(f"cannot run {program}: {exc.strerror or exc}") from None
        if done.returncode != 0:
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            raise JazzLSTMError(f"exit code {done.returncode}: {lines[-1] if lines else 'no message'}")
        audio = np.fromfile(raw, dtype="<f4") if raw.is_file() else np.zeros(0, np.float32)
    if audio.size < 2 or not np.any(audio):
        raise JazzLSTMError("it produced no sound")
    return audio[: audio.size // 2 * 2].reshape(-1, 2).astype(np.float64)


def _organ(phase: np.ndarray) -> np.ndarray:
    """A sine with its 2nd and 3rd harmonics: a plain sine bass line is barely audible on
    small speakers, the harmonics make every line (and the octave of each note) clear."""
    return np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)


def builtin_audio(pm, sample_rate: int) -> np.ndarray:
    """Render with pretty_midi's additive synthesizer (drums are silent); shape (frames, 1)."""
    audio = pm.synthesize(fs=sample_rate, wave=_organ, normalize=False)
    return np.asarray(audio, dtype=np.float64).reshape(-1, 1)


def fit_length(audio: np.ndarray, end_time: float, sample_rate: int) -> np.ndarray:
    """Exactly ``end_time + TAIL_SECONDS`` long (trimmed or padded), faded out at the end.

    Renderers add different amounts of silence or reverb after the last note; a fixed
    length keeps the WAV in step with the MIDI it came from.
    """
    frames = int(round((end_time + TAIL_SECONDS) * sample_rate))
    out = np.zeros((frames, audio.shape[1]))
    out[: min(frames, len(audio))] = audio[:frames]
    fade = min(frames, int(FADE_SECONDS * sample_rate))
    if fade:
        out[-fade:] *= np.linspace(1.0, 0.0, fade)[:, None]
    return out


def normalize(audio: np.ndarray) -> np.ndarray:
    """Scale the loudest sample to :data:`PEAK` (silence stays silence)."""
    peak = float(np.max(np.abs(audio), initial=0.0))
    return audio * (PEAK / peak) if peak > 0 else audio


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write float samples in [-1, 1], shape (frames, channels), as a 16-bit PCM WAV, atomically."""
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with atomic_path(path) as tmp:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(pcm.shape[1])
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(pcm.tobytes())
