"""The security suite, against the real app on loopback: schemathesis over the OpenAPI schema
(no 5xx, no response that breaks the schema), injection strings in every text field of resolve,
actions and approvals (refused, or stored inert and rendered escaped), secrets never in logs or
error bodies, and key revocation taking effect at once on every door."""

from __future__ import annotations

import json
import logging
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
from gateway.store import Action
from resolver import Resolver
from tests.e2e.conftest import serving
from tests.e2e.test_mcp_live import (
    PO_ID,
    PO_QUERY,
    PO_RECORD,
    REASON,
    http_session,
    running_canon,
    stdio_session,
)

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
def test_schemathesis_finds_no_5xx_and_no_response_off_the_schema(live: Live) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    checks = [not_a_server_error, response_schema_conformance]
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for role in ("agent", "admin"):
            headers = live.headers(role)

            @given(case=operation.as_strategy())
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def probe(case: Any) -> None:
                nonlocal calls
                calls += 1
                case.call_and_validate(base_url=live.url, headers=headers, checks=checks)

            try:
                probe()
            except Exception as e:  # collect every operation's failure, not just the first
                failures.append(f"{operation.label} as {role}: {str(e)[:600]}")
    logging.getLogger("canon.tests").warning("schemathesis: %d calls", calls)
    assert failures == []
    assert calls >= 100
