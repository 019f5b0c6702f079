"""Shared fixtures: an isolated cache for every test and a helper to run the real CLI."""
from __future__ import annotations

import json
import os
import socket
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


def run_python_json(script: str, *args: str, timeout: float = 300, **env: str) -> dict:
    """Run ``python -c script ARGS`` with the repo importable and ``env`` added; check that it
    succeeded and return the JSON object it printed last."""
    result = subprocess.run([sys.executable, "-c", script, *args], env=subprocess_env(**env), capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def run_cli():
    """Run ``python -m jazzlstm ARGS`` in a subprocess; returns the CompletedProcess."""

    def run(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "jazzlstm", *map(str, args)], cwd=cwd,
                              env=subprocess_env(), capture_output=True, text=True, timeout=timeout)

    return run


def free_ports(count: int) -> list[int]:
    """``count`` TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Cluster:
    """``command`` run by ``size`` worker processes on 127.0.0.1, each with its TF_CONFIG.

    Use as a context manager: processes still running on exit are killed.
    """

    def __init__(self, command: list[str], cwd: Path, size: int = 2):
        workers = [f"127.0.0.1:{port}" for port in free_ports(size)]
        self.processes = []
        for index in range(size):
            config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            self.processes.append(subprocess.Popen(command, cwd=cwd, env=subprocess_env(TF_CONFIG=json.dumps(config)),
                                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()

    def wait(self, timeout: float = 300) -> list[tuple[int, str, str]]:
        """(exit code, stdout, stderr) of every worker, once all have ended."""
        outputs = [p.communicate(timeout=timeout) for p in self.processes]
        return [(p.returncode, out, err) for p, (out, err) in zip(self.processes, outputs)]

    def kill(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.kill()
            p.communicate()
