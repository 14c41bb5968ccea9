"""Proposed actions: the request an agent sends, its validation, its stored form and its view."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.approvals import open_request
from gateway.audit import canonical_json
from gateway.catalog import ActionSpec, Catalog, Phase
from gateway.erp.base import ErpRecord
from gateway.errors import IdentityMismatch, TokenUsed
from gateway.params import ActionContext, validate_model
from gateway.policy import Outcome, RequireApproval, outcome_as_dict
from gateway.store import Action, UsedToken
from gateway.summary import render
from gateway.tokens import TOKEN_FIELD, TokenClaims, TokenSigner
from gateway.workflow import plan_steps

IdentityNormaliser = Callable[[dict[str, object]], Mapping[str, str | None]]

STATUS_BY_OUTCOME = {
    "execute": "approved",
    "shadow": "shadowed",
    "require_approval": "pending_approval",
    "reject": "rejected",
}


class TargetRef(BaseModel):
    """The action's target, named by a resolution token from `POST /v1/resolve`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolution_token: str | None = Field(default=None, max_length=4096)


class ActionRequest(BaseModel):
    """What an agent proposes: an action of the catalog on a resolved target."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "action": "purchase_order.close",
                    "target": {"resolution_token": "ct1.eyJ….sig"},
                    "params": {},
                    "context": {
                        "reason": "delivery confirmed by warehouse system on 2026-04-12",
                        "evidence": ["WMS receipt 88121"],
                    },
                    "idempotency_key": "close-po-2891-2026-04-12",
                }
            ]
        },
    )

    action: str = Field(min_length=1, max_length=100)
    target: TargetRef
    params: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any]
    idempotency_key: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")


def payload_hash(request: ActionRequest) -> str:
    """The hash that decides whether a repeated idempotency key repeats the same request."""
    body = request.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Proposal:
    """A request that passed validation: its spec, clean params and context, verified target."""

    request: ActionRequest
    spec: ActionSpec
    params: dict[str, Any]
    context: dict[str, Any]
    claims: TokenClaims


def validate_request(
    catalog: Catalog,
    signer: TokenSigner,
    normalise_identity: IdentityNormaliser,
    request: ActionRequest,
    requested_by: str,
) -> Proposal:
    """Check the action, params, context and token (issued to the key `requested_by`); raise the
    first GatewayError found."""
    spec = catalog.get(request.action)
    params = validate_model(catalog.params_model(spec.name), request.params, "params")
    context = validate_model(ActionContext, request.context, "context")
    claims = signer.verify(
        request.target.resolution_token,
        entity_type=spec.target.entity_type,
        kind=spec.target.resolution,
        bound_to=requested_by,
    )
    if spec.target.resolution == "no_match":
        _check_identity(spec, params, claims, normalise_identity)
    return Proposal(request, spec, params, context, claims)


def _check_identity(
    spec: ActionSpec,
    params: dict[str, Any],
    claims: TokenClaims,
    normalise_identity: IdentityNormaliser,
) -> None:
    """A creation must be for the identity the resolver searched for and did not find."""
    given = {key: params.get(pname) for key, pname in spec.target.identity.items()}
    normalised = normalise_identity({k: v for k, v in given.items() if v is not None})
    for key, pname in spec.target.identity.items():
        if given[key] is None:
            continue
        if normalised.get(key) != claims.identity.get(key):
            raise IdentityMismatch(
                f"params.{pname} does not match the identity the no_match token was issued for; "
                "resolve the new record's identity first",
                field=f"params.{pname}",
            )


def summary_of(
    proposal: Proposal, record: ErpRecord | None, flags: list[str], outcome: Outcome
) -> str:
    """The plain-language sentence for approvers, with any monitor's reason appended."""
    target = {
        "canonical_id": proposal.claims.canonical_id,
        "entity_type": proposal.claims.entity_type,
    }
    values = {
        "target": target,
        "params": proposal.params,
        "context": proposal.context,
        "record": record.fields if record is not None else {},
    }
    text = render(proposal.spec.approval_template, values)
    if isinstance(outcome, RequireApproval) and outcome.reasons:
        text += " — flagged for review: " + "; ".join(outcome.reasons)
    return text


def spend_token(session: Session, proposal: Proposal, action_id: str, now: datetime) -> None:
    """Record a single-use token's one use by `action_id` (nothing for reusable tokens); TokenUsed
    if it already named an action. A concurrent spender fails on the primary key at flush."""
    if not proposal.spec.target.single_use:
        return
    token_id = proposal.claims.token_id
    spender = spent_by(session, token_id)
    if spender is not None:
        raise token_used(spender)
    session.add(UsedToken(token_id=token_id, action_id=action_id, used_at=now))
    session.flush()


def token_used(action_id: str) -> TokenUsed:
    """The refusal of a single-use token that already named `action_id`."""
    return TokenUsed(
        f"this action needs a fresh resolution token; this one already named action {action_id}: "
        "resolve again",
        field=TOKEN_FIELD,
    )


def spent_by(session: Session, token_id: str) -> str | None:
    """The action a single-use token already named, if any."""
    used = session.get(UsedToken, token_id)
    return used.action_id if used is not None else None


def find_existing(session: Session, requested_by: str, idempotency_key: str) -> Action | None:
    """The action this key already submitted under this idempotency key, if any."""
    return session.scalars(
        select(Action).where(
            Action.requested_by == requested_by, Action.idempotency_key == idempotency_key
        )
    ).one_or_none()


def recent_count(session: Session, requested_by: str, since: datetime) -> int:
    """How many actions this key proposed since `since`."""
    query = select(func.count()).where(
        Action.requested_by == requested_by, Action.created_at >= since
    )
    return int(session.scalar(query) or 0)


def insert_action(
    session: Session,
    *,
    requested_by: str,
    proposal: Proposal,
    phase: Phase,
    outcome: Outcome,
    flags: list[str],
    summary: str,
    now: datetime,
    approval_ttl: timedelta | None,
) -> Action:
    """Store the action, its planned steps and (if needed) its approval request."""
    request = proposal.request
    action = Action(
        id=str(uuid.uuid4()),
        action_type=proposal.spec.name,
        status=STATUS_BY_OUTCOME[outcome.kind],
        requested_by=requested_by,
        idempotency_key=request.idempotency_key,
        payload_hash=payload_hash(request),
        target=proposal.claims.as_dict(),
        params=proposal.params,
        context=proposal.context,
        risk=proposal.spec.risk.value,
        phase=phase.value,
        outcome=outcome_as_dict(outcome),
        flags=flags,
        summary=summary,
        created_at=now,
        updated_at=now,
    )
    session.add(action)
    session.flush()
    spend_token(session, proposal, action.id, now)
    session.add_all(plan_steps(action, proposal.spec))
    if isinstance(outcome, RequireApproval):
        open_request(session, action, outcome.approvals, now, approval_ttl)
    session.flush()
    session.refresh(action)
    return action
