"""Real MCP clients against the real processes: the SDK's client over streamable HTTP against
`canon serve` on loopback, and over stdio against `canon mcp`. List tools, resolve, propose an
action, see it wait for approval, approve through HTTP, see it succeed against the ERP.

`running_canon` and the session helpers are shared by the security and authorisation suites.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from gateway import LocalLedgerConnector, Store, create_key
from gateway.audit import entries

CANON_BIN = Path(sys.executable).parent / "canon"
PO_QUERY = {"entity_type": "purchase_order", "record": {"branch": "01", "number": "000001"}}
PO_ID = "SC7:01:000001"
PO_RECORD = {"supplier_name": "SOUZA MACHADDO COM. DE MEDICAMENTOS", "amount": 29528.16,
             "currency": "BRL"}  # fmt: skip
REASON = {"reason": "goods received in full (WMS receipt 88121)", "evidence": ["WMS 88121"]}
TOKEN_SECRET = "mcp-e2e-secret-" + "q" * 32


@dataclass
class Canon:
    """A `canon serve` process on 127.0.0.1 over a trained workdir and its own store and ledger."""

    url: str
    workdir: Path
    env: dict[str, str]
    store_url: str
    ledger_path: Path
    log_path: Path
    keys: list[str] = field(default_factory=list)

    def key(self, role: str = "agent", scopes: list[str] | None = None, name: str = "k") -> str:
        if scopes is None:
            scopes = ["resolve", "actions:*"] if role == "agent" else []
        store = Store.open(self.store_url)
        try:
            with store.transaction() as session:
                key = create_key(session, name, role, scopes)[1]
        finally:
            store.close()
        self.keys.append(key)
        return key

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CANON_BIN), *args, "--workdir", str(self.workdir)],
                              env=self.env, capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def audit(self, action_id: str | None = None) -> list[dict[str, Any]]:
        from gateway.audit import as_dict

        store = Store.open(self.store_url)
        try:
            with store.transaction() as session:
                return [as_dict(e) for e in entries(session, action_id=action_id, limit=10_000)]
        finally:
            store.close()

    def journal(self) -> list[str]:
        return [op.operation for op in LocalLedgerConnector(self.ledger_path).journal()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_canon(
    trained_workdir: Path, tmp: Path, store_url: str | None = None, **settings: str
) -> Iterator[Canon]:
    """Start `canon serve` (loopback only); yield once /healthz answers; stop it after."""
    port = free_port()
    store_url = store_url or f"sqlite:///{tmp / 'canon.sqlite'}"
    ledger_path = tmp / "ledger.sqlite"
    LocalLedgerConnector(ledger_path).put_record("purchase_order", PO_ID, PO_RECORD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANON_")}
    env.update({"CANON_TOKEN_SECRET": TOKEN_SECRET, "CANON_DATABASE_URL": store_url,
                "CANON_LEDGER_PATH": str(ledger_path), "CANON_APPROVAL_SWEEP_SECONDS": "0",
                **{f"CANON_{k.upper()}": v for k, v in settings.items()}})  # fmt: skip
    log_path = tmp / "serve.log"
    Store.open(store_url).close()  # migrate once, before the server and the tests race to
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(CANON_BIN), "serve", "--workdir", str(trained_workdir), "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "canon serve did not start"
            time.sleep(0.2)
        yield Canon(url, trained_workdir, env, store_url, ledger_path, log_path)
    finally:
        process.terminate()
        process.wait(timeout=30)


@asynccontextmanager
async def http_session(url: str, key: str | None, **headers: str) -> AsyncIterator[Client]:
    """The SDK's client over streamable HTTP, with the key as bearer."""
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            yield client


@asynccontextmanager
async def stdio_session(canon: Canon, key: str, errlog: Path) -> AsyncIterator[Client]:
    """The SDK's client over stdio, launching `canon mcp` with the key in CANON_API_KEY."""
    params = StdioServerParameters(
        command=str(CANON_BIN),
        args=["mcp", "--workdir", str(canon.workdir)],
        env={**canon.env, "CANON_API_KEY": key},
    )
    with errlog.open("a") as log:
        async with Client(stdio_client(params, errlog=log)) as client:
            yield client


@pytest.fixture(scope="module")
def canon(gate_workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canon]:
    with running_canon(gate_workdir, tmp_path_factory.mktemp("mcp-live")) as live:
        yield live


async def _propose_and_wait(client: Client) -> dict[str, Any]:
    names = {tool.name for tool in (await client.list_tools()).tools}
    assert {"resolve_entity", "purchase_order.close", "get_action_status",
            "list_pending_approvals"} <= names  # fmt: skip
    resolved = await client.call_tool("resolve_entity", PO_QUERY)
    assert not resolved.is_error, resolved.content
    match = resolved.structured_content
    assert (match["decision"], match["canonical_id"]) == ("match", PO_ID)
    started = time.monotonic()
    proposed = await client.call_tool(
        "purchase_order.close",
        {"resolution_token": match["resolution_token"], "context": REASON,
         "idempotency_key": f"close-{time.monotonic_ns()}"},
    )  # fmt: skip
    assert time.monotonic() - started < 10  # answers at once, never blocks on the approver
    assert not proposed.is_error, proposed.content
    action: dict[str, Any] = proposed.structured_content
    assert action["status"] == "pending_approval"
    waiting = action["waiting_for"]
    assert (waiting["approvals_needed"], waiting["approvals_given"]) == (1, 0)
    assert waiting["follow_with"] == {"tool": "get_action_status",
                                      "arguments": {"action_id": action["id"]}}  # fmt: skip
    return action


def _approve_over_http(canon: Canon, action: dict[str, Any]) -> None:
    approver = {"Authorization": f"Bearer {canon.key('approver', name='approver')}"}
    approval_id = action["waiting_for"]["approval_id"]
    decided = httpx.post(f"{canon.url}/v1/approvals/{approval_id}/decision", headers=approver,
                         json={"decision": "approve"}, timeout=30)  # fmt: skip
    assert decided.status_code == 200, decided.text


async def _settled(client: Client, action_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        status = await client.call_tool("get_action_status", {"action_id": action_id})
        assert not status.is_error, status.content
        body: dict[str, Any] = status.structured_content
        if body["status"] not in ("approved", "executing") or time.monotonic() > deadline:
            return body
        await anyio.sleep(0.2)


def test_streamable_http_resolve_propose_wait_approve_succeed(canon: Canon) -> None:
    agent = canon.key(name="http-agent")
    request_id = f"e2e-{time.monotonic_ns()}"

    async def flow() -> dict[str, Any]:
        async with http_session(canon.url, agent, **{"X-Request-ID": request_id}) as client:
            action = await _propose_and_wait(client)
            approver = canon.key("approver", name="lister")
            async with http_session(canon.url, approver) as approver_client:
                pending = await approver_client.call_tool("list_pending_approvals", {})
                assert not pending.is_error, pending.content
                ids = [r["action_id"] for r in pending.structured_content["requests"]]
                assert action["id"] in ids
            await anyio.to_thread.run_sync(_approve_over_http, canon, action)
            return await _settled(client, action["id"])

    final = anyio.run(flow)
    assert final["status"] == "succeeded" and final["waiting_for"] is None
    assert "purchase_order.close" in canon.journal()
    trail = canon.audit(final["id"])
    requested = next(e for e in trail if e["kind"] == "action.requested")
    assert requested["data"]["request_id"] == request_id  # the MCP call's id, kept in the audit
    assert requested["actor"].startswith("key:")
    kinds = [e["kind"] for e in trail]
    assert kinds[0] == "action.requested" and kinds[-1] == "action.succeeded"
    assert f'"request_id": "{request_id}"' in canon.logs()


def test_stdio_resolve_propose_wait_approve_succeed(canon: Canon, tmp_path: Path) -> None:
    agent = canon.key(name="stdio-agent")

    async def flow() -> dict[str, Any]:
        async with stdio_session(canon, agent, tmp_path / "mcp-stderr.log") as client:
            action = await _propose_and_wait(client)
            await anyio.to_thread.run_sync(_approve_over_http, canon, action)
            return await _settled(client, action["id"])

    final = anyio.run(flow)
    assert final["status"] == "succeeded"
    assert canon.journal().count("purchase_order.close") >= 1
    kinds = [e["kind"] for e in canon.audit(final["id"])]
    assert "resolve" not in kinds  # resolving is audited without an action id
    assert kinds[0] == "action.requested" and "approval.decided" in kinds
    assert any(e["kind"] == "resolve" and e["actor"] == f"key:{final['requested_by']}"
               for e in canon.audit())  # fmt: skip


def test_canon_mcp_refuses_to_start_without_a_valid_key(canon: Canon) -> None:
    env = {k: v for k, v in canon.env.items() if k != "CANON_API_KEY"}
    missing = subprocess.run([str(CANON_BIN), "mcp", "--workdir", str(canon.workdir)], env=env,
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert missing.returncode == 2 and "CANON_API_KEY is not set" in missing.stderr
    bogus = subprocess.run([str(CANON_BIN), "mcp", "--workdir", str(canon.workdir)],
                           env={**env, "CANON_API_KEY": "canon_0123456789abcdef_nope"},
                           capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert bogus.returncode == 2 and "valid API key" in bogus.stderr
    assert missing.stdout == bogus.stdout == ""  # stdout is the protocol's alone
