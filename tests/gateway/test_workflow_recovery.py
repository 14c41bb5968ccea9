"""Who may run a workflow (leases), and how interrupted ones are found and finished: a runner
whose process died is replaced at once, one on another host after its lease expires, a runner
that lost its lease stops at its next step, and the sweep starts what nobody started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway import Gateway, Store
from gateway.workflow import RunnerPolicy, WorkflowRunner
from gateway.workflow_state import claim, lease_void, process_owner
from gateway.workflow_sweeper import WorkflowSweeper
from tests.gateway.conftest import Clock, KeyMaker
from tests.gateway.erp.sandbox import Sandbox, running_sandbox, wants_network
from tests.gateway.test_workflow import (
    FAST,
    approve_only,
    entries,
    erp_gateway,
    erp_state,
    kinds,
    propose,
)

NOW = datetime(2026, 4, 12, 9, 0, tzinfo=UTC)


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    """Called in process; over a real socket for a test marked `network`."""
    with running_sandbox(tmp_path / "sandbox", network=wants_network(request)) as running:
        yield running


@pytest.fixture
def gate(store: Store, sandbox: Sandbox, clock: Clock) -> Gateway:
    return erp_gateway(store, sandbox.connector("protheus", timeout=0.5), clock)


HOST = socket.gethostname()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


ME = f"{HOST}/{os.getpid()}/mine"
LATER = NOW + timedelta(seconds=30)
DEAD = "a process of this host that has exited"


@pytest.mark.parametrize(
    ("owner", "expires", "void"),
    [
        pytest.param(None, None, True, id="nobody-holds-it"),
        pytest.param("elsewhere/1/x", NOW - timedelta(seconds=1), True, id="expired"),
        pytest.param("elsewhere/1/x", LATER, False, id="another-host-within-its-lease"),
        pytest.param(ME, LATER, False, id="this-process-holds-it"),
        pytest.param(f"{HOST}/{os.getpid()}/older", LATER, True, id="an-earlier-incarnation"),
        pytest.param(f"{HOST}/{os.getppid()}/x", LATER, False, id="a-live-process-of-this-host"),
        # The dead pid is found when the test runs: one found at collection could be reused by then.
        pytest.param(DEAD, LATER, True, id="a-dead-process-of-this-host"),
        pytest.param(f"{HOST}/not-a-pid/x", LATER, False, id="unreadable-owner-waits-for-expiry"),
    ],
)
def test_when_a_lease_may_be_taken(owner: str | None, expires: datetime | None, void: bool) -> None:
    if owner == DEAD:
        owner = f"{HOST}/{_dead_pid()}/x"
    assert lease_void(owner, expires, NOW, ME) is void


def test_the_process_owner_names_host_and_pid() -> None:
    host, pid, nonce = process_owner().split("/")
    assert (host, int(pid)) == (HOST, os.getpid()) and len(nonce) == 12
    assert process_owner() == process_owner()


@pytest.mark.network  # requests held by the ERP while other runners go on
def test_a_runner_that_died_mid_call_is_replaced_at_once_and_the_old_one_stops(
    gate: Gateway, sandbox: Sandbox, key: KeyMaker, store: Store
) -> None:
    view = propose(gate, key())
    approve_only(gate, key("approver"), view.id)
    ghost = WorkflowRunner(FAST, owner=f"{HOST}/{_dead_pid()}/ghost")
    sandbox.admin.fault("block", key=f"{view.id}:1", stage="after", seconds=30)
    stalled = threading.Thread(target=ghost.run, args=(store, gate.connector, view.id, gate.clock))
    stalled.start()
    sandbox.admin.wait_for_hold(f"{view.id}:1")  # step 1 committed in the ERP, answer held

    assert gate.runner.recover(store, gate.connector, gate.clock) == [view.id]
    assert gate.status(key("admin"), view.id).status == "succeeded"
    sandbox.admin.release_all()  # the stalled runner gets its answer, finds its lease gone
    stalled.join(10)
    assert not stalled.is_alive()
    assert erp_state(sandbox) == (1, 1, 1, 1)
    assert sandbox.admin.keys() == [f"{view.id}:{n}" for n in range(3)]
    admin = key("admin")
    (resumed,) = entries(gate, admin, view.id, "workflow.resumed")
    assert resumed["data"]["previous_owner"] == ghost.owner
    succeeded = [e["data"]["step"] for e in entries(gate, admin, view.id, "step.succeeded")]
    assert succeeded == ["create_record", "attach_document", "route_for_approval"]


@pytest.mark.network  # requests held by the ERP while other runners go on
def test_a_send_in_flight_that_lands_between_the_key_read_and_the_duplicate_check_is_ours(
    store: Store, sandbox: Sandbox, key: KeyMaker, clock: Clock
) -> None:
    """The dead runner's creation is held in the ERP; the new runner reads its key (absent),
    then the creation lands before its duplicate check reads the CNPJ: the supplier found is
    the dead runner's own write, found again by key, not a duplicate that fails the action."""
    gate = erp_gateway(store, sandbox.connector("protheus", timeout=30), clock)
    view = propose(gate, key())
    approve_only(gate, key("approver"), view.id)
    ghost = WorkflowRunner(FAST, owner=f"{HOST}/{_dead_pid()}/ghost")
    sandbox.admin.fault("block", key=f"{view.id}:0", stage="before", seconds=30)
    stalled = threading.Thread(target=ghost.run, args=(store, gate.connector, view.id, clock))
    stalled.start()
    write = sandbox.admin.wait_for_hold(f"{view.id}:0")  # sent, nothing written yet
    # The next search by CNPJ (the new runner's duplicate check) waits until we let it go.
    sandbox.admin.fault("block", method="GET", path="/suppliers$", stage="before", seconds=30)
    recovered: list[list[str]] = []
    recovery = threading.Thread(
        target=lambda: recovered.append(gate.runner.recover(store, gate.connector, clock))
    )
    recovery.start()
    check = next(h for h in _wait_for_holds(sandbox, 2) if h["id"] != write["id"])
    assert sandbox.admin.keys() == []  # the new runner read the key before anything landed
    sandbox.admin.release(write["id"])
    stalled.join(10)
    assert erp_state(sandbox)[:2] == (1, 1)  # the dead runner's creation landed
    sandbox.admin.release(check["id"])
    recovery.join(20)

    assert recovered == [[view.id]]
    assert gate.status(key("admin"), view.id).status == "succeeded"
    assert erp_state(sandbox) == (1, 1, 1, 1)
    assert sandbox.admin.keys() == [f"{view.id}:{n}" for n in range(3)]
    succeeded = entries(gate, key("admin"), view.id, "step.succeeded")
    assert succeeded[0]["data"]["step"] == "create_record"
    assert succeeded[0]["data"]["reconciled"] == "found in the ERP by its idempotency key"


def _wait_for_holds(sandbox: Sandbox, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holds = sandbox.admin.holds()
        if len(holds) >= count:
            return holds
        time.sleep(0.02)
    raise AssertionError(f"{count} held requests expected, found {sandbox.admin.holds()}")


def test_a_lease_of_another_host_is_taken_over_only_once_it_expired(
    gate: Gateway, sandbox: Sandbox, key: KeyMaker, store: Store, clock: Clock
) -> None:
    view = propose(gate, key())
    approve_only(gate, key("approver"), view.id)
    with store.transaction() as session:  # a runner elsewhere claims it, then goes silent
        assert claim(session, view.id, "other-host/4242/x", FAST.lease_seconds, clock())
    assert gate.runner.recover(store, gate.connector, clock) == []
    clock.advance(FAST.lease_seconds + 1)
    assert gate.runner.recover(store, gate.connector, clock) == [view.id]
    assert gate.status(key("admin"), view.id).status == "succeeded"
    assert kinds(gate, key("admin"), view.id).count("workflow.started") == 1


@pytest.mark.network  # the sweep's workers call the ERP at once
def test_the_sweep_starts_approved_actions_and_resumes_interrupted_ones(
    gate: Gateway, sandbox: Sandbox, key: KeyMaker, store: Store
) -> None:
    # three different suppliers: a second creation of one tax id is refused (duplicate-in-erp)
    suppliers = [
        {"name": "Zebulon Quantum Robotics Ltda", "tax_id": "11.222.333/0001-81"},
        {"name": "Orion Tornearia de Precisao Ltda", "tax_id": "11.444.777/0001-61"},
        {"name": "Vega Embalagens Plasticas Ltda", "tax_id": "22.333.444/0001-81"},
    ]
    views = [
        propose(gate, key(name=f"agent-{n}"), idem=f"c{n}", **supplier)
        for n, supplier in enumerate(suppliers)
    ]
    for view in views:
        approve_only(gate, key("approver", name="boss"), view.id)
    sweeper = WorkflowSweeper(
        gate.runner, store, gate.connector, interval=0.05, workers=3, clock=gate.clock
    )
    sweeper.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses = {gate.status(key("admin"), v.id).status for v in views}
            if statuses == {"succeeded"}:
                break
            time.sleep(0.1)
    finally:
        sweeper.stop()
    assert statuses == {"succeeded"}
    assert len(sandbox.admin.keys()) == 9
    assert sweeper.sweep_once() == 0


def test_an_approved_action_waits_for_the_grace_before_the_sweep_takes_it(
    gate: Gateway, key: KeyMaker, store: Store, clock: Clock
) -> None:
    view = propose(gate, key())
    approve_only(gate, key("approver"), view.id)
    patient = WorkflowRunner(RunnerPolicy(**{**FAST.__dict__, "start_grace_seconds": 5}))
    assert patient.due(store, clock) == []
    clock.advance(5)
    assert patient.due(store, clock) == [view.id]
