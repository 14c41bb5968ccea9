"""Approval requests and decisions: the minimum the gate needs to let a human say yes or no.

Opened by the policy (one approver for high risk, two distinct ones for irreversible actions);
a decision is bound to the action's payload hash; the requesting key can never decide its own
action; one rejection rejects; a `wrong_entity` rejection becomes a calibration label. Channels,
expiry and escalation build on this (portal, email, Slack).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from gateway import audit
from gateway.errors import ApprovalError, Forbidden
from gateway.keys import Principal, Role
from gateway.store import Action, Approval, ApprovalDecision, Label


class RejectReason(StrEnum):
    """Why an approver said no; `wrong_entity` feeds calibration and blocks promotion."""

    WRONG_ENTITY = "wrong_entity"
    WRONG_AMOUNT = "wrong_amount"
    NOT_NEEDED = "not_needed"
    OTHER = "other"


APPROVED = "approved"
DECIDERS = (Role.APPROVER, Role.ADMIN)


def open_request(
    session: Session, action: Action, required: int, now: datetime, ttl: timedelta | None
) -> Approval:
    """Create the pending approval request of an action."""
    approval = Approval(
        id=str(uuid.uuid4()),
        action_id=action.id,
        required=required,
        status="pending",
        payload_hash=action.payload_hash,
        created_at=now,
        expires_at=now + ttl if ttl else None,
    )
    session.add(approval)
    return approval


def _check(
    approval: Approval | None, action: Action, approver: Principal, now: datetime
) -> Approval:
    if approver.role not in DECIDERS:
        raise Forbidden("only approvers and admins decide approvals")
    if approval is None:
        raise ApprovalError(f"action {action.id} is not waiting for approval ({action.status})")
    if approver.key_id == action.requested_by:
        raise Forbidden("the key that requested an action cannot approve it")
    if approval.status != "pending":
        raise ApprovalError(f"the approval is already {approval.status}")
    if approval.expires_at is not None and now >= approval.expires_at:
        raise ApprovalError("the approval request has expired")
    if any(d.approver == approver.actor for d in approval.decisions):
        raise ApprovalError("this approver has already decided; a second approver is needed")
    if approval.payload_hash != action.payload_hash:
        raise ApprovalError("the action changed since approval was requested")
    return approval


def record_decision(
    session: Session,
    action: Action,
    approver: Principal,
    approve: bool,
    reason: str,
    comment: str,
    now: datetime,
) -> Approval:
    """Record one approver's decision; settle the request when it is complete or rejected."""
    approval = _check(action.approval, action, approver, now)
    if approve:
        reason = APPROVED
    else:
        try:
            reason = RejectReason(reason).value
        except ValueError:
            known = ", ".join(r.value for r in RejectReason)
            raise ApprovalError(
                f"unknown rejection reason {reason!r} ({known})", field="reason"
            ) from None
        if reason == RejectReason.OTHER and not comment.strip():
            raise ApprovalError("a rejection for `other` needs a comment", field="comment")
    decision = ApprovalDecision(
        approval_id=approval.id,
        approver=approver.actor,
        decision="approve" if approve else "reject",
        reason=reason,
        comment=comment,
        payload_hash=action.payload_hash,
        created_at=now,
    )
    approval.decisions.append(decision)
    approvals = sum(1 for d in approval.decisions if d.decision == "approve")
    if not approve:
        approval.status, action.status = "rejected", "rejected"
    elif approvals >= approval.required:
        approval.status, action.status = "approved", "approved"
    if approval.status != "pending":
        approval.decided_at = action.updated_at = now
    if reason == RejectReason.WRONG_ENTITY:
        session.add(_wrong_entity_label(action, now))
    session.flush()
    audit.append(
        session,
        "approval.decided",
        {"decision": decision.decision, "reason": reason, "comment": comment,
         "approvals": approvals, "required": approval.required, "status": approval.status},
        action_id=action.id,
        actor=approver.actor,
        now=now,
    )  # fmt: skip
    return approval


def _wrong_entity_label(action: Action, now: datetime) -> Label:
    return Label(
        entity_type=str(action.target.get("entity_type")),
        canonical_id=action.target.get("canonical_id"),
        query={"action": action.action_type, "identity": action.target.get("identity", {})},
        label=RejectReason.WRONG_ENTITY.value,
        source="approval",
        action_id=action.id,
        created_at=now,
    )
