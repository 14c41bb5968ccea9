"""Slack through the real app: the approval message goes to a local stand-in for Slack's Web
API, signed button clicks decide under the same rules, the message is updated with the outcome;
forged, stale, tampered and malformed requests are refused and audited, never a 500."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from gateway.channels.portal import create_user
from tests.api.conftest import KeyMaker, po_token
from tests.gateway.test_approval_outbox import FAST_HASHER, SlackStandIn, slack_api  # noqa: F401 (fixture)

SIGNING_SECRET = "slack-test-signing-secret-0123456789"
PROBLEM = "application/problem+json"


@pytest.fixture
def settings(tmp_path: Path, store_url: str, slack_api: SlackStandIn) -> Settings:  # noqa: F811
    return Settings(
        workdir=tmp_path / "work", database_url=store_url,
        token_secret=SecretStr("api-test-secret-" + "y" * 32),
        slack_bot_token=SecretStr("xoxb-test"), slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_channel="C-APPROVALS", slack_api_url=slack_api.url, approval_sweep_seconds=0,
    )  # fmt: skip


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    gateway = app.state.gateway
    with gateway.store.transaction() as session:
        for name, slack_id in (("alice", "U-ALICE"), ("bob", "U-BOB")):
            create_user(session, username=name, password="correct horse battery",
                        slack_user_id=slack_id, actor="test", hasher=FAST_HASHER,
                        now=gateway.clock())  # fmt: skip
    yield app
    gateway.store.close()


def signed(
    body: bytes, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip


def click(user: str, action_id: str, value: str) -> bytes:
    payload = {"type": "block_actions", "user": {"id": user}, "channel": {"id": "C-APPROVALS"},
               "container": {"message_ts": "1.1"},
               "actions": [{"action_id": action_id, "value": value, "type": "button"}]}  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


def posted_message(
    client: TestClient, app: FastAPI, auth: KeyMaker, slack_api: SlackStandIn,  # noqa: F811
    action: str = "purchase_order.close", params: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    agent = auth()
    body = {"action": action, "target": {"resolution_token": po_token(app, agent)},
            "params": params or {}, "context": {"reason": "delivery confirmed"},
            "idempotency_key": "k1"}  # fmt: skip
    proposed = client.post("/v1/actions", headers=agent, json=body).json()
    app.state.approvals.outbox.sweep()
    method, message = slack_api.calls[-1]
    assert (method, message["channel"]) == ("chat.postMessage", "C-APPROVALS")
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    return proposed, {e["action_id"]: e for e in actions["elements"]}


def test_click_approve_runs_the_action_and_updates_the_message(
    client: TestClient,
    app: FastAPI,
    auth: KeyMaker,
    slack_api: SlackStandIn,  # noqa: F811
) -> None:
    proposed, buttons = posted_message(client, app, auth, slack_api)
    assert buttons["approval.approve"]["confirm"]["confirm"]["text"] == "Approve"
    body = click("U-ALICE", "approval.approve", buttons["approval.approve"]["value"])
    answer = client.post("/slack/interactions", content=body, headers=signed(body))
    assert (answer.status_code, answer.json()["ok"]) == (200, True)
    admin = auth("admin", name="auditor")
    view = client.get(f"/v1/actions/{proposed['id']}", headers=admin).json()
    assert view["status"] == "succeeded"
    (decision,) = view["approval"]["decisions"]
    assert decision["approver"].startswith("user:")
    assert slack_api.methods()[-2:] == ["chat.postEphemeral", "chat.update"]
    update = slack_api.calls[-1][1]
    (posted,) = [
        n
        for n, (m, c) in enumerate(slack_api.calls, start=1)
        if m == "chat.postMessage" and any(b["type"] == "actions" for b in c["blocks"])
    ]  # (after admin notices)
    assert (update["channel"], update["ts"]) == ("C-APPROVALS", f"17000000{posted}.1")
    assert "approved" in update["text"] and not any(
        b["type"] == "actions" for b in update["blocks"]
    )

    replay = client.post("/slack/interactions", content=body, headers=signed(body))
    assert (replay.status_code, replay.json()["ok"]) == (200, False)  # already decided
    assert "already approved" in replay.json()["text"]
    kinds = [e["kind"] for e in client.get("/v1/audit", headers=admin,
                                           params={"limit": 1000}).json()["entries"]]  # fmt: skip
    assert kinds.count("approval.decided") == 1 and "approval.refused" in kinds


def test_rejection_buttons_carry_the_reason(
    client: TestClient,
    app: FastAPI,
    auth: KeyMaker,
    slack_api: SlackStandIn,  # noqa: F811
) -> None:
    proposed, buttons = posted_message(client, app, auth, slack_api)
    button = buttons["approval.reject.wrong_entity"]
    body = click("U-BOB", button["action_id"], button["value"])
    assert client.post("/slack/interactions", content=body, headers=signed(body)).json()["ok"]
    view = client.get(f"/v1/actions/{proposed['id']}", headers=auth("admin", name="a")).json()
    assert (view["status"], view["approval"]["decisions"][0]["reason"]) == (
        "rejected", "wrong_entity",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        pytest.param(lambda b: (b, signed(b, secret="not-the-secret")), 401, "forged",
                     id="wrong-secret"),
        pytest.param(lambda b: (b, signed(b, int(time.time()) - 301)), 401, "stale",
                     id="replayed-after-five-minutes"),
        pytest.param(lambda b: (b.replace(b"U-ALICE", b"U-BOB"), signed(b)), 401, "forged",
                     id="tampered-body"),
        pytest.param(lambda b: (b, {}), 401, "missing", id="unsigned"),
        pytest.param(lambda b: (b"payload=%7B", signed(b"payload=%7B")), 400, "malformed",
                     id="signed-garbage"),
        pytest.param(lambda b: (b.replace(b"U-ALICE", b"U-NOBODY"),
                                signed(b.replace(b"U-ALICE", b"U-NOBODY"))), 200, "unknown-user",
                     id="unknown-slack-user"),
    ],
)  # fmt: skip
def test_bad_slack_requests_are_refused_and_audited(
    client: TestClient, app: FastAPI, auth: KeyMaker, slack_api: SlackStandIn,  # noqa: F811
    make: Any, status: int, reason: str,
) -> None:  # fmt: skip
    proposed, buttons = posted_message(client, app, auth, slack_api)
    body, headers = make(click("U-ALICE", "approval.approve", buttons["approval.approve"]["value"]))
    answer = client.post("/slack/interactions", content=body, headers=headers)
    assert answer.status_code == status
    if status != 200:
        assert answer.headers["content-type"] == PROBLEM
    else:
        assert answer.json()["ok"] is False
    admin = auth("admin", name="auditor")
    entries = client.get("/v1/audit", headers=admin, params={"limit": 1000}).json()["entries"]
    refusals = [e["data"]["reason"] for e in entries if e["kind"] == "slack.refused"]
    assert refusals == [reason]
    view = client.get(f"/v1/actions/{proposed['id']}", headers=admin).json()
    assert view["status"] == "pending_approval"


def test_dual_approval_in_slack_needs_two_people(
    client: TestClient,
    app: FastAPI,
    auth: KeyMaker,
    slack_api: SlackStandIn,  # noqa: F811
) -> None:
    agent = auth()
    token = po_token(app, agent, entity_type="supplier", canonical_id="SA2:01:000123:01")
    body = {"action": "supplier.update_bank_account", "target": {"resolution_token": token},
            "params": {"iban": "CH9300762011623852957", "account_holder": "ABC AG"},
            "context": {"reason": "new bank letter"}, "idempotency_key": "bank-1"}  # fmt: skip
    proposed = client.post("/v1/actions", headers=agent, json=body).json()
    app.state.approvals.outbox.sweep()
    (actions,) = [b for b in slack_api.calls[-1][1]["blocks"] if b["type"] == "actions"]
    value = actions["elements"][0]["value"]
    first = click("U-ALICE", "approval.approve", value)
    assert "1 of 2" in client.post("/slack/interactions", content=first,
                                   headers=signed(first)).json()["text"]  # fmt: skip
    again = client.post("/slack/interactions", content=first, headers=signed(first)).json()
    assert again["ok"] is False and "second approver" in again["text"]
    second = click("U-BOB", "approval.approve", value)
    assert client.post("/slack/interactions", content=second, headers=signed(second)).json()["ok"]
    view = client.get(f"/v1/actions/{proposed['id']}", headers=auth("admin", name="a")).json()
    assert view["status"] == "succeeded"
