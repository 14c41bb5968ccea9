"""Admin actions on people are announced to the other admins: outbox rows written in the
change's own transaction, sent by the approvals' sweep over real SMTP and a Slack stand-in."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from gateway import Gateway, Store, create_key, revoke_key
from gateway.approvals_desk import ApprovalDesk, ApprovalRules, Channels
from gateway.approvals_outbox import ApprovalOutbox
from gateway.channels import LinkSigner
from gateway.channels.portal import create_user, unlock_user
from gateway.store.models import AdminNotice, ApiKey, PortalUser
from tests.gateway.conftest import SECRET
from tests.gateway.test_approval_outbox import (  # noqa: F401 (fixtures)
    FAST_HASHER,
    Inbox,
    SlackStandIn,
    add_user,
    desk,
    slack_api,
    smtp,
)
from tests.gateway.test_approval_rules import assert_chain_ok

HOSTILE = "<!channel> <https://evil.test|Open the approval> & co"


def person_of(store: Store, user_id: str) -> str:
    with store.transaction() as session:
        return str(session.get_one(PortalUser, user_id).person_id)


def notices(store: Store, after: int = 0) -> list[tuple[str, str]]:
    with store.transaction() as session:
        rows = session.scalars(
            select(AdminNotice).where(AdminNotice.id > after).order_by(AdminNotice.id)
        ).all()
        return [(r.channel, r.recipient) for r in rows]


def last_notice_id(store: Store) -> int:
    with store.transaction() as session:
        found = session.scalars(select(AdminNotice.id).order_by(AdminNotice.id.desc())).first()
        return found or 0


@pytest.fixture
def admins(gate: Gateway, desk: ApprovalDesk, smtp: tuple[Inbox, int]) -> dict[str, str]:  # noqa: F811
    """Two admins with e-mail, one without, one approver; their own creation already sent."""
    made = {
        "root": add_user(gate, "root", role="admin"),
        "bob": add_user(gate, "bob", role="admin"),
        "erin": add_user(gate, "erin", role="admin", email=None),
        "alice": add_user(gate, "alice"),
    }
    ApprovalOutbox(desk).sweep()
    return made


def test_an_admin_making_an_approver_is_told_to_every_other_admin_by_email_and_slack(
    gate: Gateway, store: Store, desk: ApprovalDesk, admins: dict[str, str],  # noqa: F811
    smtp: tuple[Inbox, int], slack_api: SlackStandIn,  # noqa: F811
) -> None:  # fmt: skip
    inbox, _ = smtp
    before_mail, before_id = len(inbox.messages), last_notice_id(store)
    before_slack = len(slack_api.calls)
    with store.transaction() as session:
        create_user(session, username="mallory", password="correct horse battery",
                    email="mallory@example.test", role="approver", notify_group="approvers",
                    actor=f"user:{admins['root']}", hasher=FAST_HASHER,
                    now=gate.clock())  # fmt: skip
    # Queued with the change: the other admin with an address, and the Slack channel; not the
    # acting admin, not the admin without an address, not an approver.
    assert notices(store, before_id) == [("email", "bob@example.test"), ("slack", "")]

    report = ApprovalOutbox(desk).sweep()
    assert (report.notices_sent, report.notices_failed) == (2, 0)
    mail = inbox.wait_for(before_mail + 1)[-1]
    assert mail["To"] == "bob@example.test"
    assert "portal.user_created mallory (role approver)" in mail["Subject"]
    assert f"user:{admins['root']}" in mail["Subject"]
    assert "mallory@example.test" in mail.get_content()
    method, call = slack_api.calls[before_slack]
    assert (method, call["channel"]) == ("chat.postMessage", "C-APPROVALS")
    assert "portal.user_created mallory" in call["text"]
    assert ApprovalOutbox(desk).sweep().notices_sent == 0  # sent once
    assert_chain_ok(gate)


def test_the_announcement_is_written_with_the_change_or_not_at_all(
    gate: Gateway, store: Store, admins: dict[str, str]
) -> None:
    before = last_notice_id(store)
    with pytest.raises(RuntimeError), store.transaction() as session:
        create_key(session, "shadow", "admin", actor=f"user:{admins['root']}")
        raise RuntimeError("the change fails after the key was added")
    assert notices(store, before) == []
    with store.transaction() as session:
        assert session.scalars(select(ApiKey).where(ApiKey.name == "shadow")).first() is None


def test_keys_with_approval_rights_are_announced_agent_keys_are_not(
    gate: Gateway, store: Store, admins: dict[str, str]
) -> None:
    actor = f"user:{admins['bob']}"
    before = last_notice_id(store)
    with store.transaction() as session:
        create_key(session, "a robot", "agent", ["actions:*"], actor=actor)
    assert notices(store, before) == []
    with store.transaction() as session:
        principal, _ = create_key(session, "second approver", "approver", actor=actor)
    assert notices(store, before) == [("email", "root@example.test"), ("slack", "")]
    before = last_notice_id(store)
    with store.transaction() as session:
        assert revoke_key(session, principal.key_id, actor=actor) == [principal.key_id]
    assert notices(store, before) == [("email", "root@example.test"), ("slack", "")]


def test_an_admin_acting_through_a_key_is_not_told_of_their_own_unlock(
    gate: Gateway, store: Store, admins: dict[str, str]
) -> None:
    with store.transaction() as session:
        bobs_key, _ = create_key(session, "bob's key", "admin",
                                 person_id=person_of(store, admins["bob"]))  # fmt: skip
    before = last_notice_id(store)
    with store.transaction() as session:
        unlock_user(session, "alice", f"key:{bobs_key.key_id}", gate.clock())
    assert notices(store, before) == [("email", "root@example.test"), ("slack", "")]


def test_agent_text_in_an_announcement_is_escaped_for_slack(
    gate: Gateway, store: Store, desk: ApprovalDesk, admins: dict[str, str],  # noqa: F811
    slack_api: SlackStandIn,  # noqa: F811
) -> None:  # fmt: skip
    before = len(slack_api.calls)
    with store.transaction() as session:
        create_key(session, HOSTILE, "approver", actor=f"user:{admins['root']}")
    assert ApprovalOutbox(desk).sweep().notices_sent == 2
    (call,) = [c for m, c in slack_api.calls[before:] if m == "chat.postMessage"]
    assert "<!channel>" not in call["text"] and "<https://" not in call["text"]
    assert "&lt;!channel&gt;" in call["text"]
    blocks = call["blocks"]
    blocks = blocks if isinstance(blocks, list) else json.loads(blocks)
    assert blocks[0]["text"]["type"] == "plain_text"  # rendered as typed, never as markup


def test_without_smtp_or_slack_the_notices_are_skipped_not_retried(
    gate: Gateway, store: Store, admins: dict[str, str]
) -> None:
    bare = ApprovalDesk(gateway=gate, links=LinkSigner(SECRET), public_url="http://canon.test",
                        rules=ApprovalRules(), channels=Channels())  # fmt: skip
    with store.transaction() as session:
        create_key(session, "late approver", "approver", actor=f"user:{admins['root']}")
    report = ApprovalOutbox(bare).sweep()
    assert (report.notices_sent, report.notices_failed) == (0, 0)
    with store.transaction() as session:
        pending = session.scalars(select(AdminNotice).where(AdminNotice.status != "sent")).all()
        assert {(n.channel, n.status) for n in pending} == {("email", "skipped"),
                                                            ("slack", "skipped")}  # fmt: skip
    assert_chain_ok(gate)
