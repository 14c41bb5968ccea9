"""Master-data quality: metrics per entity type and field over a trained workdir, duplicate
clusters from batch dedupe, a score per entity type, and stored runs for the trend."""

from __future__ import annotations

from resolver.quality.compute import compute_quality, score, worst
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
