"""The data-quality notebook runs top to bottom on the sample and writes the steward's labels
where calibration reads them; the committed file has no outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from calibration import read_labels
from resolver.quality import list_runs

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "data_quality.ipynb"


def test_the_committed_notebook_carries_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_the_notebook_runs_and_writes_the_labelled_pairs(
    trained_workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "workdir"
    shutil.copytree(trained_workdir, workdir)
    labels = tmp_path / "labels" / "steward.csv"
    decisions = {"0": "match", "1": "not a match"}
    monkeypatch.setenv("CANON_WORKDIR", str(workdir))
    monkeypatch.setenv("CANON_LABELS", str(labels))
    monkeypatch.setenv("CANON_DECISIONS", json.dumps(decisions))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = json.dumps([cell.get("outputs", []) for cell in nb.cells])
    assert '"output_type": "error"' not in text
    assert "supplier.validity.tax_id" in text  # the metrics table
    assert text.count("Plotly.newPlot") >= 4  # scores, trend, metrics and a waterfall
    # plotly.js travels inside the notebook, not from a CDN: it works offline.
    assert 'src=\\"https://cdn' not in text and "displaylogo" in text
    assert "background-color: #ffe08a" in text  # differing fields highlighted
    # With no stored run, the notebook measured and stored one.
    assert len(list_runs(workdir)) == 1
    written = read_labels(labels)
    assert len(written) == 2 * len(decisions)
    assert {lab.source for lab in written} == {"steward"}
    assert sorted(lab.label for lab in written) == ["correct", "correct", "correct", "wrong"]
    assert all(lab.entity_type and lab.canonical_id for lab in written)
