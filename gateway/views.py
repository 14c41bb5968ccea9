"""What the gateway shows of an action: its status, summary, approvals and steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from gateway.store import Action


class DecisionView(BaseModel):
    model_config = ConfigDict(frozen=True)

    approver: str
    decision: str
    reason: str
    comment: str
    at: datetime


class ApprovalView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    status: str
    approvals_needed: int
    expires_at: datetime | None
    decisions: list[DecisionView]


class StepView(BaseModel):
    model_config = ConfigDict(frozen=True)

    position: int
    name: str
    operation: str
    compensation: str | None
    status: str
    result: dict[str, Any] | None
    error: str | None


class ActionView(BaseModel):
    """An action's state as the agent and approvers see it."""

    model_config = ConfigDict(frozen=True)

    id: str
    action: str
    status: str
    summary: str
    risk: str
    phase: str
    outcome: dict[str, Any]
    flags: list[str]
    target: dict[str, Any]
    params: dict[str, Any]
    context: dict[str, Any]
    idempotency_key: str
    requested_by: str
    approval: ApprovalView | None
    steps: list[StepView]
    error: str | None
    created_at: datetime
    updated_at: datetime
    replayed: bool = False
    #: For a revert: the id of the action it undoes.
    reverts: str | None = None


def action_view(action: Action, *, replayed: bool = False) -> ActionView:
    """The view of a stored action (`replayed` when an idempotent retry returned it)."""
    approval = action.approval
    return ActionView(
        id=action.id,
        action=action.action_type,
        status=action.status,
        summary=action.summary,
        risk=action.risk,
        phase=action.phase,
        outcome=action.outcome,
        flags=list(action.flags),
        target={k: v for k, v in action.target.items() if k not in ("token_id", "issued_at")},
        params=action.params,
        context=action.context,
        idempotency_key=action.idempotency_key,
        requested_by=action.requested_by,
        approval=None
        if approval is None
        else ApprovalView(
            id=approval.id,
            status=approval.status,
            approvals_needed=approval.required,
            expires_at=approval.expires_at,
            decisions=[
                DecisionView(
                    approver=d.approver,
                    decision=d.decision,
                    reason=d.reason,
                    comment=d.comment,
                    at=d.created_at,
                )
                for d in approval.decisions
            ],
        ),  # fmt: skip
        steps=[
            StepView(
                position=s.position,
                name=s.name,
                operation=s.operation,
                compensation=s.compensation,
                status=s.status,
                result=s.result,
                error=s.error,
            )
            for s in action.steps
        ],  # fmt: skip
        error=action.error,
        created_at=action.created_at,
        updated_at=action.updated_at,
        replayed=replayed,
        reverts=action.reverts,
    )
