"""The pictures of an evaluation report, drawn from report.json's own numbers.

* ``features.png``: one panel per music feature. Scalar features: histograms of the per-piece
  values, generated against reference (and training, lighter). Histogram features (pitch
  classes, intervals, note lengths, inter-onset intervals): the mean histogram of each set.
* ``overlap.png``: the overlap area of every feature, generated against reference, beside the
  same figure for reference against training (the yardstick) when training data is available.

Figures are made and written by :mod:`jazzlstm.plot`'s helpers (their own Agg canvas,
constrained layout, no pyplot state; written atomically).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jazzlstm.evaluate.music_metrics import HISTOGRAM_FEATURES, LENGTH_CLASS_NAMES, MAX_INTERVAL, SCALAR_FEATURES
from jazzlstm.music.harmony import NOTE_NAMES
from jazzlstm.plot import new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLORS = {"generated": "#c0392b", "reference": "#1d4e89", "training": "#7f8c8d"}
COLUMNS = 4
def _bin_labels(feature: str, bins: int) -> list[str]:
    if feature == "pitch_class_histogram":
        return list(NOTE_NAMES)[:bins]
    if feature == "interval_histogram":
        return [f"{i:+d}" if i else "0" for i in range(-MAX_INTERVAL, MAX_INTERVAL + 1)][:bins]
    return list(LENGTH_CLASS_NAMES)[:bins]


def _values(report: dict, role: str, feature: str) -> list:
    pieces = report["metrics"]["pieces"].get(role, [])
    return [p[feature] for p in pieces if p.get(feature) is not None]


def feature_figure(report: dict) -> "Figure":
    """One panel per feature: generated against reference (and training) values."""
    features = HISTOGRAM_FEATURES + SCALAR_FEATURES
    roles = [r for r in ("generated", "reference", "training") if r in report["metrics"]["pieces"]]
    rows = math.ceil(len(features) / COLUMNS)
    fig = new_figure(4.2 * COLUMNS, 3.0 * rows)
    axes = fig.subplots(rows, COLUMNS, squeeze=False).ravel()
    for ax, feature in zip(axes, features):
        ax.set_title(feature.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=7)
        if feature in HISTOGRAM_FEATURES:
            _draw_mean_histograms(ax, report, roles, feature)
        else:
            _draw_value_histograms(ax, report, roles, feature)
    for ax in axes[len(features):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)
    fig.suptitle(f"Music features: generated against reference ({report['run'].get('path')})", fontsize=11)
    return fig


def _draw_mean_histograms(ax, report: dict, roles: list[str], feature: str) -> None:
    means = {}
    for role in roles:
        rows = [np.asarray(v, dtype=float) for v in _values(report, role, feature)]
        rows = [r for r in rows if r.any()]
        if rows:
            means[role] = np.mean(rows, axis=0)
    if not means:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        return
    bins = len(next(iter(means.values())))
    width = 0.8 / len(means)
    x = np.arange(bins)
    for i, (role, mean) in enumerate(means.items()):
        ax.bar(x + (i - (len(means) - 1) / 2) * width, mean, width, color=COLORS[role], label=role,
               alpha=0.5 if role == "training" else 0.85)
    step = 1 if bins <= 12 else 4
    ax.set_xticks(x[::step], _bin_labels(feature, bins)[::step], rotation=60 if bins <= 12 else 0, fontsize=6)
    ax.set_ylabel("mean share", fontsize=7)


def _draw_value_histograms(ax, report: dict, roles: list[str], feature: str) -> None:
    values = {role: np.asarray(_values(report, role, feature), dtype=float) for role in roles}
    values = {role: v for role, v in values.items() if len(v)}
    if not values:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        return
    pooled = np.concatenate(list(values.values()))
    low, high = float(pooled.min()), float(pooled.max())
    edges = np.linspace(low, high if high > low else low + 1.0, 21)
    for role, v in values.items():
        ax.hist(v, bins=edges, density=True, color=COLORS[role], label=role,
                alpha=0.3 if role == "training" else 0.55, histtype="stepfilled", edgecolor=COLORS[role])
    ax.set_ylabel("density", fontsize=7)


def overlap_figure(report: dict) -> "Figure":
    """Overlap area per feature: generated vs reference, and the reference vs training yardstick."""
    features = list(HISTOGRAM_FEATURES + SCALAR_FEATURES)
    comparison = report["comparison"]
    series = [("generated vs reference", comparison["generated_vs_reference"], COLORS["generated"])]
    yard = comparison.get("reference_vs_training", {})
    if yard.get("available", True) and "features" in yard:
        series.append(("reference vs training (yardstick)", yard, COLORS["training"]))
    fig = new_figure(7.5, 0.38 * len(features) + 1.6)
    ax = fig.subplots()
    y = np.arange(len(features))
    height = 0.8 / len(series)
    for i, (label, data, color) in enumerate(series):
        values = [data["features"][f]["overlap_a"] for f in features]
        values = [np.nan if v is None else v for v in values]
        ax.barh(y + (i - (len(series) - 1) / 2) * height, values, height, color=color, label=label)
    ax.set_yticks(y, [f.replace("_", " ") for f in features], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("overlap area (1: indistinguishable)")
    ax.axvline(1.0, color="#999999", linewidth=0.6)
    fig.legend(loc="outside lower center", ncols=len(series), fontsize=8, frameon=False)
    ax.set_title("Yang & Lerch overlap area per feature", fontsize=11)
    return fig


def write_plots(folder: str | Path, report: dict) -> list[Path]:
    """features.png and overlap.png in ``folder``."""
    folder = Path(folder)
    return [save_figure(feature_figure(report), folder / "features.png"),
            save_figure(overlap_figure(report), folder / "overlap.png")]
