"""Every human decision on an identity, as a row of the store's `labels` table.

Rows carry the pair they judge in the columns `canon calibrate` reads (`calibration.labels`):
the agent's query as it was resolved (a `ResolveQuery`), the candidate's canonical id (none: no
candidate of the query is right), the verdict `correct` or `wrong`, its source (`resolution`:
a person settled a halt; `approval`: an approver approved, or rejected as `wrong_entity`), who
decided and when. `label_rows` reads them back as that table's rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store import Label

Verdict = Literal["correct", "wrong"]


def add_label(
    session: Session,
    *,
    entity_type: str,
    query: dict[str, Any],
    canonical_id: str | None,
    verdict: Verdict,
    source: str,
    now: datetime,
    decided_by: str | None = None,
    action_id: str | None = None,
    request_id: str | None = None,
) -> Label:
    """Add one label to the caller's transaction."""
    label = Label(
        entity_type=entity_type, canonical_id=canonical_id, query=query, label=verdict,
        source=source, action_id=action_id, created_at=now, decided_by=decided_by,
        request_id=request_id,
    )  # fmt: skip
    session.add(label)
    return label


def label_rows(session: Session) -> list[dict[str, Any]]:
    """The store's labels as rows of the calibration labels table (oldest first); rows whose
    query was not kept (decisions on tokens from before queries were recorded) are left out."""
    rows = []
    for label in session.scalars(select(Label).order_by(Label.id)):
        if not isinstance(label.query.get("record"), dict) or label.label not in (
            "correct",
            "wrong",
        ):
            continue
        rows.append(
            {
                "entity_type": label.entity_type, "query": label.query,
                "canonical_id": label.canonical_id, "label": label.label,
                "source": label.source, "labelled_at": label.created_at,
            }
        )  # fmt: skip
    return rows
