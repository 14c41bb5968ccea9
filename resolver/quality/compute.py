"""`compute_quality`: every metric over a trained workdir, the duplicate clusters, and one
score per entity type.

The score of an entity type is 100 × the weighted mean of its metrics' values (each the share
of records that pass), weighted by category: validity, uniqueness and consistency 3 (wrong
or duplicated records mislead the resolver), readiness 2, completeness 1 (a missing field
weakens evidence but misleads nobody). Cross-entity metrics belong to no single entity type
and are not scored; they are listed with their severity.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from resolver.quality.duplicates import duplicates
from resolver.quality.metrics_completeness import completeness
from resolver.quality.metrics_consistency import consistency
from resolver.quality.metrics_cross import cross_entity
from resolver.quality.metrics_readiness import readiness
from resolver.quality.metrics_uniqueness import uniqueness
from resolver.quality.metrics_validity import validity
from resolver.quality.source import Master, open_master
from resolver.quality.types import (
    CATEGORIES,
    SEVERITIES,
    Category,
    EntityQuality,
    MetricResult,
    QualityReport,
)

Progress = Callable[[str, int, int], None]
WEIGHTS: dict[Category, float] = {
    "validity": 3.0,
    "uniqueness": 3.0,
    "consistency": 3.0,
    "readiness": 2.0,
    "completeness": 1.0,
    "cross_entity": 0.0,
}
STEPS = (
    "loading", "completeness", "validity", "uniqueness", "duplicates", "consistency",
    "cross-entity", "readiness",
)  # fmt: skip


def compute_quality(
    workdir: Path,
    *,
    threshold: float | None = None,
    progress: Progress | None = None,
    data_dir: Path | None = None,
) -> QualityReport:
    """Measure the master behind a workdir's active model.

    `threshold` is the match probability at which batch dedupe links records into clusters
    (dedupe's default when None); the latest dedupe run is reused when it fits. `data_dir`
    overrides where the extracts are (by default the folder the model was trained on).
    `progress(step, done, total)` is called as each stage starts.
    """
    tick = progress or (lambda _s, _d, _t: None)
    timings: dict[str, float] = {}
    created = datetime.now(UTC)
    clock = time.perf_counter()

    def stage(k: int) -> None:
        nonlocal clock
        now = time.perf_counter()
        if k > 0:
            timings[STEPS[k - 1]] = round(now - clock, 3)
        clock = now
        if k < len(STEPS):
            tick(STEPS[k], k, len(STEPS))

    stage(0)
    master = open_master(workdir, data_dir)
    try:
        stage(1)
        metrics = completeness(master)
        stage(2)
        metrics += validity(master)
        stage(3)
        metrics += uniqueness(master)
        stage(4)
        found, clusters = duplicates(master, threshold, lambda msg: tick(msg, 4, len(STEPS)))
        metrics += found
        stage(5)
        metrics += consistency(master)
        stage(6)
        metrics += cross_entity(master)
        stage(7)
        metrics += readiness(master, lambda msg: tick(msg, 7, len(STEPS)))
        stage(8)
        entities = _entities(master, metrics)
    finally:
        master.con.close()
    tick("done", len(STEPS), len(STEPS))
    return QualityReport(
        run_id=f"{created:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}",
        created_at=created,
        workdir=str(workdir),
        model_version=master.model_version,
        entities=tuple(entities),
        metrics=tuple(_ordered(metrics, list(master.types))),
        clusters=tuple(sorted(clusters, key=lambda c: (-c.size, c.entity_type, c.cluster_id))),
        timings=timings,
    )


def score(metrics: list[MetricResult]) -> float:
    """0–100: the category-weighted mean of the metrics' values (see the module docstring)."""
    weights = [(WEIGHTS[m.category], m.value) for m in metrics if WEIGHTS[m.category] > 0]
    total = sum(w for w, _ in weights)
    if not total:
        return 100.0
    return round(100.0 * sum(w * v for w, v in weights) / total, 2)


def _entities(master: Master, metrics: list[MetricResult]) -> list[EntityQuality]:
    out = []
    for name in master.types:
        own = [m for m in metrics if m.entity_type == name]
        out.append(EntityQuality(name, master.records(name), score(own)))
    return out


def _ordered(metrics: list[MetricResult], types: list[str]) -> list[MetricResult]:
    """By entity type as the profile lists them (cross last), category, then id."""
    rank = {name: k for k, name in enumerate(types)}
    return sorted(
        metrics,
        key=lambda m: (
            rank.get(m.entity_type, len(rank)),
            CATEGORIES.index(m.category),
            m.metric_id,
        ),
    )


def worst(metrics: tuple[MetricResult, ...], count: int = 3) -> list[MetricResult]:
    """The metrics most in need of attention: highest severity, then lowest value."""
    found = [m for m in metrics if m.numerator > 0]
    return sorted(found, key=lambda m: (-SEVERITIES.index(m.severity), m.value))[:count]
