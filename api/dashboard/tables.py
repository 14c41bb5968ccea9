"""The dashboard's drill-down tables: offending records and duplicate clusters as flat rows,
filtered, sorted and paged by validated query parameters, and exported as CSV."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from resolver import DuplicateCluster, QualityReport

SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class OffenderRow:
    """One offending record of one metric."""

    metric_id: str
    entity_type: str
    field: str
    category: str
    severity: str
    canonical_id: str
    label: str
    detail: str


@dataclass(frozen=True)
class ClusterRow:
    """One duplicate cluster: its size, the names it holds, and how sure the weakest link is."""

    cluster_id: str
    entity_type: str
    size: int
    labels: str
    min_probability: float
    differing_fields: str


Columns = tuple[tuple[str, str], ...]
#: (attribute, heading) of each table's columns, in the order shown and exported.
OFFENDER_COLUMNS: Columns = (
    ("metric_id", "Metric"), ("entity_type", "Entity type"), ("field", "Field"),
    ("category", "Category"), ("severity", "Severity"), ("canonical_id", "Canonical id"),
    ("label", "Name"), ("detail", "Detail"),
)  # fmt: skip
CLUSTER_COLUMNS: Columns = (
    ("cluster_id", "Cluster"), ("entity_type", "Entity type"), ("size", "Size"),
    ("labels", "Names"), ("min_probability", "Weakest link (p)"),
    ("differing_fields", "Differing fields"),
)  # fmt: skip


class PageQuery(BaseModel):
    """What every table accepts: a text filter, an entity type, an order and a page."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field("", max_length=200, description="text every row shown contains")
    entity_type: str = Field("", max_length=100)
    order: Literal["asc", "desc"] = "asc"
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(25, ge=1, le=500)


class OffenderQuery(PageQuery):
    """Offending records: filter by metric too; sort by any column."""

    metric: str = Field("", max_length=200)
    sort: Literal[
        "metric_id", "entity_type", "field", "category", "severity", "canonical_id", "label",
        "detail",
    ] = "severity"  # fmt: skip
    order: Literal["asc", "desc"] = "desc"


class ClusterQuery(PageQuery):
    """Duplicate clusters, biggest first unless asked otherwise."""

    sort: Literal["cluster_id", "entity_type", "size", "min_probability", "labels"] = "size"
    order: Literal["asc", "desc"] = "desc"


@dataclass(frozen=True)
class Page:
    """One page of a table's rows, and where it sits in the whole."""

    rows: tuple[Any, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def offender_rows(report: QualityReport) -> list[OffenderRow]:
    """Every offender of every metric, one row each."""
    return [
        OffenderRow(m.metric_id, m.entity_type, m.field or "", m.category, m.severity, *cells)
        for m in report.metrics
        for cells in ((o.canonical_id, o.label, o.detail) for o in m.offenders)
    ]


def _labels(cluster: DuplicateCluster) -> str:
    names = {member.fields.get("name", "") or member.canonical_id for member in cluster.members}
    return " | ".join(sorted(names))


def cluster_rows(report: QualityReport) -> list[ClusterRow]:
    """Every duplicate cluster, one row each."""
    rows = []
    for c in report.clusters:
        probabilities = [p.match_probability for p in c.pairs]
        differing = sorted({f for p in c.pairs for f in p.differing_fields})
        rows.append(ClusterRow(c.cluster_id, c.entity_type, c.size, _labels(c),
                               min(probabilities, default=1.0), ", ".join(differing)))  # fmt: skip
    return rows


def _sort_key(column: str) -> Callable[[Any], Any]:
    if column == "severity":
        return lambda row: (SEVERITY_RANK.get(row.severity, -1), row.metric_id)
    return lambda row: getattr(row, column)


def select(
    rows: Sequence[Any], query: PageQuery, extra: Callable[[Any], bool] | None = None
) -> list[Any]:
    """The rows the query's filters keep, in the query's order (every page of them)."""
    needle = query.q.casefold()

    def keep(row: Any) -> bool:
        if query.entity_type and row.entity_type != query.entity_type:
            return False
        if extra is not None and not extra(row):
            return False
        return not needle or any(needle in str(v).casefold() for v in vars(row).values())

    kept = [row for row in rows if keep(row)]
    kept.sort(key=_sort_key(getattr(query, "sort", "")), reverse=query.order == "desc")
    return kept


def select_offenders(rows: Sequence[OffenderRow], query: OffenderQuery) -> list[OffenderRow]:
    """The offending records the query asks for, in its order."""
    by_metric = (lambda row: row.metric_id == query.metric) if query.metric else None
    return select(rows, query, by_metric)


def select_clusters(rows: Sequence[ClusterRow], query: ClusterQuery) -> list[ClusterRow]:
    """The duplicate clusters the query asks for, in its order."""
    return select(rows, query)


def page_of(rows: Sequence[Any], query: PageQuery) -> Page:
    """The query's page of already selected rows."""
    start = (query.page - 1) * query.per_page
    return Page(tuple(rows[start : start + query.per_page]), len(rows), query.page, query.per_page)


def safe_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: text that would start a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Any], row_type: type[Any]) -> str:
    """The rows as CSV with a header (RFC 4180 quoting, CRLF), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL)
    writer.writerow([f.name for f in fields(row_type)])
    for row in rows:
        writer.writerow([safe_cell(v) for v in vars(row).values()])
    return out.getvalue()


def table_data(rows: Sequence[Any], columns: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Rows as the static file's script reads them: column keys, headings, and value lists."""
    keys = [key for key, _ in columns]
    return {"columns": keys, "headings": [heading for _, heading in columns],
            "rows": [[getattr(row, key) for key in keys] for row in rows]}  # fmt: skip
