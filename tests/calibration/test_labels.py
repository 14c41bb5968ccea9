"""The labels table: CSV and Parquet round trips, bad rows named, approval decisions mapped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calibration import (
    LABEL_COLUMNS,
    Label,
    LabelError,
    approval_labels,
    labels_from_records,
    read_labels,
    write_labels,
)
from resolver import ResolveQuery

QUERY = ResolveQuery(id="q1", entity_type="supplier", record={"name": "Ação <Ltda>", "city": "SP"})
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def label(**changes: object) -> Label:
    values: dict[str, object] = {
        "entity_type": "supplier",
        "query": QUERY,
        "canonical_id": "SA2::000001:01",
        "match_weight": 12.5,
        "margin": 7.25,
        "label": "correct",
        "source": "steward",
        "labelled_at": AT,
    }
    values.update(changes)
    return Label.model_validate(values)


def test_csv_round_trip_keeps_every_field(tmp_path: Path):
    rows = [label(), label(canonical_id=None, label="wrong", match_weight=None, margin=None)]
    path = write_labels(tmp_path / "labels.csv", rows)
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(LABEL_COLUMNS)
    assert read_labels(path) == rows


def test_parquet_is_read_like_csv(tmp_path: Path):
    rows = [label(), label(canonical_id="SA2::000002:01", label="wrong", margin=None)]
    frame = pd.DataFrame([r.row() for r in rows])
    frame["match_weight"] = [12.5, 12.5]
    frame["margin"] = [7.25, None]
    frame["labelled_at"] = [AT, AT]
    frame["extra_store_column"] = [1, 2]  # the store's own id, say: ignored
    frame.to_parquet(tmp_path / "labels.parquet")
    assert read_labels(tmp_path / "labels.parquet") == rows


def test_query_identity_ignores_key_order():
    a = label(query='{"id": "q1", "entity_type": null, "record": {"city": "SP", "name": "X"}}')
    b = label(query='{"record": {"name": "X", "city": "SP"}, "entity_type": null, "id": "q1"}')
    assert a.query_key == b.query_key


@pytest.mark.parametrize(
    ("cell", "value", "message"),
    [
        pytest.param("label", "maybe", "row 1: label", id="bad-label"),
        pytest.param("source", "gut_feeling", "row 1: source", id="bad-source"),
        pytest.param("query", "{not json", "row 1: query", id="query-not-json"),
        pytest.param("query", '{"record": {}}', "row 1: query", id="empty-record"),
        pytest.param("labelled_at", "yesterday", "row 1: labelled_at", id="bad-time"),
        pytest.param("match_weight", "heavy", "row 1: match_weight", id="bad-weight"),
        pytest.param("entity_type", "", "entity_type is required", id="id-without-type"),
    ],
)
def test_a_bad_cell_is_reported_with_file_row_and_field(
    tmp_path: Path, cell: str, value: str, message: str
):
    row = label().row()
    row[cell] = value
    path = tmp_path / "labels.csv"
    pd.DataFrame([row]).to_csv(path, index=False)
    with pytest.raises(LabelError, match=message) as caught:
        read_labels(path)
    assert str(path) in str(caught.value)


def test_an_empty_candidate_cannot_be_correct(tmp_path: Path):
    row = label().row()
    row["canonical_id"] = ""
    pd.DataFrame([row]).to_csv(tmp_path / "l.csv", index=False)
    with pytest.raises(LabelError, match="no candidate is right"):
        read_labels(tmp_path / "l.csv")


def test_missing_columns_and_files_and_formats(tmp_path: Path):
    pd.DataFrame([{"query": "{}", "label": "correct"}]).to_csv(tmp_path / "l.csv", index=False)
    with pytest.raises(LabelError, match="missing column"):
        read_labels(tmp_path / "l.csv")
    with pytest.raises(LabelError, match="file not found"):
        read_labels(tmp_path / "absent.csv")
    (tmp_path / "l.txt").write_text("x", encoding="utf-8")
    with pytest.raises(LabelError, match=r"\.csv or \.parquet"):
        read_labels(tmp_path / "l.txt")


@pytest.mark.parametrize(
    ("outcome", "reason", "new_id", "expected"),
    [
        pytest.param("approved", None, None, [("SA2:old", "correct")], id="approved"),
        pytest.param("rejected", "wrong_entity", None, [("SA2:old", "wrong")], id="wrong-entity"),
        pytest.param("rejected", "too_expensive", None, [], id="rejected-other-reason"),
        pytest.param(
            "changed", None, "SA2:new", [("SA2:old", "wrong"), ("SA2:new", "correct")], id="changed"
        ),
    ],
)
def test_approval_decisions_become_labels(outcome, reason, new_id, expected):
    got = approval_labels(
        entity_type="supplier", query=QUERY, proposed_id="SA2:old", outcome=outcome,
        reason=reason, new_id=new_id, match_weight=11.0, at=AT,
    )  # fmt: skip
    assert [(g.canonical_id, g.label) for g in got] == expected
    assert all(g.source == "approval" and g.labelled_at == AT for g in got)


def test_a_changed_target_needs_the_new_id():
    with pytest.raises(LabelError, match="new canonical id"):
        approval_labels(entity_type="supplier", query=QUERY, proposed_id="x", outcome="changed")


def test_store_rows_become_labels_and_a_bad_one_names_the_source():
    row = {**label().row(), "id": 7, "labelled_at": AT, "margin": None, "match_weight": 3.5}
    (got,) = labels_from_records([row], "store labels")
    assert got == label(margin=None, match_weight=3.5)
    with pytest.raises(LabelError, match="store labels: row 2: label"):
        labels_from_records([row, {**row, "label": "unsure"}], "store labels")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.text(min_size=1).filter(lambda s: s.strip()),
    weight=st.none() | st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
def test_any_query_text_survives_the_csv_round_trip(tmp_path: Path, name: str, weight):
    query = ResolveQuery(id="q", entity_type="supplier", record={"name": name})
    rows = [label(query=query, match_weight=weight)]
    assert read_labels(write_labels(tmp_path / "h.csv", rows)) == rows
