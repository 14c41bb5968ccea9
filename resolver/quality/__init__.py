"""Master-data quality: metrics per entity type and field over a trained workdir, duplicate
clusters from batch dedupe, a score per entity type, and stored runs for the trend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resolver.quality.runs import list_runs, load_run, save_run
from resolver.quality.types import (
    CATEGORIES,
    CROSS,
    MAX_OFFENDERS,
    SEVERITIES,
    Category,
    ClusterMember,
    ClusterPair,
    DuplicateCluster,
    EntityQuality,
    MetricResult,
    Offender,
    QualityReport,
    RunSummary,
    Severity,
    WaterfallStep,
)

if TYPE_CHECKING:
    from resolver.quality.compute import compute_quality, score, worst


def __getattr__(name: str) -> Any:
    """The computation (DuckDB, pandas, splink's dedupe) is imported on first use: reading
    stored runs and their types, as the dashboard does, needs none of it."""
    if name in ("compute_quality", "score", "worst"):
        from resolver.quality import compute

        value = getattr(compute, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'resolver.quality' has no attribute {name!r}")


__all__ = [
    "CATEGORIES",
    "CROSS",
    "MAX_OFFENDERS",
    "SEVERITIES",
    "Category",
    "ClusterMember",
    "ClusterPair",
    "DuplicateCluster",
    "EntityQuality",
    "MetricResult",
    "Offender",
    "QualityReport",
    "RunSummary",
    "Severity",
    "WaterfallStep",
    "compute_quality",
    "list_runs",
    "load_run",
    "save_run",
    "score",
    "worst",
]
