"""Reverting a succeeded action on request (`POST /v1/actions/{id}/revert`).

A revert is a new action, linked to the original (`actions.reverts`), of the same action type:
it goes through the gate like any write (its risk class is the catalog's `revert_risk`, by
default the original's; it always waits for a human, and the key that asked for it cannot
approve it), and runs as a durable workflow whose steps are the original's compensations in
reverse step order. Each revert step carries what the original step left on the record (the
catalog's `leaves`, with the original's params): before calling the ERP the runner reads the
record and, if it no longer holds that, stops the revert in `needs_attention` with the
difference; it never overwrites a newer change.

What cannot be reverted is answered clearly: an action that has not succeeded (failed,
compensated, still waiting, ...), an action already reverted (or being reverted), and a revert.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.approvals import open_request
from gateway.audit import canonical_json
from gateway.catalog import LEAVES_PARAM, ActionSpec, Phase, StepSpec
from gateway.erp.base import ErpRecord
from gateway.errors import AlreadyReverted, NotRevertible, RevertOfRevert
from gateway.policy import RequireApproval, outcome_as_dict
from gateway.store import Action, WorkflowStep

#: Statuses of a revert that leave nothing done: another revert may be proposed after them.
SETTLED_WITHOUT_EFFECT = ("rejected", "expired", "failed")
#: The key of a revert step's params holding what the original step left on the record.
EXPECT = "expect"


@dataclass(frozen=True)
class RevertStep:
    """One step of a revert: the compensation of an original step, and what to check first."""

    original_position: int
    name: str
    operation: str
    undoes: str
    result: dict[str, Any]
    expect: dict[str, Any]

    def describe(self, record_label: str) -> str:
        verb = self.operation.partition(".")[2].replace("_", " ")
        checks = ", ".join(f"{k} = {v!r}" for k, v in self.expect.items())
        check = f" (first checking the record still holds {checks})" if checks else ""
        joint = " " if " " not in verb else " of "
        return f"{verb}{joint}{record_label}{check}"


@dataclass(frozen=True)
class RevertPlan:
    """What reverting an action would do, in order, and the sentence an approver reads."""

    original_id: str
    action_type: str
    canonical_id: str | None
    steps: tuple[RevertStep, ...]
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "reverts": self.original_id,
            "action": self.action_type,
            "canonical_id": self.canonical_id,
            "plan": self.sentence,
            "steps": [
                {"undoes_step": s.original_position, "name": s.name, "operation": s.operation,
                 "expect": s.expect}
                for s in self.steps
            ],
        }  # fmt: skip


@dataclass(frozen=True)
class RevertCard:
    """What an action's page says about reverting it: the plan (or why it cannot be), the
    revert already asked for, or, for a revert, the action it undoes."""

    plan: RevertPlan | None = None
    why_not: str | None = None
    revert_id: str | None = None
    revert_status: str | None = None
    revert_approval_id: str | None = None
    reverts: str | None = None
    reverts_approval_id: str | None = None


def expected_values(step: StepSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """What `step` leaves on the record, its `{params.<name>}` values filled from `params`."""
    expected: dict[str, Any] = {}
    for role, value in step.leaves.items():
        ref = LEAVES_PARAM.fullmatch(value) if isinstance(value, str) else None
        expected[role] = params.get(ref.group(1)) if ref is not None else value
    return expected


def _same(left: Any, now: Any) -> bool:
    if isinstance(left, bool) or isinstance(now, bool):
        return bool(now) is bool(left) if now is not None else left is False
    if left is None or now is None:
        return left is None and now is None
    if isinstance(left, int | float) and not isinstance(now, bool):
        try:
            return float(left) == float(now)
        except (TypeError, ValueError):
            return False
    return str(left).strip() == str(now).strip()


def differences(expect: Mapping[str, Any], record: ErpRecord | None) -> list[dict[str, Any]]:
    """How the record differs from what a step left: one entry per field (or the record
    itself when it is gone). Empty when the record still holds it. A role the ERP does not keep
    at all (absent from the record, e.g. an IBAN where a Protheus installation keeps bank,
    branch and account) cannot differ; a role it keeps empty (None) can."""
    if record is None or record.deleted:
        now = "missing" if record is None else "deleted"
        return [{"field": "(record)", "left": "live", "now": now}]
    return [
        {"field": role, "left": value, "now": record.fields.get(role)}
        for role, value in expect.items()
        if role in record.fields and not _same(value, record.fields.get(role))
    ]


def describe_differences(found: list[dict[str, Any]]) -> str:
    return "; ".join(f"{d['field']}: left {d['left']!r}, now {d['now']!r}" for d in found)


def created_id(action: Action) -> str | None:
    for step in action.steps:
        if step.result and step.result.get("canonical_id"):
            return str(step.result["canonical_id"])
    return None


def find_revert(session: Session, original_id: str) -> Action | None:
    """The revert of an action that is proposed, running or done (not one that did nothing)."""
    return session.scalars(
        select(Action)
        .where(Action.reverts == original_id, Action.status.not_in(SETTLED_WITHOUT_EFFECT))
        .order_by(Action.created_at.desc())
        .limit(1)
    ).first()


def check_revertible(session: Session, original: Action) -> None:
    """Raise, naming why, when `original` cannot be reverted now."""
    if original.reverts is not None:
        raise RevertOfRevert(
            f"action {original.id} is itself a revert (of {original.reverts}); a revert cannot "
            "be reverted: propose the original action again",
            field="id",
        )
    existing = find_revert(session, original.id)
    if existing is not None:
        raise AlreadyReverted(
            f"action {original.id} already has a revert, {existing.id} ({existing.status}); "
            "it cannot be reverted twice",
            field="id",
        )
    if original.status != "succeeded":
        why = {
            "compensated": "its workflow failed and was already undone by its compensations",
            "failed": "it failed before changing anything in the ERP",
            "needs_attention": "its workflow stopped half-way; a human must settle it first",
            "shadowed": "it ran in shadow mode and changed nothing",
        }.get(original.status, "only a succeeded action can be reverted")
        raise NotRevertible(f"action {original.id} is {original.status}: {why}", field="id")


def record_label(record: ErpRecord | None, entity_type: str, canonical_id: str | None) -> str:
    name = None
    if record is not None:
        name = record.fields.get("name") or record.fields.get("supplier_name")
    ident = canonical_id or "the created record"
    return f"{entity_type} {name} ({ident})" if name else f"{entity_type} {ident}"


def plan_revert(spec: ActionSpec, original: Action, record: ErpRecord | None) -> RevertPlan:
    """The revert of a succeeded action: its compensations in reverse step order."""
    entity_type = str(original.target.get("entity_type"))
    canonical_id = original.target.get("canonical_id") or created_id(original)
    by_name = {step.name: step for step in spec.steps}
    steps: list[RevertStep] = []
    for step in reversed(list(original.steps)):
        if step.status != "succeeded":
            continue
        if step.compensation is None:
            raise NotRevertible(
                f"step {step.position} ({step.name}) of {spec.name} has no compensation in the "
                "catalog: the action cannot be reverted by Canon",
                field="id",
            )
        catalog_step = by_name.get(step.name)
        expect = expected_values(catalog_step, original.params) if catalog_step else {}
        steps.append(
            RevertStep(step.position, f"undo_{step.name}", step.compensation, step.operation,
                       dict(step.result or {}), expect)
        )  # fmt: skip
    label = record_label(record, entity_type, canonical_id)
    done = original.updated_at.date().isoformat()
    what = "; then ".join(s.describe(label) for s in steps)
    sentence = (
        f"Revert of {spec.name} (done on {done}, requested by key {original.requested_by}): "
        f"will {what}"
    )
    return RevertPlan(original.id, spec.name, canonical_id, tuple(steps), sentence)


def revert_approvals(spec: ActionSpec) -> int:
    """A revert always waits for a human: two distinct approvers for an irreversible one."""
    return 2 if spec.reverting_risk.value == "irreversible" else 1


def insert_revert(
    session: Session,
    *,
    spec: ActionSpec,
    original: Action,
    plan: RevertPlan,
    requested_by: str,
    idempotency_key: str,
    reason: str,
    phase: Phase,
    now: datetime,
    approval_ttl: timedelta | None,
    action_id: str | None = None,
) -> Action:
    """Store the revert, its steps and its approval request (`action_id`: a chosen id)."""
    outcome = RequireApproval(
        revert_approvals(spec), (f"a revert of {original.id}: always reviewed by a human",)
    )
    target = {k: v for k, v in original.target.items() if k not in ("token_id", "issued_at")}
    target["canonical_id"] = plan.canonical_id
    body = {"reverts": original.id, "reason": reason}
    action = Action(
        id=action_id or str(uuid.uuid4()),
        action_type=spec.name,
        status="pending_approval",
        requested_by=requested_by,
        idempotency_key=idempotency_key,
        payload_hash=hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest(),
        target=target,
        params=dict(original.params),
        context={"reason": reason, "evidence": [f"revert of action {original.id}"]},
        risk=spec.reverting_risk.value,
        phase=phase.value,
        outcome=outcome_as_dict(outcome),
        flags=[],
        summary=f"{plan.sentence} (reason: {reason})",
        created_at=now,
        updated_at=now,
        reverts=original.id,
    )
    session.add(action)
    session.flush()
    session.add_all(
        WorkflowStep(
            action_id=action.id,
            position=i,
            name=step.name,
            operation=step.operation,
            compensation=None,
            status="planned",
            idempotency_key=f"{action.id}:{i}",
            params={"undo": step.undoes, "result": step.result, EXPECT: step.expect},
        )
        for i, step in enumerate(plan.steps)
    )
    open_request(session, action, outcome.approvals, now, approval_ttl)
    session.flush()
    session.refresh(action)
    return action
