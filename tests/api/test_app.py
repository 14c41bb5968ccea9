"""The HTTP app: health, keys, actions, idempotency, bad input as problem+json, audit, rollout."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.conftest import KeyMaker, po_token

PROBLEM = "application/problem+json"
ANOTHER_KEY = {"Authorization": "Bearer canon_0123456789abcdef_secret"}


def body(app: FastAPI, agent: dict[str, str], **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "action": "purchase_order.close",
        "target": {"resolution_token": po_token(app, agent)},
        "params": {},
        "context": {"reason": "delivery confirmed by warehouse system on 2026-04-12"},
        "idempotency_key": "close-2891",
    }
    data.update(kw)
    return data


def test_health_needs_no_key_and_readiness_reports_missing_model(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["store"] == "ok"
    assert ready.json()["checks"]["resolver"].startswith("not loaded")


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        pytest.param({}, "API key is required", id="no-key"),
        pytest.param({"Authorization": "Bearer canon_nope_nope"}, "API key", id="unknown-key"),
        pytest.param({"Authorization": "Basic dTpw"}, "API key", id="wrong-scheme"),
    ],
)
def test_every_endpoint_but_health_needs_a_key(
    client: TestClient, headers: dict[str, str], detail: str
) -> None:
    for method, path in [("GET", "/v1/actions/x"), ("POST", "/v1/resolve"), ("GET", "/v1/audit"),
                         ("GET", "/v1/audit/verify"), ("GET", "/v1/admin/rollout")]:  # fmt: skip
        response = client.request(method, path, headers=headers, json={"record": {"name": "x"}})
        assert response.status_code == 401, path
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
        assert detail in response.json()["detail"]


def test_resolve_without_trained_model_is_503(client: TestClient, auth: KeyMaker) -> None:
    response = client.post("/v1/resolve", headers=auth(), json={"record": {"name": "ABC"}})
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/no-model"


def test_propose_then_replay_then_conflict(
    client: TestClient, app: FastAPI, auth: KeyMaker
) -> None:
    agent = auth()
    payload = body(app, agent)
    first = client.post("/v1/actions", headers=agent, json=payload)
    assert first.status_code == 201, first.text
    view = first.json()
    assert (view["status"], view["approval"]["approvals_needed"]) == ("pending_approval", 1)
    assert view["summary"].startswith("Approve closing SC7:01:002891 (supplier: unknown")
    assert first.headers["location"] == f"/v1/actions/{view['id']}"
    same = client.post("/v1/actions", headers=agent, json=payload)
    assert (same.status_code, same.json()["id"], same.json()["replayed"]) == (200, view["id"], True)
    other = client.post("/v1/actions", headers=agent, json={**payload, "params": {"x": 1}})
    assert other.status_code == 409
    assert other.json()["field"] == "idempotency_key"


def _bad(app: FastAPI, agent: dict[str, str]) -> list[Any]:
    return [
        (body(app, agent, action="purchase_order.delete"), 422, "action"),
        (body(app, agent, action="purchase_order.update_delivery_date",
              params={"delivery_date": "31/05/2026"}), 422, "params.delivery_date"),
        (body(app, agent, target={}), 422, "target.resolution_token"),
        (body(app, agent, target={"resolution_token": po_token(app, agent)[:-4] + "AAAA"}), 403,
         "target.resolution_token"),
        (body(app, agent, target={"resolution_token": po_token(app, agent, "supplier",
                                                                "SA2:01:1:01")}),
         422, "target.resolution_token"),
        (body(app, agent, target={"resolution_token": po_token(app, ANOTHER_KEY)}), 403,
         "target.resolution_token"),
        (body(app, agent, context={}), 422, "context.reason"),
        ({k: v for k, v in body(app, agent).items() if k != "idempotency_key"}, 422,
         "idempotency_key"),
        (body(app, agent, colour="red"), 422, "colour"),
        (body(app, agent, context={"reason": "x" * 5000}), 413, "body"),
    ]  # fmt: skip


@pytest.mark.parametrize("case", range(10), ids=[
    "unknown-action", "params-fail-schema", "missing-token", "forged-token", "other-entity-token",
    "another-keys-token", "no-reason", "no-idempotency-key", "unknown-field", "body-over-limit",
])  # fmt: skip
def test_bad_input_is_a_problem_naming_the_field_and_only_audited(
    client: TestClient, app: FastAPI, auth: KeyMaker, case: int
) -> None:
    agent = auth()
    payload, status, field = _bad(app, agent)[case]
    response = client.post("/v1/actions", headers=agent, json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert (problem["status"], problem["field"], problem["instance"]) == (
        status,
        field,
        "/v1/actions",
    )
    with app.state.gateway.store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM actions")).scalar_one() == 0
        kinds = conn.execute(text("SELECT kind FROM audit_entries ORDER BY seq")).scalars().all()
    assert kinds[-1] in ("action.refused", "request.refused")
    assert kinds.count("action.refused") + kinds.count("request.refused") == 1


def test_malformed_json_is_a_problem(client: TestClient, auth: KeyMaker) -> None:
    headers = {**auth(), "content-type": "application/json"}
    response = client.post("/v1/actions", headers=headers, content=b"{not json")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


def test_agent_scopes_are_enforced(client: TestClient, app: FastAPI, auth: KeyMaker) -> None:
    agent = auth(scopes=["resolve", "actions:supplier.*"])
    response = client.post("/v1/actions", headers=agent, json=body(app, agent))
    assert (response.status_code, response.json()["field"]) == (403, "action")


def test_status_visibility(client: TestClient, app: FastAPI, auth: KeyMaker) -> None:
    agent = auth(name="a")
    action_id = client.post("/v1/actions", headers=agent, json=body(app, agent)).json()["id"]
    assert client.get(f"/v1/actions/{action_id}", headers=auth("approver")).status_code == 200
    assert client.get(f"/v1/actions/{action_id}", headers=auth(name="b")).status_code == 404
    assert client.get("/v1/actions/nope", headers=auth("admin")).json()["field"] == "id"


def test_audit_review_and_verify_then_tamper(
    client: TestClient, app: FastAPI, auth: KeyMaker
) -> None:
    agent = auth()
    action_id = client.post("/v1/actions", headers=agent, json=body(app, agent)).json()["id"]
    steward = auth("steward")
    page = client.get("/v1/audit", headers=steward, params={"action_id": action_id}).json()
    assert [e["kind"] for e in page["entries"]] == ["action.requested"]
    verdict = client.get("/v1/audit/verify", headers=steward).json()
    assert verdict["ok"] and verdict["entries"] >= 3
    with app.state.gateway.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET actor = :a WHERE seq = 2"), {"a": "key:x"})
    verdict = client.get("/v1/audit/verify", headers=steward).json()
    assert (verdict["ok"], verdict["first_bad_seq"]) == (False, 2)
    assert client.get("/v1/audit/verify", headers=auth()).status_code == 403


def test_admin_rollout(client: TestClient, auth: KeyMaker) -> None:
    admin = auth("admin")
    url = "/v1/admin/rollout/purchase_order.close"
    refused = client.put(url, headers=admin, json={"phase": "autonomous"})
    assert refused.status_code == 409
    assert "only 0 decided proposals; promotion needs 50" in refused.json()["detail"]
    demoted = client.put(url, headers=admin, json={"phase": "read_only"})
    assert (demoted.status_code, demoted.json()["phase"]) == (200, "read_only")
    listing = {
        r["action"]: r["phase"] for r in client.get("/v1/admin/rollout", headers=admin).json()
    }
    assert listing["purchase_order.close"] == "read_only" and len(listing) == 8
    assert client.put(url, headers=auth("approver"), json={"phase": "read_only"}).status_code == 403
    assert client.put(url, headers=admin, json={"phase": "yolo"}).json()["field"] == "phase"


def test_shadow_mode_over_http(client: TestClient, app: FastAPI, auth: KeyMaker) -> None:
    client.put("/v1/admin/rollout/purchase_order.close", headers=auth("admin"),
               json={"phase": "read_only"})  # fmt: skip
    agent = auth()
    view = client.post("/v1/actions", headers=agent, json=body(app, agent)).json()
    assert view["status"] == "shadowed"
    assert [s["status"] for s in view["steps"]] == ["planned"]


def test_openapi_documents_examples_and_bearer_auth(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    resolve = spec["paths"]["/v1/resolve"]["post"]["requestBody"]["content"]["application/json"]
    assert "supplier-by-name-and-tax-id" in resolve["examples"]
    assert spec["components"]["schemas"]["ActionRequest"]["examples"][0]["action"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_every_openapi_schema_has_a_plain_name(client: TestClient) -> None:
    """Two models of one name get module-qualified names (`gateway__views__DecisionView`)."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert [name for name in schemas if "__" in name] == []
    assert {"DecisionView", "ApprovalDecisionView"} <= set(schemas)
    assert set(schemas["ApprovalDecisionView"]["properties"]) > set(
        schemas["DecisionView"]["properties"]
    )


def test_docs_load_swagger_ui_from_canon_itself_not_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text.replace("https://fastapi", "")
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page.text)
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 500, asset
    assert client.get("/redoc").status_code == 404  # ReDoc loads from a CDN: not offered


def test_chunked_body_over_limit_is_refused_while_streaming(
    client: TestClient, auth: KeyMaker
) -> None:
    chunks = iter([b'{"action": "', b"x" * 3000, b"x" * 3000, b'"}'])
    headers = {**auth(), "content-type": "application/json"}
    response = client.post("/v1/actions", headers=headers, content=chunks)
    assert "content-length" not in response.request.headers
    assert (response.status_code, response.json()["field"]) == (413, "body")
