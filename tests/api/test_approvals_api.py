"""The approvals API over HTTP: the queue, a request's detail, decisions (403/409/422), agents
waiting on their action (long-poll) or hearing it by signed webhook, on both stores."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from gateway.store import Approval
from tests.api.conftest import KeyMaker, po_token
from tests.e2e.conftest import serving

PROBLEM = "application/problem+json"


def propose(client: TestClient, app: FastAPI, agent: dict[str, str], **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": "purchase_order.close",
        "target": {"resolution_token": po_token(app, agent)},
        "params": {},
        "context": {"reason": "delivery confirmed by warehouse system on 2026-04-12",
                    "evidence": ["WMS receipt 88121"]},
        "idempotency_key": "close-2891",
    }  # fmt: skip
    body.update(kw)
    response = client.post("/v1/actions", headers=agent, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_queue_and_detail(client: TestClient, app: FastAPI, auth: KeyMaker) -> None:
    action = propose(client, app, auth())
    approver = auth("approver")
    listed = client.get("/v1/approvals", params={"status": "pending"}, headers=approver)
    assert listed.status_code == 200
    (row,) = listed.json()
    assert {"id", "action_id", "status", "summary", "approvals_needed", "decisions"} <= set(row)
    assert (row["action_id"], row["status"], row["approvals_needed"], row["decisions"]) == (
        action["id"], "pending", 1, [],
    )  # fmt: skip
    detail = client.get(f"/v1/approvals/{row['id']}", headers=approver).json()
    assert detail["details"]["evidence"] == ["WMS receipt 88121"]
    assert detail["details"]["steps"][0]["compensation"] == "purchase_order.reopen"
    assert client.get("/v1/approvals", params={"status": "approved"}, headers=approver).json() == []
    bad = client.get("/v1/approvals", params={"status": "bogus"}, headers=approver)
    assert (bad.status_code, bad.headers["content-type"]) == (422, PROBLEM)
    missing = client.get("/v1/approvals/nope", headers=approver)
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)


@pytest.mark.parametrize(
    ("who", "body", "status", "field"),
    [
        pytest.param(("approver", []), {"decision": "approve"}, 200, None, id="approver"),
        pytest.param(("admin", []), {"decision": "reject", "reason": "not_needed"}, 200, None,
                     id="admin-rejects"),
        pytest.param(("agent", ["actions:*"]), {"decision": "approve"}, 403, None, id="agent"),
        pytest.param(("steward", []), {"decision": "approve"}, 403, None, id="steward"),
        pytest.param(("approver", ["actions:supplier.*"]), {"decision": "approve"}, 403, None,
                     id="approver-for-other-actions"),
        pytest.param(("approver", []), {"decision": "reject"}, 422, "reason",
                     id="reject-without-reason"),
        pytest.param(("approver", []), {"decision": "reject", "reason": "other"}, 422, "comment",
                     id="other-without-comment"),
        pytest.param(("approver", []), {"decision": "maybe"}, 422, "decision",
                     id="unknown-decision"),
        pytest.param(("approver", []), {"decision": "approve", "payload_hash": "0" * 64}, 409,
                     "payload_hash", id="stale-payload-hash"),
        pytest.param(("approver", []), {"decision": "approve", "extra": 1}, 422, "extra",
                     id="unknown-field"),
    ],
)  # fmt: skip
def test_decision_table(
    client: TestClient, app: FastAPI, auth: KeyMaker,
    who: tuple[str, list[str]], body: dict[str, Any], status: int, field: str | None,
) -> None:  # fmt: skip
    action = propose(client, app, auth())
    approval_id, admin = action["approval"]["id"], auth("admin", name="auditor")
    role, scopes = who
    response = client.post(f"/v1/approvals/{approval_id}/decision",
                           headers=auth(role, scopes, name="decider"), json=body)  # fmt: skip
    assert response.status_code == status, response.text
    if status != 200:
        assert response.headers["content-type"] == PROBLEM
        assert response.json().get("field") == field
        entries = client.get("/v1/audit", headers=admin).json()["entries"]
        assert entries[-1]["kind"] in ("approval.refused", "request.refused")
        still = client.get(f"/v1/approvals/{approval_id}", headers=admin).json()
        assert still["status"] == "pending"
    else:
        assert response.json()["status"] in ("approved", "rejected")


def test_decided_and_expired_requests_answer_409(
    client: TestClient, app: FastAPI, auth: KeyMaker
) -> None:
    first = propose(client, app, auth())
    url = f"/v1/approvals/{first['approval']['id']}/decision"
    assert (
        client.post(url, headers=auth("approver"), json={"decision": "approve"}).status_code == 200
    )
    again = client.post(url, headers=auth("approver", name="b"), json={"decision": "approve"})
    assert (again.status_code, again.json()["type"]) == (409, "/problems/approval-refused")
    assert client.get(f"/v1/actions/{first['id']}", headers=auth("admin")).json()["status"] == (
        "succeeded"
    )
    second = propose(client, app, auth(), idempotency_key="close-2891-b")
    with app.state.gateway.store.transaction() as session:
        session.execute(update(Approval).where(Approval.id == second["approval"]["id"])
                        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))  # fmt: skip
    url = f"/v1/approvals/{second['approval']['id']}/decision"
    expired = client.post(url, headers=auth("approver"), json={"decision": "approve"})
    assert expired.status_code == 409 and "expired" in expired.json()["detail"]
    view = client.get(f"/v1/actions/{second['id']}", headers=auth("admin")).json()
    assert (view["status"], view["approval"]["status"]) == ("expired", "expired")
    assert client.get("/v1/audit/verify", headers=auth("admin")).json()["ok"] is True


def test_agent_waits_for_its_action(app: FastAPI, auth: KeyMaker) -> None:
    agent, approver = auth(), auth("approver")
    with serving(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        action = propose(http, app, agent)  # type: ignore[arg-type]
        started = time.monotonic()
        quick = http.get(f"/v1/actions/{action['id']}", params={"wait": 0.3}, headers=agent)
        assert quick.json()["status"] == "pending_approval"
        assert 0.3 <= time.monotonic() - started < 3

        def approve_soon() -> None:
            time.sleep(0.5)
            http.post(f"/v1/approvals/{action['approval']['id']}/decision", headers=approver,
                      json={"decision": "approve", "comment": "checked"})  # fmt: skip

        threading.Thread(target=approve_soon).start()
        started = time.monotonic()
        waited = http.get(f"/v1/actions/{action['id']}", params={"wait": 20}, headers=agent)
        assert waited.json()["status"] == "succeeded"
        assert time.monotonic() - started < 10
        too_long = http.get(f"/v1/actions/{action['id']}", params={"wait": 61}, headers=agent)
        assert too_long.status_code == 422


class Receiver:
    """A local HTTP endpoint standing in for an agent's webhook."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_signed_webhook_hears_the_outcome(
    client: TestClient, app: FastAPI, auth: KeyMaker, receiver: Receiver
) -> None:
    agent = auth()
    action = propose(client, app, agent)
    registered = client.post(f"/v1/actions/{action['id']}/callbacks", headers=agent,
                             json={"url": receiver.url})  # fmt: skip
    assert registered.status_code == 201
    secret = registered.json()["secret"]
    outbox = app.state.approvals.outbox
    assert outbox.sweep().callbacks_sent == 0  # not settled yet: nothing to say
    client.post(f"/v1/approvals/{action['approval']['id']}/decision", headers=auth("approver"),
                json={"decision": "reject", "reason": "wrong_amount"})  # fmt: skip
    assert outbox.sweep().callbacks_sent == 1
    assert outbox.sweep().callbacks_sent == 0  # delivered once
    ((headers, body),) = receiver.received
    expected = hmac.new(secret.encode(), headers["X-Canon-Timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()  # fmt: skip
    assert headers["X-Canon-Signature"] == "v1=" + expected
    payload = json.loads(body)
    assert (payload["action"]["id"], payload["action"]["status"]) == (action["id"], "rejected")
    assert payload["action"]["approval"]["decisions"][0]["reason"] == "wrong_amount"


@pytest.mark.parametrize(
    ("who", "url", "status"),
    [
        pytest.param("owner", "ftp://x/y", 422, id="not-http"),
        pytest.param("other-agent", "http://127.0.0.1:9/hook", 404, id="not-your-action"),
    ],
)
def test_callback_refusals(
    client: TestClient, app: FastAPI, auth: KeyMaker, who: str, url: str, status: int
) -> None:
    owner = auth()
    action = propose(client, app, owner)
    headers = owner if who == "owner" else auth(name="other")
    response = client.post(f"/v1/actions/{action['id']}/callbacks", headers=headers,
                           json={"url": url})  # fmt: skip
    assert (response.status_code, response.headers["content-type"]) == (status, PROBLEM)


def test_admins_add_portal_users(client: TestClient, auth: KeyMaker) -> None:
    body = {"username": "alice", "password": "correct horse battery", "email": "a@example.test",
            "action_scopes": ["purchase_order.*"]}  # fmt: skip
    assert (
        client.post("/v1/admin/portal-users", headers=auth("approver"), json=body).status_code
        == 403
    )
    created = client.post("/v1/admin/portal-users", headers=auth("admin"), json=body)
    assert created.status_code == 201 and "password" not in created.json()
    again = client.post("/v1/admin/portal-users", headers=auth("admin"), json=body)
    assert (again.status_code, again.json()["field"]) == (422, "username")
    bad_scope = {**body, "username": "bob", "action_scopes": ["nothing.*"]}
    refused = client.post("/v1/admin/portal-users", headers=auth("admin"), json=bad_scope)
    assert (refused.status_code, refused.json()["field"]) == (422, "action_scopes")
