"""Dual approval needs two independent people: not one person's two identities, and not an
approver and the account they made or changed within the window; on both stores."""

from __future__ import annotations

import pytest

from gateway import Gateway, Principal
from gateway.channels.portal import create_user, user_principal
from gateway.errors import ApprovalError, Forbidden, InvalidKeyRequest
from gateway.keys import create_key
from gateway.store import ApiKey
from tests.gateway.conftest import Clock, KeyMaker
from tests.gateway.test_approval_outbox import FAST_HASHER
from tests.gateway.test_approval_rules import change_bank, close_po


def _user_made_by(gate: Gateway, creator: Principal, username: str = "sock") -> Principal:
    with gate.store.transaction() as session:
        user = create_user(session, username=username, password="correct horse battery",
                           actor=creator.actor, now=gate.clock(), hasher=FAST_HASHER)  # fmt: skip
        return user_principal(user)


def test_an_admin_and_the_user_it_made_are_not_two_approvers(gate: Gateway, key: KeyMaker) -> None:
    action_id, approval_id = change_bank(gate, key)
    admin = key("admin", name="root")
    sock = _user_made_by(gate, admin)
    gate.decide(admin, approval_id, approve=True)
    with pytest.raises(ApprovalError, match="independent person"):
        gate.decide(sock, approval_id, approve=True)
    assert gate.status(admin, action_id).status == "pending_approval"


def test_the_rule_holds_in_either_order(gate: Gateway, key: KeyMaker) -> None:
    action_id, approval_id = change_bank(gate, key)
    admin = key("admin", name="root")
    sock = _user_made_by(gate, admin)
    gate.decide(sock, approval_id, approve=True)
    with pytest.raises(ApprovalError, match="independent person"):
        gate.decide(admin, approval_id, approve=True)


def test_an_account_made_long_ago_no_longer_ties_its_maker(
    gate: Gateway, key: KeyMaker, clock: Clock
) -> None:
    admin = key("admin", name="root")
    sock = _user_made_by(gate, admin)
    clock.advance(gate.rules.account_window_seconds + 1)
    action_id, approval_id = change_bank(gate, key)
    gate.decide(admin, approval_id, approve=True)
    assert gate.decide(sock, approval_id, approve=True).action_status == "succeeded"


def test_two_keys_of_one_person_are_one_approver(gate: Gateway, key: KeyMaker) -> None:
    action_id, approval_id = change_bank(gate, key)
    with gate.store.transaction() as session:
        first, _ = create_key(session, "ana-laptop", "approver")
        person = session.get_one(ApiKey, first.key_id).person_id
        second, _ = create_key(session, "ana-phone", "approver", person_id=person)
        with pytest.raises(InvalidKeyRequest):
            create_key(session, "x", "approver", person_id="p-nobody")
    gate.decide(first, approval_id, approve=True)
    with pytest.raises(ApprovalError, match="second person"):
        gate.decide(second, approval_id, approve=True)
    third = key("approver", name="bea")
    assert gate.decide(third, approval_id, approve=True).action_status == "succeeded"


def test_the_requesters_person_cannot_approve_through_another_key(
    gate: Gateway, key: KeyMaker
) -> None:
    agent = key()
    with gate.store.transaction() as session:
        person = session.get_one(ApiKey, agent.key_id).person_id
        own, _ = create_key(session, "agent-owner", "approver", person_id=person)
    _, approval_id = close_po(gate, key, agent)
    with pytest.raises(Forbidden, match="person who requested"):
        gate.decide(own, approval_id, approve=True)
