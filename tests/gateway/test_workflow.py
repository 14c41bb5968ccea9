"""The workflow runner against the sandbox ERP over HTTP, on both stores: steps in order, lost
answers settled by reading the ERP (never by sending again blindly), refusals compensated in
reverse, a failed compensation turned into a record a human can act on."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway import ActionView, Gateway, Principal, Store, TokenSigner, load_catalog
from gateway.approvals import record_decision
from gateway.audit import verify
from gateway.erp import ErpConnector
from gateway.service import GateRules
from gateway.store import Action, WorkflowRun
from gateway.workflow import RunnerPolicy, WorkflowRunner
from resolver.normalise import normalise_record
from resolver.types import Decision
from tests.gateway.conftest import CATALOG_FILE, SECRET, Clock, KeyMaker, decide_action, token
from tests.gateway.erp.sandbox import Sandbox, running_sandbox, wants_network
from tests.gateway.test_submit import request

NEW = {
    "name": "Zebulon Quantum Robotics Ltda",
    "tax_id": "11.222.333/0001-81",
    "document": "dms://suppliers/zebulon.pdf",
    "city": "Campinas",
}
CNPJ = "11222333000181"
STEP_OPERATIONS = [
    "supplier.create_record",
    "supplier.attach_document",
    "supplier.start_approval_routing",
]
FAST = RunnerPolicy(
    lease_seconds=30,
    call_attempts=3,
    backoff_initial_seconds=0.01,
    backoff_max_seconds=0.05,
    retry_after_seconds=60,
    max_claims=5,
    start_grace_seconds=0,
)


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    """Called in process; over a real socket for a test marked `network`."""
    with running_sandbox(tmp_path / "sandbox", network=wants_network(request)) as running:
        yield running


def erp_gateway(
    store: Store, connector: ErpConnector, clock: Clock, policy: RunnerPolicy = FAST
) -> Gateway:
    return Gateway(
        store=store,
        catalog=load_catalog(CATALOG_FILE),
        signer=TokenSigner(SECRET, 600, clock=clock.timestamp),
        connector=connector,
        normalise_identity=normalise_record,
        rules=GateRules(),
        clock=clock,
        runner=WorkflowRunner(policy),
    )


@pytest.fixture
def gate(store: Store, sandbox: Sandbox, clock: Clock) -> Gateway:
    return erp_gateway(store, sandbox.connector("protheus", timeout=0.5), clock)


def propose(
    gate: Gateway, agent: Principal, idem: str = "create-zebulon", **changes: str
) -> ActionView:
    """Submit `supplier.create` for the new supplier (pending approval); `changes` give
    another supplier (name, tax_id)."""
    new = {**NEW, **changes}
    identity = dict(normalise_record({"name": new["name"], "tax_id": new["tax_id"]}))
    tok = token(gate, agent, decision=Decision.NO_MATCH, entity_type="supplier", identity=identity)
    params = {k: new[k] for k in ("name", "tax_id", "document", "city")}
    view = gate.submit(
        agent, request(gate, agent, "supplier.create", tok=tok, params=params, idempotency_key=idem)
    )
    assert view.status == "pending_approval"
    return view


def approve_only(gate: Gateway, approver: Principal, action_id: str) -> None:
    """Record the approval without running the workflow (as a crash right after would)."""
    with gate.store.transaction() as session:
        action = session.get_one(Action, action_id)
        record_decision(session, action, approver, True, "", "", gate.clock())


def kinds(gate: Gateway, admin: Principal, action_id: str) -> list[str]:
    return [e["kind"] for e in gate.audit_entries(admin, action_id, limit=1000)]


def entries(gate: Gateway, admin: Principal, action_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in gate.audit_entries(admin, action_id, limit=1000) if e["kind"] == kind]


def erp_state(sandbox: Sandbox) -> tuple[int, int, int, int]:
    """(all SA2 rows with the CNPJ, live ones, live document links, live approval routings)."""
    rows = sandbox.admin.rows("SA2010", A2_CGC=CNPJ)
    live = [r for r in rows if r["D_E_L_E_T_"] != "*"]
    if not rows:
        return 0, 0, 0, 0
    code = rows[0]["A2_COD"] + rows[0]["A2_LOJA"]
    links = sandbox.admin.live("AC9010", AC9_CODENT=code)
    routings = sandbox.admin.live("SCR010", CR_NUM=code)
    return len(rows), len(live), len(links), len(routings)


def test_supplier_create_runs_three_steps_over_http(
    gate: Gateway, sandbox: Sandbox, key: KeyMaker
) -> None:
    view = propose(gate, key())
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == "succeeded"
    assert [s.status for s in done.steps] == ["succeeded"] * 3
    assert done.steps[0].result and done.steps[0].result["canonical_id"].startswith("SA2::")
    assert erp_state(sandbox) == (1, 1, 1, 1)
    assert sandbox.admin.keys() == [f"{view.id}:{n}" for n in range(3)]
    assert kinds(gate, key("admin"), view.id) == [
        "action.requested",
        "approval.decided",
        "workflow.started",
        "step.call",
        "step.succeeded",
        "step.call",
        "step.succeeded",
        "step.call",
        "step.succeeded",
        "action.succeeded",
    ]


@pytest.mark.network  # the client times out
@pytest.mark.parametrize("step", [0, 1, 2])
def test_a_timeout_after_commit_is_settled_by_lookup_not_by_a_second_write(
    gate: Gateway, sandbox: Sandbox, key: KeyMaker, step: int
) -> None:
    view = propose(gate, key())
    sandbox.admin.fault("timeout_after_commit", key=f"{view.id}:{step}", seconds=1.5)
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == "succeeded"
    assert erp_state(sandbox) == (1, 1, 1, 1)
    assert sandbox.admin.calls()[STEP_OPERATIONS[step]] == 1  # looked up, never sent again
    (settled,) = [
        e
        for e in entries(gate, key("admin"), view.id, "step.succeeded")
        if e["data"].get("reconciled")
    ]
    assert settled["data"]["step"] == done.steps[step].name


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"fault": "error", "status": 503}, id="503"),
        pytest.param({"fault": "reset"}, id="connection-reset", marks=pytest.mark.network),
    ],
)
def test_a_lost_request_is_sent_again_once_the_erp_says_it_never_ran(
    gate: Gateway, sandbox: Sandbox, key: KeyMaker, fault: dict[str, Any]
) -> None:
    view = propose(gate, key())
    sandbox.admin.fault(key=f"{view.id}:1", **fault)
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == "succeeded" and erp_state(sandbox) == (1, 1, 1, 1)
    assert sandbox.admin.calls()["supplier.attach_document"] == 2
    assert sandbox.admin.calls()["operation.lookup"] == 1


@pytest.mark.parametrize(
    ("failing", "statuses", "undone"),
    [
        pytest.param(0, ["failed", "planned", "planned"], [], id="first-step"),
        pytest.param(1, ["compensated", "failed", "planned"], [0], id="second-step"),
        pytest.param(2, ["compensated", "compensated", "failed"], [1, 0], id="third-step"),
    ],
)
def test_a_refused_step_undoes_the_completed_ones_in_reverse(
    gate: Gateway,
    sandbox: Sandbox,
    key: KeyMaker,
    failing: int,
    statuses: list[str],
    undone: list[int],
) -> None:
    view = propose(gate, key())
    sandbox.admin.fault("error", key=f"{view.id}:{failing}", status=422, times=None)
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == ("failed" if failing == 0 else "compensated")
    assert [s.status for s in done.steps] == statuses
    assert "422" in (done.error or "")
    forward = [f"{view.id}:{n}" for n in range(failing)]
    assert sandbox.admin.keys() == forward + [f"{view.id}:{n}:undo" for n in undone]
    rows, live, links, routings = erp_state(sandbox)
    assert (live, links, routings) == (0, 0, 0) and rows == (1 if failing else 0)
    assert sandbox.admin.calls()[STEP_OPERATIONS[failing]] == 1  # a refusal is not retried


def test_a_failed_compensation_needs_attention_with_a_complete_record(
    gate: Gateway, sandbox: Sandbox, key: KeyMaker, store: Store
) -> None:
    view = propose(gate, key())
    sandbox.admin.fault("error", key=f"{view.id}:2", status=422, times=None)
    sandbox.admin.fault("error", key=f"{view.id}:0:undo", status=423, times=None)
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == "needs_attention"
    assert [s.status for s in done.steps] == ["compensation_failed", "compensated", "failed"]
    created = str(done.steps[0].result["canonical_id"])  # type: ignore[index]
    text = done.error or ""
    assert "step 2 (route_for_approval)" not in text.split("Done in the ERP")[1]
    assert "Done in the ERP: step 0 (create_record), step 1 (attach_document)" in text
    assert "Undone: step 1 (attach_document)" in text
    assert (
        f"a human must still undo step 0 (create_record: run supplier.delete_record on "
        f"{created}, key {view.id}:0)"
    ) in text
    with store.transaction() as session:
        run = session.scalars(select(WorkflowRun)).one()
        report = run.report
    assert report is not None and [e["position"] for e in report["to_undo"]] == [0]
    assert report["to_undo"][0]["error"].startswith("ErpOperationFailed")
    assert "423" in report["to_undo"][0]["error"] and "422" in report["cause"]
    (last,) = entries(gate, key("admin"), view.id, "action.needs_attention")
    assert last["data"]["report"] == report
    assert erp_state(sandbox) == (1, 1, 0, 0)  # the record stays, as the report says


def test_a_stale_etag_is_a_conflict_that_is_not_retried(
    store: Store, sandbox: Sandbox, clock: Clock, key: KeyMaker
) -> None:
    gate = erp_gateway(store, sandbox.connector("sap", timeout=30), clock)
    agent = key()
    target = token(gate, agent, entity_type="supplier", canonical_id="BusinessPartner:1700000001")
    view = gate.submit(
        agent,
        request(
            gate,
            agent,
            "supplier.block",
            tok=target,
            params={"reason": "tax registration suspended"},
        ),
    )
    sandbox.admin.fault("error", key=f"{view.id}:0", status=412, times=None)
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert (done.status, done.steps[0].status) == ("failed", "failed")
    assert "ErpConflict" in (done.error or "") and "412" in (done.error or "")
    assert sandbox.admin.calls()["supplier.change"] == 1


def test_an_unreachable_erp_leaves_the_step_in_doubt_until_a_later_attempt(
    gate: Gateway, sandbox: Sandbox, key: KeyMaker, clock: Clock, store: Store
) -> None:
    view = propose(gate, key())
    rule = {"key": f"{view.id}:1", "status": 503, "times": None}
    sandbox.admin.fault("error", **rule)
    waiting = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert waiting.status == "executing"
    assert [s.status for s in waiting.steps] == ["succeeded", "in_doubt", "planned"]
    assert "503" in (waiting.steps[1].error or "")
    (doubt,) = entries(gate, key("admin"), view.id, "step.in_doubt")
    with store.transaction() as session:
        run = session.get_one(WorkflowRun, view.id)
        assert run.owner is None and run.next_attempt_at.isoformat() == doubt["data"]["retry_at"]
    assert gate.runner.recover(store, gate.connector, clock) == []  # not due yet
    sandbox.admin.clear_faults()
    clock.advance(FAST.retry_after_seconds + 1)
    assert gate.runner.recover(store, gate.connector, clock) == [view.id]
    assert gate.status(key("admin"), view.id).status == "succeeded"
    assert erp_state(sandbox) == (1, 1, 1, 1)
    assert "workflow.resumed" in kinds(gate, key("admin"), view.id)


def test_a_step_never_confirmed_needs_attention_after_the_last_attempt(
    store: Store, sandbox: Sandbox, key: KeyMaker, clock: Clock
) -> None:
    policy = RunnerPolicy(**{**FAST.__dict__, "max_claims": 2})
    gate = erp_gateway(store, sandbox.connector("protheus", timeout=0.5), clock, policy)
    view = propose(gate, key())
    sandbox.admin.fault("error", key=f"{view.id}:0", status=503, times=None)
    assert decide_action(gate, key("approver"), view, True, "").status == "executing"
    clock.advance(FAST.retry_after_seconds + 1)
    gate.runner.recover(store, gate.connector, clock)
    done = gate.status(key("admin"), view.id)
    assert done.status == "needs_attention"
    assert "the ERP never confirmed whether these ran" in (done.error or "")
    assert f"step 0 (create_record, key {view.id}:0)" in (done.error or "")


@pytest.mark.network  # several runners call the ERP at once
def test_concurrent_runners_claim_an_approved_action_once(
    gate: Gateway, sandbox: Sandbox, key: KeyMaker
) -> None:
    view = propose(gate, key())
    approve_only(gate, key("approver"), view.id)

    def run(_: int) -> bool:
        return gate.runner.run(gate.store, gate.connector, view.id, gate.clock)

    with ThreadPoolExecutor(max_workers=8) as pool:
        claimed = list(pool.map(run, range(16)))
    assert claimed.count(True) == 1
    assert gate.status(key("admin"), view.id).status == "succeeded"
    assert sandbox.admin.keys() == [f"{view.id}:{n}" for n in range(3)]
    with gate.store.transaction() as session:
        assert verify(session).ok
