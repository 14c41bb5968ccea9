"""The dashboard's table logic as pure functions: CSV quoting and formula guarding (Hypothesis),
and sorting by severity rank rather than by name."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.dashboard.tables import (
    FORMULA_STARTS,
    OffenderQuery,
    OffenderRow,
    csv_text,
    safe_cell,
    select_offenders,
)


def _row(label: str, severity: str = "low", detail: str = "") -> OffenderRow:
    return OffenderRow("m", "supplier", "name", "validity", severity, "SA2:1", label, detail)


@given(st.text(), st.text())
def test_any_text_survives_a_csv_round_trip(label: str, detail: str) -> None:
    label, detail = label.replace("\r", ""), detail.replace("\r", "")  # csv reads \r\n as \n
    text = csv_text([_row(label, detail=detail)], OffenderRow)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 1
    for sent, got in ((label, rows[0]["label"]), (detail, rows[0]["detail"])):
        assert got == (f"'{sent}" if sent.startswith(FORMULA_STARTS) else sent)


@pytest.mark.parametrize(("cell", "safe"), [
    pytest.param("=1+1", "'=1+1", id="equals"),
    pytest.param("+1", "'+1", id="plus"),
    pytest.param("-1", "'-1", id="minus"),
    pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
    pytest.param("\t=1", "'\t=1", id="tab"),
    pytest.param("ACME = 1", "ACME = 1", id="inside"),
    pytest.param(-1.5, -1.5, id="negative-number"),
])  # fmt: skip
def test_formula_like_cells_get_a_leading_quote(cell: object, safe: object) -> None:
    assert safe_cell(cell) == safe


def test_severity_sorts_by_rank() -> None:
    rows = [_row(s, s) for s in ("low", "critical", "info", "high", "medium")]
    ordered = select_offenders(rows, OffenderQuery(sort="severity", order="desc"))
    assert [r.severity for r in ordered] == ["critical", "high", "medium", "low", "info"]
