"""`canon quality` as a user runs it: the summary table, the stored run and its trend, and a
one-line error for a workdir that cannot be measured."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.cli import quality as cli_quality
from resolver import train_workdir
from resolver.quality import list_runs, load_run

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "protheus"
runner = CliRunner()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    w = tmp_path_factory.mktemp("quality-cli") / "work"
    train_workdir(SAMPLE / "data", w)
    return w


@pytest.fixture
def canon() -> typer.Typer:
    app = typer.Typer()
    cli_quality.register(app)
    app.command("noop", hidden=True)(lambda: None)  # keeps `quality` a named subcommand
    return app


def test_quality_prints_the_summary_stores_runs_and_shows_the_trend(canon, workdir):
    first = runner.invoke(canon, ["quality", "--workdir", str(workdir)])
    assert first.exit_code == 0, first.output
    for entity_type in ("supplier", "customer", "employee", "contact", "purchase_order"):
        assert entity_type in first.stdout
    assert "first run" in first.stdout and "cross" in first.stdout
    assert "validity.tax_id" in first.stdout  # among the worst metrics
    second = runner.invoke(canon, ["quality", "--workdir", str(workdir), "--threshold", "0.9"])
    assert second.exit_code == 0, second.output
    assert "unchanged" in second.stdout
    runs = list_runs(workdir)
    assert len(runs) == 2 and runs[0].created_at < runs[1].created_at
    assert load_run(workdir).run_id == runs[1].run_id in second.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["--workdir", "{tmp}/missing"], "no such workdir", id="missing"),
        pytest.param(["--workdir", "{tmp}"], "no trained model", id="untrained"),
        pytest.param(["--threshold", "1.5"], "--threshold", id="threshold"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(canon, tmp_path, args, fragment):
    result = runner.invoke(canon, ["quality", *[a.format(tmp=tmp_path) for a in args]])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "quality").exists()


def test_quality_writes_the_dashboard_as_one_static_file(canon, workdir, tmp_path):
    out = tmp_path / "reports" / "quality.html"
    result = runner.invoke(canon, ["quality", "--workdir", str(workdir), "--html", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert load_run(workdir).run_id in html and "plotly.js v" in html
    assert "<script src=" not in html and 'data-view="overview"' in html
    assert [p.name for p in out.parent.iterdir()] == ["quality.html"]  # written atomically
    refused = runner.invoke(canon, ["quality", "--workdir", str(workdir), "--html", str(tmp_path)])
    assert refused.exit_code == 2 and "is a folder" in refused.output


def test_extracts_elsewhere_are_named_with_data(canon, workdir, tmp_path):
    missing = runner.invoke(
        canon, ["quality", "--workdir", str(workdir), "--data", str(tmp_path / "nowhere")]
    )
    assert missing.exit_code == 2
    assert "--data" in missing.output and "Traceback" not in missing.output
    moved = tmp_path / "extracts"
    shutil.copytree(SAMPLE / "data", moved)
    result = runner.invoke(canon, ["quality", "--workdir", str(workdir), "--data", str(moved)])
    assert result.exit_code == 0, result.output
