"""Training, run folders and generation, through the Python API and the real CLI (tiny models)."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pretty_midi
import pytest

from jazzlstm.cli import main
from jazzlstm.config import DataConfig, ModelConfig, TrainConfig
from jazzlstm.data.corpus import load_corpus
from jazzlstm.errors import JazzLSTMError
from jazzlstm.api import generate
from jazzlstm.runs import load_run
from jazzlstm.training.fit import train_run

from conftest import run_cli
from midi_factory import write_drums_only
from samples import SAMPLES_DIR

TINY = ["--epochs", "2", "--n-a", "8", "--tx", "12", "--batch-size", "64", "--quiet"]


@pytest.fixture(scope="module")  # trains for seconds: every test that uses it is marked slow
def tiny_run(tmp_path_factory) -> Path:
    """One tiny run trained by the real command line (the installed ``jazzlstm`` console script,
    else ``python -m jazzlstm``), shared by the tests below (read-only)."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    cache = tmp_path_factory.mktemp("cache")
    result = run_cli("train", "--midi", SAMPLES_DIR, "--out", out, *TINY, timeout=300, console_script=True,
                     JAZZLSTM_CACHE_DIR=str(cache))
    assert result.returncode == 0, result.stderr
    assert "Epoch 2/2" in result.stdout and "val_perplexity" in result.stdout
    assert "wrote" in result.stdout
    return out


@pytest.mark.slow
def test_run_folder_holds_everything(tiny_run):
    names = sorted(p.name for p in tiny_run.iterdir())
    assert names == ["baselines.json", "chords.json", "config.json", "history.json", "model.keras", "vocab.json"]
    history = json.loads((tiny_run / "history.json").read_text())
    for key in ("loss", "val_loss", "accuracy", "val_accuracy", "perplexity", "val_perplexity", "bits_per_note",
                "val_bits_per_note"):
        assert len(history[key]) == 2, key
    # The model and the n-gram baselines in the same units, on the same validation files.
    baselines = json.loads((tiny_run / "baselines.json").read_text())
    assert baselines["notes"] > 0 and baselines["model"]["bits_per_note"] > 0
    uniform = baselines["baselines"]["uniform"]["bits_per_token"]
    assert uniform == pytest.approx(math.log2(baselines["baselines"]["vocabulary_size"] + 1))
    assert set(baselines["baselines"]["kneser_ney"]) == {"2", "3", "4", "5"}
    assert history["best_epoch"] in (1, 2)
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["version"] and config["model"]["n_a"] == 8 and config["data"]["encoding"] == "grammar-events"
    run = load_run(tiny_run)
    assert len(run.vocab) == run.model.n_values and run.progressions


@pytest.mark.slow
def test_cli_generate_writes_a_playable_file_and_is_seeded(tiny_run, tmp_path):
    first, again = tmp_path / "a.mid", tmp_path / "b.mid"
    args = ["--run", str(tiny_run), "--bars", "4", "--chords", "Dm7 G7 Cmaj7 Cmaj7", "--seed", "5"]
    result = run_cli("generate", first, *args, timeout=300, console_script=True)
    assert result.returncode == 0, result.stderr
    assert main(["generate", str(again), *args]) == 0
    assert first.read_bytes() == again.read_bytes(), "same seed, same file"
    pm = pretty_midi.PrettyMIDI(str(first))
    melody = pm.instruments[0]
    assert [i.name for i in pm.instruments] == ["Melody", "Chords", "Bass"]
    seconds_per_bar = 4 * 60 / 120
    bars_with_notes = {int(n.start // seconds_per_bar) for n in melody.notes}
    assert bars_with_notes == {0, 1, 2, 3}
    onsets = [round(n.start, 6) for n in melody.notes]
    assert len(onsets) == len(set(onsets))
    assert all(n.end > n.start and 48 <= n.pitch <= 88 for n in melody.notes)
    from music21 import converter

    assert len(converter.parse(str(first)).parts) == 3


@pytest.mark.slow
def test_top_k_beyond_the_vocabulary_samples_from_every_token(tiny_run, tmp_path):
    assert main(["generate", str(tmp_path / "k.mid"), "--run", str(tiny_run), "--top-k", "100000", "--bars", "2"]) == 0
    assert main(["generate", str(tmp_path / "all.mid"), "--run", str(tiny_run), "--bars", "2"]) == 0
    assert (tmp_path / "k.mid").read_bytes() == (tmp_path / "all.mid").read_bytes()


@pytest.mark.slow
def test_num_outputs_primer_and_greedy(tiny_run, tmp_path):
    code = main(["generate", str(tmp_path / "set.mid"), "--run", str(tiny_run), "--num-outputs", "3",
                 "--bars", "2", "--primer", str(SAMPLES_DIR / "blues_in_f.mid"), "--greedy"])
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set_1.mid", "set_2.mid", "set_3.mid"]


@pytest.mark.slow
def test_generation_uses_training_chords_without_chords_flag(tiny_run, tmp_path):
    run = load_run(tiny_run)
    paths = generate(run, tmp_path / "x.mid", bars=3, seed=1, top_k=5, temperature=0.8)
    assert len(pretty_midi.PrettyMIDI(str(paths[0])).instruments[1].notes) > 0


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (["--chords", "Dm7 Xb9"], "--chords: unknown chord name 'Xb9'"),
    (["--primer", "MISSING"], "MISSING"),
])
def test_generate_bad_input_is_one_line(tiny_run, tmp_path, capsys, args, message):
    code = main(["generate", str(tmp_path / "o.mid"), "--run", str(tiny_run), *args])
    err = capsys.readouterr().err.strip()
    assert code != 0 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o.mid").exists()


@pytest.mark.slow
def test_primer_without_notes(tiny_run, tmp_path, capsys):
    primer = write_drums_only(tmp_path / "drums.mid", bars=8)
    code = main(["generate", str(tmp_path / "o.mid"), "--run", str(tiny_run), "--primer", str(primer)])
    err = capsys.readouterr().err
    assert code != 0 and "drums.mid" in err and "drums only" in err


@pytest.mark.slow
def test_existing_output_and_unwritable_folder(tiny_run, tmp_path, capsys):
    target = tmp_path / "mine.mid"
    target.write_bytes(b"keep me")
    assert main(["generate", str(target), "--run", str(tiny_run)]) != 0
    assert target.read_bytes() == b"keep me"
    assert "--force" in capsys.readouterr().err
    assert main(["generate", str(tmp_path / "no" / "such" / "dir.mid"), "--run", str(tiny_run)]) != 0
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--bars", "0"], ["--temperature", "0"], ["--temperature", "-1"], ["--top-k", "0"]])
def test_generate_rejects_non_positive_values(flag, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", str(tmp_path / "o.mid"), *flag])
    assert exit_info.value.code == 2 and "must be positive" in capsys.readouterr().err


@pytest.mark.slow
def test_train_rejects_bad_epochs_and_existing_run(tiny_run, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--epochs", "0"])
    assert "must be positive" in capsys.readouterr().err
    assert main(["train", "--midi", str(SAMPLES_DIR), "--out", str(tiny_run), *TINY]) != 0
    assert "already exists" in capsys.readouterr().err


@pytest.mark.slow
def test_missing_corrupt_and_mismatched_run_folders(tiny_run, tmp_path, capsys):
    def generate_with(run_dir: Path) -> str:
        code = main(["generate", str(tmp_path / "o.mid"), "--run", str(run_dir), "--force"])
        err = capsys.readouterr().err.strip()
        assert code != 0 and len(err.splitlines()) == 1 and "Traceback" not in err
        return err

    assert "no such run folder" in generate_with(tmp_path / "nope")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    (broken / "model.keras").write_bytes(b"not a zip")
    assert "cannot load" in generate_with(broken)
    partial = tmp_path / "partial"
    shutil.copytree(tiny_run, partial)
    (partial / "vocab.json").unlink()
    assert "missing vocab.json" in generate_with(partial)
    mismatched = tmp_path / "mismatched"
    shutil.copytree(tiny_run, mismatched)
    vocab = json.loads((mismatched / "vocab.json").read_text())
    vocab["tokens"] = vocab["tokens"][:-1]
    (mismatched / "vocab.json").write_text(json.dumps(vocab))
    assert "vocabulary has" in generate_with(mismatched)
    garbled = tmp_path / "garbled"
    shutil.copytree(tiny_run, garbled)
    (garbled / "config.json").write_text("{")
    assert "corrupt run file" in generate_with(garbled)


@pytest.mark.slow
def test_python_api_train_and_generate(tmp_path):
    corpus = load_corpus(SAMPLES_DIR, encoding="notes", cache=False, progress=False)
    run = train_run(corpus.sequences, tmp_path / "notes_run", ModelConfig(n_a=8, tx=10),
                    TrainConfig(epochs=1, batch_size=64), DataConfig(encoding="notes", tokenizer=corpus.settings.tokenizer.config()), corpus.progressions(),
                    verbose=0)
    paths = generate(run, tmp_path / "n.mid", bars=2, chords="C7 F7")
    assert pretty_midi.PrettyMIDI(str(paths[0])).instruments[0].notes
    with pytest.raises(JazzLSTMError, match="already exists"):
        train_run(corpus.sequences, tmp_path / "notes_run", ModelConfig(n_a=8, tx=10), TrainConfig(epochs=1),
                  DataConfig(encoding="notes", tokenizer=corpus.settings.tokenizer.config()), verbose=0)


def rebuild_script():
    import importlib.util

    from jazzlstm.resources import pretrained_run_dir

    spec = importlib.util.spec_from_file_location("rebuild", pretrained_run_dir().parent / "rebuild.py")
    rebuild = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rebuild)
    return rebuild


def test_pretrained_run_ships_and_generates_without_run_flag(tmp_path, capsys):
    from jazzlstm.resources import pretrained_run_dir

    run = load_run(pretrained_run_dir())
    assert run.data_config.encoding == rebuild_script().ENCODING and run.progressions
    assert main(["generate", str(tmp_path / "solo.mid"), "--bars", "4", "--seed", "2"]) == 0
    assert "solo.mid" in capsys.readouterr().out
    melody = pretty_midi.PrettyMIDI(str(tmp_path / "solo.mid")).instruments[0]
    assert {int(n.start // 2.0) for n in melody.notes} == {0, 1, 2, 3}  # 120 bpm: 2 s a bar


def test_pretrained_run_was_made_by_the_recorded_settings():
    """The settings in the shipped config are those rebuild.py trains with, on real music."""
    from jazzlstm.resources import pretrained_run_dir

    rebuild = rebuild_script()
    config = json.loads((pretrained_run_dir() / "config.json").read_text())
    assert config["model"]["n_a"] == rebuild.N_A
    assert config["train"]["epochs"] == rebuild.EPOCHS and config["train"]["seed"] == rebuild.SEED
    assert config["data"]["encoding"] == rebuild.ENCODING
    history = json.loads((pretrained_run_dir() / "history.json").read_text())
    assert len(history["loss"]) == rebuild.EPOCHS
    # Whole files held out for choosing the epoch; the progressions of over a thousand pieces.
    assert config["train"]["val_split"] > 0
    assert len(load_run(pretrained_run_dir()).progressions) > 1000
    assert (pretrained_run_dir() / "model.keras").stat().st_size < 2_500_000
