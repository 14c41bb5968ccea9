"""The workflow's durable state: who holds a run (the lease), and the runs that are due.

A run is claimed under the action's row lock; every later transition re-locks the action and
its run and checks that the lease is still this runner's (same owner, same epoch), so that a
runner that lost its lease (it stalled past the expiry and another runner took over) stops at
its next step instead of writing over the other one.

A lease is void when it has expired, or when its owner is a process of this host that no
longer exists: a restarted `canon serve` resumes what the killed one was doing at once, while
runners on other hosts wait for the expiry.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.store import Action, WorkflowRun

RUNNING, COMPENSATING, FINISHED = "running", "compensating", "finished"
#: Action statuses a runner may pick up: approved (not started) and executing (interrupted).
RUNNABLE = ("approved", "executing")


class LeaseLost(Exception):  # noqa: N818 — control flow, not an error of the domain
    """Another runner holds this workflow now; the current one must stop."""


@lru_cache(maxsize=4)
def _incarnation(pid: int) -> str:
    return f"{socket.gethostname()}/{pid}/{uuid.uuid4().hex[:12]}"


def process_owner() -> str:
    """This process's runner identity: host, pid and a nonce of this incarnation."""
    return _incarnation(os.getpid())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def lease_void(owner: str | None, expires_at: datetime | None, now: datetime, me: str) -> bool:
    """Whether a run's lease may be taken: nobody holds it, it expired, or its holder died."""
    if owner is None or expires_at is None or expires_at <= now:
        return True
    if owner == me:
        return False
    host, _, rest = owner.partition("/")
    pid_text, _, _nonce = rest.partition("/")
    my_host, _, my_rest = me.partition("/")
    if host != my_host or not pid_text.isdigit():
        return False
    if int(pid_text) == int(my_rest.partition("/")[0]):
        return True  # same pid, another incarnation: the earlier process is gone
    return not _pid_alive(int(pid_text))


@dataclass(frozen=True)
class Lease:
    """A runner's hold on one workflow run."""

    action_id: str
    owner: str
    epoch: int
    seconds: float


def claim(
    session: Session, action_id: str, owner: str, seconds: float, now: datetime
) -> Lease | None:
    """Take the run of an approved or interrupted action; None when it is not ours to run."""
    action = session.execute(
        select(Action).where(Action.id == action_id).with_for_update()
    ).scalar_one_or_none()
    if action is None or action.status not in RUNNABLE:
        return None
    run = session.execute(
        select(WorkflowRun).where(WorkflowRun.action_id == action_id).with_for_update()
    ).scalar_one_or_none()
    if run is None:
        run = WorkflowRun(
            action_id=action_id,
            state=RUNNING,
            epoch=0,
            claims=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(run)
    if run.state == FINISHED or not lease_void(run.owner, run.lease_expires_at, now, owner):
        return None
    if action.status == "approved":
        action.status, action.updated_at = "executing", now
        audit.append(session, "workflow.started", {}, action_id=action_id, actor="gateway", now=now)
    elif run.claims > 0 or run.owner is not None:
        audit.append(
            session,
            "workflow.resumed",
            {"state": run.state, "previous_owner": run.owner, "claim": run.claims + 1},
            action_id=action_id,
            actor="gateway",
            now=now,
        )
    run.owner, run.epoch, run.claims = owner, run.epoch + 1, run.claims + 1
    run.lease_expires_at, run.updated_at = now + timedelta(seconds=seconds), now
    session.flush()
    return Lease(action_id, owner, run.epoch, seconds)


def guard(session: Session, lease: Lease, now: datetime) -> tuple[Action, WorkflowRun]:
    """Lock the action and its run, check the lease is still ours, and renew it."""
    action = session.execute(
        select(Action).where(Action.id == lease.action_id).with_for_update()
    ).scalar_one()
    run = session.execute(
        select(WorkflowRun).where(WorkflowRun.action_id == lease.action_id).with_for_update()
    ).scalar_one()
    if run.owner != lease.owner or run.epoch != lease.epoch or run.state == FINISHED:
        raise LeaseLost(lease.action_id)
    run.lease_expires_at = now + timedelta(seconds=lease.seconds)
    run.updated_at = now
    return action, run


def release(run: WorkflowRun, retry_at: datetime, now: datetime) -> None:
    """Give the run back, to be picked up again at `retry_at`."""
    run.owner, run.lease_expires_at = None, None
    run.next_attempt_at, run.updated_at = retry_at, now


def finish(run: WorkflowRun, now: datetime, report: dict[str, object] | None = None) -> None:
    """Close the run for good."""
    run.state, run.owner, run.lease_expires_at = FINISHED, None, None
    run.finished_at = run.updated_at = now
    run.report = report


def due(session: Session, now: datetime, start_grace: timedelta, me: str) -> list[str]:
    """Actions a runner should pick up now: approved ones nobody started, interrupted runs."""
    started = select(WorkflowRun.action_id)
    approved = session.scalars(
        select(Action.id)
        .where(Action.status == "approved", Action.updated_at <= now - start_grace)
        .where(Action.id.not_in(started))
        .order_by(Action.updated_at)
    ).all()
    open_runs = session.execute(
        select(WorkflowRun.action_id, WorkflowRun.owner, WorkflowRun.lease_expires_at)
        .join(Action, Action.id == WorkflowRun.action_id)
        .where(WorkflowRun.state != FINISHED, WorkflowRun.next_attempt_at <= now)
        .where(Action.status.in_(RUNNABLE))
        .order_by(WorkflowRun.next_attempt_at)
    ).all()
    interrupted = [row[0] for row in open_runs if lease_void(row[1], row[2], now, me)]
    return [*approved, *interrupted]
