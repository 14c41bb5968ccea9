"""The steward's notebook runs top to bottom on the sample; the committed file has no outputs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from resolver import load_resolver, parse_queries
from tests.calibration.conftest import LOOSE_TARGET, SAMPLE

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "calibration_report.ipynb"


def test_the_committed_notebook_carries_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_the_notebook_runs_on_the_sample(
    workdir: Path, sample_labels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    recent = tmp_path / "recent.jsonl"
    resolver = load_resolver(workdir)
    recent.write_text(
        "".join(
            json.dumps(resolver.resolve(q).model_dump(mode="json")) + "\n"
            for q in parse_queries(SAMPLE / "queries.jsonl")
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("CANON_WORKDIR", str(workdir))
    monkeypatch.setenv("CANON_LABELS", str(sample_labels))
    monkeypatch.setenv("CANON_RECENT", str(recent))
    monkeypatch.setenv("CANON_TARGET", str(LOOSE_TARGET))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = json.dumps([cell.get("outputs", []) for cell in nb.cells])
    assert "supplier" in text and "calibrated" in text
    assert text.count("<svg") >= 3
    assert "stable" in text  # the drift table ran on the recent file
    assert '"output_type": "error"' not in text
    assert not (workdir / "calibration").exists()  # the notebook writes nothing
