"""Halts for platform teams: where the resolver stops for a human, and what humans then say.

Per entity type and reason kind, how many resolutions halted (`ambiguous`, `no_match`); the
resolution requests still open and how long they have waited; how long people took to settle
them; and how often their pick was the model's top candidate — a model "right but unsure" (a
calibration opportunity) rather than wrong (a training opportunity).
"""

from __future__ import annotations

import re
import statistics
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.resolutions import DECIDED, HALTS, PENDING
from gateway.store.models import ResolutionRecord, ResolutionRequest

#: A halt's reason is a sentence with numbers and ids in it; its kind is what it says.
REASON_KINDS = (
    ("look-alike", "look-alike"),
    ("apart in match weight", "close runner-up"),
    ("below the threshold", "below threshold"),
    ("tax id belongs to another record", "tax id contradiction"),
    ("never `match`", "entity type halted"),
    ("a name alone never identifies", "name alone"),
    ("contradicts the best candidate", "tax id contradiction"),
    ("its name to another record", "name points elsewhere"),
    ("another entity type", "another entity type"),
    ("but no candidate fits", "tax id, no candidate"),
    ("no candidate", "no candidate"),
    ("no record of the master is close", "no candidate"),
)


class HaltCount(BaseModel):
    model_config = ConfigDict(frozen=True)

    entity_type: str
    decision: str
    reason: str
    count: int


class OpenRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    entity_type: str
    asked: str
    age_seconds: float
    escalated: bool


class HaltStats(BaseModel):
    """What the dashboard's halts page shows."""

    model_config = ConfigDict(frozen=True)

    resolutions: int
    halts: list[HaltCount]
    open_requests: list[OpenRequest]
    decided: int
    expired: int
    median_seconds_to_resolve: float | None
    p90_seconds_to_resolve: float | None
    picks: int
    picks_of_top_candidate: int
    new: int
    cannot_tell: int

    @property
    def top_candidate_share(self) -> float | None:
        """The share of picks that chose the model's top candidate (None: no pick yet)."""
        return self.picks_of_top_candidate / self.picks if self.picks else None


def reason_kind(reason: str) -> str:
    """The kind of a halt's reason sentence (the sentence itself carries numbers and ids)."""
    for needle, kind in REASON_KINDS:
        if needle in reason:
            return kind
    text = re.sub(r"\S*\d\S*", "#", reason).strip()
    return text[:60] or "unspecified"


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def halt_stats(session: Session, now: datetime) -> HaltStats:
    """The halts, open requests and human outcomes kept in the store."""
    total = session.scalar(select(func.count()).select_from(ResolutionRecord)) or 0
    counts: dict[tuple[str, str, str], int] = {}
    rows = session.execute(
        select(ResolutionRecord.entity_type, ResolutionRecord.decision, ResolutionRecord.reason)
        .where(ResolutionRecord.decision.in_(HALTS))
    ).tuples()  # fmt: skip
    for entity_type, decision, reason in rows:
        key = (entity_type or "any", decision, reason_kind(reason))
        counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    halts = [HaltCount(entity_type=e, decision=d, reason=r, count=n) for (e, d, r), n in ranked]
    requests = session.scalars(select(ResolutionRequest)).all()
    open_requests = sorted(
        (
            OpenRequest(
                id=r.id,
                entity_type=r.resolution.entity_type or "any",
                asked=" · ".join(str(v) for v in r.resolution.query.get("record", {}).values()),
                age_seconds=(now - r.created_at).total_seconds(),
                escalated=r.escalated_at is not None,
            )  # fmt: skip
            for r in requests
            if r.status == PENDING
        ),
        key=lambda o: -o.age_seconds,
    )
    decided = [r for r in requests if r.status == DECIDED and r.decided_at is not None]
    durations = [(r.decided_at - r.created_at).total_seconds() for r in decided if r.decided_at]
    picks = [r for r in decided if r.choice == "pick"]
    top = [
        r for r in picks
        if r.resolution.candidates and r.resolution.candidates[0]["canonical_id"] == r.canonical_id
    ]  # fmt: skip
    return HaltStats(
        resolutions=int(total), halts=halts, open_requests=open_requests, decided=len(decided),
        expired=sum(r.status == "expired" for r in requests),
        median_seconds_to_resolve=statistics.median(durations) if durations else None,
        p90_seconds_to_resolve=_percentile(durations, 0.9), picks=len(picks),
        picks_of_top_candidate=len(top), new=sum(r.choice == "new" for r in decided),
        cannot_tell=sum(r.choice == "cannot_tell" for r in decided),
    )  # fmt: skip
