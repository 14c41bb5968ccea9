"""`canon quality`: measure the master behind a workdir, store the run, print the summary.

    canon quality --workdir W [--threshold P] [--data FOLDER] [--html out.html]

The summary (stdout) has one row per entity type: live records, score, change since the
previous stored run, and the metrics most in need of attention; progress and messages go to
stderr; bad input is one line on stderr and exit code 2, and stores nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.common import WorkdirOpt, err, fail, out, progress_bar, readable_errors
from resolver.quality import (
    CROSS,
    MetricResult,
    QualityReport,
    RunSummary,
    compute_quality,
    list_runs,
    save_run,
    worst,
)

HtmlOpt = Annotated[
    Path | None,
    typer.Option(help="also write the dashboard of this run as one static HTML file (offline)"),
]
ThresholdOpt = Annotated[
    float | None,
    typer.Option(help="match probability at which dedupe links duplicates (dedupe's 0.9)"),
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="folder of the extracts (default: the model's training folder)"),
]


def quality(
    workdir: WorkdirOpt = Path("var"),
    threshold: ThresholdOpt = None,
    html: HtmlOpt = None,
    data: DataOpt = None,
) -> None:
    """Measure master-data quality (completeness, validity, duplicates, consistency,
    cross-entity risk, resolver readiness), store the run and print the summary."""
    if threshold is not None and not 0.0 < threshold < 1.0:
        fail(f"--threshold: {threshold} is not a probability strictly between 0 and 1")
    if html is not None and html.is_dir():
        fail(f"--html: {html} is a folder; name the file to write")
    report, previous = measure(workdir, threshold, data)
    print_summary(report, previous)
    if html is not None:
        from api.dashboard import write_standalone  # plotly loads only when it is needed

        with readable_errors():
            write_standalone(html, report, list_runs(workdir))
        err.print(f"wrote the dashboard to {html}", highlight=False)


def measure(
    workdir: Path, threshold: float | None, data: Path | None = None
) -> tuple[QualityReport, RunSummary | None]:
    """Compute and store a run; also return the run stored before it (None on the first)."""
    with readable_errors():
        if not workdir.is_dir():
            fail(f"{workdir}: no such workdir; train one with `canon train` first")
        runs = list_runs(workdir)
        with progress_bar() as bar:
            task = bar.add_task("measuring", total=None)

            def tick(step: str, done: int, total: int) -> None:
                bar.update(task, description=step, completed=done, total=total)

            report = compute_quality(workdir, threshold=threshold, progress=tick, data_dir=data)
        save_run(workdir, report)
    err.print(f"stored run {report.run_id} under {workdir / 'quality'}", highlight=False)
    return report, (runs[-1] if runs else None)


def print_summary(report: QualityReport, previous: RunSummary | None) -> None:
    """The table of entity types, scores, trend and worst metrics."""
    seconds = sum(report.timings.values())
    table = Table(title=f"master-data quality, run {report.run_id} ({seconds:.1f} s)")
    for column in ("entity type", "records", "score", "trend", "worst metrics (flagged)"):
        table.add_column(column, justify="right" if column in ("records", "score") else "left")
    for entity in report.entities:
        own = tuple(m for m in report.metrics if m.entity_type == entity.entity_type)
        table.add_row(
            entity.entity_type,
            f"{entity.records:,}",
            f"{entity.score:.1f}",
            _trend(entity.entity_type, entity.score, previous),
            _worst(own),
        )
    cross = tuple(m for m in report.metrics if m.entity_type == CROSS)
    if cross:
        table.add_row(CROSS, "", "", "", _worst(cross))
    out.print(table)


def _trend(entity_type: str, score: float, previous: RunSummary | None) -> str:
    before = previous.scores.get(entity_type) if previous else None
    if before is None:
        return "first run"
    delta = score - before
    if abs(delta) < 0.05:
        return "= unchanged"
    return f"{'▲' if delta > 0 else '▼'} {delta:+.1f}"


def _worst(metrics: tuple[MetricResult, ...]) -> str:
    found = worst(metrics, 3)
    if not found:
        return "all clear"
    return "\n".join(
        escape(
            f"{m.severity}: {m.metric_id.removeprefix(m.entity_type + '.')} — "
            f"{m.numerator:,} of {m.denominator:,}"
        )
        for m in found
    )


def register(app: typer.Typer) -> None:
    """Add `canon quality` to the `canon` app."""
    app.command("quality")(quality)
