"""Action types that do not exist on the deployment's ERP, end to end: the real app served on
127.0.0.1 with the sandbox ERP in the Protheus format (which publishes no ticket API). Proposing
`ticket.close` is refused with the ERP and the operation it lacks, and nothing is stored or
sent; promoting it is refused for that reason. `transaction.reclassify`, which Protheus runs
(CT2), goes through the gate and is found in the ERP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.erp.base import DeclaresEvidence, DeclaresOperations, ErpOperation
from gateway.errors import ErpUndecided
from gateway.store import Action
from tests.e2e.test_faults import Stack, running_stack
from tests.gateway.conftest import resolution

REASON = {"reason": "ticket 4411 resolved by the supplier's credit note"}


@pytest.fixture
def stack(tmp_path: Path, store_url: str) -> Iterator[Stack]:
    with running_stack(tmp_path, store_url, erp_timeout=10) as running:
        yield running


def test_proposing_an_action_the_erp_does_not_offer_is_refused_with_the_reason(
    stack: Stack,
) -> None:
    agent = stack.key("agent", "agent")
    token = stack.token(resolution(entity_type="ticket", canonical_id="ServiceRequest:SR1"), agent)
    calls = stack.sandbox.admin.calls()
    body = {
        "action": "ticket.close",
        "target": {"resolution_token": token},
        "params": {"resolution": "credit note booked"},
        "context": REASON,
        "idempotency_key": "close-sr1",
    }
    refused = stack.http.post("/v1/actions", headers=agent, json=body)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "/problems/action-not-offered"
    assert problem["field"] == "action"
    assert problem["detail"] == (
        "ticket.close is not offered on Protheus: the Protheus connector cannot run ticket.close"
    )
    assert stack.sandbox.admin.calls() == calls  # the ERP was not asked anything
    with stack.gateway.store.transaction() as session:  # nothing was stored
        assert session.scalar(select(func.count()).select_from(Action)) == 0
    entries = stack.http.get(
        "/v1/audit", headers=stack.key("steward", "auditor2"), params={"limit": 1000}
    ).json()["entries"]
    refusals = [e for e in entries if e["kind"] == "action.refused"]
    assert refusals and "not offered on Protheus" in str(refusals[-1]["data"])


def test_promoting_an_action_the_erp_does_not_offer_is_refused_with_the_reason(
    stack: Stack,
) -> None:
    admin = stack.key("admin", "root")
    demoted = stack.http.put("/v1/admin/rollout/ticket.close", headers=admin,
                             json={"phase": "read_only"})  # fmt: skip
    assert demoted.status_code == 200, demoted.text  # demotion is always allowed
    refused = stack.http.put("/v1/admin/rollout/ticket.close", headers=admin,
                             json={"phase": "supervised"})  # fmt: skip
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        "ticket.close stays read_only: promotion refused: ticket.close is not offered on "
        "Protheus: the Protheus connector cannot run ticket.close"
    )


def test_a_reclassification_goes_through_the_gate_and_is_found_in_the_erp(stack: Stack) -> None:
    agent, approver = stack.key("agent", "agent"), stack.key("approver", "ana")
    row = stack.sandbox.admin.live("CT2010")[0]
    keys = ("CT2_FILIAL", "CT2_DATA", "CT2_LOTE", "CT2_SBLOTE", "CT2_DOC", "CT2_LINHA")
    entry_id = ":".join(["CT2", *(row[k] for k in keys)])
    token = stack.token(resolution(entity_type="transaction", canonical_id=entry_id), agent)
    body = {
        "action": "transaction.reclassify",
        "target": {"resolution_token": token},
        "params": {"account": "6100.200", "cost_center": "CC210"},
        "context": {"reason": "freight booked as material"},
        "idempotency_key": "reclass-1",
    }
    proposed = stack.http.post("/v1/actions", headers=agent, json=body)
    assert proposed.status_code == 201, proposed.text
    summary = proposed.json()["summary"]
    amount = f"{float(row['CT2_VALOR']):,.2f}".rstrip("0").rstrip(".")
    assert f"from account {row['CT2_DEBITO']} to 6100.200" in summary
    assert "BRL" in summary and amount.split(".")[0] in summary
    done = stack.approve(proposed.json(), approver)
    assert done["status"] == "succeeded", done
    (now,) = stack.sandbox.admin.rows("CT2010", R_E_C_N_O_=str(row["R_E_C_N_O_"]))
    assert (now["CT2_DEBITO"], now["CT2_CCD"]) == ("6100.200", "CC210")
    assert now["CT2_VALOR"] == row["CT2_VALOR"] and now["CT2_CREDIT"] == row["CT2_CREDIT"]


def test_the_served_catalog_marks_what_this_erp_offers_and_what_tells_each_step_happened(
    stack: Stack,
) -> None:
    agent = stack.key("agent", "agent")
    served = stack.http.get("/v1/catalog", headers=agent)
    assert served.status_code == 200, served.text
    actions = {entry["action"]: entry for entry in served.json()}
    assert (actions["ticket.close"]["offered"], actions["ticket.close"]["not_offered"]) == (
        False,
        "ticket.close is not offered on Protheus: the Protheus connector cannot run ticket.close",
    )
    assert actions["supplier.block"]["offered"] and actions["supplier.block"]["not_offered"] is None
    create = actions["supplier.create"]["steps"][0]
    assert (create["operation"], create["evidence"], create["compensation_evidence"]) == (
        "supplier.create_record",
        "a live SA2 row holds the CNPJ/CPF (A2_CGC)",
        "the SA2 row is deleted (D_E_L_E_T_ = '*')",
    )
    block = actions["supplier.block"]["steps"][0]
    assert (block["evidence"], block["compensation_evidence"]) == (
        "the row does not hold the new values yet (else: lost)",
        "the row holds the values restored",
    )
    # CT2 lines are not read back: marked, so nobody expects a re-send on a stock Protheus
    reclassify = actions["transaction.reclassify"]["steps"][0]
    assert (reclassify["evidence"], reclassify["compensation_evidence"]) == (None, None)


def test_an_operation_marked_without_evidence_is_never_decided_absent(stack: Stack) -> None:
    """What the catalog marks as having no standard evidence must end undecided (never re-sent),
    for every operation the connector runs but declares no evidence for."""
    connector = stack.gateway.connector
    assert isinstance(connector, DeclaresEvidence) and isinstance(connector, DeclaresOperations)
    unmarked = sorted(connector.operations - set(connector.evidence_of))
    assert "transaction.reclassify" in unmarked
    for name in unmarked:
        op = ErpOperation(
            operation=name, entity_type="transaction", canonical_id="SA2::000001:01",
            idempotency_key=f"doubt-{name}",
        )  # fmt: skip
        with pytest.raises(ErpUndecided):
            connector.evidence(op)  # type: ignore[attr-defined]
