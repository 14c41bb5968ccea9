"""What the dashboard's pages show, built from a stored quality run and the runs before it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api.dashboard import figures
from api.dashboard.tables import SEVERITY_RANK
from resolver import ClusterPair, DuplicateCluster, MetricResult, QualityReport, RunSummary

WORST_SHOWN = 5
CLUSTERS_SHOWN = 3
#: Pairs of a cluster drawn as a waterfall (the weakest); a big cluster lists the rest.
PAIRS_CHARTED = 12


@dataclass(frozen=True)
class EntityCard:
    """An entity type's overview card."""

    entity_type: str
    records: int
    score: float
    previous: float | None
    sparkline: str
    worst: tuple[MetricResult, ...]
    clusters: int
    biggest: tuple[DuplicateCluster, ...]

    @property
    def delta(self) -> float | None:
        return None if self.previous is None else self.score - self.previous


@dataclass(frozen=True)
class Overview:
    """The dashboard's front page."""

    report: QualityReport
    runs: tuple[RunSummary, ...]
    cards: tuple[EntityCard, ...]
    charts: dict[str, str]
    metrics: tuple[MetricResult, ...]


def _badness(metric: MetricResult) -> tuple[int, float]:
    return (-SEVERITY_RANK.get(metric.severity, 0), metric.value)


def _card(report: QualityReport, runs: Sequence[RunSummary], entity_type: str) -> EntityCard:
    entity = report.entity(entity_type)
    failing = [m for m in report.metrics if m.entity_type == entity_type and m.numerator > 0]
    clusters = sorted((c for c in report.clusters if c.entity_type == entity_type),
                      key=lambda c: (-c.size, c.cluster_id))  # fmt: skip
    earlier = [r.scores[entity_type] for r in runs
               if r.run_id != report.run_id and entity_type in r.scores]  # fmt: skip
    return EntityCard(
        entity_type=entity_type, records=entity.records, score=entity.score,
        previous=earlier[-1] if earlier else None, sparkline=figures.sparkline(runs, entity_type),
        worst=tuple(sorted(failing, key=_badness)[:WORST_SHOWN]), clusters=len(clusters),
        biggest=tuple(clusters[:CLUSTERS_SHOWN]),
    )  # fmt: skip


def overview(report: QualityReport, runs: Sequence[RunSummary]) -> Overview:
    """The front page of a run: a card per entity type, the charts, every metric worst first."""
    runs = tuple(runs) or (_summary(report),)
    cards = tuple(_card(report, runs, e.entity_type) for e in report.entities)
    kinds = sorted({e.entity_type for e in report.entities}
                   | {m.entity_type for m in report.metrics}
                   | {kind for run in runs for kind in run.scores})  # fmt: skip
    charts = {
        "trend": figures.score_trend(runs, kinds),
        "categories": figures.metrics_by_category(report, kinds),
        "sizes": figures.cluster_sizes(report, kinds),
    }
    ordered = tuple(sorted(report.metrics, key=lambda m: (*_badness(m), m.metric_id)))
    return Overview(report, runs, cards, charts, ordered)


def _summary(report: QualityReport) -> RunSummary:
    """A run as the trend reads it, for a report not (yet) stored."""
    return RunSummary(report.run_id, report.created_at,
                      {e.entity_type: e.score for e in report.entities},
                      {m.metric_id: m.value for m in report.metrics})  # fmt: skip


@dataclass(frozen=True)
class PairView:
    """A scored pair of a cluster and its waterfall chart (empty when not drawn)."""

    left_id: str
    right_id: str
    match_probability: float
    match_weight: float
    differing_fields: tuple[str, ...]
    chart: str


@dataclass(frozen=True)
class ClusterView:
    """A cluster's page: members side by side, the fields on which they differ, every pair."""

    cluster: DuplicateCluster
    columns: tuple[str, ...]
    differing: frozenset[str]
    pairs: tuple[PairView, ...]


def _same(values: Sequence[str]) -> bool:
    return len({" ".join(v.casefold().split()) for v in values}) <= 1


def _pair_view(pair: ClusterPair, charted: bool) -> PairView:
    chart = figures.waterfall(pair) if charted else ""
    return PairView(pair.left_id, pair.right_id, pair.match_probability, pair.match_weight,
                    pair.differing_fields, chart)  # fmt: skip


def cluster_view(cluster: DuplicateCluster) -> ClusterView:
    """The page of one duplicate cluster."""
    columns: list[str] = []
    for member in cluster.members:
        columns += [name for name in member.fields if name not in columns]
    differing = frozenset(
        name for name in columns
        if not _same([m.fields.get(name, "") for m in cluster.members])
    )  # fmt: skip
    weakest = sorted(cluster.pairs, key=lambda p: (p.match_probability, p.left_id, p.right_id))
    pairs = tuple(_pair_view(p, charted=i < PAIRS_CHARTED) for i, p in enumerate(weakest))
    return ClusterView(cluster, tuple(columns), differing, pairs)


def find_cluster(report: QualityReport, cluster_id: str) -> DuplicateCluster | None:
    """The run's cluster of this id, if it has one."""
    return next((c for c in report.clusters if c.cluster_id == cluster_id), None)
