"""The approval rules as decision tables, on both stores: who decides, dual approval, reasons,
payload binding, expiry; every decision and refusal in the audit chain."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway import Gateway, LocalLedgerConnector, Principal, Role, Store
from gateway.approvals import InvalidDecision
from gateway.approvals_desk import ApprovalDesk, ApprovalRules
from gateway.channels.links import LinkRefused, LinkSigner
from gateway.errors import ApprovalError, Forbidden, GatewayError
from gateway.store import Action, Label
from tests.gateway.conftest import SECRET, Clock, KeyMaker, token
from tests.gateway.test_submit import request

BANK = {"iban": "CH9300762011623852957", "account_holder": "ABC Manufacturing AG"}


@pytest.fixture
def desk(gate: Gateway) -> ApprovalDesk:
    return ApprovalDesk(gateway=gate, links=LinkSigner(SECRET), public_url="http://canon.test",
                        rules=ApprovalRules(escalate_after_seconds=5 * 24 * 3600))  # fmt: skip


def close_po(gate: Gateway, key: KeyMaker, agent: Principal | None = None) -> tuple[str, str]:
    """Propose closing PO 2891 (one approval); return (action id, approval id)."""
    agent = agent or key()
    view = gate.submit(agent, request(gate, agent))
    assert view.approval is not None
    return view.id, view.approval.id


def change_bank(gate: Gateway, key: KeyMaker) -> tuple[str, str]:
    """Propose an irreversible bank-account change (two approvals)."""
    agent = key()
    tok = token(gate, agent, entity_type="supplier", canonical_id="SA2:01:000123:01")
    req = request(gate, agent, "supplier.update_bank_account", tok=tok, params=BANK)
    view = gate.submit(agent, req)
    assert view.approval is not None and view.approval.approvals_needed == 2
    return view.id, view.approval.id


def kinds(gate: Gateway, action_id: str | None = None) -> list[str]:
    return [e["kind"] for e in gate.audit_entries(Principal("t", "t", Role.ADMIN, ()),
                                                   action_id, limit=1000)]  # fmt: skip


def assert_chain_ok(gate: Gateway) -> None:
    verdict = gate.verify_audit(Principal("t", "t", Role.ADMIN, ()))
    assert verdict.ok, verdict.problem


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        pytest.param(lambda key, agent: key("approver", name="alice"), True, id="approver"),
        pytest.param(lambda key, agent: key("admin", name="root"), True, id="admin"),
        pytest.param(lambda key, agent: agent, False, id="the-requesting-agent"),
        pytest.param(lambda key, agent: Principal(agent.key_id, "x", Role.APPROVER, ()), False,
                     id="approver-holding-the-requesting-key"),
        pytest.param(lambda key, agent: key("agent", ["actions:*"], name="other"), False,
                     id="another-agent"),
        pytest.param(lambda key, agent: key("steward", name="steward"), False, id="steward"),
        pytest.param(lambda key, agent: key("approver", ["actions:purchase_order.*"]), True,
                     id="approver-limited-to-purchase-orders"),
        pytest.param(lambda key, agent: key("approver", ["actions:supplier.*"]), False,
                     id="approver-limited-to-suppliers"),
    ],
)  # fmt: skip
def test_who_may_decide(
    gate: Gateway, desk: ApprovalDesk, key: KeyMaker, ledger: LocalLedgerConnector,
    who: Any, allowed: bool,
) -> None:  # fmt: skip
    agent = key()
    action_id, approval_id = close_po(gate, key, agent)
    decider = who(key, agent)
    if allowed:
        view = gate.decide(decider, approval_id, approve=True)
        assert (view.status, view.action_status) == ("approved", "succeeded")
        assert [op.operation for op in ledger.journal()] == ["purchase_order.close"]
    else:
        with pytest.raises(Forbidden):
            gate.decide(decider, approval_id, approve=True)
        assert desk.get(decider if decider.role is not Role.AGENT else agent,
                        approval_id).status == "pending"  # fmt: skip
        assert ledger.journal() == []
        assert "approval.refused" in kinds(gate)
    assert_chain_ok(gate)


@pytest.mark.parametrize(
    ("steps", "status", "refused_at"),
    [
        pytest.param([("alice", "approve"), ("bob", "approve")], "approved", None,
                     id="two-distinct-approvers"),
        pytest.param([("alice", "approve"), ("alice", "approve")], "pending", 1,
                     id="same-approver-twice"),
        pytest.param([("alice", "approve"), ("bob", "reject")], "rejected", None,
                     id="one-rejection-after-an-approval-rejects"),
        pytest.param([("alice", "reject"), ("bob", "approve")], "rejected", 1,
                     id="first-rejection-rejects-at-once"),
        pytest.param([("alice", "approve"), ("alice-in-slack", "approve")], "pending", 1,
                     id="same-person-on-another-channel"),
    ],
)  # fmt: skip
def test_dual_approval(
    gate: Gateway, desk: ApprovalDesk, key: KeyMaker, ledger: LocalLedgerConnector,
    steps: list[tuple[str, str]], status: str, refused_at: int | None,
) -> None:  # fmt: skip
    _, approval_id = change_bank(gate, key)
    users = {name: key("approver", name=name) for name in ("alice", "bob")}
    users["alice-in-slack"] = users["alice"]
    channels = {"alice-in-slack": "slack"}
    for i, (who, decision) in enumerate(steps):
        args = (users[who], approval_id, decision == "approve", "wrong_amount")
        channel = channels.get(who, "portal")
        if i == refused_at:
            with pytest.raises(ApprovalError):
                gate.decide(*args, channel=channel)
        else:
            gate.decide(*args, channel=channel)
    view = desk.get(users["bob"], approval_id)
    assert view.status == status
    ran = ["supplier.update_bank_account"] if status == "approved" else []
    assert [op.operation for op in ledger.journal()] == ran
    assert_chain_ok(gate)


@pytest.mark.parametrize(
    ("approve", "reason", "comment", "outcome"),
    [
        pytest.param(True, "", "", "approved", id="approve-needs-no-reason"),
        pytest.param(False, "", "", "reason", id="reject-without-reason"),
        pytest.param(False, "because", "", "reason", id="unknown-reason"),
        pytest.param(False, "other", "  ", "comment", id="other-without-text"),
        pytest.param(False, "other", "duplicate of PO 2819", "rejected", id="other-with-text"),
        pytest.param(False, "wrong_amount", "", "rejected", id="wrong-amount"),
        pytest.param(False, "not_needed", "", "rejected", id="not-needed"),
        pytest.param(False, "wrong_entity", "", "rejected", id="wrong-entity"),
        pytest.param(True, "", "x" * 2001, "comment", id="comment-too-long"),
    ],
)
def test_every_decision_carries_a_reason(
    gate: Gateway, desk: ApprovalDesk, key: KeyMaker, store: Store,
    approve: bool, reason: str, comment: str, outcome: str,
) -> None:  # fmt: skip
    action_id, approval_id = close_po(gate, key)
    approver = key("approver")
    if outcome in ("reason", "comment"):
        with pytest.raises(InvalidDecision) as refused:
            gate.decide(approver, approval_id, approve, reason, comment)
        assert refused.value.field == outcome
        assert desk.get(approver, approval_id).status == "pending"
        return
    view = gate.decide(approver, approval_id, approve, reason, comment)
    assert view.status == outcome
    assert view.decisions[0].reason == (reason or "approved")
    with store.transaction() as session:
        labels = session.scalars(select(Label)).all()
    # An approval says the target is right, a wrong_entity rejection that it is wrong; the
    # other rejections say nothing of identity.
    verdict = {"approved": "correct", "wrong_entity": "wrong"}.get(reason or outcome)
    expected = [(verdict, "SC7:01:002891", action_id)] if verdict else []
    assert [(x.label, x.canonical_id, x.action_id) for x in labels] == expected


def test_decision_on_a_stale_payload_is_refused(
    gate: Gateway, desk: ApprovalDesk, key: KeyMaker
) -> None:
    _, approval_id = close_po(gate, key)
    with pytest.raises(ApprovalError) as refused:
        gate.decide(key("approver"), approval_id, True, seen_hash="0" * 64)
    assert refused.value.field == "payload_hash"
    current = desk.get(key("approver", name="b"), approval_id)
    assert gate.decide(key("approver", name="c"), approval_id, True,
                       seen_hash=current.payload_hash).status == "approved"  # fmt: skip


def test_a_changed_action_voids_earlier_approvals(
    gate: Gateway, desk: ApprovalDesk, key: KeyMaker, store: Store
) -> None:
    action_id, approval_id = change_bank(gate, key)
    alice, bob = key("approver", name="alice"), key("approver", name="bob")
    assert gate.decide(alice, approval_id, True).approvals_given == 1
    with store.transaction() as session:  # the action's payload changes under the request
        session.execute(update(Action).where(Action.id == action_id).values(payload_hash="f" * 64))
    view = gate.decide(bob, approval_id, True)
    assert (view.status, view.approvals_given, view.payload_hash) == ("pending", 1, "f" * 64)
    assert [d.void for d in view.decisions] == [True, False]
    assert gate.decide(alice, approval_id, True).status == "approved"  # alice, on the new payload
    assert "approval.voided" in kinds(gate, action_id)
    assert_chain_ok(gate)


def test_an_expired_request_never_executes(
    gate: Gateway, desk: ApprovalDesk, key: KeyMaker, clock: Clock, ledger: LocalLedgerConnector
) -> None:
    action_id, approval_id = close_po(gate, key)
    clock.advance(7 * 24 * 3600)
    with pytest.raises(ApprovalError, match="expired"):
        gate.decide(key("approver"), approval_id, True)
    view = desk.get(key("approver", name="b"), approval_id)
    assert (view.status, view.action_status) == ("expired", "expired")
    with pytest.raises(ApprovalError, match="already expired"):
        gate.decide(key("approver", name="c"), approval_id, True)
    gate.run_approved(approval_id)
    assert ledger.journal() == []
    assert kinds(gate, action_id)[-1] == "approval.expired"
    assert_chain_ok(gate)


def test_an_email_link_decides_once(gate: Gateway, desk: ApprovalDesk, key: KeyMaker) -> None:
    _, approval_id = change_bank(gate, key)
    links = LinkSigner(SECRET)
    token = links.issue(approval_id=approval_id, user_id="u-1", decision="approve",
                        payload_hash=desk.get(key("approver"), approval_id).payload_hash,
                        expires_at=gate.clock() + timedelta(days=1))  # fmt: skip
    claims = links.verify(token, gate.clock())
    alice, bob = key("approver", name="alice"), key("approver", name="bob")
    view = gate.decide(alice, approval_id, True, seen_hash=claims.payload_hash, channel="email",
                       link=claims)  # fmt: skip
    assert (view.approvals_given, [d.channel for d in view.decisions]) == (1, ["email"])
    with pytest.raises(LinkRefused, match="already been used"):
        gate.decide(bob, approval_id, True, channel="email", link=claims)
    assert gate.decide(bob, approval_id, True).approvals_given == 2  # bob, without the link
    assert kinds(gate).count("approval.refused") == 1  # (refusals name the request, not the action)
    assert_chain_ok(gate)


def test_a_decision_can_leave_the_run_for_later(
    gate: Gateway, key: KeyMaker, ledger: LocalLedgerConnector
) -> None:
    action_id, approval_id = close_po(gate, key)
    view = gate.decide(key("approver"), approval_id, True, channel="slack", run_now=False)
    assert (view.status, view.action_status, ledger.journal()) == ("approved", "approved", [])
    gate.run_approved(approval_id)
    assert gate.status(key("approver"), action_id).status == "succeeded"
    assert [op.operation for op in ledger.journal()] == ["purchase_order.close"]
    gate.run_approved(approval_id)  # claimed and done: nothing runs twice
    assert len(ledger.journal()) == 1


def test_listing_filters_and_agents_see_only_their_own(
    gate: Gateway, desk: ApprovalDesk, key: KeyMaker
) -> None:
    mine, other = key(name="mine"), key(name="other")
    close_po(gate, key, mine)
    change_bank(gate, lambda *a, **k: other)
    approver = key("approver")
    assert {v.action for v in desk.list(approver)} == {
        "purchase_order.close", "supplier.update_bank_account",
    }  # fmt: skip
    assert [v.action for v in desk.list(approver, risk="irreversible")] == [
        "supplier.update_bank_account"
    ]
    assert [v.action for v in desk.list(mine)] == ["purchase_order.close"]
    assert desk.list(approver, status="approved") == []
    with pytest.raises(GatewayError):
        desk.list(approver, status="bogus")


def test_detail_carries_the_business_context(
    gate: Gateway, desk: ApprovalDesk, key: KeyMaker
) -> None:
    agent = key()
    tok = token(gate, agent)
    req = request(gate, agent, "purchase_order.update_delivery_date", tok=tok,
                  params={"delivery_date": "2026-05-31"},
                  context={"reason": "supplier confirmed a later date",
                           "evidence": ["email 2026-04-10 from ABC"]})  # fmt: skip
    view = gate.submit(agent, req)
    assert view.approval is not None
    d = desk.get(key("approver"), view.approval.id).details
    assert (d.display_name, d.canonical_id, d.amount) == (
        "ABC Manufacturing", "SC7:01:002891", "CHF 45,000",
    )  # fmt: skip
    assert d.dates == {"delivery_date": "2026-05-01", "delivery_date (new)": "2026-05-31"}
    assert (d.reason, d.evidence) == ("supplier confirmed a later date",
                                      ["email 2026-04-10 from ABC"])  # fmt: skip
    (step,) = d.steps
    assert [(c.field, c.before, c.after) for c in step.changes] == [
        ("delivery_date", "2026-05-01", "2026-05-31")
    ]
    assert d.compensation_plan == [
        "undo step 1 (update_delivery_date) with purchase_order.restore_delivery_date"
    ]
