"""The workflow runner against a stock ERP (`--stock`: no look-up by key, `Idempotency-Key`
ignored): a write in doubt is settled from the ERP's own records, or, when they cannot tell,
ends `needs_attention` without ever being sent twice. A write the records do not show yet is
sent again only after its settle window (the ERP's longest request) has passed: one still in
flight lands meanwhile and is found, one the ERP abandoned is sent once more."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway import Store
from gateway.workflow import RunnerPolicy
from tests.gateway.conftest import Clock, KeyMaker, decide_action
from tests.gateway.erp.sandbox import Sandbox, running_sandbox
from tests.gateway.test_workflow import (
    CNPJ,
    FAST,
    STEP_OPERATIONS,
    entries,
    erp_gateway,
    erp_state,
    kinds,
    propose,
)

#: FAST, with a settle window longer than its retry delay (60 s): the window decides.
SETTLING = RunnerPolicy(**{**FAST.__dict__, "settle_seconds": 100.0})


@pytest.fixture
def stock(tmp_path: Path) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path / "stock", stock=True) as running:
        yield running


@pytest.mark.parametrize("step", [0, 1, 2])
def test_a_write_whose_answer_was_lost_is_found_in_the_erp_not_made_twice(
    store: Store, stock: Sandbox, key: KeyMaker, clock: Clock, step: int
) -> None:
    gate = erp_gateway(store, stock.connector("protheus", timeout=1.0), clock)
    view = propose(gate, key())
    stock.admin.fault("timeout_after_commit", key=f"{view.id}:{step}", seconds=2.5)
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == "succeeded"
    assert erp_state(stock) == (1, 1, 1, 1)  # one supplier, one link, one routing
    assert [stock.admin.calls()[o] for o in STEP_OPERATIONS] == [1, 1, 1]  # none re-sent
    (settled,) = [
        e
        for e in entries(gate, key("admin"), view.id, "step.succeeded")
        if e["data"].get("reconciled")
    ]
    assert settled["data"]["step"] == done.steps[step].name
    assert settled["data"]["result"]["data"]["evidence"]


def test_a_write_with_no_trace_to_read_needs_attention_and_is_sent_once(
    store: Store, stock: Sandbox, key: KeyMaker, clock: Clock
) -> None:
    """SAP's URL attachments leave nothing the connector reads back yet: never re-sent."""
    policy = RunnerPolicy(**{**FAST.__dict__, "max_claims": 2})
    gate = erp_gateway(store, stock.connector("sap", timeout=1.0), clock, policy)
    view = propose(gate, key())
    stock.admin.fault("timeout_after_commit", key=f"{view.id}:1", seconds=2.5)
    waiting = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert [s.status for s in waiting.steps] == ["succeeded", "in_doubt", "planned"]
    assert "leaves no trace" in (waiting.steps[1].error or "")
    clock.advance(FAST.retry_after_seconds + 1)
    gate.runner.recover(store, gate.connector, clock)
    done = gate.status(key("admin"), view.id)
    assert done.status == "needs_attention"
    assert f"step 1 (attach_document, key {view.id}:1)" in (done.error or "")
    assert stock.admin.calls()[STEP_OPERATIONS[1]] == 1  # never sent a second time
    assert erp_state(stock)[:3] == (1, 1, 1)


def test_a_write_still_in_the_erp_when_its_records_are_read_is_waited_for_not_sent_again(
    store: Store, stock: Sandbox, key: KeyMaker, clock: Clock
) -> None:
    """The creation is held inside the ERP past the client's timeout; its supplier is not in
    SA2 when the runner reads it. Sending it again then would make a second supplier: the
    runner waits out the settle window instead, and finds the supplier once it has landed."""
    gate = erp_gateway(store, stock.connector("protheus", timeout=1.0), clock, SETTLING)
    view = propose(gate, key())
    stock.admin.fault("block", key=f"{view.id}:0", stage="before", seconds=60)
    waiting = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert [s.status for s in waiting.steps] == ["in_doubt", "planned", "planned"]
    assert "not in the ERP's records yet" in (waiting.steps[0].error or "")
    (doubt,) = entries(gate, key("admin"), view.id, "step.in_doubt")
    (sent,) = entries(gate, key("admin"), view.id, "step.call")
    settled_at = datetime.fromisoformat(sent["at"]) + timedelta(seconds=100)
    assert datetime.fromisoformat(doubt["data"]["retry_at"]) == settled_at

    clock.advance(61)  # the retry delay passed, the window did not: not due yet
    assert gate.runner.recover(store, gate.connector, clock) == []
    assert gate.runner.run(store, gate.connector, view.id, clock)  # run anyway: still waits
    assert stock.admin.calls()[STEP_OPERATIONS[0]] == 1
    assert gate.status(key("admin"), view.id).steps[0].status == "in_doubt"

    hold = stock.admin.wait_for_hold(f"{view.id}:0")
    stock.admin.release(hold["id"], "proceed")  # the first send lands, late
    _wait_for_rows(stock, 1)
    clock.advance(40)
    assert gate.runner.recover(store, gate.connector, clock) == [view.id]
    done = gate.status(key("admin"), view.id)
    assert done.status == "succeeded"
    assert erp_state(stock) == (1, 1, 1, 1)  # one supplier
    assert [stock.admin.calls()[o] for o in STEP_OPERATIONS] == [1, 1, 1]
    assert "step.resend" not in kinds(gate, key("admin"), view.id)
    (found,) = [
        e
        for e in entries(gate, key("admin"), view.id, "step.succeeded")
        if e["data"].get("reconciled")
    ]
    assert found["data"]["step"] == "create_record"


def test_a_write_the_erp_abandoned_is_sent_again_once_after_the_settle_window(
    store: Store, tmp_path: Path, key: KeyMaker, clock: Clock
) -> None:
    """The ERP gives the held creation up at its request timeout (nothing written): after the
    window the supplier is still absent, so the creation is sent once more, audited first."""
    with running_sandbox(tmp_path / "erp", stock=True, request_timeout=1.5) as erp:
        gate = erp_gateway(store, erp.connector("protheus", timeout=1.0), clock, SETTLING)
        view = propose(gate, key())
        erp.admin.fault("block", key=f"{view.id}:0", stage="before", seconds=60)
        waiting = decide_action(gate, key("approver"), view, approve=True, reason="")
        assert waiting.steps[0].status == "in_doubt"
        _wait_for_no_holds(erp)  # the ERP abandoned the request
        clock.advance(99)
        assert gate.runner.run(store, gate.connector, view.id, clock)  # before the window
        assert erp.admin.calls()[STEP_OPERATIONS[0]] == 1
        clock.advance(2)
        assert gate.runner.recover(store, gate.connector, clock) == [view.id]
        done = gate.status(key("admin"), view.id)
        assert done.status == "succeeded"
        assert erp_state(erp) == (1, 1, 1, 1)
        assert erp.admin.calls()[STEP_OPERATIONS[0]] == 2  # sent twice, written once
        story = [k for k in kinds(gate, key("admin"), view.id) if k.startswith("step.")]
        assert story[:4] == ["step.call", "step.in_doubt", "step.in_doubt", "step.resend"]
        (resend,) = entries(gate, key("admin"), view.id, "step.resend")
        assert resend["data"]["idempotency_key"] == f"{view.id}:0"


def _wait_for_rows(sandbox: Sandbox, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(sandbox.admin.rows("SA2010", A2_CGC=CNPJ)) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} supplier rows expected within {timeout}s")


def _wait_for_no_holds(sandbox: Sandbox, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sandbox.admin.holds():
            return
        time.sleep(0.02)
    raise AssertionError(f"requests still held after {timeout}s: {sandbox.admin.holds()}")
