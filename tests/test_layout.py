"""The package's layout follows the data flow, and its import rules hold.

Imports are read from the source (module level and inside functions alike, since a lazy import
still runs), and followed through the package: ``music/`` and ``tokens/`` never reach Keras
or TensorFlow, ``model/`` never reaches a MIDI reader or music21, and nothing imports the CLI.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jazzlstm"
STAGES = ("music", "tokens", "data", "model", "training", "generation", "evaluate")
DEEP_LEARNING = ("keras", "tensorflow", "jax", "torch")
MUSIC_READERS = ("music21", "pretty_midi", "mido", "symusic", "jazzlstm.music.midi", "jazzlstm.music.musicxml",
                 "jazzlstm.music.abc", "jazzlstm.music.reading", "jazzlstm.data.corpus")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


@lru_cache(maxsize=None)
def direct_imports(name: str) -> frozenset[str]:
    """Every module ``name`` imports, written anywhere in its source (absolute names)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            # "from jazzlstm.tokens import grammar" imports the submodule jazzlstm.tokens.grammar
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
            # "from jazzlstm.model import JazzLSTM": a lazy package loads the module its _EXPORTS names
            lazy = lazy_exports(base)
            found.update(f"{base}.{lazy[alias.name]}" for alias in node.names if alias.name in lazy)
    return frozenset(found)


@lru_cache(maxsize=None)
def lazy_exports(package: str) -> dict[str, str]:
    """A package's ``_EXPORTS`` (name -> submodule, loaded on first use), or nothing."""
    path = MODULES.get(package)
    if path is None or path.name != "__init__.py":
        return {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def reachable(name: str) -> set[str]:
    """``name``'s imports, followed through the package's own modules (and their parents)."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        for imported in direct_imports(current):
            parents = [".".join(imported.split(".")[:i]) for i in range(1, imported.count(".") + 2)]
            for module in parents:
                if module not in seen:
                    seen.add(module)
                    if module in MODULES:
                        todo.append(module)
    return seen


def offending(name: str, banned: tuple[str, ...]) -> list[str]:
    return sorted(m for m in reachable(name) if any(m == b or m.startswith(b + ".") for b in banned))


def test_the_package_shows_the_stages_of_the_data_flow():
    folders = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file() and p.name != "pretrained")
    assert folders == sorted(STAGES)
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_"))
    assert loose == ["api", "cli", "config", "errors", "fileio", "plot", "resources", "runs"]


PURE = ("jazzlstm.music", "jazzlstm.tokens", "jazzlstm.evaluate.music_metrics", "jazzlstm.evaluate.distances",
        "jazzlstm.evaluate.ngrams", "jazzlstm.evaluate.memorization")
"""Stages (and the evaluation's measures) that work on plain data and never reach a model."""


@pytest.mark.parametrize("stage", PURE)
def test_music_tokens_and_metrics_never_import_deep_learning(stage):
    modules = [m for m in MODULES if m.startswith(stage)]
    assert modules
    bad = {m: offending(m, DEEP_LEARNING) for m in modules}
    assert not {m: b for m, b in bad.items() if b}


def test_model_never_imports_music_readers():
    modules = [m for m in MODULES if m.startswith("jazzlstm.model")]
    bad = {m: offending(m, MUSIC_READERS) for m in modules}
    assert not {m: b for m, b in bad.items() if b}


def test_nothing_imports_the_cli():
    importers = [m for m in MODULES if m not in ("jazzlstm.cli", "jazzlstm.__main__")
                 and "jazzlstm.cli" in direct_imports(m)]
    assert importers == []


def test_the_rules_catch_a_breach(tmp_path, monkeypatch):
    # The checks above must be able to fail: a tokens module importing the model is caught.
    direct_imports.cache_clear()
    fake = tmp_path / "leaky.py"
    fake.write_text("def f():\n    from jazzlstm.model import JazzLSTM\n")
    monkeypatch.setitem(MODULES, "jazzlstm.tokens.leaky", fake)
    try:
        assert "keras" in offending("jazzlstm.tokens.leaky", DEEP_LEARNING)
    finally:
        direct_imports.cache_clear()
