"""load_run checks every part of a run folder against the weights: config.json's model sizes,
the vocabulary, chords.json, history.json and model.keras itself; each disagreement is one
clear line (a JazzLSTMError naming the file), never a traceback or a silent acceptance."""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest

from jazzlstm.cli import main
from jazzlstm.errors import JazzLSTMError
from jazzlstm.resources import pretrained_run_dir
from jazzlstm.runs import load_run

PRETRAINED = pretrained_run_dir()
SHIPPED = json.loads((PRETRAINED / "config.json").read_text())["model"]
N_A, N_VALUES = SHIPPED["n_a"], SHIPPED["n_values"]
EPOCHS = len(json.loads((PRETRAINED / "history.json").read_text())["loss"])


@pytest.fixture
def run_copy(tmp_path) -> Path:
    """A private copy of the bundled pretrained run, to damage."""
    return Path(shutil.copytree(PRETRAINED, tmp_path / "run"))


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    """Apply ``change`` to the file's JSON in place, or write what it returns (when not None)."""
    data = json.loads(path.read_text())
    result = change(data)
    path.write_text(json.dumps(data if result is None else result))


def load_error(run_dir: Path) -> str:
    with pytest.raises(JazzLSTMError) as info:
        load_run(run_dir)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_the_pretrained_run_passes_every_check(run_copy):
    run = load_run(run_copy)
    assert (run.model.n_values, run.model.n_a, run.model.tx) == (run.model_config.n_values, run.model_config.n_a,
                                                                 run.model_config.tx)
    assert len(run.vocab) == run.model.n_values
    assert run.progressions and run.history["loss"]


# --- config.json against the weights ------------------------------------------------------------


def set_model(name: str, value: Any) -> Callable[[dict], None]:
    return lambda config: config["model"].__setitem__(name, value)


def drop_model(name: str) -> Callable[[dict], None]:
    def drop(config: dict) -> None:
        del config["model"][name]

    return drop


@pytest.mark.parametrize("change, expected", [
    (set_model("n_a", 32), f"config.json: n_a is 32 but the model in model.keras has {N_A} LSTM units"),
    (set_model("n_a", N_A * 2), f"config.json: n_a is {N_A * 2} but the model in model.keras has {N_A} LSTM units"),
    (set_model("n_values", N_VALUES - 1), f"the vocabulary has {N_VALUES} tokens but the model expects {N_VALUES - 1}"),
    (set_model("tx", 30.5), "config.json: model tx must be a whole number, not 30.5"),
    (set_model("tx", "30"), "config.json: model tx must be a whole number, not '30'"),
    (set_model("n_a", True), "config.json: model n_a must be a whole number, not True"),
    (set_model("n_values", float(N_VALUES)), f"config.json: model n_values must be a whole number, not {float(N_VALUES)}"),
    (drop_model("n_a"), "config.json: the model settings lack n_a"),
    (drop_model("tx"), "config.json: the model settings lack tx"),
    (lambda config: config.__setitem__("model", [64, 181, 30]), "config.json: 'model' is not a record of settings"),
    (lambda config: config.__setitem__("data", "grammar"), "config.json: 'data' is not a record of settings"),
], ids=["n_a-smaller", "n_a-larger", "n_values", "tx-float", "tx-text", "n_a-bool", "n_values-float",
        "no-n_a", "no-tx", "model-list", "data-text"])
def test_config_disagreeing_with_the_weights(run_copy, change, expected):
    edit_json(run_copy / "config.json", change)
    assert expected in load_error(run_copy)


def test_vocabulary_size_against_the_weights(run_copy):
    def shorter(vocab):
        vocab["tokens"] = vocab["tokens"][:-1]

    edit_json(run_copy / "vocab.json", shorter)
    edit_json(run_copy / "config.json", set_model("n_values", N_VALUES - 1))  # config and vocabulary agree, the weights not
    assert f"the model predicts {N_VALUES} tokens but the vocabulary has {N_VALUES - 1}" in load_error(run_copy)


# --- chords.json and history.json ---------------------------------------------------------------


@pytest.mark.parametrize("chords, expected", [
    ({"progressions": []}, "chords.json: not a list of chord progressions"),
    ("C7 F7", "chords.json: not a list of chord progressions"),
    ([{"C7": 4}], "chords.json: progression 0 is not a list of chords"),
    ([[[0.0, 4.0, 0]]], "chords.json: progression 0, chord 0 is not [start, duration, root, quality]"),
    ([[[0.0, 4.0, 0, "7"], [4.0, 4.0, 5, "hyper"]]], "chords.json: progression 0, chord 1 is not a chord"),
    ([[[0.0, 4.0, 12, "7"]]], "chords.json: progression 0, chord 0 is not a chord"),
    ([[["0", 4.0, 0, "7"]]], "chords.json: progression 0, chord 0 is not a chord"),
    ([[[0.0, -4.0, 0, "7"]]], "chords.json: progression 0, chord 0 is not a chord"),
    ([[[0.0, 4.0, 0, 7]]], "chords.json: progression 0, chord 0 is not a chord"),
], ids=["dict", "text", "progression-dict", "short-chord", "unknown-quality", "root-12", "start-text",
        "negative-duration", "quality-number"])
def test_chords_of_the_wrong_shape(run_copy, chords, expected):
    (run_copy / "chords.json").write_text(json.dumps(chords))
    assert expected in load_error(run_copy)


def test_empty_chords_list_is_fine(run_copy):
    (run_copy / "chords.json").write_text("[]")
    assert load_run(run_copy).progressions == []


@pytest.mark.parametrize("change, expected", [
    (lambda h: [1.0, 2.0], "history.json: not a record of per-epoch metrics"),
    (lambda h: h.__setitem__("loss", ["low", "lower"]), "history.json: 'loss' is not a list of numbers"),
    (lambda h: h.__setitem__("loss", h["loss"][:-1]), f"history.json: the per-epoch lists differ in length ({EPOCHS - 1}, {EPOCHS})"),
    (lambda h: h.__setitem__("best_epoch", EPOCHS + 1),
     f"history.json: best_epoch {EPOCHS + 1} is not an epoch of the {EPOCHS} recorded"),
    (lambda h: h.__setitem__("best_epoch", "40"), "history.json: best_epoch '40' is not an epoch"),
    (lambda h: h.__setitem__("monitor", ["loss"]), "history.json: 'monitor' is not a list of numbers"),
    (lambda h: h.__setitem__("monitor", 3), "history.json: monitor is not text"),
    (lambda h: h.__setitem__("extra", {"a": 1}), "history.json: 'extra' is neither a per-epoch list nor a value"),
], ids=["list", "loss-text", "lengths", "best-epoch-range", "best-epoch-text", "monitor-list", "monitor-number",
        "nested"])
def test_history_of_the_wrong_shape(run_copy, change, expected):
    edit_json(run_copy / "history.json", change)
    assert expected in load_error(run_copy)


def test_history_and_chords_are_optional(run_copy):
    (run_copy / "history.json").unlink()
    (run_copy / "chords.json").unlink()
    run = load_run(run_copy)
    assert run.history == {} and run.progressions == []


# --- model.keras --------------------------------------------------------------------------------


def empty(path: Path) -> None:
    path.write_bytes(b"")


def truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def text(path: Path) -> None:
    path.write_bytes(b"not a zip")


def other_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a model")


def damaged_member(path: Path) -> None:
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.weights.h5")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)  # the member's data
    data[start + 1000] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, expected", [
    (empty, "model.keras: empty file (0 bytes)"),
    (truncated, "model.keras: not a Keras model file (truncated, or not a zip archive)"),
    (cut_short, "model.keras: not a Keras model file (truncated, or not a zip archive)"),
    (text, "model.keras: not a Keras model file (truncated, or not a zip archive)"),
    (other_zip, "model.keras: not a Keras model file (no config.json or model.weights.h5 in the archive)"),
    (damaged_member, "model.keras: not a Keras model file (model.weights.h5 in the archive is damaged)"),
], ids=["empty", "truncated", "cut-short", "text", "other-zip", "damaged-member"])
def test_damaged_model_file(run_copy, damage, expected):
    damage(run_copy / "model.keras")
    message = load_error(run_copy)
    assert expected in message
    assert "File not found" not in message
    assert "cannot load the model" in message


def test_generate_with_a_damaged_run_is_one_line(run_copy, tmp_path, capsys):
    edit_json(run_copy / "config.json", set_model("n_a", 32))
    code = main(["generate", str(tmp_path / "out.mid"), "--run", str(run_copy)])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("jazzlstm: error: ") and f"n_a is 32 but the model in model.keras has {N_A} LSTM units" in err
    assert not (tmp_path / "out.mid").exists()
