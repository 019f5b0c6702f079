"""Shared fixtures: an isolated cache for every test and a helper to run the real CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = Path(__file__).resolve().parent
for _path in (str(REPO_ROOT), str(TESTS_DIR)):  # `pytest` (not only `python -m pytest`) finds both
    if _path not in sys.path:
        sys.path.insert(0, _path)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch) -> Path:
    """Every test (and every CLI run it starts) caches into a fresh tmp folder, never ~/.cache."""
    cache = tmp_path_factory.mktemp("jazzlstm-cache")
    monkeypatch.setenv("JAZZLSTM_CACHE_DIR", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache / "xdg"))
    return cache


def subprocess_env(**extra: str) -> dict[str, str]:
    """The current environment (with the isolated cache) plus the repo on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra)
    return env


@pytest.fixture
def run_cli():
    """Run ``python -m jazzlstm ARGS`` in a subprocess; returns the CompletedProcess."""

    def run(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "jazzlstm", *map(str, args)], cwd=cwd,
                              env=subprocess_env(), capture_output=True, text=True, timeout=timeout)

    return run
