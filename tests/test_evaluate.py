"""``jazzlstm evaluate``: held-out likelihood against baselines in the same units, music metrics
and their comparison, memorization, the report folder, and one-line errors.

The fast tests evaluate the pretrained run shipped with jazzlstm (grammar events) once, in
process, on a few bundled samples; the units and the report's text are checked without a
model (a stand-in scores every token at a known cost).
"""
from __future__ import annotations

import json
import math
import shutil

import pytest

from jazzlstm.cli import main
from jazzlstm.evaluate import heldout
from jazzlstm.evaluate.ngrams import KneserNeyModel, UniformModel
from jazzlstm.evaluate.report import (NOT_AVAILABLE, REPORT_FILES, PieceSet, build_report, json_ready, markdown,
                                      shared_pieces)
from jazzlstm.music.reading import read_score
from jazzlstm.resources import bundled_samples_dir, pretrained_run_dir
from jazzlstm.tokens.registry import make_tokenizer
from jazzlstm.tokens.vocab import Vocabulary

SAMPLES = bundled_samples_dir()
PIECES = ("ii_v_i_in_c.mid", "blues_in_f.mid", "waltz_3_4.mid", "triplet_swing.mid")
COPIED = "ii_v_i_in_c.mid"
SECTIONS = ("version", "run", "settings", "likelihood", "metrics", "comparison", "memorization")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """reference/: a few bundled samples (also the training set here); generated/: one of them."""
    root = tmp_path_factory.mktemp("evaluate")
    (root / "reference").mkdir()
    (root / "generated").mkdir()
    for name in PIECES:
        shutil.copy(SAMPLES / name, root / "reference" / name)
    shutil.copy(SAMPLES / COPIED, root / "generated" / COPIED)
    return root


@pytest.fixture(scope="module")
def pretrained():
    from jazzlstm.runs import load_run

    return load_run(pretrained_run_dir())


@pytest.fixture(scope="module")
def evaluation(pretrained, folders):
    """The pretrained run, 4 sampled pieces of 4 bars, reference = training = the samples."""
    from jazzlstm.api import evaluate

    out = folders / "report"
    report = evaluate(pretrained, folders / "reference", out, n=4, bars=4, training=str(folders / "reference"))
    return report, out


def test_the_report_has_every_section_and_its_files(evaluation):
    report, out = evaluation
    assert all(section in report for section in SECTIONS)
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)
    assert json.loads((out / "report.json").read_text()) == report
    assert report["sets"]["generated"]["pieces"] == 4 and report["sets"]["reference"]["pieces"] == len(PIECES)
    assert report["run"]["encoding"] == "grammar-events" and report["settings"]["bars"] == 4
    text = (out / "report.md").read_text()
    for heading in ("## Likelihood", "## Music metrics", "## Memorization", "| LSTM (this run) |", "Kneser-Ney"):
        assert heading in text
    assert "not held out" in text  # the reference pieces are training pieces here, and it says so
    assert sorted(report["sets"]["reference"]["in_training"]) == sorted(PIECES)


def test_model_and_baselines_in_the_same_units(evaluation):
    likelihood = evaluation[0]["likelihood"]
    model = likelihood["model"]
    assert math.isfinite(model["bits_per_note"]) and model["bits_per_note"] > 0
    assert likelihood["oov_rate"] == 0.0 and likelihood["notes"] > 0
    baselines = likelihood["baselines"]
    assert baselines["available"] and sorted(baselines["kneser_ney"]) == ["2", "3", "4", "5"]
    for rates in [model, baselines["uniform"], baselines["unigram"], *baselines["kneser_ney"].values()]:
        assert rates["bits_per_note"] == pytest.approx(rates["total_bits"] / likelihood["notes"])
        assert rates["bits_per_token"] == pytest.approx(rates["total_bits"] / likelihood["scored_tokens"])
    assert baselines["uniform"]["bits_per_token"] == pytest.approx(math.log2(baselines["vocabulary_size"] + 1))
    best = baselines["best_kneser_ney"]
    assert best["bits_per_note"] == min(r["bits_per_note"] for r in baselines["kneser_ney"].values())
    assert best["bits_per_note"] < baselines["unigram"]["bits_per_note"] < baselines["uniform"]["bits_per_note"]


def test_metrics_and_comparisons_cover_every_feature(evaluation):
    report = evaluation[0]
    features = report["metrics"]["features"]["histogram"] + report["metrics"]["features"]["scalar"]
    for role in ("generated", "reference", "training"):
        assert set(report["metrics"]["sets"][role]) == set(features)
        assert len(report["metrics"]["pieces"][role]) == report["sets"][role]["pieces"]
    ours = report["comparison"]["generated_vs_reference"]
    assert (ours["a"], ours["b"]) == ("generated", "reference") and set(ours["features"]) == set(features)
    assert 0 < ours["mean_overlap_a"] <= 1
    # Reference and training are the same pieces here: each side sees the other as itself.
    yardstick = report["comparison"]["reference_vs_training"]
    assert (yardstick["a"], yardstick["b"]) == ("reference", "training")
    for values in yardstick["features"].values():
        assert values["overlap_a"] == pytest.approx(values["overlap_b"])
        assert values["kl_a"] == pytest.approx(values["kl_b"])


def test_sampled_pieces_are_measured_for_copies(evaluation):
    memorization = evaluation[0]["memorization"]
    assert memorization["available"] and len(memorization["pieces"]) == 4
    assert set(memorization["summary"]) >= {"share_4", "share_8", "share_16", "pieces_with_copy_over_2_bars"}
    assert memorization["reference_summary"]["share_8"] == 1.0  # the reference pieces are the training pieces


def test_a_copied_training_piece_has_memorization_one(pretrained, folders):
    from jazzlstm.api import evaluate

    out = folders / "copied"
    out.mkdir()
    (out / "old.txt").write_text("replaced with --force")
    report = evaluate(pretrained, folders / "reference", out, force=True, generated=str(folders / "generated"),
                      training=str(folders / "reference"))
    piece = report["memorization"]["pieces"][0]
    assert piece["name"] == COPIED and piece["shares"] == {"4": 1.0, "8": 1.0, "16": 1.0}
    assert piece["longest"]["source"] == COPIED and piece["longest"]["notes"] == piece["notes"]
    assert report["memorization"]["summary"]["pieces_with_copy_over_2_bars"] == 1.0
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)  # the old folder is gone


def test_an_existing_report_folder_is_refused_without_force(folders, capsys):
    out = folders / "taken"
    out.mkdir()
    assert main(["evaluate", "--reference", str(folders / "reference"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "already exists (use --force to overwrite)" in err and len(err.strip().splitlines()) == 1
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("args, needle", [
    (["--chords", "Dm7 Q9"], "--chords:"),
    (["--generated", "{root}/generated", "-n", "3"], "-n/--num-outputs: for sampled pieces, not with --generated"),
    (["--training", "{root}/nowhere"], "--training {root}/nowhere: no such file or folder"),
])
def test_bad_settings_are_one_line(folders, capsys, args, needle):
    args = [a.format(root=folders) for a in args]
    code = main(["evaluate", "--reference", str(folders / "reference"), "--out", str(folders / "never"), *args])
    err = capsys.readouterr().err
    assert code != 0 and needle.format(root=folders) in err and "Traceback" not in err
    assert not (folders / "never").exists()


def test_an_empty_reference_folder_is_one_line(folders, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["evaluate", "--reference", str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("jazzlstm: error:")]
    assert len(errors) == 1 and "reference set:" in errors[0] and "no MIDI or MusicXML files found" in errors[0]
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_text_run_is_refused(folders, tmp_path, capsys):
    run = tmp_path / "text-run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"")
    (run / "vocab.json").write_text("{}")
    (run / "config.json").write_text(json.dumps({"format": "jazzlstm-run/1", "data": {"mode": "text"}}))
    assert main(["evaluate", "--run", str(run), "--reference", str(folders / "reference"),
                 "--out", str(tmp_path / "out")]) == 1
    assert "a text run; evaluate works on music runs" in capsys.readouterr().err


# --- without a model --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scores():
    return {name: read_score(SAMPLES / name) for name in PIECES}


def test_conditional_bits_score_tokens_two_to_t():
    train = [["a", "b", "a", "b", "c"], ["b", "a", "b"]]
    model = KneserNeyModel(train, 3)
    sequence = ["a", "b", "c", "a"]
    expected = -sum(math.log2(model.prob(sequence[i], sequence[:i])) for i in range(1, len(sequence)))
    assert heldout.conditional_bits(model, sequence) == pytest.approx(expected)
    assert heldout.conditional_bits(UniformModel(train), sequence) == pytest.approx(3 * math.log2(4))
    assert heldout.conditional_bits(model, ["a"]) == 0.0


def test_tokens_the_vocabulary_lacks_are_removed_and_counted(scores):
    tokenizer = make_tokenizer("grammar")
    score = scores["blues_in_f.mid"]
    tokens = tokenizer.encode(score)
    vocab = Vocabulary(sorted(set(tokens) - {tokens[3]}))
    held = heldout.heldout_tokens(tokenizer, vocab, [score], ["blues"])
    lost = sum(t == tokens[3] for t in tokens)
    assert held.tokens == len(tokens) and held.oov_tokens == lost
    assert held.oov_rate == pytest.approx(lost / len(tokens))
    assert held.sequences == [[t for t in tokens if t != tokens[3]]]


def test_bits_per_note_divide_by_melody_notes(scores):
    tokenizer = make_tokenizer("grammar")
    reference = [scores["blues_in_f.mid"], scores["waltz_3_4.mid"]]
    sequences = [s for score in reference for s in tokenizer.encode_variants(score)]
    vocab = Vocabulary(sorted({t for s in sequences for t in s}))
    section = heldout.heldout_likelihood(lambda ids: [2.0] * (len(ids) - 1), vocab, tokenizer, reference,
                                         ["blues", "waltz"])
    tokens = sum(len(s) - 1 for s in sequences)
    notes = sum(tokenizer.count_notes(s) for s in sequences)
    assert (section["scored_tokens"], section["notes"]) == (tokens, notes)
    assert section["model"]["bits_per_token"] == pytest.approx(2.0)
    assert section["model"]["bits_per_note"] == pytest.approx(2.0 * tokens / notes)
    assert section["baselines"] == {"available": False, "note": NOT_AVAILABLE}


def test_without_training_data_the_sections_say_so(scores):
    tokenizer = make_tokenizer("grammar")
    names = list(scores)
    pieces = list(scores.values())
    vocab = Vocabulary(sorted({t for s in pieces for seq in tokenizer.encode_variants(s) for t in seq}))
    run = {"path": "a-run", "encoding": "grammar", "vocabulary_size": len(vocab), "n_a": 8}
    settings = {"generated": "folder", "reference": "folder"}
    report = build_report(run, settings, PieceSet("generated", "folder", pieces[:2], names[:2]),
                          PieceSet("reference", "folder", pieces, names), None,
                          lambda ids: [1.0] * (len(ids) - 1), vocab, tokenizer)
    assert report["memorization"] == {"available": False, "note": NOT_AVAILABLE}
    assert report["comparison"]["reference_vs_training"]["available"] is False
    assert report["likelihood"]["baselines"]["note"] == NOT_AVAILABLE
    text = markdown(report)
    assert "Training data not available." in text and "Baselines: training data not available." in text
    json.dumps(report, allow_nan=False)  # valid JSON: undefined values are null


def test_json_ready_and_shared_pieces(scores):
    import numpy as np

    assert json_ready({"a": np.float64("nan"), "b": np.arange(2), 3: (np.int64(4), float("inf"))}) == \
        {"a": None, "b": [0, 1], "3": [4, None]}
    names = list(scores)
    a = PieceSet("reference", "", list(scores.values()), names)
    b = PieceSet("training", "", [scores[COPIED]], [COPIED])
    assert shared_pieces(a, b) == [COPIED]


@pytest.mark.slow
def test_cli_evaluate_end_to_end(run_cli, folders, tmp_path):
    out = tmp_path / "report"
    result = run_cli("evaluate", "--reference", folders / "reference", "--training", folders / "reference",
                     "-n", "3", "--bars", "4", "--chords", "Dm7 G7 Cmaj7 Cmaj7", "--seed", "2", "--out", out,
                     timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout and "bits/note" in result.stdout
    assert "jazzlstm: evaluate: sampling 3 piece(s)" in result.stderr and "Traceback" not in result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["chords"] == "Dm7 G7 Cmaj7 Cmaj7" and report["sets"]["generated"]["pieces"] == 3
    again = run_cli("evaluate", "--reference", folders / "reference", "--out", out, timeout=60)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_the_runs_own_validation_baselines_are_shown(evaluation, tmp_path):
    from jazzlstm.evaluate.report import _validation_baselines, markdown

    report, _ = evaluation
    shipped = json.loads((pretrained_run_dir() / "baselines.json").read_text())
    assert report["run"]["validation_baselines"] == shipped  # the pretrained run's validation files
    rates = {"bits_per_note": 3.0, "bits_per_token": 2.0, "total_bits": 60.0}
    saved = {"validation_sequences": 2, "notes": 20, "model": {"bits_per_note": 2.5, "bits_per_token": 1.7},
             "baselines": {"available": True, "uniform": rates, "unigram": rates, "kneser_ney": {"2": rates},
                           "best_kneser_ney": {"order": 2, **rates}}}
    (tmp_path / "baselines.json").write_text(json.dumps(saved))
    assert _validation_baselines(tmp_path) == saved
    text = markdown({**report, "run": {**report["run"], "validation_baselines": saved}})
    assert "validation files (baselines.json" in text and "| LSTM (this run) | 2.500 | 1.700 |" in text


def test_a_run_of_an_older_encoding_version_is_noted(evaluation):
    from jazzlstm.evaluate.report import markdown, older_tokenizer_note

    report, out = evaluation
    assert report["run"]["tokenizer_note"] is None  # the shipped run uses the current encoding
    note = older_tokenizer_note({"name": "grammar", "version": 1})  # before rests were split at bar lines
    assert "version 1" in note and "version 2" in note
    assert note in markdown({**report, "run": {**report["run"], "tokenizer_note": note}})
    assert older_tokenizer_note({"name": "grammar", "version": 2}) is None
