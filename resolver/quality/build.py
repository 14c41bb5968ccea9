"""Turning a metric's offending rows (from DuckDB) into a `MetricResult`."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from resolver.quality.types import MAX_OFFENDERS, Category, MetricResult, Offender, Severity


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is, independently of what it found."""

    metric_id: str
    entity_type: str
    field: str | None
    category: Category
    title: str
    description: str
    #: Severity when the metric finds anything (a clean metric is `info`).
    severity: Severity


def graded(bad_share: float, *, raise_one: bool = False) -> Severity:
    """Severity from the share of offending records: ≥ 50 % high, ≥ 20 % medium, else low;
    one step higher for fields the resolver identifies records by."""
    order: tuple[Severity, ...] = ("low", "medium", "high", "critical")
    step = 2 if bad_share >= 0.5 else 1 if bad_share >= 0.2 else 0
    return order[step + (1 if raise_one else 0)]


def from_rows(
    spec: MetricSpec,
    rows: list[tuple[str, str, str]],
    denominator: int,
    *,
    numerator: int | None = None,
    severity: Severity | None = None,
) -> MetricResult:
    """A metric from its offenders (canonical id, label, detail); the numerator defaults to
    the number of distinct offending records, the value to the share that does not offend."""
    distinct = len({r[0] for r in rows})
    bad = distinct if numerator is None else numerator
    value = 1.0 - bad / denominator if denominator else 1.0
    kept = sorted(rows)[:MAX_OFFENDERS]
    return MetricResult(
        metric_id=spec.metric_id,
        entity_type=spec.entity_type,
        field=spec.field,
        category=spec.category,
        title=spec.title,
        description=spec.description,
        severity="info" if bad == 0 else (severity or spec.severity),
        value=round(max(0.0, min(1.0, value)), 6),
        numerator=bad,
        denominator=denominator,
        offenders=tuple(Offender(str(c), str(lb), str(d)) for c, lb, d in kept),
        truncated=len(rows) > MAX_OFFENDERS,
    )


def query_rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> list[tuple[str, str, str]]:
    """Offender rows of a query selecting canonical_id, label, detail."""
    return [(str(a), str(b), str(c)) for a, b, c in con.execute(sql, params or []).fetchall()]


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The single number a counting query returns (0 when it returns nothing)."""
    rows = con.execute(sql).fetchall()
    return int(rows[0][0] or 0) if rows else 0
