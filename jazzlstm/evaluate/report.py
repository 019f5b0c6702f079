"""``jazzlstm evaluate``'s report: the likelihood, metrics, comparison and memorization sections
built from three sets of pieces, and the files written for them (report.json, report.md, plots).

The sets are Scores with names (:class:`PieceSet`): the *generated* pieces (sampled from the
run, or read from a folder), the held-out *reference* pieces and, where available, the
*training* pieces. The model enters only as a function of ids (see
:mod:`jazzlstm.evaluate.heldout`), so this module never imports Keras; sampling and loading the
run happen in :func:`jazzlstm.api.evaluate`. The schema of report.json is documented in
docs/evaluation.md.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from jazzlstm._version import __version__
from jazzlstm.config import CorpusConfig, DataConfig, EvaluateConfig
from jazzlstm.errors import BadChordError, JazzLSTMError, NoUsableFilesError, UsageError
from jazzlstm.evaluate.distances import compare_sets
from jazzlstm.evaluate.heldout import KN_ORDERS, ModelBits, heldout_likelihood
from jazzlstm.evaluate.memorization import NGRAM_SIZES, TrainingIndex, summarize
from jazzlstm.evaluate.music_metrics import (HISTOGRAM_FEATURES, PITCH_FEATURES, SCALAR_FEATURES, piece_metrics,
                                             set_metrics)
from jazzlstm.fileio import write_bytes_atomic, write_json_atomic
from jazzlstm.music.score import Score
from jazzlstm.tokens.base import MusicTokenizer
from jazzlstm.tokens.vocab import Vocabulary

REPORT_VERSION = 1
"""The version of report.json's schema; bumped when a field changes meaning."""
FEATURES = HISTOGRAM_FEATURES + SCALAR_FEATURES
NOT_AVAILABLE = "training data not available"
COPY_BARS = 2.0
"""A generated piece "copies" when its longest span found in one training piece is longer than this."""
REPORT_FILES = ("report.json", "report.md", "features.png", "overlap.png")

Progress = Callable[[str], None]


@dataclass
class PieceSet:
    """One set of pieces: their Scores, names, and where they came from."""

    role: str                                   # generated | reference | training
    source: str                                 # a folder, or what they were sampled from
    scores: list[Score]
    names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""

    def describe(self) -> dict:
        return {"source": self.source, "pieces": len(self.scores), "names": list(self.names),
                "skipped": [{"piece": p, "reason": r} for p, r in self.skipped],
                **({"note": self.note} if self.note else {})}


SAMPLING_SETTINGS = ("n", "chords", "bars", "temperature", "top_k")
"""The settings of pieces sampled from the run: not for pieces read with ``generated``."""


def check_settings(config: EvaluateConfig, reference: str | Path | Sequence[str | Path]) -> None:
    """One-line errors for settings that cannot work, before anything is read or loaded: missing
    folders, a chord progression that does not parse, sampling settings with ``generated``."""
    from jazzlstm.music.harmony import parse_progression

    references = [reference] if isinstance(reference, (str, Path)) else list(reference)
    if not references:
        raise UsageError("evaluate: give the reference pieces (--reference DIR)")
    for flag, path in [("--reference", r) for r in references] + [("--generated", config.generated),
                                                                   ("--training", config.training)]:
        if path is not None and not Path(path).exists():
            raise JazzLSTMError(f"{flag} {path}: no such file or folder")
    if config.generated is not None:
        given = [name for name in SAMPLING_SETTINGS if getattr(config, name) != getattr(EvaluateConfig(), name)]
        if given:
            flags = ["-n/--num-outputs" if g == "n" else "--" + g.replace("_", "-") for g in given]
            raise UsageError(f"{', '.join(flags)}: for sampled pieces, not "
                             f"with --generated (its pieces are read, not sampled)")
    if config.chords:
        try:
            parse_progression(config.chords)
        except BadChordError as exc:
            raise BadChordError(f"--chords: {exc}") from None


def reading_config(data_config: DataConfig, melody_track: int | str | None | bool = True) -> CorpusConfig:
    """The run's reading settings (encoding, melody track, transposition) as a CorpusConfig;
    ``melody_track=None`` lets the melody be chosen automatically instead of the run's track."""
    track = data_config.melody_track if melody_track is True else melody_track
    return CorpusConfig(encoding=data_config.encoding, melody_track=track, transpose=data_config.transpose)


def read_set(role: str, path: str | Path | Sequence[str | Path], config: CorpusConfig,
             progress: bool = False) -> PieceSet:
    """Every usable MIDI/MusicXML file under ``path`` (one folder or several), read as
    :func:`jazzlstm.data.corpus.load_corpus` reads a training folder."""
    from jazzlstm.data.corpus import load_corpus

    roots = [path] if isinstance(path, (str, Path)) else list(path)
    try:
        corpus = load_corpus(roots if len(roots) > 1 else roots[0], config, progress=progress)
    except NoUsableFilesError as exc:
        raise NoUsableFilesError(f"{role} set: {exc}") from None
    names = [_relative_name(piece.path, roots) for piece in corpus.pieces]
    return PieceSet(role, ", ".join(str(r) for r in roots), [piece.score for piece in corpus.pieces], names,
                    list(corpus.skipped))


def _relative_name(path: str, roots: Sequence[str | Path]) -> str:
    for root in roots:
        try:
            relative = Path(path).resolve().relative_to(Path(root).resolve())
        except ValueError:
            continue
        return str(relative) if str(relative) != "." else Path(path).name
    return Path(path).name


def training_set(training: str | Path | None, data_config: DataConfig, say: Progress,
                 progress: bool = False) -> PieceSet | None:
    """``training`` (a folder), else the run's own sources where they still exist; None when
    neither is there (the sections that need it then say so)."""
    if training is not None:
        say(f"reading the training pieces ({training})")
        return read_set("training", training, reading_config(data_config), progress=progress)
    found = [s for s in data_config.sources if Path(s).exists()]
    if not found:
        say(f"{NOT_AVAILABLE} (the run's sources are not here; --training names them)")
        return None
    say(f"reading the training pieces (the run's sources: {', '.join(found)})")
    pieces = read_set("training", found, reading_config(data_config), progress=progress)
    missing = [s for s in data_config.sources if s not in found]
    if missing:
        pieces.note = f"the run's sources {', '.join(missing)} are not here"
    return pieces


def paths_text(paths: str | Path | Sequence[str | Path]) -> str:
    return str(paths) if isinstance(paths, (str, Path)) else ", ".join(str(p) for p in paths)


def run_info(run: Any) -> dict:
    """The run section: what was evaluated (a :class:`jazzlstm.runs.Run`)."""
    history = run.history or {}
    data = run.data_config
    return {"path": None if run.path is None else str(run.path), "mode": data.mode, "encoding": data.encoding,
            "tokenizer": data.tokenizer_config(), "melody_track": data.melody_track, "transpose": data.transpose,
            "sources": list(data.sources), "vocabulary_size": len(run.vocab), "n_a": run.model_config.n_a,
            "tx": run.model_config.tx, "epochs": len(history.get("loss", [])),
            "best_epoch": history.get("best_epoch"), "jazzlstm_version": run.version,
            "validation_baselines": _validation_baselines(run.path),
            "tokenizer_note": older_tokenizer_note(data.tokenizer_config())}


def older_tokenizer_note(config: dict) -> str | None:
    """A warning when the run's tokens were made by an older version of its encoding: the
    reference pieces are encoded by the current one, which the model never saw."""
    from jazzlstm.tokens.registry import TOKENIZERS

    current = TOKENIZERS.get(str(config.get("name")))
    saved = int(config.get("version", 1))
    if current is None or saved >= current.version:
        return None
    return (f"the run was trained on {config.get('name')} tokens of version {saved}; this jazzlstm encodes the "
            f"reference pieces with version {current.version}, which the model never saw (retrain the run to "
            f"compare like with like)")


def _validation_baselines(run_path: Path | None) -> dict | None:
    """The run's own baselines.json (written by train: the model against n-gram baselines on its
    validation files), or None where the run has none."""
    from jazzlstm.runs import BASELINES_FILE

    try:
        data = json.loads((Path(run_path) / BASELINES_FILE).read_text(encoding="utf-8"))
    except (TypeError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("baselines"), dict) else None

# --- the sections --------------------------------------------------------------------------------

def metrics_section(sets: Sequence[PieceSet]) -> tuple[dict, dict[str, list[dict]]]:
    """(the metrics section, per-piece metric rows by set) for the sets given."""
    rows = {s.role: [piece_metrics(score) for score in s.scores] for s in sets}
    section: dict = {
        "features": {"histogram": list(HISTOGRAM_FEATURES), "scalar": list(SCALAR_FEATURES),
                     "pitch": list(PITCH_FEATURES), "rhythm": [f for f in FEATURES if f not in PITCH_FEATURES]},
        "sets": {}, "pieces": {},
    }
    for s in sets:
        stats = set_metrics(rows[s.role]) if rows[s.role] else {}
        section["sets"][s.role] = {name: {"mean": st.mean, "std": st.std, "count": st.count}
                                   for name, st in stats.items()}
        section["pieces"][s.role] = [{"name": name, **row} for name, row in zip(s.names, rows[s.role])]
    return section, rows


def compare(rows_a: list[dict], rows_b: list[dict], a: str, b: str) -> dict:
    """Yang & Lerch's comparison of two sets, every feature: overlap area and KL of each set's
    intra-set distances against the inter-set distances (see :mod:`jazzlstm.evaluate.distances`)."""
    comparisons = compare_sets(rows_a, rows_b, FEATURES)
    features = {name: {"overlap_a": c.overlap_a, "kl_a": c.kl_a, "overlap_b": c.overlap_b, "kl_b": c.kl_b}
                for name, c in comparisons.items()}
    out = {"a": a, "b": b, "features": features}
    for key in ("overlap_a", "kl_a", "overlap_b", "kl_b"):
        values = [f[key] for f in features.values() if not math.isnan(f[key])]
        out[f"mean_{key}"] = float(np.mean(values)) if values else math.nan
    for group, names in (("pitch", PITCH_FEATURES), ("rhythm", [f for f in FEATURES if f not in PITCH_FEATURES])):
        values = [features[n]["overlap_a"] for n in names if n in features and not math.isnan(features[n]["overlap_a"])]
        out[f"{group}_mean_overlap_a"] = float(np.mean(values)) if values else math.nan
    return out


def comparison_section(rows: dict[str, list[dict]], training_available: bool) -> dict:
    section = {"generated_vs_reference": compare(rows["generated"], rows["reference"], "generated", "reference")}
    if training_available:
        section["reference_vs_training"] = compare(rows["reference"], rows["training"], "reference", "training")
    else:
        section["reference_vs_training"] = {"available": False, "note": NOT_AVAILABLE}
    return section


def memorization_section(generated: PieceSet, reference: PieceSet, training: PieceSet | None) -> dict:
    """Copied note n-grams and the longest copied span of every generated piece; the same
    summary for the reference pieces as a yardstick (how much unseen music shares anyway)."""
    if training is None or not training.scores:
        return {"available": False, "note": NOT_AVAILABLE}
    index = TrainingIndex(training.scores, training.names, NGRAM_SIZES)
    results = [index.memorization(score) for score in generated.scores]
    pieces = []
    for name, score, result in zip(generated.names, generated.scores, results):
        span = result.longest
        pieces.append({
            "name": name, "notes": len(score.melody),
            "shares": {str(n): v for n, v in result.shares.items()},
            "ngrams": {str(n): v for n, v in result.ngrams.items()},
            "longest": None if span is None else {"notes": span.notes, "bars": span.bars, "start": span.start,
                                                  "start_beat": span.start_beat, "source": span.source_name,
                                                  "source_start": span.source_start},
        })
    yardstick = [index.memorization(score) for score in reference.scores]
    return {"available": True, "sizes": list(NGRAM_SIZES), "copy_bars": COPY_BARS,
            "summary": _summary(results), "reference_summary": _summary(yardstick), "pieces": pieces}


def _summary(results) -> dict:
    out = summarize(results) if results else {}
    spans = [r.longest.bars if r.longest is not None else 0.0 for r in results]
    out["mean_longest_bars"] = float(np.mean(spans)) if spans else math.nan
    out["pieces_with_copy_over_2_bars"] = (sum(b > COPY_BARS for b in spans) / len(spans)) if spans else math.nan
    out["pieces"] = len(results)
    return out


def _melody_key(score: Score) -> tuple:
    return tuple(sorted((round(n.start * 12), round(n.duration * 12), n.pitch) for n in score.melody))


def shared_pieces(a: PieceSet, b: PieceSet) -> list[str]:
    """Names of the pieces of ``a`` whose melody is, note for note, that of a piece of ``b``."""
    keys = {_melody_key(score) for score in b.scores}
    return [name for name, score in zip(a.names, a.scores) if _melody_key(score) in keys]

def build_report(run: dict, settings: dict, generated: PieceSet, reference: PieceSet,
                 training: PieceSet | None, model_bits: ModelBits | None, vocab: Vocabulary,
                 tokenizer: MusicTokenizer, progress: Progress | None = None) -> dict:
    """Every section of report.json (JSON-ready: numbers, lists, None for undefined values)."""
    say = progress or (lambda message: None)
    shared = shared_pieces(reference, training) if training else []
    if shared:
        say(f"warning: {len(shared)} reference piece(s) are also training pieces (the same melody): "
            f"they are not held out")
    say(f"likelihood of {len(reference.scores)} reference piece(s)")
    likelihood = heldout_likelihood(model_bits, vocab, tokenizer, reference.scores, reference.names,
                                    training.scores if training else None, training.names if training else (),
                                    KN_ORDERS, say)
    sets = [generated, reference] + ([training] if training else [])
    say("music metrics of " + ", ".join(f"{len(s.scores)} {s.role}" for s in sets) + " piece(s)")
    metrics, rows = metrics_section(sets)
    say("comparing the sets (overlap areas and KL divergences)")
    comparison = comparison_section(rows, training is not None)
    say("memorization" if training else "memorization: training data not available")
    memorization = memorization_section(generated, reference, training)
    described = {s.role: s.describe() for s in sets}
    if training is None:
        described["training"] = {"available": False, "note": NOT_AVAILABLE}
    else:
        described["reference"]["in_training"] = shared
    return json_ready({
        "version": REPORT_VERSION,
        "jazzlstm": __version__,
        "run": run,
        "settings": settings,
        "sets": described,
        "likelihood": likelihood,
        "metrics": metrics,
        "comparison": comparison,
        "memorization": memorization,
    })


def json_ready(value: Any) -> Any:
    """numpy values as plain numbers and lists; NaN and infinities as None (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- report.md ---------------------------------------------------------------------------------

def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _percent(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def likelihood_rows(likelihood: dict) -> list[tuple[str, Any, Any]]:
    """(model, bits per note, bits per token) for the run's model and every baseline."""
    rows = []
    if "model" in likelihood:
        rows.append(("LSTM (this run)", likelihood["model"]["bits_per_note"], likelihood["model"]["bits_per_token"]))
    baselines = likelihood.get("baselines", {})
    if baselines.get("available"):
        best = baselines.get("best_kneser_ney", {}).get("order")
        for name in ("uniform", "unigram"):
            rows.append((name, baselines[name]["bits_per_note"], baselines[name]["bits_per_token"]))
        for order, rates in baselines["kneser_ney"].items():
            label = f"Kneser-Ney, n={order}" + (" (best)" if best is not None and int(order) == best else "")
            rows.append((label, rates["bits_per_note"], rates["bits_per_token"]))
    return rows


def markdown(report: dict) -> str:
    """report.md: the tables a person reads."""
    run, settings, sets = report["run"], report["settings"], report["sets"]
    lines = [f"# Evaluation of {run.get('path')}", ""]
    lines.append(f"{run.get('encoding')} encoding, {run.get('vocabulary_size')} tokens, {run.get('n_a')} LSTM units. "
                 f"Generated: {sets['generated']['pieces']} piece(s) ({sets['generated']['source']}); "
                 f"reference: {sets['reference']['pieces']} piece(s) ({sets['reference']['source']}); "
                 + (f"training: {sets['training']['pieces']} piece(s) ({sets['training']['source']})."
                    if sets["training"].get("pieces") is not None else f"training: {NOT_AVAILABLE}."))
    if settings.get("generated") is None:
        lines.append(f"Sampled with temperature {settings['temperature']}, top-k {settings['top_k'] or 'off'}, "
                     f"seed {settings['seed']}, {settings['bars']} bars over "
                     + (f"`{settings['chords']}`." if settings.get("chords") else "progressions seen in training."))
    if run.get("tokenizer_note"):
        lines += ["", f"**Note**: {run['tokenizer_note']}."]
    shared = sets["reference"].get("in_training") or []
    if shared:
        lines += ["", f"**Warning**: {len(shared)} of the {sets['reference']['pieces']} reference piece(s) are "
                      f"also training pieces (the same melody), so they are not held out: "
                      + ", ".join(shared[:10]) + (" ..." if len(shared) > 10 else "") + "."]
    lik = report["likelihood"]
    lines += ["", "## Likelihood of the held-out reference pieces", "",
              f"Tokens 2..T of {lik['sequences']} sequence(s) from {lik['scored_pieces']} piece(s): "
              f"{lik['scored_tokens']} tokens, {lik['notes']} melody notes. Out of the model's vocabulary: "
              f"{lik['oov_tokens']} of {lik['tokens']} tokens ({_percent(lik['oov_rate'])}), removed for every model.",
              "", "| model | bits per note | bits per token |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {_num(per_note)} | {_num(per_token)} |"
              for name, per_note, per_token in likelihood_rows(lik)]
    unsaid = lik.get("unsaid_pitch_bits")
    if unsaid is not None and unsaid["bits_per_note"]:
        best = lik["baselines"].get("best_kneser_ney", {})
        lines += ["", f"The {run.get('encoding')} tokens leave some pitches open (a sequence's first note, the grammar's "
                      f"first note of each bar, leaps beyond the widest interval token); naming them with a code fitted on the training pieces costs "
                      f"{_num(unsaid['bits_per_note'])} bits per note more. Bits per note of the exact melody: "
                      + "; ".join(f"{name} {_num(rates['exact_bits_per_note'])}" for name, rates in
                                  (("LSTM", lik.get("model")), ("best Kneser-Ney", best)) if rates)
                      + " (comparable across encodings)."]
    baselines = lik.get("baselines", {})
    if not baselines.get("available"):
        lines += ["", f"Baselines: {baselines.get('note', NOT_AVAILABLE)}."]
    else:
        lines += ["", f"Baselines fitted on {baselines['training_sequences']} training sequence(s) "
                      f"({baselines['training_tokens']} tokens, {baselines['vocabulary_size']} distinct); "
                      f"{_percent(baselines['oov_rate'])} of the scored tokens are unseen there. The best "
                      f"Kneser-Ney order is picked on the reference set itself (slightly optimistic)."]
    validation = run.get("validation_baselines")
    if validation:
        lines += ["", "## Likelihood of the run's own validation files (baselines.json, written by train)", "",
                  f"{validation.get('validation_sequences')} sequence(s), {validation.get('notes')} melody notes; "
                  f"baselines fitted on the run's training files.", "",
                  "| model | bits per note | bits per token |", "| --- | ---: | ---: |"]
        lines += [f"| {name} | {_num(per_note)} | {_num(per_token)} |"
                  for name, per_note, per_token in likelihood_rows(validation)]
    lines += _metrics_markdown(report)
    lines += _memorization_markdown(report["memorization"])
    lines += ["", "## Plots", "", "* `features.png`: each feature's values, generated against reference",
              "* `overlap.png`: overlap area per feature (1: the generated pieces are as close to the reference "
              "as to each other)", ""]
    return "\n".join(lines)


def _metrics_markdown(report: dict) -> list[str]:
    comparison = report["comparison"]
    ours = comparison["generated_vs_reference"]
    yard = comparison["reference_vs_training"]
    have_yard = yard.get("available", True)
    sets = report["metrics"]["sets"]
    lines = ["", "## Music metrics: generated against reference", "",
             "Yang & Lerch's comparison: OA is the overlap area of the generated set's own distances with the "
             "generated-to-reference distances (1: indistinguishable), KL the divergence between them (0: the same). "
             + ("The yardstick column compares the reference pieces with the training pieces the same way."
                if have_yard else f"No yardstick: {NOT_AVAILABLE}."),
             "", "| feature | generated mean | reference mean | OA | KL |" + (" yardstick OA |" if have_yard else ""),
             "| --- | ---: | ---: | ---: | ---: |" + (" ---: |" if have_yard else "")]
    for name in FEATURES:
        mean = (lambda role: "histogram" if name in HISTOGRAM_FEATURES
                else _num(sets.get(role, {}).get(name, {}).get("mean")))
        row = ours["features"][name]
        line = (f"| {name} | {mean('generated')} | {mean('reference')} | {_num(row['overlap_a'])} "
                f"| {_num(row['kl_a'])} |")
        if have_yard:
            line += f" {_num(yard['features'][name]['overlap_a'])} |"
        lines.append(line)
    line = f"| **mean** | | | {_num(ours['mean_overlap_a'])} | {_num(ours['mean_kl_a'])} |"
    lines.append(line + (f" {_num(yard['mean_overlap_a'])} |" if have_yard else ""))
    return lines


def _memorization_markdown(memorization: dict) -> list[str]:
    lines = ["", "## Memorization", ""]
    if not memorization.get("available"):
        return lines + [f"{memorization.get('note', NOT_AVAILABLE).capitalize()}."]
    ours, yard = memorization["summary"], memorization["reference_summary"]
    lines += ["Share of each piece's note n-grams (transposition-invariant: intervals, durations, rests) found "
              "in the training pieces, and the longest run of notes copied from one training piece. The "
              "held-out reference pieces are the yardstick.", "",
              "| | generated | reference (yardstick) |", "| --- | ---: | ---: |"]
    for n in memorization["sizes"]:
        lines.append(f"| mean share of {n}-grams | {_percent(ours.get(f'share_{n}'))} | "
                     f"{_percent(yard.get(f'share_{n}'))} |")
    lines += [f"| longest copied span, bars (notes) | {_num(ours.get('longest_bars'), 2)} "
              f"({_num(ours.get('longest_notes'), 0)}) | {_num(yard.get('longest_bars'), 2)} "
              f"({_num(yard.get('longest_notes'), 0)}) |",
              f"| mean longest span, bars | {_num(ours.get('mean_longest_bars'), 2)} | "
              f"{_num(yard.get('mean_longest_bars'), 2)} |",
              f"| pieces with a copy longer than {memorization['copy_bars']:g} bars | "
              f"{_percent(ours.get('pieces_with_copy_over_2_bars'))} | "
              f"{_percent(yard.get('pieces_with_copy_over_2_bars'))} |"]
    copies = sorted((p for p in memorization["pieces"]
                     if p["longest"] and p["longest"]["bars"] > memorization["copy_bars"]),
                    key=lambda p: -p["longest"]["bars"])
    if copies:
        lines += ["", "Longest copies:", ""]
        lines += [f"* {p['name']}: {p['longest']['bars']:.2f} bars ({p['longest']['notes']} notes) from "
                  f"{p['longest']['source']}" for p in copies[:10]]
    return lines


# --- the folder ---------------------------------------------------------------------------------

def write_report(folder: str | Path, report: dict) -> list[Path]:
    """Write report.json, report.md and the plots into ``folder`` (which must exist)."""
    from jazzlstm.evaluate.plots import write_plots

    folder = Path(folder)
    write_json_atomic(folder / "report.json", report)
    write_bytes_atomic(folder / "report.md", markdown(report).encode("utf-8"))
    return [folder / "report.json", folder / "report.md", *write_plots(folder, report)]
