"""Plain data of a master-data quality run: metrics, their offenders, duplicate clusters,
one score per entity type, and the run that holds them all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Severity = Literal["info", "low", "medium", "high", "critical"]
Category = Literal[
    "completeness", "validity", "uniqueness", "consistency", "cross_entity", "readiness"
]
#: Severities from mildest to worst (sorting, "worst metrics" first).
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
CATEGORIES: tuple[Category, ...] = (
    "completeness", "validity", "uniqueness", "consistency", "cross_entity", "readiness",
)  # fmt: skip
#: Offenders kept per metric; a metric with more says so with `truncated`.
MAX_OFFENDERS = 10_000
#: The entity type of metrics that span several entity types.
CROSS = "cross"


@dataclass(frozen=True)
class Offender:
    """One record a metric flags: its canonical id, display name, and what is wrong with it."""

    canonical_id: str
    label: str
    detail: str


@dataclass(frozen=True)
class MetricResult:
    """One metric of one entity type (or `cross`), with the records behind its value.

    `value` is a share in [0, 1] where higher is better (share valid, share complete, share
    not in a duplicate cluster…); `numerator` offending records of `denominator` checked.
    """

    metric_id: str
    entity_type: str
    field: str | None
    category: Category
    title: str
    description: str
    severity: Severity
    value: float
    numerator: int
    denominator: int
    offenders: tuple[Offender, ...]
    truncated: bool = False


@dataclass(frozen=True)
class ClusterMember:
    """A record of a duplicate cluster with its display (role) fields."""

    canonical_id: str
    fields: dict[str, str]


@dataclass(frozen=True)
class WaterfallStep:
    """One bar of a match-weight waterfall: the prior first, then one per comparison."""

    label: str
    field: str | None
    match_weight: float


@dataclass(frozen=True)
class ClusterPair:
    """A scored pair inside a cluster: splink's probability and weight, and why."""

    left_id: str
    right_id: str
    match_probability: float
    match_weight: float
    differing_fields: tuple[str, ...]
    waterfall: tuple[WaterfallStep, ...]


@dataclass(frozen=True)
class DuplicateCluster:
    """A cluster of batch dedupe with more than one record (its id is stable across runs)."""

    cluster_id: str
    entity_type: str
    size: int
    members: tuple[ClusterMember, ...]
    pairs: tuple[ClusterPair, ...]


@dataclass(frozen=True)
class EntityQuality:
    """The headline of one entity type: live records and a 0–100 score (see `scoring`)."""

    entity_type: str
    records: int
    score: float


@dataclass(frozen=True)
class QualityReport:
    """Everything one quality run found."""

    run_id: str
    created_at: datetime
    workdir: str
    model_version: str | None
    entities: tuple[EntityQuality, ...]
    metrics: tuple[MetricResult, ...]
    clusters: tuple[DuplicateCluster, ...]
    #: Seconds per stage of the run (loading, each metric family, dedupe, readiness).
    timings: dict[str, float] = field(default_factory=dict)

    def metric(self, metric_id: str) -> MetricResult:
        """The metric with this id (KeyError when the run has none)."""
        for m in self.metrics:
            if m.metric_id == metric_id:
                return m
        raise KeyError(metric_id)

    def entity(self, entity_type: str) -> EntityQuality:
        """The headline of one entity type (KeyError when absent)."""
        for e in self.entities:
            if e.entity_type == entity_type:
                return e
        raise KeyError(entity_type)


@dataclass(frozen=True)
class RunSummary:
    """One stored run as the trend reads it: scores per entity type, values per metric."""

    run_id: str
    created_at: datetime
    scores: dict[str, float]
    values: dict[str, float]
