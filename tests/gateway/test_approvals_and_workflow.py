"""Approving runs the steps in order; failures compensate in reverse; rules of who may decide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway import Gateway, LocalLedgerConnector, Principal, Store
from gateway.errors import ApprovalError, Forbidden
from gateway.store import Label
from resolver.types import Decision
from tests.gateway.conftest import Clock, KeyMaker, decide_action, make_gateway, token
from tests.gateway.test_submit import request

IDENTITY = {"name": "abc manufacturing", "tax_id": "11222333000181"}


def _create_request(gate: Gateway, agent: Principal) -> Any:
    tok = token(gate, agent, decision=Decision.NO_MATCH, entity_type="supplier", identity=IDENTITY)
    params = {"name": "ABC Manufacturing", "tax_id": "11.222.333/0001-81", "document": "dms://1"}
    return request(gate, agent, "supplier.create", tok=tok, params=params)


def test_approval_runs_the_action(
    gate: Gateway, key: KeyMaker, ledger: LocalLedgerConnector
) -> None:
    agent = key()
    view = gate.submit(agent, request(gate, agent))
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == "succeeded"
    assert done.approval is not None and done.approval.status == "approved"
    assert [op.idempotency_key for op in ledger.journal()] == [f"{view.id}:0"]


def test_three_steps_run_in_order_and_name_the_created_record(
    gate: Gateway, key: KeyMaker, ledger: LocalLedgerConnector
) -> None:
    agent = key()
    view = gate.submit(agent, _create_request(gate, agent))
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == "succeeded"
    journal = ledger.journal()
    assert [op.operation for op in journal] == [
        "supplier.create_record", "supplier.attach_document", "supplier.start_approval_routing",
    ]  # fmt: skip
    assert {op.canonical_id for op in journal} == {"LEDGER:supplier:000002"}


def _gate_refusing(
    store: Store, clock: Clock, tmp_path: Path, refuse: dict[str, str]
) -> tuple[Gateway, LocalLedgerConnector]:
    ledger = LocalLedgerConnector(tmp_path / "refusing.sqlite", refuse=refuse)
    return make_gateway(store, ledger, clock), ledger


def test_failed_step_compensates_completed_steps_in_reverse(
    store: Store, clock: Clock, tmp_path: Path, key: KeyMaker
) -> None:
    gate, ledger = _gate_refusing(
        store, clock, tmp_path, {"supplier.start_approval_routing": "down"}
    )
    agent = key()
    view = gate.submit(agent, _create_request(gate, agent))
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == "compensated"
    assert [s.status for s in done.steps] == ["compensated", "compensated", "failed"]
    assert [op.operation for op in ledger.journal()] == [
        "supplier.create_record", "supplier.attach_document",
        "supplier.detach_document", "supplier.delete_record",
    ]  # fmt: skip
    record = ledger.read_record("supplier", "LEDGER:supplier:000001")
    assert record is not None and record.deleted
    assert "down" in (done.error or "")


def test_first_step_failure_is_failed_with_nothing_to_undo(
    store: Store, clock: Clock, tmp_path: Path, key: KeyMaker
) -> None:
    gate, ledger = _gate_refusing(store, clock, tmp_path, {"purchase_order.close": "closed period"})
    agent = key()
    view = gate.submit(agent, request(gate, agent))
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert (done.status, [s.status for s in done.steps]) == ("failed", ["failed"])
    assert ledger.journal() == []


def test_failed_compensation_needs_attention_with_what_is_left(
    store: Store, clock: Clock, tmp_path: Path, key: KeyMaker
) -> None:
    refuse = {"supplier.start_approval_routing": "down", "supplier.delete_record": "locked"}
    gate, _ = _gate_refusing(store, clock, tmp_path, refuse)
    agent = key()
    view = gate.submit(agent, _create_request(gate, agent))
    done = decide_action(gate, key("approver"), view, approve=True, reason="")
    assert done.status == "needs_attention"
    assert [s.status for s in done.steps] == ["compensation_failed", "compensated", "failed"]
    assert "a human must still undo step 0" in (done.error or "")
    kinds = [e["kind"] for e in gate.audit_entries(key("admin"), view.id)]
    assert kinds[-3:] == ["step.compensate", "step.compensation_failed", "action.needs_attention"]


def test_dual_approval_needs_two_distinct_approvers(gate: Gateway, key: KeyMaker) -> None:
    agent = key()
    req = request(
        gate, agent, "supplier.update_bank_account",
        tok=token(gate, agent, entity_type="supplier", canonical_id="SA2:01:000123:01"),
        params={"iban": "CH9300762011623852957", "account_holder": "ABC AG"},
    )  # fmt: skip
    view = gate.submit(agent, req)
    first = key("approver", name="alice")
    assert decide_action(gate, first, view, approve=True, reason="").status == "pending_approval"
    with pytest.raises(ApprovalError, match="second approver"):
        decide_action(gate, first, view, approve=True, reason="")
    assert decide_action(gate, key("approver", name="bob"), view, True, "").status == "succeeded"


@pytest.mark.parametrize(
    ("role", "error"),
    [
        pytest.param("agent", Forbidden, id="agents-never-approve"),
        pytest.param("steward", Forbidden, id="stewards-do-not-approve"),
    ],
)
def test_who_may_decide(gate: Gateway, key: KeyMaker, role: str, error: type[Exception]) -> None:
    agent = key()
    view = gate.submit(agent, request(gate, agent))
    with pytest.raises(error):
        decide_action(gate, key(role, name="someone"), view, approve=True, reason="")


def test_decided_request_cannot_be_decided_again(gate: Gateway, key: KeyMaker) -> None:
    agent = key()
    view = gate.submit(agent, request(gate, agent))
    decide_action(gate, key("approver", name="a"), view, approve=False, reason="not_needed")
    with pytest.raises(ApprovalError, match="already rejected"):
        decide_action(gate, key("approver", name="b"), view, approve=True, reason="")


def test_expired_request_cannot_be_approved(gate: Gateway, key: KeyMaker, clock: Clock) -> None:
    agent = key()
    view = gate.submit(agent, request(gate, agent))
    clock.advance(8 * 24 * 3600)
    with pytest.raises(ApprovalError, match="expired"):
        decide_action(gate, key("approver"), view, approve=True, reason="")


def test_wrong_entity_rejection_becomes_a_label(gate: Gateway, key: KeyMaker, store: Store) -> None:
    agent = key()
    view = gate.submit(agent, request(gate, agent))
    done = decide_action(
        gate, key("approver"), view, approve=False, reason="wrong_entity", comment="x"
    )
    assert done.status == "rejected"
    with store.transaction() as session:
        (label,) = session.scalars(select(Label)).all()
        assert (label.label, label.canonical_id, label.action_id, label.source) == (
            "wrong", "SC7:01:002891", view.id, "approval",
        )  # fmt: skip
        assert label.decided_by is not None and label.decided_by.startswith("key:")


@pytest.mark.parametrize(
    ("reason", "comment", "field"),
    [
        pytest.param("because", "", "reason", id="unknown-reason"),
        pytest.param("other", " ", "comment", id="other-without-comment"),
    ],
)
def test_rejection_needs_a_known_reason(
    gate: Gateway, key: KeyMaker, reason: str, comment: str, field: str
) -> None:
    agent = key()
    view = gate.submit(agent, request(gate, agent))
    with pytest.raises(ApprovalError) as refused:
        decide_action(gate, key("approver"), view, approve=False, reason=reason, comment=comment)
    assert refused.value.field == field
