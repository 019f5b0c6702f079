"""Pictures (``jazzlstm plot``): a piano roll of what jazzlstm reads from a file, and a run's
training curves.

The piano roll draws the Score the corpus reader makes (melody after the melody choice and
skyline, chords as recognized), so it shows exactly what training would see: melody notes
coloured by their grammar type against the chord (chord, scale, approach or other tone),
each chord's tones as light bands, chord names above, bar lines and bar numbers. Long
pieces wrap into several rows of bars, like a lead sheet.

matplotlib is imported inside the functions (importing jazzlstm stays cheap) and figures
are drawn on an Agg canvas of their own: no display is needed and pyplot's global state
(a notebook's backend, its open figures) is never touched.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from jazzlstm.errors import JazzLSTMError
from jazzlstm.fileio import atomic_path, check_writable, refuse_input_as_output
from jazzlstm.music.harmony import NOTE_NAMES, chord_tones, note_type
from jazzlstm.music.score import Chord, Score, TimeSignature, bar_starts, chord_at

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

NOTE_COLORS = {"C": "#1d4e89", "S": "#2a9d8f", "A": "#e9a03b", "X": "#c0392b"}
NOTE_LABELS = {"C": "melody: chord tone", "S": "melody: scale tone", "A": "melody: approach tone",
               "X": "melody: other tone"}
BAND_COLOR, ROOT_COLOR = "#dce8f5", "#b7cfe9"
ROW_BEATS = 32.0
"""Beats per row of the piano roll (8 bars of 4/4: two phrases, as on a lead sheet), while
the piece fits in :data:`MAX_ROWS` rows; longer pieces get longer rows."""
MAX_ROWS = 6
INCHES_PER_BEAT = 0.32
LEGEND_ENTRY_INCHES = 1.9
MAX_WIDTH = 20.0
DPI = 110


def plot_piano_roll(path: str | Path, out: str | Path, force: bool = False,
                    melody_track: int | str | None = None) -> Path:
    """Read a MIDI/MusicXML file as jazzlstm does and draw its melody and chords to ``out``."""
    from jazzlstm.music.reading import read_score

    out = check_image_path(out, force)
    refuse_input_as_output(out, path)
    score = read_score(path, melody_track)
    return save_figure(piano_roll_figure(score, Path(path).name), out)


def plot_history(run_dir: str | Path, out: str | Path, force: bool = False) -> Path:
    """Draw the loss and perplexity curves of a run folder's ``history.json`` to ``out``."""
    out = check_image_path(out, force)
    history = read_history(run_dir)
    return save_figure(history_figure(history, Path(run_dir).resolve().name), out)


def read_history(run_dir: str | Path) -> dict:
    """``history.json`` of a run folder, checked to hold a per-epoch loss (one-line errors)."""
    from jazzlstm.runs import HISTORY_FILE, _read_json

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise JazzLSTMError(f"{run_dir}: no such run folder")
    path = run_dir / HISTORY_FILE
    if not path.is_file():
        raise JazzLSTMError(f"{run_dir}: no {HISTORY_FILE} (not a jazzlstm run folder?)")
    history = _read_json(path)
    losses = history.get("loss") if isinstance(history, dict) else None
    if not isinstance(losses, list) or not losses or not all(isinstance(v, (int, float)) for v in losses):
        raise JazzLSTMError(f"{path}: no per-epoch loss to plot")
    return history


def check_image_path(out: str | Path, force: bool) -> Path:
    """Refuse an existing ``out`` (without ``force``) or a format matplotlib cannot write,
    before any input is read."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    out = check_writable(out, force)
    supported = FigureCanvasAgg.get_supported_filetypes()
    if image_format(out) not in supported:
        raise JazzLSTMError(f"{out}: cannot write .{image_format(out)} images "
                            f"(use one of: .{', .'.join(sorted(supported))})")
    return out


def image_format(out: Path) -> str:
    """The image format named by ``out``'s suffix; PNG when it has none."""
    return out.suffix.lower().lstrip(".") or "png"


def save_figure(fig: "Figure", out: str | Path) -> Path:
    """Write ``fig`` atomically in the format of ``out``'s suffix (PNG without one)."""
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=image_format(out), dpi=DPI)
    return out


def new_figure(width: float, height: float) -> "Figure":
    """A figure on its own Agg canvas, with constrained layout (labels never cut off)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def pitch_name(pitch: int) -> str:
    """60 -> 'C4' (scientific pitch notation, middle C = C4)."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def rows_of_bars(bar_lines: Sequence[float], last_bar_end: float) -> list[tuple[int, float, float]]:
    """Split the piece into rows of whole bars: (first bar index, start beat, end beat) each.

    About :data:`ROW_BEATS` beats a row, whatever the meter, and balanced (12 bars of 4/4:
    two rows of 6, not 8 + 4); past :data:`MAX_ROWS` rows the rows grow longer instead.
    """
    bars = len(bar_lines)
    ends = list(bar_lines[1:]) + [last_bar_end]
    n_rows = max(1, min(MAX_ROWS, bars, math.ceil(ends[-1] / ROW_BEATS - 1e-9)))
    per_row = math.ceil(bars / n_rows)
    return [(i, bar_lines[i], ends[min(i + per_row, bars) - 1]) for i in range(0, bars, per_row)]


def piano_roll_figure(score: Score, title: str) -> "Figure":
    """A piano roll of ``score``: melody by note type over chord-tone bands, one row per line of bars."""
    from matplotlib.patches import Patch

    if not score.melody:
        raise JazzLSTMError(f"{title}: no melody notes to plot")
    end = max(score.end, score.melody[-1].end)
    bar_lines = bar_starts(score.time_signatures, end)
    # The last bar is drawn whole, even where the music stops before its end.
    rows = rows_of_bars(bar_lines, max(end, bar_lines[-1] + signature_at(score, bar_lines[-1]).bar_beats))
    pitches = [n.pitch for n in score.melody]
    low, high = min(pitches) - 2, max(pitches) + 2
    if high - low < 14:  # at least an octave and a bit, so a narrow tune is not a few fat bars
        pad = (14 - (high - low)) / 2
        low, high = math.floor(low - pad), math.ceil(high + pad)
    row_beats = max(stop - start for _, start, stop in rows)
    width = min(MAX_WIDTH, max(8.0, 1.3 + row_beats * INCHES_PER_BEAT))
    row_height = min(2.8, max(1.8, (high - low) * 0.095))
    fig = new_figure(width, 1.2 + len(rows) * (row_height + 0.75))
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (first_bar, start, stop) in zip(axes, rows):
        _draw_row(ax, score, bar_lines, first_bar, start, stop, low, high, row_beats)
    axes[-1].set_xlabel("bar")
    for ax in axes:
        ax.set_ylabel("pitch")
    _place_chord_labels(fig, axes, score.chords, rows)
    used = sorted({note_type(n.pitch, c.root, c.quality) for n in score.melody
                   if (c := chord_at(score.chords, n.start)) is not None}, key="CSAX".index)
    handles = [Patch(color=NOTE_COLORS[t], label=NOTE_LABELS[t]) for t in used or ["C"]]
    if score.chords:
        handles += [Patch(color=BAND_COLOR, label="chord tones"), Patch(color=ROOT_COLOR, label="chord root")]
    columns = max(1, min(len(handles), int(width / LEGEND_ENTRY_INCHES)))  # wraps on narrow figures
    fig.legend(handles=handles, loc="outside lower center", ncols=columns, frameon=False, fontsize=9)
    info = score.info
    track = info.get("melody_track_name") or info.get("melody_track")
    details = [f"{len(bar_lines)} bars", f"{score.tempo:.0f} BPM"]
    if track is not None:
        details.insert(0, f"melody: {track}")
    if info.get("chord_source"):
        details.append(f"chords: {info['chord_source']}")
    fig.suptitle(f"{title}\n{', '.join(details)}", fontsize=11)
    return fig


def _draw_row(ax: "Axes", score: Score, bar_lines: Sequence[float], first_bar: int, start: float,
              stop: float, low: int, high: int, row_beats: float) -> None:
    """One row of bars: chord-tone bands, melody bars, bar lines, beats, bar numbers, note names.

    Every row spans ``row_beats`` so that a bar is equally wide in every row (a short last
    row ends early, as on a lead sheet).
    """
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    bands, roots = [], []
    for chord in score.chords:
        if chord.end <= start or chord.start >= stop:
            continue
        tones = chord_tones(chord.root, chord.quality)
        for pitch in range(low, high + 1):
            if pitch % 12 in tones:
                cell = Rectangle((chord.start, pitch - 0.5), chord.duration, 1.0)
                (roots if pitch % 12 == chord.root else bands).append(cell)
    ax.add_collection(PatchCollection(bands, facecolor=BAND_COLOR, edgecolor="none", zorder=1))
    ax.add_collection(PatchCollection(roots, facecolor=ROOT_COLOR, edgecolor="none", zorder=1))
    by_type: dict[str, list] = {t: [] for t in NOTE_COLORS}
    for note in score.melody:
        if note.end <= start or note.start >= stop:
            continue
        chord = chord_at(score.chords, note.start)
        kind = note_type(note.pitch, chord.root, chord.quality) if chord else "C"
        by_type[kind].append(Rectangle((note.start, note.pitch - 0.4), note.duration, 0.8))
    for kind, cells in by_type.items():
        # A thin white edge keeps repeated notes of one pitch apart.
        ax.add_collection(PatchCollection(cells, facecolor=NOTE_COLORS[kind], edgecolor="white",
                                          linewidth=0.6, zorder=3))
    row_bars = [b for b in bar_lines if start - 1e-9 <= b < stop - 1e-9]
    ax.vlines(beat_lines(score, row_bars, stop), low - 0.5, high + 0.5, color="#e6e6e6", linewidth=0.5, zorder=0)
    ax.vlines(row_bars + [stop], low - 0.5, high + 0.5, color="#6b6b6b", linewidth=0.9, zorder=2)
    ax.set_xlim(start, start + row_beats)
    ax.spines["bottom"].set_bounds(start, stop)
    ax.set_ylim(low - 0.5, high + 0.5)
    # Bar numbers sit in the middle of their bar, where a reader looks for them.
    ends = row_bars[1:] + [stop]
    ax.set_xticks([(a + b) / 2 for a, b in zip(row_bars, ends)])
    ax.set_xticklabels([str(first_bar + i + 1) for i in range(len(row_bars))], fontsize=8)
    ax.tick_params(axis="x", length=0)
    naturals = [p for p in range(low, high + 1) if NOTE_NAMES[p % 12] in ("C", "E", "G")]
    ax.set_yticks(naturals)
    ax.set_yticklabels([pitch_name(p) for p in naturals], fontsize=8)
    ax.hlines([p - 0.5 for p in naturals if p % 12 == 0], start, stop, color="#9a9a9a", linewidth=0.5, zorder=2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def signature_at(score: Score, beat: float) -> TimeSignature:
    """The time signature in force at ``beat``."""
    return max((t for t in score.time_signatures if t.start <= beat + 1e-9), key=lambda t: t.start,
               default=TimeSignature(0.0))


def beat_lines(score: Score, row_bars: Sequence[float], stop: float) -> list[float]:
    """Beat positions inside each bar, in the meter's own beat: a quarter in 4/4, an eighth in
    7/8, a dotted quarter in compound meters (6/8, 9/8, 12/8)."""
    lines = []
    for bar, end in zip(row_bars, list(row_bars[1:]) + [stop]):
        sig = signature_at(score, bar)
        compound = sig.denominator == 8 and sig.numerator % 3 == 0 and sig.numerator > 3
        step = 1.5 if compound else 4.0 / sig.denominator
        position = bar + step
        while position < end - 1e-6:
            lines.append(position)
            position += step
    return lines


def _place_chord_labels(fig: "Figure", axes: Sequence["Axes"], chords: Sequence[Chord],
                        rows: Sequence[tuple[int, float, float]]) -> None:
    """Chord names above each row at their chord's start, stacked on a second line where
    two names would touch (their widths are measured on the canvas, not guessed)."""
    fig.canvas.draw()  # run the layout once, so that data -> pixel positions are final
    renderer = fig.canvas.get_renderer()
    for ax, (_, start, stop) in zip(axes, rows):
        ends = [-math.inf, -math.inf]  # right edge (pixels) of the last name on each line
        for chord in chords:
            if chord.end <= start or chord.start >= stop:
                continue
            x = max(chord.start, start)
            text = ax.text(x, 1.0, chord.label, transform=ax.get_xaxis_transform(), fontsize=8.5,
                           fontweight="bold", color="#333333", va="bottom", ha="left", clip_on=False)
            box = text.get_window_extent(renderer)
            line = 0 if box.x0 > ends[0] + 3 else 1 if box.x0 > ends[1] + 3 else int(ends[1] < ends[0])
            if line:
                text.set_y(1.0 + box.height * 1.1 / ax.get_window_extent(renderer).height)
            ends[line] = box.x1


def history_curves(history: dict) -> dict[str, list[float]]:
    """loss, perplexity and their val_ twins as float lists (non-finite values as NaN, drawn as
    gaps); a run without perplexity gets exp(loss), which is what Perplexity measures."""
    def finite(values: list) -> list[float]:
        floats = [float(v) if isinstance(v, (int, float)) else math.nan for v in values]
        return [v if math.isfinite(v) else math.nan for v in floats]

    curves = {}
    for prefix in ("", "val_"):
        losses = history.get(prefix + "loss")
        if not isinstance(losses, list) or not losses:
            continue
        curves[prefix + "loss"] = finite(losses)
        perplexity = history.get(prefix + "perplexity")
        if not isinstance(perplexity, list) or len(perplexity) != len(losses):
            perplexity = [math.exp(v) if v < 700 else math.nan for v in curves[prefix + "loss"]]
        curves[prefix + "perplexity"] = finite(perplexity)
        per_note = history.get(prefix + "bits_per_note")
        if isinstance(per_note, list) and len(per_note) == len(losses):
            curves[prefix + "bits_per_note"] = finite(per_note)
    return curves


def history_figure(history: dict, title: str) -> "Figure":
    """Loss and perplexity per epoch (training and validation), and bits per note where the run
    has them (music runs), the best epoch marked."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

    curves = history_curves(history)
    epochs = list(range(1, len(curves["loss"]) + 1))
    monitor = str(history.get("monitor") or ("val_loss" if "val_loss" in curves else "loss"))
    best = history.get("best_epoch")
    if not isinstance(best, int) or not 1 <= best <= len(epochs) or monitor not in curves:
        best = None
    panels = [("loss", "loss (crossentropy, nats per token)", False), ("perplexity", "perplexity (log scale)", True)]
    if "bits_per_note" in curves or "val_bits_per_note" in curves:
        panels.append(("bits_per_note", "bits per melody note", False))
    fig = new_figure(5.5 * len(panels), 4.4)
    axes = fig.subplots(1, len(panels))
    panels = [(ax, *panel) for ax, panel in zip(axes, panels)]
    for ax, key, label, log in panels:
        for prefix, name, color in (("", "training", "#1d4e89"), ("val_", "validation", "#e76f51")):
            values = curves.get(prefix + key)
            if values:
                ax.plot(epochs[: len(values)], values, color=color, marker="o" if len(values) <= 30 else None,
                        markersize=3, linewidth=1.6, label=name)
        if best is not None:
            ax.axvline(best, color="#555555", linestyle="--", linewidth=1, label=f"best epoch ({best})")
            curve = curves.get(monitor.replace("loss", key), [])
            if len(curve) >= best:
                ax.plot([best], [curve[best - 1]], marker="*", markersize=14, color="#f4c20d",
                        markeredgecolor="#333333", linestyle="none", zorder=5)
        if log:
            # Ticks at 1, 2, 5, 10, 20, ... read as numbers (a perplexity is a branching factor).
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_xlim(0.5, len(epochs) + 0.5)  # whole epochs, even for a run of one
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.margins(y=0.1)  # room for the best-epoch star at either end
        ax.grid(True, color="#e6e6e6", linewidth=0.6)
        ax.legend(fontsize=9)
    subtitle = f"{len(epochs)} epoch{'s' if len(epochs) != 1 else ''}"
    if best is not None:
        subtitle += f"; best epoch {best} by {monitor} ({curves[monitor][best - 1]:.3f})"
    fig.suptitle(f"{title}: training history\n{subtitle}", fontsize=11)
    return fig
