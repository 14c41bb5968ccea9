"""The sandbox ERP for tests: served on 127.0.0.1 by uvicorn in a thread, driven over HTTP.

`running_sandbox(folder)` starts one over a fresh copy of a template database (loaded once per
process from the committed Protheus sample); `SandboxAdmin` is a client of its `/_sandbox` API.
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
from fastapi import FastAPI

from gateway.erp.registry import kind as erp_kind
from sandbox.erp import DEFAULT_PASSWORD, DEFAULT_USER, create_sandbox_app
from tests.e2e.conftest import serving

#: A frozen copy of three tables of the Protheus sample (suppliers, customers, purchase orders):
#: the tests name its records and totals, and the sample itself is regenerated as it evolves.
FIXTURE_DATA = Path(__file__).resolve().parent / "data"
SAMPLE_DATA = Path(__file__).resolve().parents[3] / "data" / "samples" / "protheus" / "data"
USER, PASSWORD = DEFAULT_USER, DEFAULT_PASSWORD
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


@dataclass
class Sandbox:
    """A running sandbox: its base URL, admin client and app (for its credentials)."""

    url: str
    app: FastAPI
    admin: SandboxAdmin

    def connector(self, kind: str = "protheus", timeout: float = 30.0, **kw: Any) -> Any:
        """A connector to this sandbox; the generous default timeout keeps a loaded CI machine
        from reading a slow answer as a lost one (tests of timeouts pass their own)."""
        cls: Any = erp_kind(kind).connector  # the class registered as `kind`
        return cls(self.url, username=USER, password=PASSWORD, timeout=timeout, **kw)


@contextmanager
def running_sandbox(
    folder: Path,
    *,
    stock: bool = False,
    request_timeout: float | None = None,
    filial_width: int = 2,
) -> Iterator[Sandbox]:
    """A sandbox over a fresh copy of the template database, until the block ends.

    `stock`: without Canon's custom ERP services, ignoring `Idempotency-Key` (`--stock`).
    `request_timeout`: the ERP abandons a request that has not written by then (seconds).
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
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        admin = SandboxAdmin(http)
        try:
            yield Sandbox(url, app, admin)
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
