"""Running an approved action's steps, in order, through the ERP connector.

Each step's intent is committed before its ERP call and its result after, and every call carries
an idempotency key derived from the action and the step, so that a repeated run never writes
twice. When a step fails, the completed steps are compensated in reverse order; a compensation
that fails leaves the action `needs_attention`, with what was done and undone in its steps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gateway import audit
from gateway.catalog import ActionSpec
from gateway.erp.base import ErpConnector, ErpOperation, ErpResult
from gateway.errors import ErpError
from gateway.store import Action, Store, WorkflowStep

Clock = Callable[[], datetime]


def plan_steps(action: Action, spec: ActionSpec) -> list[WorkflowStep]:
    """The steps an action will run (or, in shadow mode, would have run)."""
    return [
        WorkflowStep(
            action_id=action.id,
            position=i,
            name=step.name,
            operation=step.operation,
            compensation=step.compensation,
            status="planned",
            idempotency_key=f"{action.id}:{i}",
        )
        for i, step in enumerate(spec.steps)
    ]


def _claim(store: Store, action_id: str, now: datetime) -> bool:
    """Move an approved action to `executing`; False if another runner has it already."""
    with store.transaction() as session:
        action = session.execute(
            select(Action).where(Action.id == action_id).with_for_update()
        ).scalar_one()
        if action.status != "approved":
            return False
        action.status, action.updated_at = "executing", now
        audit.append(session, "workflow.started", {}, action_id=action_id, actor="gateway", now=now)
        return True


def _step_call(
    store: Store, action_id: str, position: int, stage: str, now: datetime
) -> tuple[ErpOperation, str]:
    """Commit the intent of a step (or its compensation) and return the operation to run."""
    with store.transaction() as session:
        action = session.get_one(Action, action_id)
        step = action.steps[position]
        target_id = action.target.get("canonical_id") or _created_id(action)
        if stage == "run":
            name, key, params = step.operation, step.idempotency_key, dict(action.params)
            step.status, step.started_at = "running", now
        else:
            name, key = str(step.compensation), f"{step.idempotency_key}:undo"
            params = {"undo": step.operation, "result": step.result or {}}
            step.status = "compensating"
        operation = ErpOperation(
            operation=name,
            entity_type=str(action.target["entity_type"]),
            canonical_id=target_id,
            params=params,
            idempotency_key=key,
        )
        audit.append(
            session,
            f"step.{'call' if stage == 'run' else 'compensate'}",
            {"step": step.name, "operation": name, "idempotency_key": key},
            action_id=action_id,
            actor="gateway",
            now=now,
        )
        return operation, step.name


def _created_id(action: Action) -> str | None:
    for step in action.steps:
        if step.result and step.result.get("canonical_id"):
            return str(step.result["canonical_id"])
    return None


def _record(
    store: Store, action_id: str, position: int, status: str, outcome: dict[str, Any], now: datetime
) -> None:
    with store.transaction() as session:
        step = session.get_one(Action, action_id).steps[position]
        step.status, step.finished_at = status, now
        if "result" in outcome:
            step.result = outcome["result"]
        if "error" in outcome:
            step.error = outcome["error"]
        audit.append(session, f"step.{status}", {"step": step.name, **outcome},
                     action_id=action_id, actor="gateway", now=now)  # fmt: skip


def _finish(store: Store, action_id: str, status: str, error: str | None, now: datetime) -> None:
    with store.transaction() as session:
        action = session.get_one(Action, action_id)
        action.status, action.error, action.updated_at = status, error, now
        audit.append(session, f"action.{status}", {"error": error} if error else {},
                     action_id=action_id, actor="gateway", now=now)  # fmt: skip


def _call(connector: ErpConnector, operation: ErpOperation) -> ErpResult | str:
    try:
        return connector.run(operation)
    except ErpError as e:
        return f"{type(e).__name__}: {e.message}"


def run_workflow(store: Store, connector: ErpConnector, action_id: str, clock: Clock) -> None:
    """Run an approved action to `succeeded`, `failed`, `compensated` or `needs_attention`."""
    if not _claim(store, action_id, clock()):
        return
    with store.transaction() as session:
        positions = [s.position for s in session.get_one(Action, action_id).steps]
    done: list[int] = []
    for position in positions:
        operation, _ = _step_call(store, action_id, position, "run", clock())
        result = _call(connector, operation)
        if isinstance(result, str):
            _record(store, action_id, position, "failed", {"error": result}, clock())
            _compensate(store, connector, action_id, done, result, clock)
            return
        _record(store, action_id, position, "succeeded",
                {"result": result.model_dump(mode="json")}, clock())  # fmt: skip
        done.append(position)
    _finish(store, action_id, "succeeded", None, clock())


def _compensate(
    store: Store, connector: ErpConnector, action_id: str, done: list[int], cause: str, clock: Clock
) -> None:
    if not done:
        _finish(store, action_id, "failed", cause, clock())
        return
    for i, position in enumerate(reversed(done)):
        operation, name = _step_call(store, action_id, position, "undo", clock())
        result = _call(connector, operation)
        if isinstance(result, str):
            _record(store, action_id, position, "compensation_failed", {"error": result}, clock())
            left = [p for p in done if p < position]
            undone = list(reversed(done))[:i]
            note = (
                f"{cause}; undoing step {name!r} failed: {result}. "
                f"Undone: steps {undone or 'none'}; "
                f"a human must still undo step {position} and steps {left or 'none'}"
            )
            _finish(store, action_id, "needs_attention", note, clock())
            return
        _record(store, action_id, position, "compensated",
                {"compensation": result.model_dump(mode="json")}, clock())  # fmt: skip
    _finish(store, action_id, "compensated", cause, clock())
