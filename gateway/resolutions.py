"""Resolution requests: a person settles a halted resolution, and the waiting agent gets a token.

An agent that got `ambiguous` (or `no_match` for a record it believes exists) opens a request on
that answer (its `resolution_id`, or its `no_match` token) with its business context. A person
holding the `resolver` scope (approvers, stewards and admins may hold it; agents never) picks one
candidate, says "none of these — it is new", or "cannot tell". A pick yields a `human` token
bound to the chosen record (accepted wherever a `match` token is), "new" a `no_match` token on the
queried identity; both name who decided. The chosen record is read from the ERP again before the
pick is recorded: one deleted or merged meanwhile is refused (the request stays open).
Idempotent per (agent key, idempotency key); expiring; escalating; audited; every pick and "new"
becomes a label of the pair it judges (`gateway.labels`).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from gateway import audit
from gateway.audit import canonical_json
from gateway.erp.base import ErpRecord
from gateway.errors import ApprovalError, Forbidden, IdempotencyConflict
from gateway.keys import Principal, Role
from gateway.labels import add_label
from gateway.params import ActionContext
from gateway.store.models import ResolutionRecord, ResolutionRequest
from gateway.tokens import TokenClaims, TokenSigner

RESOLVER_SCOPE = "resolver"
RESOLVER_ROLES = (Role.APPROVER, Role.STEWARD, Role.ADMIN)
HALTS = ("ambiguous", "no_match")
PENDING, DECIDED, EXPIRED = "pending", "decided", "expired"
NEW, CANNOT_TELL = "new", "cannot_tell"
Choice = Literal["pick", "new", "cannot_tell"]


class ResolutionRefused(ApprovalError):
    """A resolution request or decision that cannot be recorded (409, names the field)."""


class RecordGone(ResolutionRefused):
    """The chosen record is no longer in the ERP (deleted, or merged into another)."""


class OpenRequest(BaseModel):
    """`POST /v1/resolution-requests`: which halt, and why the agent needs it settled."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "resolution_id": "4f1c2a9e0b7d4e6f8a1b2c3d4e5f6a7b",
                    "context": {"reason": "invoice 4711 names this supplier; block it"},
                    "idempotency_key": "block-4711",
                }
            ]
        },
    )

    resolution_id: str | None = Field(default=None, min_length=1, max_length=36)
    resolution_token: str | None = Field(default=None, min_length=1, max_length=4096)
    context: ActionContext
    idempotency_key: str = Field(min_length=1, max_length=200)
    callback_url: str | None = Field(
        default=None, min_length=1, max_length=2000,
        description="Called (signed, as action webhooks) once a person has decided",
    )  # fmt: skip

    @model_validator(mode="after")
    def _one_reference(self) -> OpenRequest:
        if (self.resolution_id is None) == (self.resolution_token is None):
            raise ValueError("give resolution_id or resolution_token (one of them)")
        return self


class ResolveDecision(BaseModel):
    """A person's word on a request: one candidate, `new`, or `cannot_tell`."""

    model_config = ConfigDict(extra="forbid")

    choice: Choice
    canonical_id: str | None = Field(default=None, min_length=1, max_length=200)
    comment: str = Field(default="", max_length=2000)
    payload_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _pick_names_one(self) -> ResolveDecision:
        if (self.choice == "pick") != (self.canonical_id is not None):
            raise ValueError("canonical_id is given with choice `pick`, and only then")
        return self


class CandidateView(BaseModel):
    """One candidate as reviewers compare them."""

    model_config = ConfigDict(frozen=True)

    canonical_id: str
    display: dict[str, str | None]
    probability: float
    match_weight: float
    explanation: list[dict[str, Any]]


class ResolutionRequestView(BaseModel):
    """A request: the query, the candidates side by side, and the outcome once decided."""

    model_config = ConfigDict(frozen=True)

    id: str
    resolution_id: str
    status: str
    entity_type: str | None
    halt: str
    halt_reason: str
    query: dict[str, Any]
    context: dict[str, Any]
    candidates: list[CandidateView]
    columns: list[str]
    differing: list[str]
    top_candidate: str | None
    requested_by: str
    payload_hash: str
    choice: str | None
    canonical_id: str | None
    decided_by: str | None
    channel: str | None
    comment: str
    note: str | None = None
    created_at: datetime
    expires_at: datetime | None
    escalated_at: datetime | None
    decided_at: datetime | None
    replayed: bool = False
    resolution_token: str | None = Field(
        default=None, description="For the requesting agent once decided (pick or new)"
    )


def may_resolve(principal: Principal) -> bool:
    """Whether this principal may settle resolution requests."""
    return principal.role in RESOLVER_ROLES and RESOLVER_SCOPE in principal.scopes


def request_hash(resolution: ResolutionRecord) -> str:
    """What reviewers are shown: the halt and its candidates (links and buttons are bound to it)."""
    ids = [c["canonical_id"] for c in resolution.candidates]
    body = canonical_json({"resolution": resolution.id, "candidates": ids})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _payload_hash(body: OpenRequest, resolution_id: str) -> str:
    data = body.model_dump(mode="json", exclude={"idempotency_key", "resolution_token"})
    data["resolution_id"] = resolution_id
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def _same(values: list[str]) -> bool:
    return len({" ".join(v.casefold().split()) for v in values}) <= 1


def request_view(
    request: ResolutionRequest, signer: TokenSigner | None = None
) -> ResolutionRequestView:
    """The view of a request; with `signer`, the decided token is signed into it (the caller
    gives a signer only to the requesting agent)."""
    resolution = request.resolution
    candidates = [
        CandidateView(
            canonical_id=str(c["canonical_id"]),
            display={str(k): None if v is None else str(v) for k, v in c["display"].items()},
            probability=float(c["probability"]),
            match_weight=float(c["match_weight"]),
            explanation=list(c.get("explanation", [])),
        )
        for c in resolution.candidates
    ]
    columns: list[str] = []
    for c in candidates:
        columns += [k for k in c.display if k not in columns]
    differing = [
        k for k in columns if len(candidates) > 1
        and not _same([c.display.get(k) or "" for c in candidates])
    ]  # fmt: skip
    token = None
    if signer is not None and request.token_claims:
        token = signer.encode(TokenClaims(**request.token_claims))
    return ResolutionRequestView(
        id=request.id, resolution_id=resolution.id, status=request.status,
        entity_type=resolution.entity_type, halt=resolution.decision,
        halt_reason=resolution.reason, query=dict(resolution.query.get("record", {})),
        context=dict(request.context), candidates=candidates, columns=columns,
        differing=differing, top_candidate=candidates[0].canonical_id if candidates else None,
        requested_by=request.requested_by, payload_hash=request_hash(resolution),
        choice=request.choice, canonical_id=request.canonical_id, decided_by=request.decided_by,
        channel=request.channel, comment=request.comment or "", note=request.note,
        created_at=request.created_at, expires_at=request.expires_at,
        escalated_at=request.escalated_at, decided_at=request.decided_at,
        resolution_token=token,
    )  # fmt: skip


def open_request(
    session: Session,
    principal: Principal,
    body: OpenRequest,
    resolution: ResolutionRecord,
    now: datetime,
    ttl: timedelta | None,
) -> tuple[ResolutionRequest, bool]:
    """Open (or, for a repeated idempotency key with the same payload, find) the request on a
    halt; the bool says whether it was a replay. Audited."""
    if principal.role is not Role.AGENT or resolution.holder != principal.key_id:
        raise Forbidden("only the agent key that resolved may ask a person to settle it")
    if resolution.decision not in HALTS:
        raise ResolutionRefused(
            f"this resolution is a {resolution.decision}, not a halt: nothing to settle",
            field="resolution_id",
        )
    digest = _payload_hash(body, resolution.id)
    existing = (
        session.query(ResolutionRequest)
        .filter_by(requested_by=principal.key_id, idempotency_key=body.idempotency_key)
        .one_or_none()
    )
    if existing is not None:
        if existing.payload_hash != digest:
            raise IdempotencyConflict(
                "this idempotency key was already used with another request",
                field="idempotency_key",
            )
        return existing, True
    request = ResolutionRequest(
        id=str(uuid.uuid4()), resolution_id=resolution.id, requested_by=principal.key_id,
        idempotency_key=body.idempotency_key, payload_hash=digest,
        context=body.context.model_dump(mode="json"), status=PENDING, comment="",
        created_at=now, expires_at=now + ttl if ttl else None, callback_url=body.callback_url,
        callback_status="waiting" if body.callback_url else None, callback_attempts=0,
    )  # fmt: skip
    request.resolution = resolution
    session.add(request)
    session.flush()
    audit.append(session, "resolution.requested",
                 {"request_id": request.id, "resolution_id": resolution.id,
                  "halt": resolution.decision, "entity_type": resolution.entity_type,
                  "candidates": [c["canonical_id"] for c in resolution.candidates],
                  "context": request.context, "callback_url": body.callback_url},
                 actor=principal.actor, now=now)  # fmt: skip
    return request, False


def check_decision(
    request: ResolutionRequest,
    principal: Principal,
    decision: ResolveDecision,
    now: datetime,
) -> None:
    """Refuse what may not be decided: wrong scope, own request, settled, expired, stale view,
    a pick outside the candidates."""
    if not may_resolve(principal):
        raise Forbidden("settling resolution requests needs the `resolver` scope")
    if principal.key_id == request.requested_by:
        raise Forbidden("the key that asked cannot settle its own request")
    if request.status != PENDING:
        raise ResolutionRefused(f"the request is already {request.status}")
    if request.expires_at is not None and now >= request.expires_at:
        raise ResolutionRefused("the resolution request has expired")
    if decision.payload_hash is not None and decision.payload_hash != request_hash(
        request.resolution
    ):
        raise ResolutionRefused("the request is not the one you reviewed", field="payload_hash")
    ids = [str(c["canonical_id"]) for c in request.resolution.candidates]
    if decision.choice == "pick" and decision.canonical_id not in ids:
        raise ResolutionRefused(
            f"{decision.canonical_id!r} is not a candidate of this request ({', '.join(ids)})",
            field="canonical_id",
        )
    if decision.choice == NEW and request.resolution.entity_type is None:
        raise ResolutionRefused("a halt without an entity type cannot be settled as new",
                                field="choice")  # fmt: skip


def check_record(request: ResolutionRequest, canonical_id: str, record: ErpRecord | None) -> str:
    """The ERP's current word on a picked record: refused when gone; a note when blocked."""
    if record is None or record.deleted:
        raise RecordGone(
            f"{canonical_id} is no longer in the ERP (deleted or merged into another record): "
            "pick another candidate, or `new`",
            field="canonical_id",
        )
    if record.fields.get("blocked") in (True, "1", "true"):
        return f"{canonical_id} is blocked in the ERP"
    return ""


def record_decision(
    session: Session,
    request: ResolutionRequest,
    principal: Principal,
    decision: ResolveDecision,
    now: datetime,
    signer: TokenSigner,
    channel: str,
    note: str = "",
) -> ResolutionRequest:
    """Settle the request (checked first), keep the token's claims, write labels, audit."""
    check_decision(request, principal, decision, now)
    resolution = request.resolution
    entity_type = str(resolution.entity_type or "")
    claims = None
    if decision.choice == "pick":
        claims = signer.human(kind="human", entity_type=entity_type,
                              canonical_id=decision.canonical_id, identity={},
                              model_version=resolution.model_version,
                              calibration_version=resolution.calibration_version,
                              holder=request.requested_by, decided_by=principal.actor,
                              request_id=request.id)  # fmt: skip
    elif decision.choice == NEW:
        claims = signer.human(kind="no_match", entity_type=entity_type, canonical_id=None,
                              identity=dict(resolution.query_identity),
                              model_version=resolution.model_version,
                              calibration_version=resolution.calibration_version,
                              holder=request.requested_by, decided_by=principal.actor,
                              request_id=request.id)  # fmt: skip
    request.status, request.choice = DECIDED, decision.choice
    request.canonical_id = decision.canonical_id
    request.decided_by, request.decided_at, request.channel = principal.actor, now, channel
    request.comment, request.note = decision.comment, note or None
    request.token_claims = claims.as_dict() if claims is not None else None
    request.callback_next_at = now if request.callback_url else None
    _labels(session, request, principal, now)
    session.flush()
    audit.append(session, "resolution.decided",
                 {"request_id": request.id, "choice": decision.choice,
                  "canonical_id": decision.canonical_id, "comment": decision.comment,
                  "channel": channel, "note": note or None,
                  "top_candidate": (resolution.candidates or [{}])[0].get("canonical_id"),
                  "token_issued": claims is not None},
                 actor=principal.actor, now=now)  # fmt: skip
    return request


def _labels(
    session: Session, request: ResolutionRequest, principal: Principal, now: datetime
) -> None:
    """A pick: the chosen pair is correct and every other candidate wrong; `new`: the query
    has no right candidate; `cannot tell` says nothing."""
    resolution = request.resolution
    common: dict[str, Any] = {
        "entity_type": str(resolution.entity_type or ""), "query": dict(resolution.query),
        "source": "resolution", "now": now, "decided_by": principal.actor,
        "request_id": request.id,
    }  # fmt: skip
    if request.choice == "pick":
        for c in resolution.candidates:
            right = c["canonical_id"] == request.canonical_id
            add_label(session, canonical_id=str(c["canonical_id"]),
                      verdict="correct" if right else "wrong", **common)  # fmt: skip
    elif request.choice == NEW:
        add_label(session, canonical_id=None, verdict="wrong", **common)


def expire(session: Session, request: ResolutionRequest, now: datetime) -> bool:
    """Settle a pending request past its expiry as `expired` (audited); False if it is not."""
    if request.status != PENDING or request.expires_at is None or now < request.expires_at:
        return False
    request.status, request.decided_at = EXPIRED, now
    request.callback_next_at = now if request.callback_url else None
    audit.append(session, "resolution.expired",
                 {"request_id": request.id, "expires_at": request.expires_at.isoformat()},
                 actor="gateway", now=now)  # fmt: skip
    return True
