"""Shared fixtures and helpers: an isolated cache for every test, the one way to run the real CLI
(or a Python script) in a subprocess, and a cluster of worker processes."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Sequence

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


_running: pytest.Item | None = None
"""The test being set up or run (its module-scoped fixtures included)."""


@pytest.hookimpl(tryfirst=True)  # before any fixture of the test is set up
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _running
    _running = item


def require_slow(what: str) -> None:
    """Subprocesses belong to the slow lane: fail a test that starts one without ``@pytest.mark.slow``."""
    if _running is not None and _running.get_closest_marker("slow") is None:
        pytest.fail(f"{_running.nodeid} runs {what} in a subprocess: mark it @pytest.mark.slow", pytrace=False)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The current environment (with the isolated cache) plus the repo on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra)
    return env


def run_python(script: str, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """Run ``python -c script ARGS`` with the repo importable and ``env`` added; returns the
    CompletedProcess (text output captured), whatever its exit code."""
    require_slow("Python")
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def run_python_json(script: str, *args: str, timeout: float = 300, **env: str) -> dict:
    """:func:`run_python`, checked to succeed; returns the JSON object the script printed last."""
    result = run_python(script, *args, timeout=timeout, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def cli_command(*args, console_script: bool = False) -> list[str]:
    """The command line of ``python -m jazzlstm ARGS``; with ``console_script``, the installed
    ``jazzlstm`` script when there is one."""
    script = shutil.which("jazzlstm") if console_script else None
    return [*([script] if script else [sys.executable, "-m", "jazzlstm"]), *map(str, args)]


def run_cli(*args, cwd: Path | None = None, timeout: float = 60, console_script: bool = False,
            **env: str) -> subprocess.CompletedProcess:
    """Run the real command line, ``jazzlstm ARGS``, in a subprocess with the repo importable and
    ``env`` added; returns the CompletedProcess (text output captured), whatever its exit code.

    The one way the tests start the CLI in a subprocess: the ``run_cli`` fixture is this function,
    and module-scoped fixtures (which cannot take it as a fixture) import it from conftest.
    """
    require_slow("the CLI")
    return subprocess.run(cli_command(*args, console_script=console_script), cwd=cwd, env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def start_cli(*args, cwd: Path | None = None, **env: str) -> subprocess.Popen:
    """Start ``jazzlstm ARGS`` as :func:`run_cli` runs it, without waiting (text pipes for its
    output): for tests that signal or kill the process."""
    require_slow("the CLI")
    return subprocess.Popen(cli_command(*args), cwd=cwd, env=subprocess_env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(name="run_cli")
def run_cli_fixture():
    """:func:`run_cli`, as a fixture."""
    return run_cli


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
    """``jazzlstm ARGS`` run by ``size`` worker processes on 127.0.0.1, each with its TF_CONFIG.

    Use as a context manager: processes still running on exit are killed.
    """

    def __init__(self, args: Sequence, cwd: Path, size: int = 2):
        workers = [f"127.0.0.1:{port}" for port in free_ports(size)]
        self.processes = []
        for index in range(size):
            config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            self.processes.append(start_cli(*args, cwd=cwd, TF_CONFIG=json.dumps(config)))

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
