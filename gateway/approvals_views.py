"""What approvers see of a request: the queue row, and the detail with its business context.

The detail is built from the stored action and the ERP's current view of the target: the
entity's display name and canonical id, the amount with its currency, the dates, the agent's
reason and evidence, what each step will change (before -> after) and how each is undone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from gateway.approvals import valid_approvals
from gateway.erp.base import ErpRecord
from gateway.store import Action, Approval
from gateway.summary import format_money

NAME_FIELDS = ("display_name", "name", "title", "supplier_name", "number")


class ApprovalDecisionView(BaseModel):
    """One approver's decision, and whether it still counts (same payload as now)."""

    model_config = ConfigDict(frozen=True)

    approver: str
    decision: str
    reason: str
    comment: str
    channel: str
    payload_hash: str
    void: bool
    at: datetime


class ApprovalRequestView(BaseModel):
    """A request as the queue and `GET /v1/approvals` list it."""

    model_config = ConfigDict(frozen=True)

    id: str
    action_id: str
    action: str
    action_status: str
    status: str
    summary: str
    risk: str
    requested_by: str
    approvals_needed: int
    approvals_given: int
    decisions: list[ApprovalDecisionView]
    payload_hash: str
    flags: list[str]
    created_at: datetime
    expires_at: datetime | None
    escalated_at: datetime | None
    decided_at: datetime | None


class Change(BaseModel):
    """One field a step changes: what the ERP holds now and what it will hold."""

    model_config = ConfigDict(frozen=True)

    field: str
    before: str
    after: str


class StepPlan(BaseModel):
    """One step of the workflow: its ERP operation, its changes and its compensation."""

    model_config = ConfigDict(frozen=True)

    position: int
    name: str
    operation: str
    compensation: str | None
    status: str
    changes: list[Change]


class ApprovalDetails(BaseModel):
    """The business context of a request."""

    model_config = ConfigDict(frozen=True)

    entity_type: str
    canonical_id: str | None
    display_name: str
    amount: str | None
    dates: dict[str, str]
    reason: str
    evidence: list[str]
    record: dict[str, str]
    record_found: bool
    steps: list[StepPlan]
    compensation_plan: list[str]
    model_version: str | None
    calibration_version: str | None


class ApprovalDetailView(ApprovalRequestView):
    """A request with its business context (`GET /v1/approvals/{id}`, the portal's page)."""

    details: ApprovalDetails


def request_view(approval: Approval, action: Action) -> ApprovalRequestView:
    """The queue row of a request."""
    return ApprovalRequestView(
        id=approval.id,
        action_id=action.id,
        action=action.action_type,
        action_status=action.status,
        status=approval.status,
        summary=action.summary,
        risk=action.risk,
        requested_by=action.requested_by,
        approvals_needed=approval.required,
        approvals_given=len(valid_approvals(approval)),
        decisions=[
            ApprovalDecisionView(
                approver=d.approver,
                decision=d.decision,
                reason=d.reason,
                comment=d.comment,
                channel=d.channel,
                payload_hash=d.payload_hash,
                void=d.payload_hash != approval.payload_hash,
                at=d.created_at,
            )
            for d in approval.decisions
        ],  # fmt: skip
        payload_hash=approval.payload_hash,
        flags=[str(f) for f in action.flags],
        created_at=approval.created_at,
        expires_at=approval.expires_at,
        escalated_at=approval.escalated_at,
        decided_at=approval.decided_at,
    )


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return str(value)


def _display_name(action: Action, fields: dict[str, Any]) -> str:
    for name in NAME_FIELDS:
        if fields.get(name):
            return str(fields[name])
    if action.params.get("name"):
        return str(action.params["name"])
    return str(action.target.get("canonical_id") or action.target.get("entity_type"))


def _amount(fields: dict[str, Any], params: dict[str, Any]) -> str | None:
    for source in (params, fields):
        if source.get("amount") not in (None, ""):
            currency = source.get("currency") or fields.get("currency") or ""
            return f"{currency} {format_money(source['amount'])}".strip()
    return None


def _dates(fields: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    dates = {k: str(v) for k, v in fields.items() if k.endswith(("date", "_at")) and v}
    dates.update({f"{k} (new)": str(v) for k, v in params.items() if k.endswith("date") and v})
    return dates


def _step_changes(action: Action, fields: dict[str, Any]) -> dict[int, list[Change]]:
    """Each param goes to the step that names it, else to the first step."""
    by_step: dict[int, list[Change]] = {s.position: [] for s in action.steps}
    for param, value in action.params.items():
        owner = next(
            (s.position for s in action.steps if param in s.name or param in s.operation),
            action.steps[0].position if action.steps else 0,
        )
        change = Change(field=param, before=_text(fields.get(param)), after=_text(value))
        by_step.setdefault(owner, []).append(change)
    return by_step


def build_details(action: Action, record: ErpRecord | None) -> ApprovalDetails:
    """The business context of an action's request, given the ERP's view of its target."""
    fields = dict(record.fields) if record is not None else {}
    changes = _step_changes(action, fields)
    steps = [
        StepPlan(
            position=s.position, name=s.name, operation=s.operation,
            compensation=s.compensation, status=s.status, changes=changes.get(s.position, []),
        )
        for s in action.steps
    ]  # fmt: skip
    plan = [
        f"undo step {s.position + 1} ({s.name}) with {s.compensation}"
        if s.compensation
        else f"step {s.position + 1} ({s.name}) has no compensation: it cannot be undone"
        for s in reversed(action.steps)
    ]
    return ApprovalDetails(
        entity_type=str(action.target.get("entity_type")),
        canonical_id=action.target.get("canonical_id"),
        display_name=_display_name(action, fields),
        amount=_amount(fields, action.params),
        dates=_dates(fields, action.params),
        reason=str(action.context.get("reason", "")),
        evidence=[str(e) for e in action.context.get("evidence", [])],
        record={k: _text(v) for k, v in fields.items()},
        record_found=record is not None,
        steps=steps,
        compensation_plan=plan,
        model_version=action.target.get("model_version"),
        calibration_version=action.target.get("calibration_version"),
    )
