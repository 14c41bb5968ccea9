"""Running an approved action's steps as a durable workflow: a small state machine on our store.

Run (state `running`), step by step:   planned ─▶ running ─▶ succeeded
                                                         ├─▶ in_doubt ─▶ (retried) ─▶ ...
                                                         └─▶ failed ─▶ the run turns `compensating`
Compensating, completed steps in reverse:  succeeded ─▶ compensating ─▶ compensated
                                                                    └─▶ compensation_failed
Action: approved ─▶ executing ─▶ succeeded | compensated | failed (nothing to undo)
                                 | needs_attention (a compensation failed, or never confirmed)

Each step's intent is committed (with its audit entry) before its ERP call and its result after;
every call carries an idempotency key derived from the action and the step (`<action>:<n>`, and
`<action>:<n>:undo` for its compensation). When the ERP does not say whether a call ran (timeout,
reset, 5xx), the call is never simply sent again: the runner first looks the key up in the ERP
(or, on a stock ERP without that look-up, reads the evidence of `gateway.erp.recovery`) and only
re-sends it when the ERP shows it did not run, within a bounded backoff (tenacity). Every send
after the first is audited (`step.resend`) before it goes out.

On a stock ERP, "not in its records" is not yet "did not run": a request the ERP is still
processing lands later, and nothing says it is in flight. There the runner re-sends only when
the records were read after the *settle window* of the last send (`settle_seconds`: longer than
the ERP's longest request plus the time a request takes to reach it), when no earlier send can
land any more; before that, the step waits `in_doubt` until the window closes and the records
are read again. The time of the last send is the audit entry committed before it (`step.call`,
`step.compensate` or `step.resend`), so that a restarted runner counts from the same moment.

A step still in doubt is left `in_doubt` and the run is retried later; after `max_claims`
attempts, or when a compensation is refused, the action is `needs_attention` with the record of
what was done, undone and still to undo (`gateway.workflow_report`).

A revert (`gateway.revert`) is a workflow of its own whose steps are the original's
compensations; before each one's intent the runner reads the record and checks it still holds
what the original step left (`revert.checked`), or stops the revert in `needs_attention` with the
difference (`revert.conflict`) without calling the ERP.

A crash at any point leaves a step `running`/`compensating` or between two steps; the next
runner to claim the run (on start-up, or from the sweep, `gateway.workflow_sweeper`) reads the
ERP by key and carries on in the same direction. Why our own state machine rather than DBOS:
the actions, approvals, steps and audit chain already live in this store and must change in the
same transactions as the workflow's state; a second engine would split that truth in two.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from gateway import audit
from gateway.catalog import ActionSpec
from gateway.erp.base import ErpConnector, ErpOperation, ErpResult, TaxIdSearch
from gateway.erp.recovery import read_evidence, recover
from gateway.errors import DuplicateInErp, ErpError, ErpOperationFailed, ErpUnavailable
from gateway.revert import EXPECT, describe_differences, differences
from gateway.store import Action, AuditEntry, Store, WorkflowRun, WorkflowStep
from gateway.workflow_report import attention_report, describe
from gateway.workflow_state import (
    COMPENSATING,
    RUNNING,
    Lease,
    LeaseLost,
    claim,
    due,
    finish,
    guard,
    process_owner,
    release,
)

Clock = Callable[[], datetime]
log = logging.getLogger("canon.workflow")


class RecordSync(Protocol):
    """What keeps the resolver in step with the records workflows change (read-your-own-writes)."""

    def record_changed(self, entity_type: str, canonical_id: str) -> str | None:
        """Read the record back from the ERP and apply it to the serving index; the index
        version now served, or None when this entity type is not served from the ERP's rows."""
        ...


@dataclass(frozen=True)
class RunnerPolicy:
    """How patient the runner is with the ERP, and how long it holds a run."""

    lease_seconds: float = 60.0
    call_attempts: int = 4
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 5.0
    retry_after_seconds: float = 5.0
    retry_max_seconds: float = 300.0
    max_claims: int = 20
    start_grace_seconds: float = 5.0
    #: Stock ERPs: how long after a send the ERP's records are trusted to show whether it ran
    #: (the ERP's longest request, plus the time a request takes to reach it).
    settle_seconds: float = 600.0


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


@dataclass(frozen=True)
class _Call:
    position: int
    undo: bool
    operation: ErpOperation
    fresh: bool  # the intent was just committed: nothing has been sent yet


@dataclass(frozen=True)
class _Done:
    result: ErpResult
    reconciled: bool


@dataclass(frozen=True)
class _Refused:
    message: str


@dataclass(frozen=True)
class _InDoubt:
    message: str
    not_before: datetime | None = None  # the earliest the ERP is worth asking again


class _Settling(Exception):  # noqa: N818 — control flow, not an error of the domain
    """A stock ERP's records do not show the write yet, and an earlier send may still land."""

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.message, self.until = message, until


_Outcome = _Done | _Refused | _InDoubt


@dataclass(frozen=True)
class _Sync:
    """Before the action ends: the record it changed, to apply to the serving index."""

    entity_type: str
    canonical_id: str


@dataclass(frozen=True)
class StepEvent:
    """A call's outcome, once committed: the step, whether it was the undo, its new status."""

    action_id: str
    position: int
    undo: bool
    status: str


@dataclass(frozen=True)
class _Check:
    """Before a revert's step: read the record and check it still holds what the original
    step left (`expect`); a newer change stops the revert instead of being overwritten."""

    position: int
    entity_type: str
    canonical_id: str | None
    expect: dict[str, Any]


def _created_id(action: Action) -> str | None:
    for step in action.steps:
        if step.result and step.result.get("canonical_id"):
            return str(step.result["canonical_id"])
    return None


def operation_for(action: Action, step: WorkflowStep, undo: bool) -> ErpOperation:
    """The ERP operation of a step (or of its compensation), the same every time it is built."""
    if undo:
        name, key = str(step.compensation), f"{step.idempotency_key}:undo"
        params: dict[str, Any] = {"undo": step.operation, "result": step.result or {}}
    elif step.params is not None:  # a revert's step: its own params, without what it checks
        name, key = step.operation, step.idempotency_key
        params = {k: v for k, v in step.params.items() if k != EXPECT}
    else:
        name, key, params = step.operation, step.idempotency_key, dict(action.params)
    return ErpOperation(
        operation=name,
        entity_type=str(action.target["entity_type"]),
        canonical_id=action.target.get("canonical_id") or _created_id(action),
        params=params,
        idempotency_key=key,
    )


def refuse_duplicate(connector: ErpConnector, operation: ErpOperation) -> None:
    """Right before a creation's first write: DuplicateInErp when the ERP already holds a live
    record with the new identity's tax id (read now, whatever the resolver's index says)."""
    tax_id = str(operation.params.get("tax_id") or "")
    if not operation.operation.endswith(".create_record") or not tax_id:
        return
    if not isinstance(connector, TaxIdSearch):
        return
    found = connector.find_by_tax_id(operation.entity_type, tax_id)
    if not found:
        return
    first = found[0]
    name = first.fields.get("name")
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    raise DuplicateInErp(
        f"duplicate-in-erp: the ERP already holds {operation.entity_type} {first.canonical_id}"
        f"{f' ({name})' if name else ''}{more} with tax id {tax_id}; resolve it and act on"
        " that record instead of creating another"
    )


#: The audit entries committed right before a call is sent (each names the call's key).
SENDS = ("step.call", "step.compensate", "step.resend")


def last_send(session: Session, action_id: str, call: _Call) -> datetime | None:
    """When the call was last sent (at the latest): its newest send entry in the audit log."""
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action_id == action_id, AuditEntry.kind.in_(SENDS))
        .order_by(AuditEntry.seq.desc())
    )
    for entry in entries:
        if json.loads(entry.data).get("idempotency_key") == call.operation.idempotency_key:
            return datetime.fromisoformat(entry.at)
    return None


def _message(error: ErpError) -> str:
    return f"{type(error).__name__}: {error.message}"


class WorkflowRunner:
    """Claims workflow runs and drives them to an end state, or to a later retry."""

    def __init__(
        self,
        policy: RunnerPolicy | None = None,
        owner: str | None = None,
        record_sync: RecordSync | None = None,
        observer: Callable[[StepEvent], None] | None = None,
    ) -> None:
        self.policy = policy or RunnerPolicy()
        self._owner = owner
        #: Applies the record an action changed to the serving index before the action ends.
        self.record_sync = record_sync
        #: Told of each call's committed outcome (the rollback drill checks the ERP there).
        self.observer = observer

    @property
    def owner(self) -> str:
        return self._owner or process_owner()

    def run(self, store: Store, connector: ErpConnector, action_id: str, clock: Clock) -> bool:
        """Advance one action's workflow as far as it goes now; False if it is not ours to run."""
        with store.transaction() as session:
            lease = claim(session, action_id, self.owner, self.policy.lease_seconds, clock())
        if lease is None:
            return False
        try:
            self._drive(store, connector, lease, clock)
        except LeaseLost:
            log.warning("workflow %s: another runner took it over; this one stops", action_id)
        return True

    def recover(self, store: Store, connector: ErpConnector, clock: Clock) -> list[str]:
        """Run every due workflow (approved and never started, interrupted, retry due)."""
        return [a for a in self.due(store, clock) if self.run(store, connector, a, clock)]

    def due(self, store: Store, clock: Clock) -> list[str]:
        """The actions whose workflow a runner should pick up now."""
        grace = timedelta(seconds=self.policy.start_grace_seconds)
        with store.transaction() as session:
            return due(session, clock(), grace, self.owner)

    # -- the loop -----------------------------------------------------------------------------
    def _drive(self, store: Store, connector: ErpConnector, lease: Lease, clock: Clock) -> None:
        synced = False  # (again after a crash: applying a record twice changes nothing)
        checked: set[int] = set()  # (again after a crash: a read changes nothing)
        while True:
            with store.transaction() as session:
                action, run = guard(session, lease, clock())
                call = self._next(session, action, run, clock(), synced, checked)
            if call is None:
                return
            if isinstance(call, _Sync):
                self._sync(store, lease, call, clock)
                synced = True
                continue
            if isinstance(call, _Check):
                if not self._check(store, connector, lease, call, clock):
                    return
                checked.add(call.position)
                continue
            outcome = self._call(store, connector, lease, call, clock)
            with store.transaction() as session:
                action, run = guard(session, lease, clock())
                stop = self._apply(session, action, run, call, outcome, clock())
                status = next(s.status for s in action.steps if s.position == call.position)
            if self.observer is not None:
                self.observer(StepEvent(lease.action_id, call.position, call.undo, status))
            if stop:
                return

    def _next(
        self,
        session: Session,
        action: Action,
        run: WorkflowRun,
        now: datetime,
        synced: bool = True,
        checked: set[int] | None = None,
    ) -> _Call | _Sync | _Check | None:
        """Commit the intent of the next call, or finish the workflow when nothing is left
        (first asking for the changed record to be applied to the index, unless `synced`)."""
        steps = list(action.steps)
        if run.state == RUNNING:
            for step in steps:
                if step.status == "planned":
                    expect = (step.params or {}).get(EXPECT)
                    if expect is not None and step.position not in (checked or set()):
                        target = operation_for(action, step, False)
                        return _Check(step.position, target.entity_type, target.canonical_id,
                                      dict(expect))  # fmt: skip
                    step.status, step.started_at = "running", now
                    return self._intent(session, action, step, False, now)
                if step.status in ("running", "in_doubt"):
                    return _Call(step.position, False, operation_for(action, step, False), False)
                if step.status == "failed":
                    run.state = COMPENSATING
                    break
            else:
                sync = None if synced else self._sync_of(action)
                if sync is not None:
                    return sync
                self._finish(session, action, run, "succeeded", None, now)
                return None
        for step in reversed(steps):
            if step.status == "succeeded":
                if step.compensation is None:
                    problem = f"step {step.position} ({step.name}) has no compensation"
                    self._attention(session, action, run, problem, now)
                    return None
                step.status = "compensating"
                return self._intent(session, action, step, True, now)
            if step.status == "compensating":
                return _Call(step.position, True, operation_for(action, step, True), False)
        undone = any(s.status == "compensated" for s in steps)
        status = "compensated" if undone else "failed"
        sync = None if synced or not undone else self._sync_of(action)
        if sync is not None:
            return sync
        self._finish(session, action, run, status, run.cause, now)
        return None

    def _sync_of(self, action: Action) -> _Sync | None:
        canonical_id = action.target.get("canonical_id") or _created_id(action)
        if self.record_sync is None or not canonical_id:
            return None
        return _Sync(str(action.target["entity_type"]), str(canonical_id))

    def _sync(self, store: Store, lease: Lease, sync: _Sync, clock: Clock) -> None:
        """Apply the changed record to the serving index; audited. A failure is recorded and
        does not undo the ERP's write (the next sync from the ERP brings the record)."""
        assert self.record_sync is not None
        data: dict[str, Any] = {"entity_type": sync.entity_type, "canonical_id": sync.canonical_id}
        try:
            version = self.record_sync.record_changed(sync.entity_type, sync.canonical_id)
        except Exception as e:  # an ERP read or refresh failed: the action itself succeeded
            log.exception("workflow %s: %s not applied to the index", lease.action_id, sync)
            kind, data["error"] = "record.sync_failed", f"{type(e).__name__}: {e}"
        else:
            if version is None:
                return
            kind, data["index_version"] = "record.synced", version
        with store.transaction() as session:
            action, _run = guard(session, lease, clock())
            self._audit(session, action, kind, data, clock())

    def _check(
        self, store: Store, connector: ErpConnector, lease: Lease, check: _Check, clock: Clock
    ) -> bool:
        """Read the record a revert's step acts on; True when it still holds what the original
        step left. Otherwise the revert stops in `needs_attention` with the difference (or, when
        the ERP cannot be read, is retried later); nothing is sent."""
        try:
            record = (
                connector.read_record(check.entity_type, check.canonical_id)
                if check.canonical_id
                else None
            )
        except ErpError as e:
            return self._check_deferred(store, lease, check, _message(e), clock)
        found = differences(check.expect, record)
        with store.transaction() as session:
            action, run = guard(session, lease, clock())
            step = next(s for s in action.steps if s.position == check.position)
            data: dict[str, Any] = {"step": step.name, "record": check.canonical_id}
            if not found:
                holds = {**data, "holds": check.expect}
                self._audit(session, action, "revert.checked", holds, clock())
            else:
                data["differences"] = found
                self._audit(session, action, "revert.conflict", data, clock())
                problem = (
                    f"step {step.position} ({step.name}): {check.canonical_id} changed since "
                    f"the original action left it ({describe_differences(found)}); the revert "
                    "stopped and overwrote nothing"
                )
                self._attention(session, action, run, problem, clock(),
                                {"differences": found})  # fmt: skip
        return not found

    def _check_deferred(
        self, store: Store, lease: Lease, check: _Check, message: str, clock: Clock
    ) -> bool:
        with store.transaction() as session:
            action, run = guard(session, lease, clock())
            step = next(s for s in action.steps if s.position == check.position)
            now = clock()
            if run.claims >= self.policy.max_claims:
                problem = (
                    f"step {step.position} ({step.name}): the record could not be read to check "
                    f"it before the revert, after {run.claims} attempts: {message}"
                )
                self._attention(session, action, run, problem, now)
            else:
                delay = min(self.policy.retry_after_seconds * 2 ** (run.claims - 1),
                            self.policy.retry_max_seconds)  # fmt: skip
                retry_at = now + timedelta(seconds=delay)
                data = {"step": step.name, "error": message, "retry_at": retry_at.isoformat()}
                self._audit(session, action, "revert.check_deferred", data, now)
                release(run, retry_at, now)
        return False

    def _intent(
        self,
        session: Session,
        action: Action,
        step: WorkflowStep,
        undo: bool,
        now: datetime,
    ) -> _Call:
        operation = operation_for(action, step, undo)
        kind = "step.compensate" if undo else "step.call"
        data = {
            "step": step.name,
            "operation": operation.operation,
            "idempotency_key": operation.idempotency_key,
        }
        self._audit(session, action, kind, data, now)
        return _Call(step.position, undo, operation, True)

    def _call(
        self, store: Store, connector: ErpConnector, lease: Lease, call: _Call, clock: Clock
    ) -> _Outcome:
        """Run the call; when its outcome is in doubt, read the ERP by key before re-sending."""
        policy, first = self.policy, [call.fresh]

        def attempt() -> _Done:
            if not first[0]:
                with store.transaction() as session:
                    guard(session, lease, clock())
                    sent = last_send(session, lease.action_id, call)
                read_at = clock()
                evidence = read_evidence(connector, call.operation)
                if evidence.found is not None:
                    return _Done(evidence.found, reconciled=True)
                if not evidence.by_key:
                    self._settled(call, sent, read_at)
            if not call.undo:  # the key never ran: nothing of ours can be in the ERP yet
                try:
                    refuse_duplicate(connector, call.operation)
                except DuplicateInErp:
                    if first[0]:
                        raise
                    # An earlier send still in flight may have landed since the key was read:
                    # the record is then ours, found by its key now.
                    found = recover(connector, call.operation)
                    if found is None:
                        raise
                    return _Done(found, reconciled=True)
            if not first[0]:
                self._resend(store, lease, call, clock)
            first[0] = False
            return _Done(connector.run(call.operation), reconciled=False)

        retrying = Retrying(
            stop=stop_after_attempt(policy.call_attempts),
            wait=wait_exponential(
                multiplier=policy.backoff_initial_seconds, max=policy.backoff_max_seconds
            ),
            retry=retry_if_exception_type(ErpUnavailable),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Settling as e:
            return _InDoubt(e.message, not_before=e.until)
        except DuplicateInErp as e:
            return _Refused(e.message)
        except ErpOperationFailed as e:
            return _Refused(_message(e))
        except ErpError as e:
            return _InDoubt(_message(e))

    def _settled(self, call: _Call, sent: datetime | None, read_at: datetime) -> None:
        """Raise _Settling unless the stock ERP's records were read after the last send's
        settle window closed (so that no earlier send can land after the read)."""
        settle = timedelta(seconds=self.policy.settle_seconds)
        # No send on record (a step started before sends were audited): count from now.
        until = (sent or read_at) + settle
        if sent is not None and read_at >= until:
            return
        op = call.operation
        raise _Settling(
            f"{op.operation} ({op.idempotency_key}) is not in the ERP's records yet, and this "
            f"ERP does not say whether a request is still being processed: the send of "
            f"{(sent or read_at).isoformat()} may land until {until.isoformat()}; read again "
            "then, and send it again only if it is still absent",
            until,
        )

    def _resend(self, store: Store, lease: Lease, call: _Call, clock: Clock) -> None:
        """Commit the audit entry of a send after the first, before it goes out."""
        with store.transaction() as session:
            action, _run = guard(session, lease, clock())
            data = {
                "step": next(s.name for s in action.steps if s.position == call.position),
                "operation": call.operation.operation,
                "idempotency_key": call.operation.idempotency_key,
                "undo": call.undo,
            }
            self._audit(session, action, "step.resend", data, clock())

    def _apply(
        self,
        session: Session,
        action: Action,
        run: WorkflowRun,
        call: _Call,
        outcome: _Outcome,
        now: datetime,
    ) -> bool:
        """Commit a call's outcome; True when the runner stops here (finished or deferred)."""
        step = next(s for s in action.steps if s.position == call.position)
        if isinstance(outcome, _Done):
            data: dict[str, Any] = {"step": step.name}
            if outcome.reconciled:
                data["reconciled"] = "found in the ERP by its idempotency key"
            result = outcome.result.model_dump(mode="json")
            if call.undo:
                step.status, step.error = "compensated", None
                data["compensation"] = result
            else:
                step.status, step.result, step.error = "succeeded", result, None
                data["result"] = result
            step.finished_at = now
            self._audit(session, action, f"step.{step.status}", data, now)
            return False
        if isinstance(outcome, _Refused):
            step.error, step.finished_at = outcome.message, now
            step.status = "compensation_failed" if call.undo else "failed"
            data = {"step": step.name, "error": outcome.message}
            self._audit(session, action, f"step.{step.status}", data, now)
            if not call.undo:
                run.state, run.cause = COMPENSATING, outcome.message
                return False
            problem = f"undoing step {step.position} ({step.name}) failed: {outcome.message}"
            self._attention(session, action, run, problem, now)
            return True
        return self._defer(session, action, run, step, call, outcome, now)

    def _defer(
        self,
        session: Session,
        action: Action,
        run: WorkflowRun,
        step: WorkflowStep,
        call: _Call,
        outcome: _InDoubt,
        now: datetime,
    ) -> bool:
        step.error = outcome.message
        if not call.undo:
            step.status = "in_doubt"
        policy = self.policy
        if run.claims >= policy.max_claims:
            problem = (
                f"step {step.position} ({step.name}): the ERP did not confirm whether "
                f"{call.operation.operation} ran after {run.claims} attempts: "
                f"{outcome.message}"
            )
            self._attention(session, action, run, problem, now)
            return True
        delay = min(policy.retry_after_seconds * 2 ** (run.claims - 1), policy.retry_max_seconds)
        retry_at = now + timedelta(seconds=delay)
        if outcome.not_before is not None:  # nothing to learn before then, all to learn after
            retry_at = outcome.not_before
        self._audit(
            session,
            action,
            "step.in_doubt",
            {
                "step": step.name,
                "operation": call.operation.operation,
                "error": outcome.message,
                "retry_at": retry_at.isoformat(),
            },
            now,
        )
        release(run, retry_at, now)
        return True

    # -- endings and records --------------------------------------------------------------------
    def _finish(
        self,
        session: Session,
        action: Action,
        run: WorkflowRun,
        status: str,
        error: str | None,
        now: datetime,
        report: dict[str, Any] | None = None,
    ) -> None:
        action.status, action.error, action.updated_at = status, error, now
        finish(run, now, report)
        data: dict[str, Any] = {"error": error} if error else {}
        if report is not None:
            data["report"] = report
        self._audit(session, action, f"action.{status}", data, now)

    def _attention(
        self,
        session: Session,
        action: Action,
        run: WorkflowRun,
        problem: str,
        now: datetime,
        extra: dict[str, Any] | None = None,
    ) -> None:
        report = {**attention_report(action, run.cause, problem), **(extra or {})}
        self._finish(session, action, run, "needs_attention", describe(report), now, report)

    @staticmethod
    def _audit(
        session: Session,
        action: Action,
        kind: str,
        data: dict[str, Any],
        now: datetime,
    ) -> None:
        audit.append(session, kind, data, action_id=action.id, actor="gateway", now=now)
