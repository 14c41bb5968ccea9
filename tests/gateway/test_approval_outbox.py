"""The approvals' clockwork over real SMTP (aiosmtpd) and a local stand-in for Slack's Web API:
notify once, escalate before expiry to the next group and channel, expire, update Slack,
retry failed deliveries."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from slack_sdk import WebClient

from gateway import Gateway, LocalLedgerConnector, Store
from gateway.approvals_desk import ApprovalDesk, ApprovalRules, Channels
from gateway.approvals_outbox import ApprovalOutbox
from gateway.channels import EmailConfig, LinkSigner, SlackChannel, SmtpMailer
from gateway.channels.portal import create_user
from gateway.store.models import ApprovalNotification
from tests.gateway.conftest import SECRET, Clock, KeyMaker
from tests.gateway.test_approval_rules import assert_chain_ok, close_po, kinds

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """What a real local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 20) -> list[EmailMessage]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        return list(self.messages)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """An aiosmtpd server on 127.0.0.1; yields its inbox and port."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


class SlackStandIn:
    """A local HTTP server answering Slack Web API methods, recording every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: str | None = None
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                if "json" in self.headers.get("content-type", ""):
                    body = json.loads(raw)
                else:
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                method = self.path.rsplit("/", 1)[-1]
                stand_in.calls.append((method, body))
                answer: dict[str, Any] = {"ok": True}
                if stand_in.fail_with:
                    answer = {"ok": False, "error": stand_in.fail_with}
                elif method == "chat.postMessage":
                    answer |= {"channel": body["channel"], "ts": f"17000000{len(stand_in.calls)}.1"}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]


@pytest.fixture
def slack_api() -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


def add_user(gate: Gateway, name: str, group: str = "approvers", **kw: Any) -> str:
    with gate.store.transaction() as session:
        user = create_user(session, username=name, password="correct horse battery",
                           email=kw.pop("email", f"{name}@example.test"), notify_group=group,
                           actor="test", hasher=FAST_HASHER, now=gate.clock(), **kw)  # fmt: skip
        return user.id


@pytest.fixture
def desk(gate: Gateway, smtp: tuple[Inbox, int], slack_api: SlackStandIn) -> ApprovalDesk:
    client = WebClient(token="xoxb-test", base_url=slack_api.url)
    channels = Channels(
        mailer=SmtpMailer(EmailConfig(host="127.0.0.1", port=smtp[1], timeout_seconds=5)),
        slack=SlackChannel(client, "C-APPROVALS", "C-ESCALATION", "http://canon.test"),
    )
    return ApprovalDesk(gateway=gate, links=LinkSigner(SECRET), public_url="http://canon.test",
                        rules=ApprovalRules(escalate_after_seconds=5 * 24 * 3600),
                        channels=channels)  # fmt: skip


def test_notify_escalate_expire_timeline(
    gate: Gateway, desk: ApprovalDesk, key: KeyMaker, clock: Clock, smtp: tuple[Inbox, int],
    slack_api: SlackStandIn, ledger: LocalLedgerConnector,
) -> None:  # fmt: skip
    inbox, _ = smtp
    add_user(gate, "alice")
    add_user(gate, "carol", group="escalation")
    add_user(gate, "dave", action_scopes=["supplier.*"])  # may not decide purchase orders
    add_user(gate, "erin", email=None)  # nowhere to write to
    outbox = ApprovalOutbox(desk)
    outbox.sweep()  # the admin notices of the users just added (tests/gateway/test_admin_notices)
    slack_api.calls.clear()
    action_id, _ = close_po(gate, key)

    first = outbox.sweep()
    assert (first.queued, first.sent, first.failed) == (2, 2, 0)
    (mail,) = inbox.wait_for(1)
    assert mail["To"] == "alice@example.test"
    assert mail["Subject"].startswith("Approval needed: Approve closing SC7:01:002891")
    assert slack_api.calls[0][0] == "chat.postMessage"
    assert slack_api.calls[0][1]["channel"] == "C-APPROVALS"
    assert outbox.sweep().sent == 0  # notified once

    clock.advance(5 * 24 * 3600 + 1)
    escalated = outbox.sweep()
    assert (escalated.escalated, escalated.sent) == (1, 2)
    mails = inbox.wait_for(2)
    assert (mails[1]["To"], mails[1]["Subject"].split(":")[0]) == (
        "carol@example.test", "Escalated",
    )  # fmt: skip
    assert slack_api.calls[1][1]["channel"] == "C-ESCALATION"
    assert outbox.sweep().escalated == 0  # escalated once

    clock.advance(2 * 24 * 3600)
    expired = outbox.sweep()
    assert (expired.expired, expired.sent) == (1, 2)  # both Slack messages lose their buttons
    assert slack_api.methods()[2:] == ["chat.update", "chat.update"]
    assert "expired" in slack_api.calls[2][1]["text"]
    assert gate.status(key("admin"), action_id).status == "expired"
    assert ledger.journal() == []
    trail = kinds(gate, action_id)
    for kind in ("approval.notified", "approval.escalated", "approval.expired"):
        assert trail.count(kind) == 1
    assert trail.count("notification.sent") == 6
    assert_chain_ok(gate)


def test_failed_delivery_is_retried_then_sent(
    gate: Gateway, desk: ApprovalDesk, key: KeyMaker, clock: Clock, smtp: tuple[Inbox, int],
    slack_api: SlackStandIn, store: Store,
) -> None:  # fmt: skip
    inbox, port = smtp
    add_user(gate, "alice")
    working = desk.channels.mailer
    desk.channels.mailer = SmtpMailer(EmailConfig(host="127.0.0.1", port=free_port(),
                                                  timeout_seconds=2))  # fmt: skip
    slack_api.fail_with = "channel_not_found"
    action_id, _ = close_po(gate, key)
    outbox = ApprovalOutbox(desk)
    assert (outbox.sweep().failed, outbox.sweep().failed) == (2, 0)  # the retry waits
    with store.transaction() as session:
        rows = session.query(ApprovalNotification).all()
        assert [(r.status, r.attempts) for r in rows] == [("pending", 1), ("pending", 1)]
        assert "channel_not_found" in str(rows[1].error)
    desk.channels.mailer, slack_api.fail_with = working, None
    clock.advance(31)
    assert outbox.sweep().sent == 2
    assert inbox.wait_for(1)[0]["To"] == "alice@example.test"
    assert kinds(gate, action_id).count("notification.failed") == 2


def test_no_channel_configured_sends_nothing(gate: Gateway, key: KeyMaker) -> None:
    desk = ApprovalDesk(gateway=gate, links=LinkSigner(SECRET), public_url="http://canon.test")
    add_user(gate, "alice")
    close_po(gate, key)
    report = ApprovalOutbox(desk).sweep()
    assert (report.queued, report.sent, report.failed) == (0, 0, 0)
