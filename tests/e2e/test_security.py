"""The security suite, against the real app on loopback: schemathesis over the OpenAPI schema
(no 5xx, no response that breaks the schema), injection strings in every text field of resolve,
actions and approvals (refused, or stored inert and rendered escaped), secrets never in logs or
error bodies, and key revocation taking effect at once on every door."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from api.settings import Settings
from gateway import LocalLedgerConnector, create_key
from resolver import Resolver
from tests.e2e.conftest import serving
from tests.e2e.test_mcp_live import (
    PO_ID,
    PO_QUERY,
    PO_RECORD,
    REASON,
    TOKEN_SECRET,
    http_session,
    running_canon,
    stdio_session,
)
from tests.tokens import issue_for

SECRET = "security-secret-" + "s" * 32
MAX_EXAMPLES = 12


@dataclass
class Live:
    app: FastAPI
    url: str
    http: httpx.Client
    keys: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def live(tmp_path: Path, store_url: str, trained_resolver: Resolver) -> Iterator[Live]:
    settings_ = Settings(workdir=tmp_path / "work", database_url=store_url,
                         token_secret=SecretStr(SECRET), approval_sweep_seconds=0)  # fmt: skip
    ledger = LocalLedgerConnector(tmp_path / "ledger.sqlite")
    ledger.put_record("purchase_order", PO_ID, PO_RECORD)
    ledger.put_record("ticket", "TK:1", {"title": "Invoice missing"})
    app = create_app(settings_, connector=ledger, resolver=trained_resolver)
    keys = {}
    with app.state.gateway.store.transaction() as session:
        for role in ("agent", "approver", "steward", "admin"):
            scopes = ["resolve", "actions:*"] if role == "agent" else []
            keys[role] = create_key(session, role, role, scopes)[1]
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield Live(app, url, http, keys)
    app.state.gateway.store.close()


# -- schemathesis --------------------------------------------------------------------------------
CHECKS = [not_a_server_error, response_schema_conformance]


def _probe(operation: Any, url: str, headers: dict[str, str], calls: list[int]) -> Any:
    """A Hypothesis test of one operation with one key: bounded, derandomised for CI."""

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def probe(case: Any) -> None:
        calls.append(1)
        case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)

    return probe


@pytest.mark.slow
def test_schemathesis_finds_no_5xx_and_no_response_off_the_schema(live: Live) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    failures: list[str] = []
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for role in ("agent", "admin"):
            try:
                _probe(operation, live.url, live.headers(role), calls)()
            except Exception as e:  # collect every operation's failure, not just the first
                failures.append(f"{operation.label} as {role}: {str(e)[:600]}")
    logging.getLogger("canon.tests").warning("schemathesis: %d calls", len(calls))
    assert failures == []
    assert len(calls) >= 100


# -- injection strings in every text field -------------------------------------------------------
INJECTIONS = {
    "sql": "x' OR '1'='1'; DROP TABLE actions; --",
    "html": "<script>alert('canon')</script><img src=x onerror=alert(1)>",
    "path": "../../../../../etc/passwd",
    "template": "{{7*7}} ${7*7} {record.name} %s%n",
    "nul": "before\x00after",
    "bidi": "\u202eevil\ufeff\u0301",
}
RESOLVE_FIELDS = [("entity_type",), ("id",), ("record", "name"), ("record", "city"),
                  ("record", "tax_id"), ("record", "A2_NOME")]  # fmt: skip
ACTION_FIELDS = [("action",), ("idempotency_key",), ("context", "reason"),
                 ("context", "evidence", 0), ("params", "resolution"),
                 ("target", "resolution_token")]  # fmt: skip


def _with(body: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return copy


def _ticket_token(live: Live) -> str:
    from resolver.types import Decision, Resolution

    resolution = Resolution(decision=Decision.MATCH, entity_type="ticket", canonical_id="TK:1",
                            candidates=[], reason="t", model_version="m",
                            calibration_version="c")  # fmt: skip
    return issue_for(live.app.state.gateway, resolution, live.headers("agent"))


def _ticket_close(live: Live, key: str) -> dict[str, Any]:
    return {"action": "ticket.close", "target": {"resolution_token": _ticket_token(live)},
            "params": {"resolution": "replacement invoice booked"},
            "context": {"reason": "resolved", "evidence": ["mail 1"]},
            "idempotency_key": key}  # fmt: skip


def _portal_page(live: Live, approval_id: str) -> str:
    admin = live.headers("admin")
    user = {"username": "reviewer", "password": "correct horse battery staple"}
    created = live.http.post("/v1/admin/portal-users", headers=admin, json=user)
    assert created.status_code == 201, created.text
    with httpx.Client(base_url=live.url, timeout=60) as browser:
        login = browser.get("/portal/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
        assert csrf is not None
        browser.post("/portal/login", data={**user, "csrf_token": csrf.group(1)})
        return browser.get(f"/portal/approvals/{approval_id}").text


def test_injection_strings_are_refused_or_stored_inert_and_rendered_escaped(live: Live) -> None:
    agent, approver = live.headers("agent"), live.headers("approver")
    outcomes: dict[str, int] = {}
    stored: list[tuple[str, dict[str, Any]]] = []
    base = {"entity_type": "supplier", "record": {"name": "ACME", "city": "SAO PAULO"}}
    for (name, text), path in [(i, p) for i in INJECTIONS.items() for p in RESOLVE_FIELDS]:
        response = live.http.post("/v1/resolve", headers=agent, json=_with(base, path, text))
        outcomes[f"resolve {'.'.join(map(str, path))} {name}"] = response.status_code
    for n, ((name, text), path) in enumerate((i, p) for i in INJECTIONS.items()
                                             for p in ACTION_FIELDS):  # fmt: skip
        body = _with(_ticket_close(live, f"inj-{n}"), path, text)
        response = live.http.post("/v1/actions", headers=agent, json=body)
        outcomes[f"actions {'.'.join(map(str, path))} {name}"] = response.status_code
        if response.status_code in (200, 201):
            stored.append((text, response.json()))
    pending = [view for _, view in stored if view["status"] == "pending_approval"]
    for (name, text), view in zip(INJECTIONS.items(), pending, strict=False):
        decision = {"decision": "reject", "reason": "other", "comment": text}
        url = f"/v1/approvals/{view['approval']['id']}/decision"
        decided = live.http.post(url, headers=approver, json=decision)
        outcomes[f"approvals comment {name}"] = decided.status_code
        listing = live.http.get("/v1/approvals", headers=approver, params={"action": text})
        outcomes[f"approvals ?action {name}"] = listing.status_code
    logging.getLogger("canon.tests").warning("injection: %d requests", len(outcomes))

    assert {k: v for k, v in outcomes.items() if v >= 500 or v < 200} == {}
    assert len(outcomes) >= 80 and len(stored) >= 6
    # Stored inert: what went in comes back byte for byte, and the tables are all still there.
    for text, view in stored:
        again = live.http.get(f"/v1/actions/{view['id']}", headers=agent).json()
        assert again["context"] == view["context"] and again["params"] == view["params"]
        values = [*again["context"].values(), *again["context"]["evidence"],
                  *again["params"].values(), again["idempotency_key"]]  # fmt: skip
        assert text in values or text.strip() in values  # params are stripped, nothing else
    assert live.http.get("/v1/audit/verify", headers=approver).json()["ok"] is True
    # Rendered escaped: the approver's page shows the script as text, never as markup.
    html_action = next(
        v for t, v in stored
        if t == INJECTIONS["html"] and v["status"] == "pending_approval" and v["approval"]
    )  # fmt: skip
    page = _portal_page(live, html_action["approval"]["id"])
    assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b'{"entity_type": "supplier", "record": {"name": "\xff\xfe"}}', 400,
                     id="invalid-utf8"),
        pytest.param(b"[" * 30_000 + b"]" * 30_000, 400, id="deeply-nested"),
        pytest.param(b'{"record": {"name": "x"}, "a": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
                     400, id="deep-object"),
        pytest.param(b'{"entity_type": "supplier", "record": {"name": "' + b"A" * 70_000 + b'"}}',
                     413, id="oversized"),
        pytest.param(b'{"entity_type": "supplier", "record": {"name": "x\x00y"}}', 422,
                     id="raw-nul-byte"),
    ],
)  # fmt: skip
def test_hostile_bodies_are_refused_without_a_5xx(live: Live, body: bytes, status: int) -> None:
    headers = {**live.headers("agent"), "Content-Type": "application/json"}
    for path in ("/v1/resolve", "/v1/actions"):
        response = live.http.post(path, headers=headers, content=body)
        assert response.status_code == status, (path, response.text[:300])
        assert response.headers["content-type"] == "application/problem+json"


# -- secrets and revocation, against `canon serve`, `canon mcp` and `canon keys revoke` ----------
@pytest.mark.slow
def test_a_revoked_key_stops_at_once_and_no_secret_reaches_logs_or_errors(
    gate_workdir: Path, tmp_path: Path
) -> None:
    with running_canon(gate_workdir, tmp_path) as canon:
        key = canon.key(name="leaky-agent")
        bearer = {"Authorization": f"Bearer {key}"}
        resolved = httpx.post(f"{canon.url}/v1/resolve", headers=bearer, json=PO_QUERY, timeout=60)
        token = resolved.json()["resolution_token"]
        wrong_key = key[:-6] + "AAAAAA"
        forged = token[:-6] + "AAAAAA"
        forged_action = {"action": "purchase_order.close", "params": {}, "context": REASON,
                         "target": {"resolution_token": forged},
                         "idempotency_key": "f"}  # fmt: skip
        bodies = [
            httpx.post(f"{canon.url}/v1/resolve", json=PO_QUERY, timeout=60,
                       headers={"Authorization": f"Bearer {wrong_key}"}),
            httpx.post(f"{canon.url}/v1/actions", headers=bearer, timeout=60, json=forged_action),
        ]  # fmt: skip
        assert [b.status_code for b in bodies] == [401, 403]
        stderr = tmp_path / "mcp-stderr.log"

        async def doors() -> tuple[list[bool], list[int]]:
            async with (
                http_session(canon.url, key) as web,
                stdio_session(canon, key, stderr) as cli,
            ):
                before = [
                    not (await session.call_tool("resolve_entity", PO_QUERY)).is_error
                    for session in (web, cli)
                ]
                revoked = await anyio.to_thread.run_sync(canon.cli, "keys", "revoke", "leaky-agent")
                assert revoked.returncode == 0, revoked.stderr
                after = [httpx.post(f"{canon.url}/v1/resolve", headers=bearer, json=PO_QUERY,
                                    timeout=60).status_code]  # fmt: skip
                for session in (web, cli):
                    try:
                        await session.call_tool("resolve_entity", PO_QUERY)
                        after.append(200)
                    except Exception as raised:  # an MCPError, possibly inside a group
                        error = raised
                        while isinstance(error, BaseExceptionGroup):
                            error = error.exceptions[0]
                        after.append(401 if getattr(error, "code", 0) == -32001 else 599)
                return before, after

        before, after = anyio.run(doors)
        assert before == [True, True]
        assert after == [401, 401, 401]  # HTTP, MCP over HTTP, MCP over stdio: all at once
        logs = canon.logs() + stderr.read_text(errors="replace")
        secrets = {"api key": key.split("_", 2)[2], "wrong key": wrong_key.split("_", 2)[2],
                   "token": token, "token signature": token.rsplit(".", 1)[1],
                   "forged token": forged, "token secret": TOKEN_SECRET}  # fmt: skip
        leaked = {name for name, secret in secrets.items()
                  if secret in logs or any(secret in b.text for b in bodies)}  # fmt: skip
        assert leaked == set()
        assert '"event": "request"' in logs and "leaky-agent" not in bodies[0].text
