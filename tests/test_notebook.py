"""The Colab notebook runs top to bottom (in its quick setting) and is kept without outputs."""
from __future__ import annotations

import pytest

from conftest import REPO_ROOT, subprocess_env

NOTEBOOK = REPO_ROOT / "notebooks" / "jazzlstm_colab.ipynb"


def test_notebook_is_stored_without_outputs():
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "the notebook has code cells"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


@pytest.mark.slow
def test_notebook_runs_end_to_end(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    for name, value in subprocess_env(JAZZLSTM_NOTEBOOK_QUICK="1").items():
        monkeypatch.setenv(name, value)  # the kernel inherits this process's environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises on a failing cell
    outputs = "\n".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                        for output in cell.outputs)
    assert "not on Colab" in outputs and "training uses" in outputs
    for name in ("colab-run", "history.png", "solo.mid", "solo.png", "solo.wav", "colab-eval/report.json",
                 "colab-eval/report.md", "colab-eval/overlap.png", "tunes-run", "tune.mid", "tune.wav"):
        assert (tmp_path / name).exists(), name
    images = sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
                 for output in cell.outputs)
    audio = sum("<audio" in output.get("data", {}).get("text/html", "") for cell in notebook.cells
                if cell.cell_type == "code" for output in cell.outputs)
    assert images == 3 and audio == 2  # history, piano roll, the evaluation's overlap plot
