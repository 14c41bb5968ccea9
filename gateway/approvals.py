"""Approval requests and decisions: the rules every channel (API, portal, email, Slack) obeys.

Opened by the policy (one approver for high risk, two distinct ones for irreversible actions).
Who decides: approvers and admins, never the key that requested the action, and for a decider
limited to action types (`actions:<pattern>` scopes), only those. Each decision carries a reason
(`wrong_entity`, `wrong_amount`, `not_needed`, `other` with text) and is bound to the action's
payload hash: a decision made on another version is refused, and if the action changes, the
approvals given so far are void. One rejection rejects; a `wrong_entity` rejection, and a
full approval, become calibration labels of the (query, target) pair (`gateway.labels`).
A request past its expiry never executes: it is settled `expired`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase

from sqlalchemy.orm import Session

from gateway import audit
from gateway.errors import ApprovalError, Forbidden, InvalidParams
from gateway.keys import Principal, Role
from gateway.labels import add_label
from gateway.people import ACCOUNT_WINDOW, check_separation
from gateway.resolution_records import query_of
from gateway.store import Action, Approval, ApprovalDecision


class RejectReason(StrEnum):
    """Why an approver said no; `wrong_entity` feeds calibration and blocks promotion."""

    WRONG_ENTITY = "wrong_entity"
    WRONG_AMOUNT = "wrong_amount"
    NOT_NEEDED = "not_needed"
    OTHER = "other"


class InvalidDecision(InvalidParams, ApprovalError):
    """A decision whose reason or comment is missing or unknown (names the field)."""


APPROVED = "approved"
PENDING = "pending"
DECIDERS = (Role.APPROVER, Role.ADMIN)
MAX_COMMENT = 2000


def open_request(
    session: Session, action: Action, required: int, now: datetime, ttl: timedelta | None
) -> Approval:
    """Create the pending approval request of an action."""
    approval = Approval(
        id=str(uuid.uuid4()),
        action_id=action.id,
        required=required,
        status=PENDING,
        payload_hash=action.payload_hash,
        created_at=now,
        expires_at=now + ttl if ttl else None,
    )
    session.add(approval)
    return approval


def action_patterns(principal: Principal) -> list[str]:
    """The action types a decider is limited to (empty: every type)."""
    return [s.removeprefix("actions:") for s in principal.scopes if s.startswith("actions:")]


def may_decide(principal: Principal, action_type: str) -> bool:
    """Whether this principal's role and limits let it decide approvals of `action_type`."""
    if principal.role not in DECIDERS:
        return False
    patterns = action_patterns(principal)
    return not patterns or any(fnmatchcase(action_type, p) for p in patterns)


def is_expired(approval: Approval, now: datetime) -> bool:
    """Whether a pending request is past its expiry."""
    return approval.expires_at is not None and now >= approval.expires_at


def valid_approvals(approval: Approval) -> list[ApprovalDecision]:
    """The approvals given on the request's current payload (earlier ones are void)."""
    return [
        d
        for d in approval.decisions
        if d.decision == "approve" and d.payload_hash == approval.payload_hash
    ]


def _rebind(session: Session, approval: Approval, action: Action, now: datetime) -> None:
    """The action changed since the request opened: void what was approved, keep the history."""
    voided = len(valid_approvals(approval))
    before, approval.payload_hash = approval.payload_hash, action.payload_hash
    audit.append(
        session,
        "approval.voided",
        {"approval_id": approval.id, "voided_approvals": voided,
         "previous_payload_hash": before, "payload_hash": action.payload_hash},
        action_id=action.id,
        actor="gateway",
        now=now,
    )  # fmt: skip


def _check(
    session: Session,
    action: Action,
    approver: Principal,
    now: datetime,
    seen_hash: str | None,
) -> Approval:
    approval = action.approval
    if approver.role not in DECIDERS:
        raise Forbidden("only approvers and admins decide approvals")
    if approval is None:
        raise ApprovalError(f"action {action.id} is not waiting for approval ({action.status})")
    if approver.key_id == action.requested_by:
        raise Forbidden("the key that requested an action cannot approve it")
    if not may_decide(approver, action.action_type):
        raise Forbidden(f"this approver may not decide {action.action_type} actions")
    if approval.status != PENDING:
        raise ApprovalError(f"the approval is already {approval.status}")
    if is_expired(approval, now):
        raise ApprovalError("the approval request has expired")
    if approval.payload_hash != action.payload_hash:
        _rebind(session, approval, action, now)
    if seen_hash is not None and seen_hash != action.payload_hash:
        raise ApprovalError(
            "the action changed since this approver reviewed it; review it again",
            field="payload_hash",
        )
    if any(
        d.approver == approver.actor and d.payload_hash == approval.payload_hash
        for d in approval.decisions
    ):
        raise ApprovalError("this approver has already decided; a second approver is needed")
    return approval


def _reason_of(approve: bool, reason: str, comment: str) -> str:
    if len(comment) > MAX_COMMENT:
        raise InvalidDecision(f"a comment has at most {MAX_COMMENT} characters", field="comment")
    if approve:
        return APPROVED
    try:
        parsed = RejectReason(reason)
    except ValueError:
        known = ", ".join(r.value for r in RejectReason)
        raise InvalidDecision(
            f"unknown rejection reason {reason!r} ({known})", field="reason"
        ) from None
    if parsed is RejectReason.OTHER and not comment.strip():
        raise InvalidDecision("a rejection for `other` needs a comment", field="comment")
    return parsed.value


def record_decision(
    session: Session,
    action: Action,
    approver: Principal,
    approve: bool,
    reason: str,
    comment: str,
    now: datetime,
    *,
    seen_hash: str | None = None,
    channel: str = "api",
    account_window: timedelta = ACCOUNT_WINDOW,
) -> Approval:
    """Record one approver's decision; settle the request when it is complete or rejected.

    `seen_hash` is the payload hash the approver was shown (portal form, email link, Slack
    button); a decision on another version is refused.
    """
    approval = _check(session, action, approver, now, seen_hash)
    check_separation(
        session, action, approver.actor, valid_approvals(approval), now, account_window
    )
    reason = _reason_of(approve, reason, comment)
    decision = ApprovalDecision(
        approval_id=approval.id,
        approver=approver.actor,
        decision="approve" if approve else "reject",
        reason=reason,
        comment=comment,
        payload_hash=action.payload_hash,
        channel=channel,
        created_at=now,
    )
    approval.decisions.append(decision)
    approvals = len(valid_approvals(approval))
    if not approve:
        approval.status, action.status = "rejected", "rejected"
    elif approvals >= approval.required:
        approval.status, action.status = "approved", "approved"
    if approval.status != PENDING:
        approval.decided_at = action.updated_at = now
    if reason == RejectReason.WRONG_ENTITY or approval.status == "approved":
        _decision_label(session, action, approver, approval.status == "approved", now)
    session.flush()
    audit.append(
        session,
        "approval.decided",
        {"decision": decision.decision, "reason": reason, "comment": comment,
         "approvals": approvals, "required": approval.required, "status": approval.status,
         "channel": channel, "payload_hash": action.payload_hash},
        action_id=action.id,
        actor=approver.actor,
        now=now,
    )  # fmt: skip
    return approval


def expire(session: Session, action: Action, now: datetime) -> bool:
    """Settle a pending request past its expiry as `expired` (audited); False if it is not."""
    approval = action.approval
    if approval is None or approval.status != PENDING or not is_expired(approval, now):
        return False
    approval.status, action.status = "expired", "expired"
    approval.decided_at = action.updated_at = now
    audit.append(
        session,
        "approval.expired",
        {"approval_id": approval.id, "expires_at": approval.expires_at.isoformat()
         if approval.expires_at else None, "approvals": len(valid_approvals(approval)),
         "required": approval.required},
        action_id=action.id,
        actor="gateway",
        now=now,
    )  # fmt: skip
    return True


def _decision_label(
    session: Session, action: Action, approver: Principal, correct: bool, now: datetime
) -> None:
    """An approval says the target is the entity the agent meant; a `wrong_entity` rejection
    that it is not: a label of the (query, target) pair (`gateway.labels`)."""
    entity_type = str(action.target.get("entity_type"))
    canonical_id = action.target.get("canonical_id")
    if canonical_id is None:
        return  # a creation's target is a new identity: no pair to judge
    query = query_of(session, action.target) or {
        "entity_type": entity_type, "identity": action.target.get("identity", {}),
        "action": action.action_type,
    }  # fmt: skip
    add_label(session, entity_type=entity_type, query=query, canonical_id=str(canonical_id),
              verdict="correct" if correct else "wrong", source="approval", now=now,
              decided_by=approver.actor, action_id=action.id,
              request_id=action.target.get("request_id"))  # fmt: skip
