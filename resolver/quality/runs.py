"""Stored quality runs, the trend the dashboard draws:

    <workdir>/quality/runs/<run id>/summary.json   run id, time, score per entity type and
                                                   value per metric (what the trend reads)
    <workdir>/quality/runs/<run id>/report.json    the whole report (offenders, clusters)

A run is written into a hidden folder and renamed into place only when both files are
complete, so a crashed or failed save leaves the earlier runs exactly as they were; hidden
folders are never read. Run ids sort in time order.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from resolver.errors import QualityError
from resolver.quality.types import (
    ClusterMember,
    ClusterPair,
    DuplicateCluster,
    EntityQuality,
    MetricResult,
    Offender,
    QualityReport,
    RunSummary,
    WaterfallStep,
)

QUALITY = "quality"
RUNS = "runs"
SUMMARY = "summary.json"
REPORT = "report.json"
FORMAT = 1


def runs_dir(workdir: Path) -> Path:
    """Where a workdir's quality runs live."""
    return workdir / QUALITY / RUNS


def save_run(workdir: Path, report: QualityReport) -> None:
    """Store a run atomically: all of it becomes visible at once, or none of it."""
    home = runs_dir(workdir)
    home.mkdir(parents=True, exist_ok=True)
    final = home / report.run_id
    if final.exists():
        raise QualityError(f"{final}: a quality run with this id is already stored")
    tmp = Path(tempfile.mkdtemp(dir=home, prefix=".tmp-"))
    try:
        _write(tmp / REPORT, report_to_dict(report))
        _write(tmp / SUMMARY, summary_to_dict(summarise(report)))
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(home)


def list_runs(workdir: Path) -> list[RunSummary]:
    """Every stored run's scores and metric values, oldest first (the trend)."""
    out = []
    for run_dir in _run_dirs(workdir):
        try:
            raw = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
            out.append(summary_from_dict(raw))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise QualityError(f"{run_dir / SUMMARY}: unreadable quality run: {e}") from e
    return sorted(out, key=lambda r: (r.created_at, r.run_id))


def load_run(workdir: Path, run_id: str | None = None) -> QualityReport:
    """One stored run in full; the latest when `run_id` is None."""
    runs = _run_dirs(workdir)
    if not runs:
        raise QualityError(f"{workdir}: no quality run stored yet; run `canon quality` first")
    if run_id is None:
        run_dir = runs[-1]
    else:
        if "/" in run_id or run_id.startswith(".") or not (runs_dir(workdir) / run_id).is_dir():
            raise QualityError(f"{workdir}: no quality run {run_id!r}")
        run_dir = runs_dir(workdir) / run_id
    try:
        raw = json.loads((run_dir / REPORT).read_text(encoding="utf-8"))
        return report_from_dict(raw)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise QualityError(f"{run_dir / REPORT}: unreadable quality run: {e}") from e


def summarise(report: QualityReport) -> RunSummary:
    """The trend's view of a report."""
    return RunSummary(
        run_id=report.run_id,
        created_at=report.created_at,
        scores={e.entity_type: e.score for e in report.entities},
        values={m.metric_id: m.value for m in report.metrics},
    )


def _run_dirs(workdir: Path) -> list[Path]:
    home = runs_dir(workdir)
    if not home.is_dir():
        return []
    return sorted(p for p in home.iterdir() if p.is_dir() and not p.name.startswith("."))


def _write(path: Path, data: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- JSON forms ----------------------------------------------------------------------------


def summary_to_dict(summary: RunSummary) -> dict[str, Any]:
    """A run summary as JSON-ready data."""
    return {**asdict(summary), "format": FORMAT, "created_at": summary.created_at.isoformat()}


def summary_from_dict(raw: dict[str, Any]) -> RunSummary:
    """The inverse of `summary_to_dict`."""
    return RunSummary(
        run_id=str(raw["run_id"]),
        created_at=datetime.fromisoformat(raw["created_at"]),
        scores={str(k): float(v) for k, v in raw["scores"].items()},
        values={str(k): float(v) for k, v in raw["values"].items()},
    )


def report_to_dict(report: QualityReport) -> dict[str, Any]:
    """A report as JSON-ready data (tuples become lists)."""
    return {**asdict(report), "format": FORMAT, "created_at": report.created_at.isoformat()}


def report_from_dict(raw: dict[str, Any]) -> QualityReport:
    """The inverse of `report_to_dict`."""
    return QualityReport(
        run_id=str(raw["run_id"]),
        created_at=datetime.fromisoformat(raw["created_at"]),
        workdir=str(raw["workdir"]),
        model_version=raw.get("model_version"),
        entities=tuple(EntityQuality(**e) for e in raw["entities"]),
        metrics=tuple(_metric(m) for m in raw["metrics"]),
        clusters=tuple(_cluster(c) for c in raw["clusters"]),
        timings={str(k): float(v) for k, v in raw.get("timings", {}).items()},
    )


def _metric(raw: dict[str, Any]) -> MetricResult:
    offenders = tuple(Offender(**o) for o in raw["offenders"])
    return MetricResult(**{**raw, "offenders": offenders})


def _cluster(raw: dict[str, Any]) -> DuplicateCluster:
    return DuplicateCluster(
        cluster_id=raw["cluster_id"],
        entity_type=raw["entity_type"],
        size=int(raw["size"]),
        members=tuple(ClusterMember(m["canonical_id"], dict(m["fields"])) for m in raw["members"]),
        pairs=tuple(
            ClusterPair(
                left_id=p["left_id"],
                right_id=p["right_id"],
                match_probability=float(p["match_probability"]),
                match_weight=float(p["match_weight"]),
                differing_fields=tuple(p["differing_fields"]),
                waterfall=tuple(WaterfallStep(**s) for s in p["waterfall"]),
            )
            for p in raw["pairs"]
        ),
    )
