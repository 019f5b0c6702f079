"""Character mode on the same layers: names (lines), running text (stream), ABC tunes."""
from __future__ import annotations

import math
import random
import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from jazzlstm.music import abc
from jazzlstm.tokens import chars as text
from jazzlstm.api import generate_text, train_text
from jazzlstm.cli import main
from jazzlstm.data.text import read_text
from jazzlstm.errors import InputFileError, JazzLSTMError
from jazzlstm.runs import load_run

TINY = dict(n_a=32, batch_size=16, lr=0.02, verbose=0)


def made_up_names(count: int, seed: int = 0) -> list[str]:
    """Dinosaur-like names from a small seeded syllable grammar: learnable in a few epochs."""
    rng = random.Random(seed)
    starts = ["Allo", "Bronto", "Cerato", "Diplo", "Stego", "Tyranno", "Veloci", "Proto", "Pachy", "Spino"]
    middles = ["", "ra", "ce", "do", "li", "ma"]
    ends = ["saurus", "don", "raptor", "ceps", "tops", "mimus"]
    return [rng.choice(starts) + rng.choice(middles) + rng.choice(ends) for _ in range(count)]


@pytest.fixture(scope="module")
def names_run(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("names")
    names = folder / "names.txt"
    names.write_text("\n".join(made_up_names(300)) + "\n", encoding="utf-8")
    run_dir = folder / "run"
    train_text(names, run_dir, layout="lines", epochs=8, **TINY)
    return names, run_dir


@pytest.mark.slow
def test_names_loss_falls_well_below_uniform_and_samples_end_at_newline(names_run):
    names, run_dir = names_run
    run = load_run(run_dir)
    uniform = math.log(len(run.vocab))
    assert run.history["loss"][-1] < 0.5 * uniform, (run.history["loss"], uniform)
    assert run.history["val_loss"][-1] < 0.5 * uniform
    # The loss is a mean of batch means, bits per char a mean over all tokens: close, not equal.
    assert run.history["bits_per_char"][-1] == pytest.approx(run.history["loss"][-1] / math.log(2), rel=0.02)
    assert run.data_config.text_layout == "lines" and run.data_config.end_token == "\n"

    from jazzlstm.model.sampling import sample_ids

    end_id = run.vocab.id("\n")
    ids, lengths = sample_ids(run.model, 20, 60, primer=[end_id], seed=1, stop_id=end_id)
    assert (lengths < 60).all(), "every sample stopped at the newline token"
    samples = generate_text(run, n=20, seed=1)
    assert samples == [text.CharTokenizer("\n").decode(run.vocab.decode(row)) for row in ids]
    known = set(names.read_text())
    assert all(s and "\n" not in s and set(s) <= known for s in samples)
    # Most samples look like the training names: they end with a learnt suffix.
    assert sum(s.endswith(("saurus", "don", "raptor", "ceps", "tops", "mimus")) for s in samples) >= 10


@pytest.mark.slow
def test_save_load_same_samples_and_prime(names_run, tmp_path):
    _, run_dir = names_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    first = generate_text(run_dir, n=5, seed=7, temperature=0.9)
    assert generate_text(copy, n=5, seed=7, temperature=0.9) == first
    assert generate_text(copy, n=5, seed=8, temperature=0.9) != first
    primed = generate_text(copy, n=3, prime="Stego", seed=2)
    assert all(s.startswith("Stego") for s in primed)
    with pytest.raises(JazzLSTMError, match="not in the model's vocabulary"):
        generate_text(copy, prime="Stego!?")


@pytest.mark.slow
def test_cli_prints_samples_and_rejects_bad_primes_and_music_flags(names_run, tmp_path, capsys):
    _, run_dir = names_run
    assert main(["generate", "--run", str(run_dir), "-n", "4", "--seed", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and all(out)
    assert main(["generate", "--run", str(run_dir), "-n", "2", "--out", str(tmp_path / "s.txt")]) == 0
    assert len((tmp_path / "s.txt").read_text().splitlines()) == 2
    assert main(["generate", "--run", str(run_dir), "--prime", "Q#"]) != 0
    assert "--prime" in capsys.readouterr().err
    assert main(["generate", "x.mid", "--run", str(run_dir), "--chords", "C7"]) != 0
    assert "--chords: not for this run" in capsys.readouterr().err


def test_stream_state_carried_across_windows_equals_one_long_pass():
    """Loss of stateful consecutive windows == loss of each stream in a single pass."""
    import keras
    import tensorflow as tf

    from jazzlstm.data.windows import stream_windows
    from jazzlstm.training.pipeline import make_dataset
    from jazzlstm.model import JazzLSTM, compile_model
    from jazzlstm.training.fit import ResetStates

    rng = np.random.default_rng(0)
    vocab, batch, tx = 7, 2, 5
    ids = rng.integers(0, vocab, size=4 * batch * tx + 1)
    jazz = JazzLSTM.create(vocab, n_a=6, tx=tx, seed=3)
    rows = stream_windows(ids, tx, batch)                   # 4 batches of 2 consecutive windows
    stateful = compile_model(jazz.stateful_model(batch))
    data = make_dataset(rows, batch, False, 0, drop_remainder=True).dataset
    windowed = stateful.evaluate(data, verbose=0, callbacks=[ResetStates()], return_dict=True)["loss"]
    per_stream = (len(ids) - 1) // batch
    streams = np.stack([ids[b * per_stream: b * per_stream + per_stream + 1] for b in range(batch)])
    probs = jazz.training_model(streams[:, :-1])
    whole = float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(streams[:, 1:], probs)))
    assert windowed == pytest.approx(whole, abs=1e-5)
    # Without the carried state (every window from zero) the loss differs.
    fresh = compile_model(jazz.training_model).evaluate(rows[:, :-1], rows[:, 1:], verbose=0, return_dict=True)
    assert abs(fresh["loss"] - whole) > 1e-4


@pytest.mark.slow
def test_stream_training_on_running_text(tmp_path):
    source = tmp_path / "story.txt"
    source.write_text(("the cat sat on the mat. the dog sat on the log. " * 40), encoding="utf-8")
    run = train_text(source, tmp_path / "story", layout="stream", tx=20, epochs=3, **{**TINY, "batch_size": 4})
    assert run.history["loss"][-1] < 0.6 * math.log(len(run.vocab))
    assert run.data_config.text_layout == "stream" and run.data_config.end_token is None
    (sample,) = generate_text(run, prime="the ", length=40, seed=0, temperature=0.5)
    assert sample.startswith("the ") and len(sample) == 44 and set(sample) <= set(source.read_text())


def test_text_too_short_for_streams_is_one_clear_error(tmp_path):
    source = tmp_path / "short.txt"
    source.write_text("tiny text", encoding="utf-8")
    with pytest.raises(JazzLSTMError, match="text too short"):
        train_text(source, tmp_path / "r", layout="stream", epochs=1, verbose=0)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("content, reason", [(b"\xff\xfe\x00bad", "not UTF-8"), (b"  \n\n", "empty text file")])
def test_bad_text_files(tmp_path, capsys, content, reason):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    with pytest.raises(InputFileError, match=reason):
        read_text(bad)
    assert main(["train", "--text", str(bad), "--out", str(tmp_path / "r")]) != 0
    err = capsys.readouterr().err.strip()
    assert "bad.txt" in err and reason in err and len(err.splitlines()) == 1


def test_layout_flags_need_text(tmp_path, capsys):
    assert main(["train", "--lines", "--out", str(tmp_path / "r")]) != 0
    assert "--lines applies to --text only" in capsys.readouterr().err


def test_clean_tune_keeps_meter_length_key_and_chord_names():
    raw = ('X:7\nT:Test Reel\nN:a note\nM:C\nL:1/8\nK:Am\nu"4"e|"Am"c<A "^SEGUE"A>B % comment\n'
           'w: la la\ne:|\nM:3/4\n"G7"d2 c2|]\n')
    assert abc.clean_tune(raw) == 'M:C\nL:1/8\nK:Am\nue|"Am"c<A A>B\ne:|\nM:3/4\n"G7"d2 c2|]'
    assert abc.clean_tune("X:1\nT:no key\nabc|") is None
    assert [t[:3] for t in abc.split_tunes("X:1\nK:C\nc|\nX:2\nK:G\nd|")] == ["X:1", "X:2"]


@pytest.fixture(scope="module")
def abc_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("abc")
    for path in abc.default_abc_files()[:12]:
        shutil.copy(path, folder / path.name)
    (folder / "notes.abc").write_text("this file has no tunes\n")
    return folder


@pytest.mark.slow
def test_abc_training_generates_tunes_that_parse_and_play(abc_folder, tmp_path, capsys):
    run_dir = tmp_path / "abc-run"
    assert main(["train", "--abc", str(abc_folder), "--out", str(run_dir), "--epochs", "10", "--n-a", "64",
                 "--batch-size", "4", "--tx", "32", "--lr", "0.03", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "12 tunes" in err and "notes.abc: no X: tune header" in err
    run = load_run(run_dir)
    assert run.data_config.mode == "abc" and run.vocab.specials == ("<end>",)
    assert main(["generate", str(tmp_path / "tune.mid"), "--run", str(run_dir), "--seed", "1",
                 "--temperature", "0.7"]) == 0
    midi = pretty_midi.PrettyMIDI(str(tmp_path / "tune.mid"))
    assert midi.instruments[0].notes
    assert "K:" in (tmp_path / "tune.abc").read_text()
    # Printed instead: tunes separated by a blank line, none with an end token inside.
    assert main(["generate", "--run", str(run_dir), "-n", "2", "--seed", "4", "--length", "300"]) == 0
    assert "<end>" not in capsys.readouterr().out


def test_abc_without_tunes_is_exit_code_2(tmp_path, capsys):
    (tmp_path / "empty.abc").write_text("no tunes here\n")
    assert main(["train", "--abc", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "no usable ABC tune" in capsys.readouterr().err


def test_tune_to_score_reads_chord_symbols():
    score = abc.tune_to_score('M:4/4\nL:1/4\nK:G\n"G"G A B c|"D7"d e f g|"G"g4|]')
    assert [c.label for c in score.chords] == ["G", "D7", "G"]
    assert len(score.melody) == 9
    with pytest.raises(InputFileError, match="generated tune"):
        abc.tune_to_score("K:G\n", "generated tune")
    with pytest.raises(InputFileError, match="no K: field"):
        abc.tune_to_score("M:4/4\nL:1/4\nG A B c|d e f g|g4|]", "generated tune")


def test_a_tune_without_unit_length_gets_the_abc_default():
    """ABC 2.1: no L: means 1/16 below a 3/4 meter, else 1/8 (music21 alone refuses such tunes)."""
    body = "K:G\nG A B c|d e f g|a b c' d'|]"
    assert abc.with_default_unit_length(f"X:1\nM:2/4\n{body}") == f"X:1\nL:1/16\nM:2/4\n{body}"
    assert abc.with_default_unit_length(f"M:6/8\n{body}") == f"L:1/8\nM:6/8\n{body}"
    assert abc.with_default_unit_length(f"L:1/4\n{body}") == f"L:1/4\n{body}"
    eighths = abc.tune_to_score(f"M:4/4\n{body}")
    quarters = abc.tune_to_score(f"M:4/4\nL:1/4\n{body}")
    assert len(eighths.melody) == len(quarters.melody) == 12
    assert eighths.melody[1].start * 2 == quarters.melody[1].start
