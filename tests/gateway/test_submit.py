"""Submitting actions: policy by phase, shadow mode, refusals, idempotency (also concurrent)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway import (
    ActionRequest,
    ErpOperation,
    Gateway,
    LocalLedgerConnector,
    Phase,
    Store,
    TargetRef,
)
from gateway.errors import (
    ActionNotFound,
    Forbidden,
    GatewayError,
    IdempotencyConflict,
    IdentityMismatch,
    InvalidParams,
    TokenExpired,
    TokenForged,
    UnknownAction,
    WrongEntityType,
    WrongTokenKind,
)
from gateway.keys import LOCAL_OPERATOR
from gateway.rollout import PromotionRules, set_phase
from gateway.store import Action, AuditEntry
from resolver.types import Decision
from tests.gateway.conftest import Clock, KeyMaker, record_passing_drill, token

REASON = {"reason": "delivery confirmed by warehouse system on 2026-04-12"}


def request(gate: Gateway, action: str = "purchase_order.close", **kw: Any) -> ActionRequest:
    data: dict[str, Any] = {
        "action": action,
        "target": TargetRef(resolution_token=kw.pop("tok", None) or token(gate)),
        "params": {},
        "context": REASON,
        "idempotency_key": "idem-1",
    }
    data.update(kw)
    return ActionRequest(**data)


def _count(store: Store, model: type[Any]) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_supervised_close_waits_for_one_approval_with_plain_summary(
    gate: Gateway, key: KeyMaker
) -> None:
    view = gate.submit(key(), request(gate))
    assert view.status == "pending_approval"
    assert view.approval is not None and view.approval.approvals_needed == 1
    assert view.summary == (
        "Approve closing SC7:01:002891 (supplier: ABC Manufacturing, amount: CHF 45,000, "
        "reason: delivery confirmed by warehouse system on 2026-04-12)"
    )
    assert [s.status for s in view.steps] == ["planned"]
    assert view.target["canonical_id"] == "SC7:01:002891"


def test_irreversible_needs_two_approvals(gate: Gateway, key: KeyMaker) -> None:
    req = request(
        gate,
        "supplier.update_bank_account",
        tok=token(gate, entity_type="supplier", canonical_id="SA2:01:000123:01"),
        params={"iban": "CH9300762011623852957", "account_holder": "ABC Manufacturing AG"},
    )
    view = gate.submit(key(), req)
    assert view.status == "pending_approval"
    assert view.approval is not None and view.approval.approvals_needed == 2


def test_shadow_records_plan_and_runs_nothing(
    gate: Gateway, key: KeyMaker, ledger: LocalLedgerConnector
) -> None:
    gate.set_phase(LOCAL_OPERATOR, "purchase_order.close", Phase.READ_ONLY)
    view = gate.submit(key(), request(gate))
    assert view.status == "shadowed"
    assert [(s.operation, s.status) for s in view.steps] == [("purchase_order.close", "planned")]
    assert view.approval is None
    assert ledger.journal() == []


def test_autonomous_low_risk_runs_through_the_ledger(
    gate: Gateway, key: KeyMaker, ledger: LocalLedgerConnector
) -> None:
    gate.set_phase(LOCAL_OPERATOR, "purchase_order.update_delivery_date", Phase.READ_ONLY)
    force_phase(gate, "purchase_order.update_delivery_date", Phase.AUTONOMOUS)
    req = request(
        gate, "purchase_order.update_delivery_date", params={"delivery_date": "2026-06-01"}
    )
    view = gate.submit(key(), req)
    assert view.status == "succeeded"
    assert view.outcome == {"kind": "execute", "logged_for_review": True}
    (op,) = ledger.journal()
    assert (op.operation, op.canonical_id, op.params) == (
        "purchase_order.update_delivery_date", "SC7:01:002891", {"delivery_date": "2026-06-01"},
    )  # fmt: skip
    assert view.steps[0].result is not None
    assert view.steps[0].result["data"]["before"]["delivery_date"] == "2026-05-01"


def force_phase(gate: Gateway, action: str, phase: Phase) -> None:
    """Set a phase without readiness evidence (tests of what a phase does, not of promotion)."""
    with gate.store.transaction() as session:
        record_passing_drill(session, gate.catalog.get(action))
        set_phase(session, gate.catalog.get(action), phase, PromotionRules(min_proposals=0,
                  min_approval_rate=0.0), actor="test", now=gate.clock())  # fmt: skip


@pytest.mark.parametrize(
    ("make", "error", "field"),
    [
        pytest.param(lambda g: request(g, "purchase_order.delete"), UnknownAction, "action",
                     id="unknown-action"),
        pytest.param(lambda g: request(g, "purchase_order.update_delivery_date",
                                       params={"delivery_date": "tomorrow"}),
                     InvalidParams, "params.delivery_date", id="params-fail-schema"),
        pytest.param(lambda g: request(g, context={"evidence": []}), InvalidParams,
                     "context.reason", id="no-reason"),
        pytest.param(lambda g: request(g, tok=token(g)[:-3] + "abc"), TokenForged,
                     "target.resolution_token", id="forged-token"),
        pytest.param(lambda g: request(g, tok=token(g, entity_type="supplier",
                                                    canonical_id="SA2:01:000123:01")),
                     WrongEntityType, "target.resolution_token", id="supplier-token-for-a-po"),
        pytest.param(lambda g: request(g, tok=token(g, decision=Decision.NO_MATCH)),
                     WrongTokenKind, "target.resolution_token", id="no-match-token-for-update"),
    ],
)  # fmt: skip
def test_bad_input_refused_and_only_the_refusal_audited(
    gate: Gateway, key: KeyMaker, store: Store, make: Any, error: type[GatewayError], field: str
) -> None:
    agent = key()
    before = _count(store, AuditEntry)
    with pytest.raises(error) as refused:
        gate.submit(agent, make(gate))
    assert refused.value.field == field
    assert _count(store, Action) == 0
    entries = gate.audit_entries(LOCAL_OPERATOR, None, after_seq=before)
    assert [(e["kind"], e["data"]["error"], e["data"]["field"]) for e in entries] == [
        ("action.refused", error.__name__, field)
    ]


def test_expired_token_refused(gate: Gateway, key: KeyMaker, clock: Clock) -> None:
    req = request(gate)
    clock.advance(601)
    with pytest.raises(TokenExpired):
        gate.submit(key(), req)


def test_agent_scope_limits_actions(gate: Gateway, key: KeyMaker) -> None:
    agent = key(scopes=["resolve", "actions:supplier.*"])
    with pytest.raises(Forbidden) as refused:
        gate.submit(agent, request(gate))
    assert refused.value.field == "action"


def test_same_key_same_payload_returns_the_same_action(gate: Gateway, key: KeyMaker) -> None:
    agent = key()
    req = request(gate)
    first = gate.submit(agent, req)
    again = gate.submit(agent, req)
    assert (again.id, again.replayed, first.replayed) == (first.id, True, False)


def test_same_key_other_payload_conflicts(gate: Gateway, key: KeyMaker, store: Store) -> None:
    agent = key()
    tok = token(gate)
    gate.submit(agent, request(gate, tok=tok))
    with pytest.raises(IdempotencyConflict):
        gate.submit(agent, request(gate, tok=tok, context={"reason": "another reason"}))
    assert _count(store, Action) == 1


def test_idempotency_keys_are_per_agent(gate: Gateway, key: KeyMaker, store: Store) -> None:
    req = request(gate)
    gate.submit(key(name="a"), req)
    gate.submit(key(name="b"), req)
    assert _count(store, Action) == 2


def test_concurrent_submissions_create_one_action_and_one_erp_write(
    gate: Gateway, key: KeyMaker, ledger: LocalLedgerConnector, store: Store
) -> None:
    force_phase(gate, "ticket.close", Phase.AUTONOMOUS)
    agent = key()
    req = request(
        gate, "ticket.close", tok=token(gate, entity_type="ticket", canonical_id="TKT:4711"),
        params={"resolution": "invoice re-sent"},
    )  # fmt: skip
    with ThreadPoolExecutor(max_workers=8) as pool:
        views = list(pool.map(lambda _: gate.submit(agent, req), range(24)))
    assert len({v.id for v in views}) == 1
    assert sum(not v.replayed for v in views) == 1
    assert _count(store, Action) == 1
    assert [op.operation for op in ledger.journal()] == ["ticket.close"]
    assert gate.status(agent, views[0].id).status == "succeeded"


def _supplier_create(gate: Gateway, name: str, tax_id: str, **kw: Any) -> ActionRequest:
    identity = {"name": "abc manufacturing", "tax_id": "11222333000181"}
    tok = kw.pop("tok", None) or token(
        gate, decision=Decision.NO_MATCH, entity_type="supplier", identity=identity
    )
    params = {"name": name, "tax_id": tax_id, "document": "dms://cnpj-card.pdf"}
    return request(gate, "supplier.create", tok=tok, params=params, **kw)


def test_create_with_no_match_token_for_the_same_identity(gate: Gateway, key: KeyMaker) -> None:
    view = gate.submit(
        key(), _supplier_create(gate, "ABC Manufacturing Ltda.", "11.222.333/0001-81")
    )
    assert view.status == "pending_approval"
    assert view.summary.startswith("Approve registering the new supplier ABC Manufacturing Ltda.")
    assert [s.name for s in view.steps] == [
        "create_record",
        "attach_document",
        "route_for_approval",
    ]


@pytest.mark.parametrize(
    ("name", "tax_id", "field"),
    [
        pytest.param("XYZ Trading", "11.222.333/0001-81", "params.name", id="other-name"),
        pytest.param("ABC Manufacturing", "99.888.777/0001-66", "params.tax_id", id="other-tax-id"),
    ],
)
def test_create_for_another_identity_refused(
    gate: Gateway, key: KeyMaker, name: str, tax_id: str, field: str
) -> None:
    with pytest.raises(IdentityMismatch) as refused:
        gate.submit(key(), _supplier_create(gate, name, tax_id))
    assert refused.value.field == field


def test_create_with_a_match_token_refused(gate: Gateway, key: KeyMaker) -> None:
    tok = token(gate, entity_type="supplier", canonical_id="SA2:01:000123:01")
    with pytest.raises(WrongTokenKind):
        gate.submit(key(), _supplier_create(gate, "ABC Manufacturing", "1", tok=tok))


def test_deleted_target_rejected(
    gate: Gateway, key: KeyMaker, ledger: LocalLedgerConnector
) -> None:
    ledger.run(ledger_op("purchase_order.delete_record", "SC7:01:002891"))
    view = gate.submit(key(), request(gate))
    assert view.status == "rejected"
    assert view.outcome == {"kind": "reject", "reason": "the target is deleted in the ERP"}


def ledger_op(operation: str, canonical_id: str) -> ErpOperation:
    return ErpOperation(operation=operation, entity_type=operation.split(".")[0],
                        canonical_id=canonical_id, idempotency_key=f"seed:{operation}")  # fmt: skip


def test_status_visible_to_requester_and_reviewers_only(gate: Gateway, key: KeyMaker) -> None:
    view = gate.submit(key(name="a"), request(gate))
    assert gate.status(key("approver"), view.id).id == view.id
    with pytest.raises(ActionNotFound):
        gate.status(key(name="other-agent"), view.id)
