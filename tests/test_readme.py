"""README.md stays true: its Python example runs, CI runs its test command, its usage lists every flag."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, subprocess_env

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the ``## title`` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


@pytest.mark.slow
def test_python_api_example_runs(tmp_path):
    (example,) = code_blocks(section("Python API"), "python")
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=subprocess_env(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("api-run", "api-solo.mid", "variation.mid", "names-run", "api-solo.wav", "api-solo.png",
                 "api-history.png"):
        assert (tmp_path / name).exists(), name


def test_ci_runs_the_readme_test_command():
    commands = code_blocks(README.split("## ")[0], "bash")
    assert len(commands) == 2, "the README starts with two commands: try it, run the tests"
    test_command = commands[1].strip()
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


@pytest.mark.parametrize("command", ["inspect", "prepare", "train", "generate", "evaluate", "info", "render", "plot"])
def test_usage_lists_every_flag(command):
    from jazzlstm.cli import build_parser

    parser = build_parser()
    subparser = parser._subparsers._group_actions[0].choices[command]
    flags = {opt for action in subparser._actions for opt in action.option_strings
             if opt.startswith("--") and opt != "--help"}
    usage = section("Command line")
    missing = sorted(flag for flag in flags if not re.search(rf"{re.escape(flag)}\b", usage))
    assert not missing, f"README usage lacks {missing} of `jazzlstm {command}`"
