"""What `/v1/resolve` answered, kept: the query, the decision and its top candidates.

A halt (`ambiguous`, `no_match`) is what an agent puts to a person; a `match` is what an action
is later proposed on, and its record gives the approval's label the query it judges.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.keys import Principal
from gateway.store.models import ResolutionRecord, ResolutionRequest
from resolver.types import Resolution, ResolveQuery

#: Candidates kept per resolution: what a reviewer compares side by side.
KEPT_CANDIDATES = 5


def resolution_record(
    resolution_id: str,
    query: ResolveQuery,
    resolution: Resolution,
    principal: Principal,
    now: datetime,
) -> ResolutionRecord:
    """The row of one answer (the caller adds it to its transaction)."""
    return ResolutionRecord(
        id=resolution_id,
        decision=resolution.decision.value,
        entity_type=resolution.entity_type,
        canonical_id=resolution.canonical_id,
        reason=resolution.reason,
        query=query.model_dump(mode="json"),
        candidates=[c.model_dump(mode="json") for c in resolution.candidates[:KEPT_CANDIDATES]],
        query_identity=dict(resolution.query_identity),
        model_version=resolution.model_version,
        calibration_version=resolution.calibration_version,
        holder=principal.key_id,
        created_at=now,
    )


def query_of(session: Session, target: dict[str, Any]) -> dict[str, Any] | None:
    """The query an action's target (its token's claims) was resolved from, if it is kept."""
    request_id = target.get("request_id")
    if request_id:
        request = session.get(ResolutionRequest, str(request_id))
        if request is not None:
            return dict(request.resolution.query)
    token_id = target.get("token_id")
    record = session.get(ResolutionRecord, str(token_id)) if token_id else None
    return dict(record.query) if record is not None else None
