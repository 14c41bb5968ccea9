"""What a human must know about a workflow that stopped half-way (`needs_attention`).

The record lists, step by step, what was done in the ERP, what was undone, and what is still
done and must be undone by hand (with the operation that would undo it, the record it acts on
and the idempotency key it was run with), plus any step whose outcome the ERP never confirmed.
It is kept as data (the run's `report`, the audit entry) and as one readable paragraph (the
action's `error`).
"""

from __future__ import annotations

from typing import Any

from gateway.store import Action, WorkflowStep

#: Step statuses meaning the step's effect is (or may still be) in the ERP.
STILL_DONE = ("succeeded", "compensating", "compensation_failed")


def _target(action: Action, step: WorkflowStep) -> str | None:
    """The record the step acted on: its own result's, the action's target, or the created one."""
    for candidate in (step.result or {}, action.target, *(s.result or {} for s in action.steps)):
        if candidate.get("canonical_id"):
            return str(candidate["canonical_id"])
    return None


def _entry(action: Action, step: WorkflowStep) -> dict[str, Any]:
    return {
        "position": step.position,
        "step": step.name,
        "operation": step.operation,
        "compensation": step.compensation,
        "record": _target(action, step),
        "idempotency_key": step.idempotency_key,
        "status": step.status,
        "error": step.error,
    }


def attention_report(action: Action, cause: str | None, problem: str) -> dict[str, Any]:
    """The structured record: cause, problem, done, undone, to undo, in doubt."""
    steps = list(action.steps)
    return {
        "action": action.action_type,
        "cause": cause,
        "problem": problem,
        "done": [_entry(action, s) for s in steps if s.status in (*STILL_DONE, "compensated")],
        "undone": [_entry(action, s) for s in steps if s.status == "compensated"],
        "to_undo": [_entry(action, s) for s in reversed(steps) if s.status in STILL_DONE],
        "in_doubt": [_entry(action, s) for s in steps if s.status in ("running", "in_doubt")],
    }


def _step_list(entries: list[dict[str, Any]]) -> str:
    return ", ".join(f"step {e['position']} ({e['step']})" for e in entries) or "none"


def describe(report: dict[str, Any]) -> str:
    """The record as one paragraph an operator can act on."""
    parts = [report["problem"]]
    if report.get("cause"):
        parts.insert(0, str(report["cause"]))
    parts.append(f"Done in the ERP: {_step_list(report['done'])}")
    parts.append(f"Undone: {_step_list(report['undone'])}")
    to_undo = report["to_undo"]
    if to_undo:
        how = ", ".join(
            f"step {e['position']} ({e['step']}: run {e['compensation'] or 'a manual correction'}"
            f" on {e['record'] or 'the target'}, key {e['idempotency_key']})"
            for e in to_undo
        )
        parts.append(f"a human must still undo {how}")
    doubt = report["in_doubt"]
    if doubt:
        how = ", ".join(
            f"step {e['position']} ({e['step']}, key {e['idempotency_key']})" for e in doubt
        )
        parts.append(f"the ERP never confirmed whether these ran; check them: {how}")
    return "; ".join(parts)
