"""The dashboard's pages over a workdir's stored quality runs: each function loads what it needs
and returns the page (or the CSV), so that a route only parses, calls and maps."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from api.dashboard import tables, views
from api.dashboard.rendering import ServedLinks, StandaloneLinks, asset, plotly_js, render
from api.dashboard.tables import ClusterQuery, ClusterRow, OffenderQuery, OffenderRow, PageQuery
from resolver import QualityReport, RunSummary, list_runs, load_run

#: Rows the static file carries per table, and clusters it draws a page for (biggest first).
STANDALONE_ROWS = 50_000
STANDALONE_CLUSTERS = 100


@dataclass(frozen=True)
class Html:
    """A rendered page and its HTTP status."""

    body: str
    status: int = 200


@dataclass(frozen=True)
class Run:
    """The latest stored run of a workdir, with the trend and its tables' rows."""

    report: QualityReport
    runs: tuple[RunSummary, ...]
    offenders: tuple[OffenderRow, ...]
    clusters: tuple[ClusterRow, ...]


@functools.lru_cache(maxsize=2)
def _load(workdir: str, run_id: str, count: int) -> Run:
    # Stored runs never change: the latest run's id (and how many there are) is a safe key.
    report = load_run(Path(workdir), run_id)
    runs = tuple(list_runs(Path(workdir)))
    offenders, clusters = tables.offender_rows(report), tables.cluster_rows(report)
    return Run(report, runs, tuple(offenders), tuple(clusters))


def latest_run(workdir: Path) -> Run | None:
    """The workdir's latest stored quality run, or None when `canon quality` never ran there."""
    runs = list_runs(workdir)
    if not runs:
        return None
    return _load(str(workdir.resolve()), runs[-1].run_id, len(runs))


def empty_page(workdir: Path, status: int = 200) -> Html:
    """The page of a workdir without a stored run: how to make one."""
    page = render("empty.html", links=ServedLinks(), report=None, workdir=str(workdir))
    return Html(page, status)


def refusal_page(status: int, message: str) -> Html:
    """The page a browser gets when it may not read the dashboard (401 or 403)."""
    heading = "Sign in to read the dashboard" if status == 401 else "Not for this account"
    page = render("refused.html", links=ServedLinks(), report=None, heading=heading,
                  text=message, sign_in=status == 401)  # fmt: skip
    return Html(page, status)


def overview_page(workdir: Path) -> Html:
    """The front page: a card per entity type, the charts, every metric."""
    run = latest_run(workdir)
    if run is None:
        return empty_page(workdir)
    page = views.overview(run.report, run.runs)
    return Html(render("overview.html", links=ServedLinks(), report=run.report, page=page))


def _link(query: PageQuery, path: str) -> Any:
    defaults = type(query)().model_dump()

    def link(**changes: Any) -> str:
        values = {**query.model_dump(), **changes}
        kept = {k: v for k, v in values.items() if v != defaults[k]}
        return f"{path}?{urlencode(kept)}" if kept else path

    return link


def _table_page(workdir: Path, query: PageQuery, kind: str) -> Html:
    run = latest_run(workdir)
    if run is None:
        return empty_page(workdir)
    if isinstance(query, OffenderQuery):
        rows: Sequence[Any] = tables.select_offenders(run.offenders, query)
        columns = tables.OFFENDER_COLUMNS
    else:
        assert isinstance(query, ClusterQuery)
        rows, columns = tables.select_clusters(run.clusters, query), tables.CLUSTER_COLUMNS
    entity_types = sorted({row.entity_type for row in (run.offenders if kind == "offenders"
                                                           else run.clusters)})  # fmt: skip
    metrics = sorted({m.metric_id for m in run.report.metrics if m.offenders})
    return Html(render("table.html", links=ServedLinks(), report=run.report, kind=kind,
                       query=query, page=tables.page_of(rows, query), columns=columns,
                       link=_link(query, f"/dashboard/{kind}"), entity_types=entity_types,
                       csv_href=_link(query, f"/dashboard/{kind}.csv")(page=1, per_page=25),
                       metrics=metrics))  # fmt: skip


def offenders_page(workdir: Path, query: OffenderQuery) -> Html:
    """The offending records of every metric, filtered, sorted and paged."""
    return _table_page(workdir, query, "offenders")


def clusters_page(workdir: Path, query: ClusterQuery) -> Html:
    """The duplicate clusters, filtered, sorted and paged."""
    return _table_page(workdir, query, "clusters")


def offenders_csv(workdir: Path, query: OffenderQuery) -> str | None:
    """Every offending record the query selects as CSV (None: no run yet)."""
    run = latest_run(workdir)
    rows = tables.select_offenders(run.offenders, query) if run else None
    return None if rows is None else tables.csv_text(rows, OffenderRow)


def clusters_csv(workdir: Path, query: ClusterQuery) -> str | None:
    """Every duplicate cluster the query selects as CSV (None: no run yet)."""
    run = latest_run(workdir)
    rows = tables.select_clusters(run.clusters, query) if run else None
    return None if rows is None else tables.csv_text(rows, ClusterRow)


def cluster_page(workdir: Path, cluster_id: str) -> Html:
    """One duplicate cluster side by side, with its pairs' waterfalls (404 when unknown)."""
    run = latest_run(workdir)
    if run is None:
        return empty_page(workdir)
    cluster = views.find_cluster(run.report, cluster_id)
    if cluster is None:
        text = f"The latest quality run has no duplicate cluster {cluster_id!r}."
        return Html(render("message.html", links=ServedLinks(), report=run.report,
                           heading="No such cluster", text=text), 404)  # fmt: skip
    view = views.cluster_view(cluster)
    return Html(render("cluster.html", links=ServedLinks(), report=run.report, view=view))


def standalone_html(report: QualityReport, runs: Sequence[RunSummary]) -> str:
    """The whole dashboard as one HTML file: plotly.js, styles, script and data inlined."""
    offenders = tables.offender_rows(report)[:STANDALONE_ROWS]
    clusters = tables.cluster_rows(report)[:STANDALONE_ROWS]
    biggest = sorted(report.clusters, key=lambda c: (-c.size, c.cluster_id))
    return render(
        "standalone.html", links=StandaloneLinks(), report=report,
        page=views.overview(report, runs),
        cluster_views=[views.cluster_view(c) for c in biggest[:STANDALONE_CLUSTERS]],
        offender_data=tables.table_data(offenders, tables.OFFENDER_COLUMNS),
        cluster_data=tables.table_data(clusters, tables.CLUSTER_COLUMNS),
        truncated=len(report.clusters) > STANDALONE_CLUSTERS, shown=STANDALONE_CLUSTERS,
        plotly_js=plotly_js(), dashboard_js=asset("dashboard.js"), css=asset("dashboard.css"),
    )  # fmt: skip


def write_standalone(out: Path, report: QualityReport, runs: Sequence[RunSummary]) -> None:
    """Write the static dashboard to `out` atomically (a reader never sees half a file)."""
    from calibration import write_report  # (its package imports the labels' pandas)

    write_report(out, standalone_html(report, runs))


def write_dashboard_html(workdir: Path, out: Path, report: QualityReport | None = None) -> None:
    """`canon quality --html`: the workdir's latest run (or `report`) as one static file."""
    runs = list_runs(workdir)
    write_standalone(out, report or load_run(workdir), runs)
