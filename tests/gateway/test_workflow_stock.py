"""The workflow runner against a stock ERP (`--stock`: no look-up by key, `Idempotency-Key`
ignored): a write in doubt is settled from the ERP's own records, or, when they cannot tell,
ends `needs_attention` without ever being sent twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import Store
from gateway.workflow import RunnerPolicy
from tests.gateway.conftest import Clock, KeyMaker
from tests.gateway.erp.sandbox import Sandbox, running_sandbox
from tests.gateway.test_workflow import (
    FAST,
    STEP_OPERATIONS,
    entries,
    erp_gateway,
    erp_state,
    propose,
)


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
    done = gate.decide(key("approver"), view.id, approve=True, reason="")
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
    waiting = gate.decide(key("approver"), view.id, approve=True, reason="")
    assert [s.status for s in waiting.steps] == ["succeeded", "in_doubt", "planned"]
    assert "leaves no trace" in (waiting.steps[1].error or "")
    clock.advance(FAST.retry_after_seconds + 1)
    gate.runner.recover(store, gate.connector, clock)
    done = gate.status(key("admin"), view.id)
    assert done.status == "needs_attention"
    assert f"step 1 (attach_document, key {view.id}:1)" in (done.error or "")
    assert stock.admin.calls()[STEP_OPERATIONS[1]] == 1  # never sent a second time
    assert erp_state(stock)[:3] == (1, 1, 1)
