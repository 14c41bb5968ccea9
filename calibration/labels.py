"""Labelled outcomes: what a human (or the sample's simulated reviewer) said of a candidate.

One table, whatever the source — a steward's CSV or Parquet file, the store's `labels` table
(fed by the gateway from approval decisions), or `canon sample`'s `labels.csv`:

=============  ==========================  ==================================================
column         type                        meaning
=============  ==========================  ==================================================
entity_type    text, empty only when       the candidate's entity type (``supplier``, …)
               canonical_id is empty
query          text (JSON)                 the `ResolveQuery` the agent sent, as JSON
canonical_id   text or empty               the candidate labelled; empty = "no candidate of
                                           this query is right" (the query must halt)
match_weight   float or empty              the candidate's match weight the labeller saw
margin         float or empty              its gap to the runner-up, in bits (capped at 99)
label          ``correct`` | ``wrong``     the verdict; an empty canonical_id is always wrong
source         ``approval`` | ``steward``  where the label comes from (``resolution``: a person
               | ``resolution``            settled a halted resolution request)
               | ``simulated_reviewer``
labelled_at    ISO-8601 timestamp          when it was given (simulated labels: the epoch)
=============  ==========================  ==================================================

match_weight and margin record what the labeller saw; calibration re-scores every labelled query
with the active model (so features match what the resolver will compute), which is why both may
be empty. When one (query, canonical_id) pair is labelled twice, the latest label wins.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from calibration.errors import LabelError
from resolver import ResolveQuery
from resolver.atomic import atomic_write

LABEL_COLUMNS = (
    "entity_type",
    "query",
    "canonical_id",
    "match_weight",
    "margin",
    "label",
    "source",
    "labelled_at",
)
REQUIRED_COLUMNS = ("query", "label", "source", "labelled_at")

LabelValue = Literal["correct", "wrong"]
LabelSource = Literal["approval", "resolution", "steward", "simulated_reviewer"]


class Label(BaseModel):
    """One labelled outcome (a row of the labels table; see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity_type: str | None = None
    query: ResolveQuery
    canonical_id: str | None = None
    match_weight: float | None = None
    margin: float | None = None
    label: LabelValue
    source: LabelSource
    labelled_at: datetime

    @field_validator("query", mode="before")
    @classmethod
    def _query_from_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as e:
                raise ValueError(f"not valid JSON ({e.msg})") from e
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Label:
        if self.canonical_id is None and self.label != "wrong":
            raise ValueError("an empty canonical_id means no candidate is right: label is wrong")
        if self.canonical_id is not None and not self.entity_type:
            raise ValueError("entity_type is required with a canonical_id")
        return self

    @property
    def query_key(self) -> str:
        """The query's identity: its canonical JSON (two rows with equal queries are one)."""
        return query_key(self.query)

    def row(self) -> dict[str, str]:
        """The label as a row of text cells, in `LABEL_COLUMNS` order."""
        cells = {
            "entity_type": self.entity_type or "",
            "query": json.dumps(self.query.model_dump(mode="json"), ensure_ascii=False),
            "canonical_id": self.canonical_id or "",
            "match_weight": "" if self.match_weight is None else repr(self.match_weight),
            "margin": "" if self.margin is None else repr(self.margin),
            "label": self.label,
            "source": self.source,
            "labelled_at": self.labelled_at.isoformat(),
        }
        return {c: cells[c] for c in LABEL_COLUMNS}


def query_key(query: ResolveQuery) -> str:
    """A stable text key of a query: its JSON with sorted keys."""
    return json.dumps(query.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


def _cell(value: Any) -> Any:
    """Empty cells (CSV's "" and Parquet's NaN/None) become None; the rest stays as read."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _frame(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except FileNotFoundError as e:
        raise LabelError(f"{path}: file not found") from e
    except (UnicodeDecodeError, ValueError, OSError) as e:
        raise LabelError(f"{path}: cannot be read ({str(e).splitlines()[0]})") from e
    raise LabelError(f"{path}: labels must be a .csv or .parquet file")


def labels_from_records(records: Iterable[dict[str, Any]], source: str) -> list[Label]:
    """Labels from rows of the table (the store's `labels` rows, a CSV's, a Parquet file's);
    columns beyond `LABEL_COLUMNS` are ignored, and the first bad row is named in `source`."""
    labels = []
    for n, record in enumerate(records, start=1):
        cells = {c: _cell(record.get(c)) for c in LABEL_COLUMNS}
        try:
            labels.append(Label.model_validate({k: v for k, v in cells.items() if v is not None}))
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            raise LabelError(f"{source}: row {n}: {where}: {first['msg']}") from e
    return labels


def read_labels(path: Path) -> list[Label]:
    """Every label of a CSV or Parquet file; the first bad row is reported with its field."""
    frame = _frame(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise LabelError(f"{path}: missing column(s) {', '.join(missing)}")
    columns = [c for c in LABEL_COLUMNS if c in frame.columns]
    rows = (
        dict(zip(columns, values, strict=True))
        for values in frame[columns].itertuples(index=False, name=None)
    )
    return labels_from_records(rows, str(path))


def write_labels(path: Path, labels: Iterable[Label]) -> Path:
    """Write labels as CSV (UTF-8, header `LABEL_COLUMNS`), atomically: all or nothing."""
    with atomic_write(path, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LABEL_COLUMNS)
        writer.writeheader()
        writer.writerows(label.row() for label in labels)
    return path


ApprovalOutcome = Literal["approved", "rejected", "changed"]


def approval_labels(
    *,
    entity_type: str,
    query: ResolveQuery,
    proposed_id: str,
    outcome: ApprovalOutcome,
    reason: str | None = None,
    new_id: str | None = None,
    match_weight: float | None = None,
    margin: float | None = None,
    at: datetime | None = None,
) -> list[Label]:
    """The labels an approval decision implies (the gateway writes them to the store).

    Approved unchanged → the proposed target is correct; rejected with reason `wrong_entity` →
    it is wrong (other rejections say nothing about identity); the approver changed the target →
    the old one is wrong and the new one correct.
    """
    when = at or datetime.now(UTC)
    common: dict[str, Any] = {
        "entity_type": entity_type,
        "query": query,
        "source": "approval",
        "labelled_at": when,
    }
    seen = {"match_weight": match_weight, "margin": margin}
    if outcome == "approved":
        return [Label(canonical_id=proposed_id, label="correct", **seen, **common)]
    if outcome == "rejected":
        if reason != "wrong_entity":
            return []
        return [Label(canonical_id=proposed_id, label="wrong", **seen, **common)]
    if not new_id:
        raise LabelError("a changed target needs the new canonical id")
    return [
        Label(canonical_id=proposed_id, label="wrong", **seen, **common),
        Label(canonical_id=new_id, label="correct", **common),
    ]
