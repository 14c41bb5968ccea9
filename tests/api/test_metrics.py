"""Observability through the real app: `GET /metrics` (who may read it, counts by route template,
figures read from the store) and the JSON logs with the request id the audit also keeps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.audit import entries
from tests.api.conftest import KeyMaker, po_token

REASON = {"reason": "goods received", "evidence": []}


def _scrape(
    client: TestClient, headers: dict[str, str]
) -> dict[tuple[str, tuple[Any, ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


@pytest.mark.parametrize(
    ("role", "status"),
    [
        pytest.param(None, 401, id="none"),
        pytest.param("agent", 403, id="agent"),
        pytest.param("approver", 403, id="approver"),
        pytest.param("steward", 200, id="steward"),
        pytest.param("admin", 200, id="admin"),
    ],
)
def test_metrics_need_a_steward_or_admin_key(
    client: TestClient, auth: KeyMaker, role: str | None, status: int
) -> None:
    headers = auth(role) if role else {}
    assert client.get("/metrics", headers=headers).status_code == status


def test_requests_are_counted_by_route_template_not_by_raw_path(
    client: TestClient, auth: KeyMaker
) -> None:
    agent, steward = auth("agent"), auth("steward")
    for action_id in ("a1", "a2", "a3"):
        assert client.get(f"/v1/actions/{action_id}", headers=agent).status_code == 404
    assert client.get("/no/such/path/9f8e").status_code == 404
    samples = _scrape(client, steward)
    labels = (("method", "GET"), ("route", "/v1/actions/{action_id}"), ("status", "404"))
    assert samples[("canon_http_requests_total", labels)] == 3
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples[("canon_http_requests_total", unmatched)] == 1
    assert not any("a1" in str(key) or "9f8e" in str(key) for key in samples)
    count = ("canon_http_request_duration_seconds_count",
             (("method", "GET"), ("route", "/v1/actions/{action_id}")))  # fmt: skip
    assert samples[count] == 3


def test_actions_by_status_and_pending_approvals_come_from_the_store(
    client: TestClient, app: FastAPI, auth: KeyMaker
) -> None:
    agent, admin = auth("agent"), auth("admin")
    for n in range(2):
        body = {"action": "purchase_order.close",
                "target": {"resolution_token": po_token(app, agent)},
                "params": {}, "context": REASON, "idempotency_key": f"close-{n}"}  # fmt: skip
        assert client.post("/v1/actions", headers=agent, json=body).status_code == 201
    samples = _scrape(client, admin)
    pending = (("action", "purchase_order.close"), ("status", "pending_approval"))
    assert samples[("canon_actions", pending)] == 2
    assert samples[("canon_approvals_pending", ())] == 2
    assert samples[("canon_store_up", ())] == 1


def test_every_response_carries_a_request_id_that_the_logs_and_the_audit_keep(
    client: TestClient, app: FastAPI, auth: KeyMaker, caplog: pytest.LogCaptureFixture
) -> None:
    agent = auth("agent")
    body = {"action": "purchase_order.close", "target": {"resolution_token": po_token(app, agent)},
            "params": {}, "context": REASON, "idempotency_key": "close-rid"}  # fmt: skip
    caplog.clear()
    given = client.post("/v1/actions", headers={**agent, "X-Request-ID": "agent-run-42.7"},
                        json=body)  # fmt: skip
    made = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"})
    assert given.headers["X-Request-ID"] == "agent-run-42.7"
    assert made.headers["X-Request-ID"] != "bad id" and len(made.headers["X-Request-ID"]) == 32
    lines = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    request_lines = [line for line in lines if line.get("event") == "request"]
    logged = next(line for line in request_lines if line["request_id"] == "agent-run-42.7")
    assert (logged["route"], logged["status"], logged["method"]) == ("/v1/actions", 201, "POST")
    assert logged["key_id"] and "Bearer" not in caplog.text
    with app.state.gateway.store.transaction() as session:
        requested = [json.loads(e.data) for e in entries(session, limit=100)
                     if e.kind == "action.requested"]  # fmt: skip
    assert [d["request_id"] for d in requested] == ["agent-run-42.7"]
