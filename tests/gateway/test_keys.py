"""API keys: shown once, stored hashed, scoped, revocable; every key event audited."""

from __future__ import annotations

import pytest

from gateway import audit
from gateway.errors import InvalidKeyRequest, NotAuthenticated
from gateway.keys import Role, authenticate, create_key, list_keys, revoke_key
from gateway.store import Store

ACTIONS = ["purchase_order.close", "purchase_order.approve", "supplier.block"]


def _create(store: Store, role: str = "agent", scopes: tuple[str, ...] = ("resolve",)) -> str:
    with store.transaction() as session:
        _, key = create_key(session, "bot", role, list(scopes), actions=ACTIONS)
    return key


def test_key_authenticates_and_is_stored_hashed(store: Store) -> None:
    key = _create(store, scopes=("resolve", "actions:purchase_order.*"))
    with store.transaction() as session:
        principal = authenticate(session, key)
        (row,) = list_keys(session)
    assert (principal.role, principal.scopes) == (
        Role.AGENT,
        ("resolve", "actions:purchase_order.*"),
    )
    secret = key.split("_", 2)[2]
    assert secret not in row.secret_hash and key not in str(row.__dict__)


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("Bearer x", id="garbage"),
        pytest.param("canon_0000000000000000_secret", id="unknown-id"),
    ],
)
def test_unknown_keys_refused(store: Store, presented: str | None) -> None:
    with pytest.raises(NotAuthenticated), store.transaction() as session:
        authenticate(session, presented)


def test_wrong_secret_refused(store: Store) -> None:
    key = _create(store)
    with pytest.raises(NotAuthenticated), store.transaction() as session:
        authenticate(session, key[:-1] + ("A" if key[-1] != "A" else "B"))


def test_revoked_key_refused_and_events_audited(store: Store) -> None:
    key = _create(store)
    with store.transaction() as session:
        revoked = revoke_key(session, "bot")
        assert revoke_key(session, "bot") == []
    with pytest.raises(NotAuthenticated, match="revoked"), store.transaction() as session:
        authenticate(session, key)
    with store.transaction() as session:
        kinds = [(e.kind, audit.as_dict(e)["data"]["key_id"]) for e in audit.entries(session)]
    assert kinds == [("key.created", revoked[0]), ("key.revoked", revoked[0])]


@pytest.mark.parametrize(
    ("scopes", "action", "allowed"),
    [
        pytest.param(["actions:purchase_order.*"], "purchase_order.close", True, id="entity-glob"),
        pytest.param(["actions:purchase_order.*"], "supplier.block", False, id="other-entity"),
        pytest.param(["actions:supplier.block"], "supplier.block", True, id="exact"),
        pytest.param(["actions:*"], "supplier.block", True, id="everything"),
        pytest.param(["resolve"], "supplier.block", False, id="resolve-only"),
    ],
)
def test_agent_scopes(store: Store, scopes: list[str], action: str, allowed: bool) -> None:
    with store.transaction() as session:
        principal, _ = create_key(session, "bot", "agent", scopes)
    assert principal.may_propose(action) is allowed
    assert principal.may_resolve() is ("resolve" in scopes)


def test_people_may_resolve_but_never_propose(store: Store) -> None:
    with store.transaction() as session:
        admin, _ = create_key(session, "ops", "admin", ["actions:*"])
    assert admin.may_resolve() and not admin.may_propose("supplier.block")


@pytest.mark.parametrize(
    ("name", "role", "scopes", "field"),
    [
        pytest.param(" ", "agent", ["resolve"], "name", id="blank-name"),
        pytest.param("bot", "root", ["resolve"], "role", id="unknown-role"),
        pytest.param("bot", "agent", [], "scopes", id="agent-without-scope"),
        pytest.param("bot", "agent", ["write"], "scopes", id="unknown-scope"),
        pytest.param("bot", "agent", ["actions:purchase_ordr.*"], "scopes", id="typo-in-action"),
    ],
)
def test_bad_key_requests(
    store: Store, name: str, role: str, scopes: list[str], field: str
) -> None:
    with pytest.raises(InvalidKeyRequest) as refused, store.transaction() as session:
        create_key(session, name, role, scopes, actions=ACTIONS)
    assert refused.value.field == field
