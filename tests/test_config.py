"""One configuration path: each default and check lives in jazzlstm.config, the CLI's flags
come from there, the API takes the same names, and run folders keep saying what they hold."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, fields

import pytest

from jazzlstm.cli import build_parser, main
from jazzlstm.config import (CorpusConfig, DataConfig, ModelConfig, MusicConfig, SamplingConfig, TextConfig, TrainConfig,
                             split_settings)
from jazzlstm.errors import ConfigError
from jazzlstm.resources import pretrained_run_dir
from jazzlstm.runs import read_configs


def test_cli_defaults_are_the_config_defaults():
    parser = build_parser()
    train = vars(parser.parse_args(["train"]))
    generate = vars(parser.parse_args(["generate"]))
    for config, parsed in [(ModelConfig, train), (TrainConfig, train), (CorpusConfig, train),
                           (SamplingConfig, generate), (MusicConfig, generate), (TextConfig, generate)]:
        for spec in fields(config):
            if spec.name in parsed:
                assert parsed[spec.name] == getattr(config(), spec.name), (config.__name__, spec.name)
    assert {"n_a", "tx", "epochs", "lr", "strategy", "encoding", "cache"} <= set(train)
    assert {"n", "temperature", "top_k", "bars", "tempo", "length", "prime"} <= set(generate)


def test_help_text_comes_from_the_config():
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "LSTM units (default: 64)" in help_text
    assert "Adam learning rate (default: 0.01)" in help_text


@pytest.mark.parametrize("config, values, message", [
    (TrainConfig, {"epochs": 0}, "epochs must be positive"),
    (TrainConfig, {"val_split": 1.0}, "val_split must be in"),
    (TrainConfig, {"strategy": "gpu"}, "strategy must be one of"),
    (SamplingConfig, {"temperature": 0.0}, "temperature must be positive"),
    (SamplingConfig, {"temperature": float("inf")}, "temperature must be finite"),
    (SamplingConfig, {"top_k": 0}, "top_k must be positive"),
    (CorpusConfig, {"encoding": "midi"}, "encoding must be one of grammar, grammar-events, notes, note-events"),
    (CorpusConfig, {"transpose": "up"}, "transpose must be"),
    (MusicConfig, {"bars": -1}, "bars must be positive"),
])
def test_each_setting_is_checked_where_it_is_defined(config, values, message):
    with pytest.raises(ConfigError, match=message):
        config(**values)


def test_clipnorm_zero_means_no_clipping():
    assert TrainConfig(clipnorm=0).clipnorm is None


def test_settings_go_to_the_record_that_has_them_and_unknown_names_are_refused():
    model, train = split_settings({"n_a": 8, "epochs": 2}, ModelConfig, TrainConfig)
    assert (model.n_a, train.epochs, train.lr) == (8, 2, TrainConfig().lr)
    with pytest.raises(ConfigError, match="unknown setting.*n_units"):
        split_settings({"n_units": 8}, ModelConfig, TrainConfig)


def test_api_refuses_an_unknown_setting_before_any_work(tmp_path):
    import jazzlstm

    with pytest.raises(ConfigError, match="temprature"):
        jazzlstm.generate(None, tmp_path / "x.mid", temprature=0.5)
    assert not (tmp_path / "x.mid").exists()


def test_a_run_of_the_previous_release_states_its_tokenizer(tmp_path):
    # Runs written before runs saved their tokenizer: it is rebuilt from the encoding settings.
    run = tmp_path / "old-run"
    shutil.copytree(pretrained_run_dir(), run)
    config = json.loads((run / "config.json").read_text())
    config["data"] = {"mode": "music", "encoding": "grammar", "melody_track": None, "transpose": "none",
                      "sources": ["midi_samples"]}
    (run / "config.json").write_text(json.dumps(config))
    data = read_configs(run)[2]
    assert data.tokenizer == {}
    assert data.tokenizer_config() == {"name": "grammar", "version": 1}
    notes = DataConfig(encoding="notes", transpose="key")
    assert notes.tokenizer_config() == {"name": "notes", "version": 1, "transpose": "key"}
    assert asdict(read_configs(run)[0])["n_values"] > 2


def test_a_run_with_a_newer_tokenizer_is_one_line_naming_the_version(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(pretrained_run_dir(), run)
    config = json.loads((run / "config.json").read_text())
    config["data"]["tokenizer"] = {"name": "grammar", "version": 7}
    (run / "config.json").write_text(json.dumps(config))
    code = main(["generate", str(tmp_path / "out.mid"), "--run", str(run)])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.count("\n") == 0 and "encoding grammar version 7 is newer than this jazzlstm's (version 2)" in err
    assert not (tmp_path / "out.mid").exists()
