"""The authorisation matrix: every endpoint and every MCP tool × every role → the expected status,
through the real app on loopback (HTTP with httpx, tools with the SDK's client over `/mcp`).

Roles: none (no key), agent (resolve + actions:*), agent- (an agent key without the scope the
call needs: it holds only `actions:ticket.close`), approver, steward, admin. A new endpoint
fails `test_the_matrix_covers_every_endpoint` until its row is added here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from api.app import create_app
from api.mcp import MCP_NOT_AUTHENTICATED
from api.settings import Settings
from gateway import Gateway, LocalLedgerConnector, create_key
from resolver import Resolver
from tests.e2e.conftest import serving
from tests.e2e.test_mcp_live import PO_ID, PO_QUERY, PO_RECORD, REASON, http_session

ROLES = ("none", "agent", "agent-", "approver", "steward", "admin")
SCOPES = {"agent": ["resolve", "actions:*"], "agent-": ["actions:ticket.close"]}


@dataclass
class World:
    """The app on loopback, a key per role, and a fresh pending action per call that needs one."""

    app: FastAPI
    http: httpx.Client
    url: str
    keys: dict[str, str | None]

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    def headers(self, role: str) -> dict[str, str]:
        key = self.keys[role]
        return {"Authorization": f"Bearer {key}"} if key else {}

    def token(self) -> str:
        resolved = self.http.post("/v1/resolve", headers=self.headers("agent"), json=PO_QUERY)
        token: str = resolved.json()["resolution_token"]
        return token

    def pending(self) -> dict[str, Any]:
        """A new action by the `agent` key, waiting for approval."""
        key = f"k{len(self.seen)}"
        body = {"action": "purchase_order.close", "target": {"resolution_token": self.token()},
                "params": {}, "context": REASON, "idempotency_key": key}  # fmt: skip
        self.seen.append(body["idempotency_key"])
        response = self.http.post("/v1/actions", headers=self.headers("agent"), json=body)
        assert response.status_code == 201, response.text
        action: dict[str, Any] = response.json()
        return action

    def __post_init__(self) -> None:
        self.seen: list[str] = []


Call = Callable[[World, dict[str, str]], int]


def _get(path: str) -> Call:
    return lambda w, h: w.http.get(path, headers=h).status_code


def _action_body(w: World) -> dict[str, Any]:
    return {"action": "purchase_order.close", "target": {"resolution_token": w.token()},
            "params": {}, "context": REASON, "idempotency_key": f"p{len(w.seen)}"}  # fmt: skip


def _propose(w: World, h: dict[str, str]) -> int:
    w.seen.append("p")
    return w.http.post("/v1/actions", headers=h, json=_action_body(w)).status_code


def _status(w: World, h: dict[str, str]) -> int:
    return w.http.get(f"/v1/actions/{w.pending()['id']}", headers=h).status_code


def _callback(w: World, h: dict[str, str]) -> int:
    url = f"/v1/actions/{w.pending()['id']}/callbacks"
    return w.http.post(url, headers=h, json={"url": "https://agent.example/hook"}).status_code


def _revert(method: str) -> Call:
    """Asking for the revert of a pending action: past authorisation, a 409 (not succeeded)."""

    def call(w: World, h: dict[str, str]) -> int:
        url = f"/v1/actions/{w.pending()['id']}/revert"
        if method == "GET":
            return w.http.get(url, headers=h).status_code
        return w.http.post(url, headers=h, json={"reason": "wrong supplier"}).status_code

    return call


def _approval(w: World, h: dict[str, str]) -> int:
    approval_id = w.pending()["approval"]["id"]
    return w.http.get(f"/v1/approvals/{approval_id}", headers=h).status_code


def _decide(w: World, h: dict[str, str]) -> int:
    approval_id = w.pending()["approval"]["id"]
    url = f"/v1/approvals/{approval_id}/decision"
    return w.http.post(
        url, headers=h, json={"decision": "reject", "reason": "not_needed"}
    ).status_code


def _rollout_set(w: World, h: dict[str, str]) -> int:
    return w.http.put("/v1/admin/rollout/ticket.close", headers=h,
                      json={"phase": "supervised"}).status_code  # fmt: skip


def _portal_user(w: World, h: dict[str, str]) -> int:
    w.seen.append("u")
    body = {"username": f"user{len(w.seen)}", "password": "correct horse battery staple"}
    return w.http.post("/v1/admin/portal-users", headers=h, json=body).status_code


def _unlock(w: World, h: dict[str, str]) -> int:
    _portal_user(w, h)  # a user to unlock (only an admin's creation succeeds)
    name = f"user{len(w.seen)}"
    return w.http.post(f"/v1/admin/portal-users/{name}/unlock", headers=h).status_code


HALT_QUERY = {"entity_type": "supplier", "record": {
    "name": "Brito & Filhos Gráfica e Editora Ltda", "city": "SÃO PAULO"}}  # fmt: skip


def _halt(w: World) -> str:
    """The resolution id of a new `ambiguous` answer to the `agent` key."""
    answer = w.http.post("/v1/resolve", headers=w.headers("agent"), json=HALT_QUERY).json()
    assert answer["decision"] == "ambiguous", answer
    resolution_id: str = answer["resolution_id"]
    return resolution_id


def _ask(w: World, h: dict[str, str]) -> int:
    w.seen.append("r")
    body = {"resolution_id": _halt(w), "context": REASON, "idempotency_key": f"r{len(w.seen)}"}
    return w.http.post("/v1/resolution-requests", headers=h, json=body).status_code


def _asked(w: World) -> str:
    w.seen.append("r")
    body = {"resolution_id": _halt(w), "context": REASON, "idempotency_key": f"r{len(w.seen)}"}
    opened = w.http.post("/v1/resolution-requests", headers=w.headers("agent"), json=body)
    assert opened.status_code == 201, opened.text
    request_id: str = opened.json()["id"]
    return request_id


def _resolution(w: World, h: dict[str, str]) -> int:
    return w.http.get(f"/v1/resolution-requests/{_asked(w)}", headers=h).status_code


def _settle(w: World, h: dict[str, str]) -> int:
    url = f"/v1/resolution-requests/{_asked(w)}/decision"
    return w.http.post(url, headers=h, json={"choice": "cannot_tell"}).status_code


def _slack(w: World, h: dict[str, str]) -> int:
    return w.http.post("/slack/interactions", headers=h, content=b"payload=%7B%7D").status_code


def _mcp_initialize(w: World, h: dict[str, str]) -> int:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "matrix", "version": "1"}}}  # fmt: skip
    accept = {"Accept": "application/json, text/event-stream"}
    return w.http.post("/mcp", headers={**h, **accept}, json=init).status_code


OK, CREATED = 200, 201
#: (method, path) -> (call, expected status per role in ROLES order)
ENDPOINTS: dict[tuple[str, str], tuple[Call, tuple[int, ...]]] = {
    ("GET", "/healthz"): (_get("/healthz"), (200, 200, 200, 200, 200, 200)),
    ("GET", "/readyz"): (_get("/readyz"), (200, 200, 200, 200, 200, 200)),
    ("POST", "/v1/resolve"): (
        lambda w, h: w.http.post("/v1/resolve", headers=h, json=PO_QUERY).status_code,
        (401, OK, 403, OK, OK, OK),
    ),
    ("POST", "/v1/actions"): (_propose, (401, CREATED, 403, 403, 403, 403)),
    ("GET", "/v1/actions/{action_id}"): (_status, (401, OK, 404, OK, OK, OK)),
    ("POST", "/v1/actions/{action_id}/callbacks"): (
        _callback,
        (401, CREATED, 404, 404, 404, CREATED),
    ),
    ("GET", "/v1/actions/{action_id}/revert"): (_revert("GET"), (401, 409, 404, 409, 409, 409)),
    ("POST", "/v1/actions/{action_id}/revert"): (
        _revert("POST"),
        (401, 409, 404, 409, 409, 409),
    ),
    ("GET", "/v1/audit"): (_get("/v1/audit"), (401, 403, 403, OK, OK, OK)),
    ("GET", "/v1/audit/verify"): (_get("/v1/audit/verify"), (401, 403, 403, OK, OK, OK)),
    ("GET", "/v1/admin/rollout"): (_get("/v1/admin/rollout"), (401, 403, 403, 403, OK, OK)),
    ("PUT", "/v1/admin/rollout/{action}"): (_rollout_set, (401, 403, 403, 403, 403, OK)),
    ("GET", "/v1/catalog"): (_get("/v1/catalog"), (401, OK, OK, OK, OK, OK)),
    ("GET", "/v1/approvals"): (_get("/v1/approvals"), (401, OK, OK, OK, OK, OK)),
    ("GET", "/v1/approvals/{approval_id}"): (_approval, (401, OK, 404, OK, OK, OK)),
    ("POST", "/v1/approvals/{approval_id}/decision"): (_decide, (401, 403, 403, OK, 403, OK)),
    ("POST", "/v1/admin/portal-users"): (_portal_user, (401, 403, 403, 403, 403, CREATED)),
    ("POST", "/v1/admin/portal-users/{username}/unlock"): (
        _unlock,
        (401, 403, 403, 403, 403, OK),
    ),
    ("GET", "/metrics"): (_get("/metrics"), (401, 403, 403, 403, OK, OK)),
    # Only the agent that resolved puts its halt to a person; only the `resolver` scope (no
    # role of this matrix holds it) settles one.
    ("POST", "/v1/resolution-requests"): (_ask, (401, CREATED, 404, 404, 404, 404)),
    ("GET", "/v1/resolution-requests"): (
        _get("/v1/resolution-requests"),
        (401, OK, OK, OK, OK, OK),
    ),
    ("GET", "/v1/resolution-requests/{request_id}"): (_resolution, (401, OK, 404, 404, 404, OK)),
    ("POST", "/v1/resolution-requests/{request_id}/decision"): (
        _settle,
        (401, 403, 403, 403, 403, 403),
    ),
    # Not an API-key door: Slack's signature alone counts (and Slack is not configured here).
    ("POST", "/slack/interactions"): (_slack, (403, 403, 403, 403, 403, 403)),
    ("POST", "/mcp"): (_mcp_initialize, (401, OK, OK, OK, OK, OK)),
}

#: tool -> expected outcome per role: an HTTP-like status (200 = answered, not an error).
TOOLS: dict[str, tuple[int, ...]] = {
    "resolve_entity": (401, OK, 403, OK, OK, OK),
    "get_action_status": (401, OK, 404, OK, OK, OK),
    "list_pending_approvals": (401, 403, 403, OK, OK, OK),
    "revert_action": (401, 409, 404, 409, 409, 409),
    # Every catalog action, called with an unusable token: past authorisation it is a 422.
    "*": (401, 422, 403, 403, 403, 403),
    "ticket.close": (401, 422, 422, 403, 403, 403),
}


@pytest.fixture
def world(tmp_path: Path, store_url: str, trained_resolver: Resolver) -> Iterator[World]:
    settings = Settings(workdir=tmp_path / "work", database_url=store_url,
                        token_secret=SecretStr("authz-secret-" + "a" * 32),
                        approval_sweep_seconds=0)  # fmt: skip
    ledger = LocalLedgerConnector(tmp_path / "ledger.sqlite")
    ledger.put_record("purchase_order", PO_ID, PO_RECORD)
    app = create_app(settings, connector=ledger, resolver=trained_resolver)
    keys: dict[str, str | None] = {"none": None}
    with app.state.gateway.store.transaction() as session:
        for role in ROLES[1:]:
            keys[role] = create_key(session, role, role.rstrip("-"), SCOPES.get(role, []))[1]
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield World(app, http, url, keys)
    app.state.gateway.store.close()


def _table(rows: dict[str, tuple[int, ...]]) -> str:
    head = f"{'':44}" + "".join(f"{r:>9}" for r in ROLES)
    return "\n".join([head, *(f"{k:44}" + "".join(f"{s:>9}" for s in v) for k, v in rows.items())])


def test_the_matrix_covers_every_endpoint(world: World) -> None:
    documented = {(m.upper(), p) for p, ops in world.app.openapi()["paths"].items() for m in ops}
    assert documented - set(ENDPOINTS) == set(), "add the new endpoints to ENDPOINTS"
    assert set(ENDPOINTS) - documented == {("POST", "/mcp")}  # mounted beside the OpenAPI


@pytest.mark.slow
def test_every_endpoint_for_every_role(world: World) -> None:
    got: dict[str, tuple[int, ...]] = {}
    for (method, path), (call, _) in ENDPOINTS.items():
        got[f"{method} {path}"] = tuple(call(world, world.headers(role)) for role in ROLES)
    expected = {f"{m} {p}": statuses for (m, p), (_, statuses) in ENDPOINTS.items()}
    print("\nHTTP authorisation matrix\n" + _table(got))  # noqa: T201 (the closing note's table)
    assert got == expected


def _leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _refusal_status(raised: BaseException) -> int:
    """The status an MCP error stands for (the SDK surfaces a refused request as MCPError)."""
    error = getattr(_leaf(raised), "error", None)
    data = getattr(error, "data", None)
    if isinstance(data, dict) and "status" in data:
        return int(data["status"])
    return 401 if getattr(error, "code", None) == MCP_NOT_AUTHENTICATED else 599


async def _role_row(world: World, role: str, calls: dict[str, dict[str, Any]]) -> list[int]:
    """One session per role; each tool's outcome as a status (200: answered, not an error)."""
    statuses: list[int] = []
    try:
        async with http_session(world.url, world.keys[role]) as client:
            for name, args in calls.items():
                try:
                    result = await client.call_tool(name, args)
                except Exception as raised:
                    statuses.append(_refusal_status(raised))
                    continue
                status = result.structured_content["status"] if result.is_error else OK
                statuses.append(int(status))
    except Exception as raised:  # refused before any call: the same status for every tool
        statuses += [_refusal_status(raised)] * (len(calls) - len(statuses))
    return statuses


def test_every_tool_for_every_role(world: World) -> None:
    action_id = world.pending()["id"]
    bad = {"resolution_token": "not-a-token", "context": REASON, "idempotency_key": "k"}
    calls: dict[str, dict[str, Any]] = {
        "resolve_entity": PO_QUERY,
        "get_action_status": {"action_id": action_id},
        "list_pending_approvals": {},
        "revert_action": {"action_id": action_id, "reason": "wrong supplier"},
        **dict.fromkeys(world.gateway.catalog.actions, bad),
    }

    async def everything() -> list[list[int]]:
        return [await _role_row(world, role, calls) for role in ROLES]

    columns = anyio.run(everything)
    got = {name: tuple(column[i] for column in columns) for i, name in enumerate(calls)}
    print("\nMCP tool authorisation matrix\n" + _table(got))  # noqa: T201
    expected = {name: TOOLS.get(name, TOOLS["*"]) for name in got}
    assert got == expected
