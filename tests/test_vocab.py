"""Vocabulary: sorted, deterministic across processes, JSON round trip, unknown tokens."""
from __future__ import annotations

import json

import pytest

from conftest import run_python
from jazzlstm.errors import JazzLSTMError, UnknownTokenError
from jazzlstm.tokens.vocab import UNK, Vocabulary

TOKENS = [["S,0.500", "C,1.000", "R,0.250"], ["C,1.000", "A,0.333,<-4,2>", "X,2.000"]]


def test_sorted_and_round_trip(tmp_path):
    vocab = Vocabulary.build(TOKENS)
    assert list(vocab.tokens) == sorted({t for seq in TOKENS for t in seq})
    path = tmp_path / "vocab.json"
    vocab.save(path)
    again = Vocabulary.load(path)
    assert again == vocab and again.encode(TOKENS[1]) == vocab.encode(TOKENS[1])
    assert vocab.decode(vocab.encode(TOKENS[0])) == TOKENS[0]


def test_unknown_tokens_are_explicit():
    vocab = Vocabulary.build(TOKENS)
    with pytest.raises(UnknownTokenError, match="Q,1.000"):
        vocab.encode(["C,1.000", "Q,1.000"])
    assert vocab.encode(["C,1.000", "Q,1.000"], on_unknown="skip") == [vocab.id("C,1.000")]
    with pytest.raises(JazzLSTMError):
        vocab.encode(["Q"], on_unknown="unk")
    with_unk = Vocabulary.build(TOKENS, add_unk=True)
    assert with_unk.tokens[0] == UNK
    assert with_unk.encode(["Q,1.000"], on_unknown="unk") == [0]


def test_min_count_and_specials():
    vocab = Vocabulary.build(TOKENS, min_count=2, specials=["\n"])
    assert vocab.tokens == ("\n", "C,1.000")


def test_rejects_tampered_file(tmp_path):
    path = tmp_path / "vocab.json"
    Vocabulary.build(TOKENS).save(path)
    data = json.loads(path.read_text())
    data["tokens"].reverse()
    path.write_text(json.dumps(data))
    with pytest.raises(JazzLSTMError, match="canonical order"):
        Vocabulary.load(path)
    path.write_text("{not json")
    with pytest.raises(JazzLSTMError, match="cannot read vocabulary"):
        Vocabulary.load(path)


@pytest.mark.slow
def test_same_order_in_other_processes():
    code = ("import json, sys; from jazzlstm.tokens.vocab import Vocabulary; "
            "seqs = json.loads(sys.argv[1]); print(json.dumps(Vocabulary.build(seqs).tokens))")
    many = [[f"C,{i / 12:.3f}" for i in range(1, 40)] + ["R,0.250", "S,1.000,<-1,5>"]]
    outputs = set()
    for seed in ("0", "1", "2"):
        result = run_python(code, json.dumps(many), PYTHONHASHSEED=seed)
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert json.loads(outputs.pop()) == list(Vocabulary.build(many).tokens)
