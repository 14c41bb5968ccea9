"""The sandbox ERP for tests, in this process or served on 127.0.0.1 by uvicorn in a thread.

`running_sandbox(folder)` runs one over a fresh copy of a template database (loaded once per
process from the committed Protheus sample); `SandboxAdmin` is a client of its `/_sandbox` API.

`running_sandbox(..., network=False)` calls it in process (`InProcess`: no server, no socket),
which is all a test of what a connector or the workflow does with the ERP's answers needs; the
`sandbox` fixtures of the gateway's tests do so. A test whose behaviour is the network's — a
client timeout, a dropped connection, a request held while the client gives up, several
clients at once — is marked `@pytest.mark.network` and gets a real server. That stays the
default of `running_sandbox` itself: a URL alone reaches it, from any client or process (the
end-to-end tests' `canon serve`), where in process only clients given `Sandbox.transport` do.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from gateway.erp.registry import kind as erp_kind
from sandbox.erp import DEFAULT_PASSWORD, DEFAULT_USER, create_sandbox_app
from tests.e2e.conftest import serving

#: A frozen copy of three tables of the Protheus sample (suppliers, customers, purchase orders):
#: the tests name its records and totals, and the sample itself is regenerated as it evolves.
FIXTURE_DATA = Path(__file__).resolve().parent / "data"
SAMPLE_DATA = Path(__file__).resolve().parents[3] / "data" / "samples" / "protheus" / "data"
USER, PASSWORD = DEFAULT_USER, DEFAULT_PASSWORD
#: The base URL of a sandbox called in process (no name is looked up: nothing is sent).
IN_PROCESS_URL = "http://sandbox-erp.test"
_template: Path | None = None
_lock = threading.Lock()


def template_database() -> Path:
    """A sandbox database loaded from the fixture tables, made once per test process."""
    global _template
    with _lock:
        if _template is None:
            folder = Path(tempfile.mkdtemp(prefix="canon-sandbox-template-"))
            create_sandbox_app(folder / "template.sqlite", FIXTURE_DATA)
            _template = folder / "template.sqlite"
        return _template


def wants_network(request: pytest.FixtureRequest) -> bool:
    """Whether the test asked for a sandbox served over a real socket (`@pytest.mark.network`)."""
    return request.node.get_closest_marker("network") is not None


class InProcess(httpx.BaseTransport):
    """A sync httpx transport that calls an ASGI app in this process: no server, no socket.

    httpx's `ASGITransport` is async only and the connectors are sync clients, so each request
    is handed to it on the event loop of an anyio blocking portal (one thread, shared by every
    client of the sandbox; requests from several threads run there concurrently, the app's sync
    endpoints in its worker threads, as under uvicorn). Both are public, documented APIs; the
    alternative, Starlette's `TestClient`, keeps its transport private.

    A client's timeout does not apply (nothing is awaited on a socket), and an app that drops a
    connection raises its own exception instead of a transport error: tests of either use a
    sandbox on the network. `close` is a no-op (every client of the sandbox shares the
    transport; `running_sandbox` ends it).
    """

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self.asgi = httpx.ASGITransport(app)
        self.portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the body as one chunk, a stream both sync and async
        return self.portal.call(self._handle, request)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        answer = await self.asgi.handle_async_request(request)
        raw = b"".join([part async for part in answer.aiter_raw()])
        return httpx.Response(
            answer.status_code, headers=answer.headers, stream=httpx.ByteStream(raw)
        )

    def close(self) -> None:
        """Nothing: the transport outlives the clients that close it."""


@dataclass
class Sandbox:
    """A running sandbox: its base URL, admin client, app (for its credentials) and transport."""

    url: str
    app: FastAPI
    admin: SandboxAdmin
    #: How its clients reach it: `InProcess`, or None for over the network at `url`.
    transport: httpx.BaseTransport | None = None

    def connector(self, kind: str = "protheus", timeout: float = 30.0, **kw: Any) -> Any:
        """A connector to this sandbox; the generous default timeout keeps a loaded CI machine
        from reading a slow answer as a lost one (tests of timeouts pass their own)."""
        cls: Any = erp_kind(kind).connector  # the class registered as `kind`
        return cls(
            self.url,
            username=USER,
            password=PASSWORD,
            timeout=timeout,
            transport=self.transport,
            **kw,
        )

    def client(self, **kw: Any) -> httpx.Client:
        """A plain httpx client of this sandbox, as its user unless `auth` says otherwise."""
        kw.setdefault("auth", (USER, PASSWORD))
        kw.setdefault("timeout", 10)
        return httpx.Client(base_url=self.url, transport=self.transport, **kw)


@contextmanager
def _reached(app: FastAPI, network: bool) -> Iterator[tuple[str, httpx.BaseTransport | None]]:
    """The base URL and transport of `app`: served by uvicorn, or called in process."""
    if network:
        with serving(app) as url:
            yield url, None
    else:
        with start_blocking_portal() as portal:
            yield IN_PROCESS_URL, InProcess(app, portal)


@contextmanager
def running_sandbox(
    folder: Path,
    *,
    stock: bool = False,
    request_timeout: float | None = None,
    filial_width: int = 2,
    network: bool = True,
) -> Iterator[Sandbox]:
    """A sandbox over a fresh copy of the template database, until the block ends.

    `stock`: without Canon's custom ERP services, ignoring `Idempotency-Key` (`--stock`).
    `request_timeout`: the ERP abandons a request that has not written by then (seconds).
    `network`: served by uvicorn on 127.0.0.1; False: called in process (`Sandbox.transport`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "sandbox-erp.sqlite"
    shutil.copyfile(template_database(), database)
    app = create_sandbox_app(
        database,
        stock=stock,
        request_timeout_seconds=request_timeout,
        protheus_filial_width=filial_width,
    )
    with (
        _reached(app, network) as (url, transport),
        httpx.Client(base_url=url, transport=transport, timeout=30) as http,
    ):
        admin = SandboxAdmin(http)
        try:
            yield Sandbox(url, app, admin, transport)
        finally:
            admin.release_all("abort")


class SandboxAdmin:
    """The sandbox's `/_sandbox` API."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def fault(self, fault: str, **rule: Any) -> int:
        response = self.http.post("/_sandbox/faults", json={"fault": fault, **rule})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def faults(self) -> list[dict[str, Any]]:
        return list(self.http.get("/_sandbox/faults").json())

    def clear_faults(self) -> None:
        self.http.delete("/_sandbox/faults")

    def holds(self) -> list[dict[str, Any]]:
        return list(self.http.get("/_sandbox/holds").json())

    def wait_for_hold(self, key: str | None = None, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for hold in self.holds():
                if key is None or hold["key"] == key:
                    return hold
            time.sleep(0.02)
        raise AssertionError(f"no request held for key {key!r} within {timeout}s")

    def release(self, hold_id: int, decision: str = "proceed") -> None:
        self.http.post(f"/_sandbox/holds/{hold_id}/release", json={"decision": decision})

    def release_all(self, decision: str = "proceed") -> int:
        response = self.http.post("/_sandbox/holds/release", json={"decision": decision})
        return int(response.json()["released"])

    def journal(self) -> list[dict[str, Any]]:
        return list(self.http.get("/_sandbox/journal").json())

    def keys(self) -> list[str]:
        return [e["idempotency_key"] for e in self.journal()]

    def calls(self) -> dict[str, int]:
        return dict(self.http.get("/_sandbox/calls").json())

    def rows(self, table: str, **where: str) -> list[dict[str, Any]]:
        params: dict[str, list[str]] = {"field": [f"{k}={v}" for k, v in where.items()]}
        return list(self.http.get(f"/_sandbox/rows/{table}", params=params).json())

    def live(self, table: str, **where: str) -> list[dict[str, Any]]:
        return [r for r in self.rows(table, **where) if r["D_E_L_E_T_"] != "*"]

    def change(self, table: str, recno: int, **fields: str) -> dict[str, Any]:
        """Change a row directly, as another user of the ERP would (no journal entry)."""
        answer = self.http.patch(f"/_sandbox/rows/{table}/{recno}", json=fields)
        answer.raise_for_status()
        return dict(answer.json())
