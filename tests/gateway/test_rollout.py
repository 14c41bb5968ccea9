"""Rollout: phases in the store, promotion on evidence only, monitors in the autonomous phase."""

from __future__ import annotations

import pytest

from gateway import GateRules, Gateway, LocalLedgerConnector, Phase, PromotionRules, Store
from gateway.errors import Forbidden, PromotionRefused
from gateway.keys import LOCAL_OPERATOR, Principal
from gateway.rollout import record_drill
from tests.gateway.conftest import (
    Clock,
    KeyMaker,
    decide_action,
    make_gateway,
    record_passing_drill,
    token,
)
from tests.gateway.test_submit import force_phase, request

ACTION = "purchase_order.close"


def _decided(gate: Gateway, agent: Principal, approver: Principal, outcomes: list[str]) -> None:
    """One proposal per outcome: 'ok' approved, otherwise rejected with that reason."""
    for i, outcome in enumerate(outcomes):
        gate.clock.advance(1)  # type: ignore[attr-defined]
        idem = f"{outcome}-{i}-{agent.key_id}"
        view = gate.submit(agent, request(gate, agent, idempotency_key=idem))
        if outcome == "ok":
            decide_action(gate, approver, view, approve=True, reason="")
        else:
            decide_action(gate, approver, view, approve=False, reason=outcome, comment="c")


def _promote(gate: Gateway) -> None:
    gate.set_phase(LOCAL_OPERATOR, ACTION, Phase.AUTONOMOUS)


def test_default_promotion_rule_is_95_percent_over_50() -> None:
    assert PromotionRules() == PromotionRules(min_proposals=50, min_approval_rate=0.95)


def test_promotion_refused_without_enough_proposals_and_audited(
    gate: Gateway, key: KeyMaker
) -> None:
    _decided(gate, key(), key("approver"), ["ok"] * 9)
    with pytest.raises(PromotionRefused, match="only 9 decided proposals; promotion needs 10"):
        _promote(gate)
    (ready,) = gate.readiness(LOCAL_OPERATOR, ACTION)
    assert (ready.phase, ready.proposals, ready.ready) == (Phase.SUPERVISED, 9, False)
    last = gate.audit_entries(LOCAL_OPERATOR, None, after_seq=0, limit=1000)[-1]
    assert (last["kind"], last["data"]["to"]) == ("rollout.refused", "autonomous")


def test_promotion_allowed_on_evidence_and_audited(gate: Gateway, key: KeyMaker) -> None:
    _decided(gate, key(), key("approver"), ["not_needed"] + ["ok"] * 9 + ["ok"])
    (ready,) = gate.readiness(LOCAL_OPERATOR, ACTION)
    assert (ready.proposals, ready.approved_unchanged, ready.approval_rate) == (10, 10, 1.0)
    with gate.store.transaction() as session:
        record_passing_drill(session, gate.catalog.get(ACTION))
    change = gate.set_phase(LOCAL_OPERATOR, ACTION, Phase.AUTONOMOUS)
    assert (change.before, change.after) == (Phase.SUPERVISED, Phase.AUTONOMOUS)
    assert gate.readiness(LOCAL_OPERATOR, ACTION)[0].phase == Phase.AUTONOMOUS
    last = gate.audit_entries(LOCAL_OPERATOR, None, limit=1000)[-1]
    assert (last["kind"], last["actor"]) == ("rollout.changed", "cli:operator")


@pytest.mark.parametrize(
    ("outcomes", "why"),
    [
        pytest.param(["ok"] * 9 + ["wrong_entity"], "1 wrong-entity rejection", id="wrong-entity"),
        pytest.param(["ok"] * 8 + ["not_needed"] * 2, "80.0% approved without change",
                     id="rate-below-threshold"),
    ],
)  # fmt: skip
def test_promotion_refused_on_bad_evidence(
    gate: Gateway, key: KeyMaker, outcomes: list[str], why: str
) -> None:
    _decided(gate, key(), key("approver"), outcomes)
    with pytest.raises(PromotionRefused, match=why):
        _promote(gate)


def test_promotion_refused_without_a_passing_drill_of_the_current_steps(
    gate: Gateway, key: KeyMaker
) -> None:
    _decided(gate, key(), key("approver"), ["ok"] * 10)
    with pytest.raises(PromotionRefused, match="needs a passing rollback drill: .* no rollback"):
        _promote(gate)
    last = gate.audit_entries(LOCAL_OPERATOR, None, limit=1000)[-1]
    assert last["kind"] == "rollout.refused" and "rollback drill" in last["data"]["reason"]
    spec = gate.catalog.get(ACTION)
    with gate.store.transaction() as session:
        record_drill(session, spec, passed=False, erp="sandbox (protheus)",
                     report={"problem": "step 0: closed: expected True, found False"},
                     actor="test", now=gate.clock())  # fmt: skip
    with pytest.raises(PromotionRefused, match="failed: step 0: closed: expected True"):
        _promote(gate)
    # a drill of other steps (the catalog changed since) does not count
    changed = spec.model_copy(
        update={"steps": (spec.steps[0].model_copy(update={"compensation": "x.y"}),)}
    )
    assert changed.steps_hash != spec.steps_hash
    with gate.store.transaction() as session:
        record_passing_drill(session, changed)
    (ready,) = gate.readiness(LOCAL_OPERATOR, ACTION)
    assert not ready.drill_passed and "the catalog changed since" in ready.drill
    with pytest.raises(PromotionRefused, match="the catalog changed since"):
        _promote(gate)
    with gate.store.transaction() as session:
        record_passing_drill(session, spec)
    assert gate.set_phase(LOCAL_OPERATOR, ACTION, Phase.AUTONOMOUS).after == Phase.AUTONOMOUS


def test_leaving_shadow_mode_needs_a_drill_too(gate: Gateway) -> None:
    gate.set_phase(LOCAL_OPERATOR, ACTION, Phase.READ_ONLY)
    with pytest.raises(PromotionRefused, match="read_only: promotion needs a passing rollback"):
        gate.set_phase(LOCAL_OPERATOR, ACTION, Phase.SUPERVISED)
    with gate.store.transaction() as session:
        record_passing_drill(session, gate.catalog.get(ACTION))
    assert gate.set_phase(LOCAL_OPERATOR, ACTION, Phase.SUPERVISED).after == Phase.SUPERVISED


def test_demotion_needs_no_evidence(gate: Gateway) -> None:
    change = gate.set_phase(LOCAL_OPERATOR, ACTION, Phase.READ_ONLY)
    assert change.after == Phase.READ_ONLY
    assert gate.set_phase(LOCAL_OPERATOR, ACTION, Phase.READ_ONLY).after == Phase.READ_ONLY


def test_only_admins_change_phases(gate: Gateway, key: KeyMaker) -> None:
    with pytest.raises(Forbidden):
        gate.set_phase(key("approver"), ACTION, Phase.READ_ONLY)


def _autonomous_gate(
    store: Store, ledger: LocalLedgerConnector, clock: Clock, burst_max: int = 30
) -> Gateway:
    gate = make_gateway(store, ledger, clock, GateRules(burst_max_actions=burst_max))
    force_phase(gate, "transaction.reclassify", Phase.AUTONOMOUS)
    return gate


def _reclassify(gate: Gateway, agent: Principal, canonical_id: str, idem: str) -> object:
    return request(
        gate, agent, "transaction.reclassify",
        tok=token(gate, agent, entity_type="transaction", canonical_id=canonical_id),
        params={"account": "6100.200"}, idempotency_key=idem,
    )  # fmt: skip


def test_amount_outlier_routed_to_review_with_reason(
    store: Store, ledger: LocalLedgerConnector, clock: Clock, key: KeyMaker
) -> None:
    for i, amount in enumerate([1200, 1100, 1300, 1250, 1150, 1210]):
        ledger.put_record("transaction", f"TX:{i}", {"amount": amount, "currency": "CHF",
                          "account": "6000.100"}, group_key="acct-6000")  # fmt: skip
    ledger.put_record("transaction", "TX:big", {"amount": 250_000, "currency": "CHF",
                      "account": "6000.100"}, group_key="acct-6000")  # fmt: skip
    gate = _autonomous_gate(store, ledger, clock)
    agent = key()
    normal = gate.submit(agent, _reclassify(gate, agent, "TX:0", "n"))  # type: ignore[arg-type]
    outlier = gate.submit(agent, _reclassify(gate, agent, "TX:big", "o"))  # type: ignore[arg-type]
    assert normal.status == "succeeded"
    assert outlier.status == "pending_approval"
    assert "flagged for review: amount 250,000.00 is far outside" in outlier.summary
    assert outlier.flags and outlier.outcome["reasons"] == outlier.flags


def test_burst_from_one_key_routed_to_review(
    store: Store, ledger: LocalLedgerConnector, clock: Clock, key: KeyMaker
) -> None:
    gate = _autonomous_gate(store, ledger, clock, burst_max=3)
    agent = key()
    statuses = [
        gate.submit(agent, _reclassify(gate, agent, f"TX:{i}", f"b{i}")).status  # type: ignore[arg-type]
        for i in range(4)
    ]
    assert statuses == ["succeeded"] * 3 + ["pending_approval"]
    clock.advance(61)
    assert gate.submit(agent, _reclassify(gate, agent, "TX:9", "later")).status == "succeeded"  # type: ignore[arg-type]
