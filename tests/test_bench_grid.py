"""The training-speed grid (benchmarks/bench_grid.py): the FLOP count, the grid, the thread policy
it follows, and the JSON a run gives, at a tiny point (in-process; the worker processes in the
slow lane)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_grid as grid  # noqa: E402
from conftest import run_python  # noqa: E402

TINY = grid.Point(n_a=8, batch=2, tx=3, v=96)
HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_flops_are_counted_as_the_docs_say():
    # forward, per token: 2 * 4 n_a (V + n_a) for the gates + 2 n_a V for the output layer
    assert grid.forward_flops_per_token(8, 96, 96) == 2 * 4 * 8 * 104 + 2 * 8 * 96 == 8192
    assert grid.flops_per_token(8, 96) == 3 * 8192
    assert grid.flops_per_token(512, 96) == 3 * (2 * 4 * 512 * 608 + 2 * 512 * 96) == 7_766_016
    assert grid.flops_per_step(grid.Point(512, 256, 100)) == 256 * 100 * 7_766_016


def test_the_grid_and_its_steps():
    points = grid.parse_points("all")
    assert len({(p.n_a, p.batch, p.tx) for p in points}) == 16
    assert {p.n_a for p in points} == {64, 256, 512, 1024} and {p.tx for p in points} == {30, 100}
    assert {p.batch for p in points} == {32, 256}
    assert [p.label for p in grid.parse_points("512x256x100, 64x32x30")] == ["512x256x100", "64x32x30"]
    with pytest.raises(SystemExit):
        grid.parse_points("512x256")
    # about the work asked for, never fewer than the minimum
    assert grid.steps_per_epoch(grid.Point(64, 32, 30), 20, 2) == 74
    assert grid.steps_per_epoch(grid.Point(1024, 256, 100), 20, 2) == 2


def test_jazzlstm_follows_the_packages_thread_policy():
    # one thread per op below THREADS_CROSSOVER_MACS (batch x 4 n_a x (V + n_a)), TF's threads above
    assert grid.policy_one_thread(grid.Point(64, 256, 30))      # 10.5M
    assert grid.policy_one_thread(grid.Point(512, 32, 30))      # 39.8M
    assert grid.policy_one_thread(grid.Point(256, 256, 100))    # 92.3M
    assert not grid.policy_one_thread(grid.Point(1024, 32, 30))  # 147M
    assert not grid.policy_one_thread(grid.Point(512, 256, 30))  # 319M
    assert grid.point_workers(grid.Point(64, 32, 30), ["jazzlstm", "jazzlstm_tf_threads"]) == {
        "jazzlstm": "jazzlstm_one_thread", "jazzlstm_tf_threads": "jazzlstm_tf_threads"}
    assert set(grid.point_workers(grid.Point(512, 256, 100), ["jazzlstm", "jazzlstm_tf_threads"]).values()) == {
        "jazzlstm_tf_threads"}
    assert grid.worker_kinds([grid.Point(512, 256, 100)], ["jazzlstm", "keras_lstm"]) == [
        "jazzlstm_tf_threads", "keras_lstm"]


def check_row(row: dict, contenders: list[str], repeats: int) -> None:
    assert (row["n_a"], row["batch"], row["tx"], row["v"]) == (8, 2, 3, 96)
    assert row["steps"] == 2 and row["tokens_per_epoch"] == 2 * 2 * 3
    assert row["flops_per_token"] == 24576 and row["policy_threads"] == "one per op"
    assert set(row["results"]) == set(contenders)
    for name in contenders:
        result = row["results"][name]
        assert "error" not in result, result
        assert len(result["epoch_s"]) == repeats and all(s > 0 for s in result["epoch_s"])
        median = sorted(result["epoch_s"])[repeats // 2]
        if repeats % 2:
            assert result["tokens_per_s"] == pytest.approx(12 / median, rel=0.05, abs=1)
        # GFLOP/s is tokens/s times the counted FLOPs per token
        assert result["gflops"] == pytest.approx(result["tokens_per_s"] * 24576 / 1e9, rel=0.05, abs=1e-3)
        assert "pct_numpy_peak" in result
    if "torch_lstm" in contenders:
        assert row["ratios"]["jazzlstm_vs_torch_lstm"] == pytest.approx(
            row["results"]["jazzlstm"]["tokens_per_s"] / row["results"]["torch_lstm"]["tokens_per_s"], abs=0.006)
    assert row["ratios"]["jazzlstm_vs_keras_lstm"] > 0


def test_a_tiny_grid_gives_the_json_in_process():
    contenders = ["jazzlstm", "keras_lstm"] + (["torch_lstm"] if HAS_TORCH else [])
    result = grid.run_grid([TINY], contenders, repeats=1, gflop_per_epoch=0, min_steps=2, peak_repeats=2,
                           local=True, peak_n=64)
    json.dumps(result)  # plain JSON all through
    assert result["benchmark"] == "grid" and result["numpy_peak"]["gflops"] > 0
    assert result["contenders"] == contenders
    assert len(result["points"]) == 1
    check_row(result["points"][0], contenders, repeats=1)
    goals = result["goals"]
    assert goals["goal_point_vs_torch"] is None  # the goal point was not measured
    if HAS_TORCH:
        assert isinstance(goals["every_point_vs_torch_ge_1"], bool)


def test_without_torch_the_contender_is_skipped_with_a_note(monkeypatch):
    monkeypatch.setattr(grid, "torch_available", lambda: False)
    result = grid.run_grid([TINY], ["torch_lstm"], gflop_per_epoch=0, local=True, peak_n=64, peak_repeats=1)
    assert result["contenders"] == [] and "torch" in result["notes"][0]
    assert result["points"][0]["results"] == {} and result["goals"]["every_point_vs_torch_ge_1"] is None


@pytest.mark.slow
def test_the_command_runs_each_contender_in_its_own_process(tmp_path):
    out = tmp_path / "grid.json"
    contenders = ["jazzlstm", "jazzlstm_tf_threads", "keras_lstm"] + (["torch_lstm"] if HAS_TORCH else [])
    script = f"import runpy; runpy.run_path({str(Path(grid.__file__))!r}, run_name='__main__')"
    proc = run_python(script, "--points", "8x2x3", "--gflop-per-epoch", "0", "--repeats", "2", "--peak-repeats", "2",
                      "--contenders", ",".join(contenders), "--json", str(out), timeout=400)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result == json.loads(proc.stdout)
    assert result["workers"]["jazzlstm_one_thread"]["intra_op_threads"] == 1
    assert result["workers"]["jazzlstm_tf_threads"]["intra_op_threads"] == "default"
    row = result["points"][0]
    check_row(row, contenders, repeats=2)
    assert row["results"]["jazzlstm"]["process"] == "jazzlstm_one_thread"
    assert row["numpy_gflops_beside"] > 0 and result["numpy_peak"]["gflops"] >= row["numpy_gflops_beside"]


def test_the_package_never_imports_torch():
    # torch is a benchmark extra (setup.py "bench"), never a runtime dependency
    package = Path(grid.ROOT) / "jazzlstm"
    offenders = [str(path.relative_to(package)) for path in package.rglob("*.py")
                 if any(line.strip().startswith(("import torch", "from torch"))
                        for line in path.read_text(encoding="utf-8").splitlines())]
    assert offenders == []
    assert "torch" not in Path(grid.ROOT, "requirements.txt").read_text()
