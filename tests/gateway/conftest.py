"""A real gateway over each store backend, the shipped catalog and a local ledger ERP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gateway import (
    ActionView,
    GateRules,
    Gateway,
    LocalLedgerConnector,
    Principal,
    PromotionRules,
    Store,
    TokenSigner,
    create_key,
    load_catalog,
)
from gateway.catalog import ActionSpec
from gateway.rollout import record_drill
from gateway.store import utcnow
from resolver.normalise import normalise_record
from resolver.types import Decision, Resolution
from tests.tokens import issue_for

CATALOG_FILE = Path(__file__).resolve().parents[2] / "config" / "actions.yaml"
SECRET = "test-secret-" + "x" * 32


class Clock:
    """A settable clock shared by the gateway and its token signer."""

    def __init__(self) -> None:
        self.now = datetime(2026, 4, 12, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path) -> LocalLedgerConnector:
    ledger = LocalLedgerConnector(tmp_path / "ledger.sqlite")
    ledger.put_record(
        "purchase_order",
        "SC7:01:002891",
        {"supplier_name": "ABC Manufacturing", "amount": 45000, "currency": "CHF",
         "delivery_date": "2026-05-01"},
        group_key="SA2:01:000123:01",
    )  # fmt: skip
    ledger.put_record("supplier", "SA2:01:000123:01", {"name": "ABC Manufacturing", "tax_id": "1"})
    return ledger


def decide_action(
    gate: Gateway,
    principal: Principal,
    view: ActionView,
    approve: bool = True,
    reason: str = "",
    comment: str = "",
) -> ActionView:
    """Decide an action's approval request by the gateway's one decision path (`Gateway.decide`,
    as every channel does); the action as it stands after (run, when this approved it)."""
    assert view.approval is not None, f"{view.action} {view.id} waits for no approval"
    gate.decide(principal, view.approval.id, approve, reason, comment)
    return gate.status(principal, view.id)


def make_gateway(
    store: Store, ledger: LocalLedgerConnector, clock: Clock, rules: GateRules | None = None
) -> Gateway:
    return Gateway(
        store=store,
        catalog=load_catalog(CATALOG_FILE),
        signer=TokenSigner(SECRET, 600, clock=clock.timestamp),
        connector=ledger,
        normalise_identity=normalise_record,
        rules=rules or GateRules(promotion=PromotionRules(min_proposals=10, min_approval_rate=0.9)),
        clock=clock,
    )


@pytest.fixture
def gate(store: Store, ledger: LocalLedgerConnector, clock: Clock) -> Gateway:
    return make_gateway(store, ledger, clock)


KeyMaker = Callable[..., Principal]


@pytest.fixture
def key(store: Store) -> KeyMaker:
    """Create a key and return its principal: key("agent", ["actions:*"]), key("approver")."""

    def make(role: str = "agent", scopes: list[str] | None = None, name: str = "k") -> Principal:
        scopes = (
            scopes if scopes is not None else (["resolve", "actions:*"] if role == "agent" else [])
        )
        with store.transaction() as session:
            principal, _ = create_key(session, name, role, scopes)
        return principal

    return make


def resolution(
    decision: Decision = Decision.MATCH,
    entity_type: str = "purchase_order",
    canonical_id: str | None = "SC7:01:002891",
    identity: dict[str, str | None] | None = None,
) -> Resolution:
    return Resolution(
        decision=decision,
        entity_type=entity_type,
        canonical_id=canonical_id if decision is Decision.MATCH else None,
        candidates=[],
        reason="test",
        model_version="m-1",
        calibration_version="c-1",
        query_identity=identity or {},
    )


def token(gate: Gateway, holder: Principal, **kw: object) -> str:
    """A token as `gate.resolve` would issue it to the key of `holder` (an agent's principal)."""
    return issue_for(gate, resolution(**kw), holder)  # type: ignore[arg-type]


def record_passing_drill(session: Session, spec: ActionSpec) -> None:
    """A passing rollback drill of the action type's current steps, as `canon rollout drill`
    stores it: for tests of what a phase does, not of the drill (tests/gateway/test_drill.py)."""
    record_drill(session, spec, passed=True, erp="test fixture", report={"fixture": True},
                 actor="test", now=utcnow())  # fmt: skip
