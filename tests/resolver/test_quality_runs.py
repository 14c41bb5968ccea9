"""Stored quality runs: the trend across runs, all-or-nothing saves, and readable errors."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from resolver import QualityError
from resolver.quality import (
    ClusterMember,
    ClusterPair,
    DuplicateCluster,
    EntityQuality,
    MetricResult,
    Offender,
    QualityReport,
    WaterfallStep,
    list_runs,
    load_run,
    save_run,
)
from resolver.quality.runs import runs_dir

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def make_report(run_id: str, when: datetime, invalid: int) -> QualityReport:
    metric = MetricResult(
        metric_id="supplier.validity.tax_id",
        entity_type="supplier",
        field="tax_id",
        category="validity",
        title="supplier valid tax id",
        description="Share of filled tax ids python-stdnum accepts.",
        severity="high" if invalid else "info",
        value=1 - invalid / 100,
        numerator=invalid,
        denominator=100,
        offenders=tuple(
            Offender(f"SA2::{k:06d}:01", f"Supplier {k}", "fails the CNPJ check digits")
            for k in range(invalid)
        ),
    )
    cluster = DuplicateCluster(
        cluster_id="supplier-00000001",
        entity_type="supplier",
        size=2,
        members=(
            ClusterMember("SA2::000001:01", {"name": "Acme Ltda", "tax_id": "11222333000181"}),
            ClusterMember("SA2::000002:01", {"name": "ACME LTDA.", "tax_id": ""}),
        ),
        pairs=(
            ClusterPair(
                "SA2::000001:01",
                "SA2::000002:01",
                0.99,
                6.6,
                ("tax_id",),
                (WaterfallStep("prior", None, -7.9), WaterfallStep("name: exact", "name", 14.5)),
            ),
        ),  # fmt: skip
    )
    return QualityReport(
        run_id=run_id,
        created_at=when,
        workdir="/w",
        model_version="protheus-x",
        entities=(EntityQuality("supplier", 100, 100.0 - invalid),),
        metrics=(metric,),
        clusters=(cluster,),
        timings={"validity": 0.5},
    )


def test_a_stored_run_reads_back_equal(tmp_path: Path) -> None:
    report = make_report("20260105T093000-a", T0, 3)
    save_run(tmp_path, report)
    assert load_run(tmp_path) == report
    assert load_run(tmp_path, report.run_id) == report


def test_the_trend_lists_runs_oldest_first_with_scores_and_values(tmp_path: Path) -> None:
    later = make_report("20260106T093000-b", T0 + timedelta(days=1), 1)
    earlier = make_report("20260105T093000-a", T0, 5)
    save_run(tmp_path, later)
    save_run(tmp_path, earlier)
    trend = list_runs(tmp_path)
    assert [r.run_id for r in trend] == [earlier.run_id, later.run_id]
    assert [r.scores["supplier"] for r in trend] == [95.0, 99.0]
    assert [r.values["supplier.validity.tax_id"] for r in trend] == [0.95, 0.99]
    assert load_run(tmp_path).run_id == later.run_id  # the latest


def test_a_failed_save_leaves_the_earlier_runs_as_they_were(tmp_path: Path) -> None:
    first = make_report("20260105T093000-a", T0, 2)
    save_run(tmp_path, first)
    # A value JSON has no form for fails the save after the report file is half written.
    broken = dataclasses.replace(
        make_report("20260106T093000-b", T0 + timedelta(days=1), 1),
        timings={"validity": object()},  # type: ignore[dict-item]
    )
    with pytest.raises(TypeError):
        save_run(tmp_path, broken)
    assert [r.run_id for r in list_runs(tmp_path)] == [first.run_id]
    assert load_run(tmp_path) == first
    assert [p.name for p in runs_dir(tmp_path).iterdir()] == [first.run_id]


def test_a_crashed_save_leaves_a_hidden_folder_that_nothing_reads(tmp_path: Path) -> None:
    first = make_report("20260105T093000-a", T0, 2)
    save_run(tmp_path, first)
    # What a process killed while writing leaves: a hidden temporary folder, half written.
    crashed = runs_dir(tmp_path) / ".tmp-crashed"
    crashed.mkdir()
    (crashed / "report.json").write_text('{"run_id": "20991231T0000', encoding="utf-8")
    assert [r.run_id for r in list_runs(tmp_path)] == [first.run_id]
    assert load_run(tmp_path) == first


def test_loading_without_runs_raises_quality_error(tmp_path: Path) -> None:
    with pytest.raises(QualityError, match="no quality run"):
        load_run(tmp_path)
    assert list_runs(tmp_path) == []


@pytest.mark.parametrize("run_id", ["nope", "../etc", ".tmp-x"])
def test_loading_an_unknown_run_raises_quality_error(tmp_path: Path, run_id: str) -> None:
    save_run(tmp_path, make_report("20260105T093000-a", T0, 0))
    with pytest.raises(QualityError, match="no quality run"):
        load_run(tmp_path, run_id)


def test_an_unreadable_run_raises_quality_error(tmp_path: Path) -> None:
    report = make_report("20260105T093000-a", T0, 0)
    save_run(tmp_path, report)
    (runs_dir(tmp_path) / report.run_id / "summary.json").write_text("{", encoding="utf-8")
    (runs_dir(tmp_path) / report.run_id / "report.json").write_text(
        json.dumps({"run_id": 1}), encoding="utf-8"
    )
    with pytest.raises(QualityError, match="unreadable"):
        list_runs(tmp_path)
    with pytest.raises(QualityError, match="unreadable"):
        load_run(tmp_path)


def test_a_run_id_is_stored_once(tmp_path: Path) -> None:
    report = make_report("20260105T093000-a", T0, 0)
    save_run(tmp_path, report)
    with pytest.raises(QualityError, match="already stored"):
        save_run(tmp_path, report)
    assert load_run(tmp_path) == report
