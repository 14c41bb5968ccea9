"""Continuous sync: rows changed, added, blocked and soft-deleted directly in the sandbox ERP (as
other users and systems of the ERP would) reach `/v1/resolve` while the API syncs by watermark
(`canon serve --sync`), on both stores; how long each took is measured and printed, not
asserted. And `canon sync` killed with SIGKILL mid-sync loses nothing: the watermark in force is
the one written with the rows applied, and the next run brings the rest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from gateway import Gateway, create_key
from gateway.erp import ErpOperation, fetch_extracts
from resolver import ResolveQuery, load_resolver, train_workdir
from resolver.profiles import DEFAULT_PROFILE
from resolver.workdir import current_model_dir
from tests.api.test_cli_resolver import CANON
from tests.e2e.conftest import serving
from tests.e2e.test_faults import UNLIMITED
from tests.gateway.erp import expected
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox, running_sandbox

NEW = {"name": "Quokka Ferramentas Industriais Ltda", "tax_id": "11.222.333/0001-81"}
RENAMED = "XYLOFONE BRASILEIRO INSTRUMENTOS LTDA"


def _train_from(sandbox: Sandbox, folder: Path) -> Path:
    """The resolver trained from the sandbox over Protheus REST (suppliers)."""
    fetched = fetch_extracts(sandbox.connector(), DEFAULT_PROFILE, folder / "extracts")
    workdir = folder / "work"
    train_workdir(fetched.folder, workdir, fetched.profile, entity_types=["supplier"])
    return workdir


def _supplier(n: int) -> dict[str, str]:
    """The n-th live supplier of the sandbox's fixture (its row, by R_E_C_N_O_ order)."""
    return expected.live("SA2010")[n]


def _cid(row: dict[str, str]) -> str:
    return f"SA2:{row['A2_FILIAL']}:{row['A2_COD']}:{row['A2_LOJA']}"


@dataclass
class Live:
    app: FastAPI
    http: httpx.Client
    sandbox: Sandbox
    agent: dict[str, str]

    def resolve(self, record: dict[str, str]) -> dict[str, Any]:
        answer = self.http.post(
            "/v1/resolve", headers=self.agent, json={"entity_type": "supplier", "record": record}
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def until(
        self, what: str, record: dict[str, str], seen: Callable[[dict[str, Any]], bool]
    ) -> None:
        """Resolve until `seen` holds (at most 60 s); print how long the change took to show."""
        started, answer = time.monotonic(), self.resolve(record)
        while not seen(answer):
            assert time.monotonic() - started < 60, f"{what}: never seen; last answer {answer}"
            time.sleep(0.05)
            answer = self.resolve(record)
        took = time.monotonic() - started
        sys.stdout.write(f"\nsync: {what} seen by /v1/resolve {took:.2f} s after the change\n")


@pytest.fixture
def live(tmp_path: Path, store_url: str) -> Iterator[Live]:
    with running_sandbox(tmp_path / "sandbox") as sandbox:
        workdir = _train_from(sandbox, tmp_path)
        settings = Settings(
            workdir=workdir,
            database_url=store_url,
            token_secret=SecretStr("sync-secret-" + "s" * 32),
            erp_kind="protheus",
            erp_url=sandbox.url,
            erp_username=USER,
            erp_password=SecretStr(PASSWORD),
            erp_timeout_seconds=20,
            erp_sync_seconds=0.5,
            workflow_sweep_seconds=0,
            approval_sweep_seconds=0,
            rate_limit_roles=UNLIMITED,
        )
        app = create_app(settings)
        gateway: Gateway = app.state.gateway
        with gateway.store.transaction() as session:
            _, secret = create_key(session, "agent", "agent", ["resolve"])
        with serving(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            yield Live(app, http, sandbox, {"Authorization": f"Bearer {secret}"})


def test_erp_changes_reach_resolve_while_the_api_syncs(live: Live) -> None:
    admin = live.sandbox.admin
    changed, blocked, deleted = _supplier(0), _supplier(1), _supplier(2)
    ready = live.http.get("/readyz").json()["freshness"]
    assert ready["sync"] == "on" and ready["rows_applied_since_training"] == 0

    # changed: another user renames a supplier
    admin.change("SA2010", int(changed["R_E_C_N_O_"]), A2_NOME=RENAMED)
    query = {"name": RENAMED.title(), "tax_id": changed["A2_CGC"]}
    live.until(
        "a renamed supplier",
        query,
        lambda a: (
            bool(a["candidates"])
            and a["candidates"][0]["canonical_id"] == _cid(changed)
            and a["candidates"][0]["display"]["A2_NOME"] == RENAMED
        ),
    )
    # added: another system registers a supplier over the ERP's REST API
    created = live.sandbox.connector().run(
        ErpOperation(
            operation="supplier.create_record",
            entity_type="supplier",
            canonical_id=None,
            params=NEW,
            idempotency_key="another-system-1",
        )
    )
    live.until(
        "an added supplier",
        NEW,
        lambda a: a["decision"] == "match" and a["canonical_id"] == created.canonical_id,
    )
    # blocked: A2_MSBLQL = '1'
    admin.change("SA2010", int(blocked["R_E_C_N_O_"]), A2_MSBLQL="1")
    live.until(
        "a blocked supplier",
        {"name": blocked["A2_NOME"], "tax_id": blocked["A2_CGC"]},
        lambda a: (
            bool(a["candidates"])
            and a["candidates"][0]["canonical_id"] == _cid(blocked)
            and a["candidates"][0]["display"]["A2_MSBLQL"] == "1"
        ),
    )
    # soft-deleted: D_E_L_E_T_ = '*'
    admin.change("SA2010", int(deleted["R_E_C_N_O_"]), D_E_L_E_T_="*")
    live.until(
        "a soft-deleted supplier",
        {"name": deleted["A2_NOME"], "tax_id": deleted["A2_CGC"]},
        lambda a: all(c["canonical_id"] != _cid(deleted) for c in a["candidates"]),
    )

    fresh = live.http.get("/readyz").json()["freshness"]
    assert fresh["last_sync_error"] is None and fresh["rows_synced"] >= 4
    assert fresh["rows_applied_since_training"] >= 4
    assert int(fresh["watermarks"]["supplier"]) >= 4
    assert fresh["index_age_seconds"] is not None and fresh["index_age_seconds"] < 60
    gateway: Gateway = live.app.state.gateway
    with gateway.store.transaction() as session:
        _, steward = create_key(session, "steward", "steward", [])
    scraped = live.http.get("/metrics", headers={"Authorization": f"Bearer {steward}"}).text
    watermark = int(fresh["watermarks"]["supplier"])
    assert f'canon_sync_watermark{{entity_type="supplier"}} {float(watermark)}' in scraped
    assert "canon_sync_failing 0.0" in scraped and "canon_sync_lag_seconds " in scraped
    assert "canon_index_rows_applied " in scraped and "canon_index_age_seconds " in scraped


def test_a_failing_sync_says_so_in_readyz_and_metrics(live: Live) -> None:
    live.sandbox.admin.fault("error", operation="supplier.changes", status=500, times=None)
    started = time.monotonic()
    fresh = live.http.get("/readyz").json()["freshness"]
    while fresh["last_sync_error"] is None:
        assert time.monotonic() - started < 60, fresh
        time.sleep(0.1)
        fresh = live.http.get("/readyz").json()["freshness"]
    assert "ErpUnavailable" in fresh["last_sync_error"] and "500" in fresh["last_sync_error"]
    live.sandbox.admin.clear_faults()
    while fresh["last_sync_error"] is not None:  # the next sync that works clears it
        assert time.monotonic() - started < 60, fresh
        time.sleep(0.1)
        fresh = live.http.get("/readyz").json()["freshness"]
    assert fresh["sync_lag_seconds"] is not None and fresh["sync_lag_seconds"] < 60


def _canon(*args: str | Path) -> subprocess.Popen[str]:
    env = {**os.environ, "CANON_ERP_USERNAME": USER, "CANON_ERP_PASSWORD": PASSWORD}
    return subprocess.Popen(
        [CANON, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _names(workdir: Path, rows: list[dict[str, str]]) -> list[str | None]:
    """The name the served index holds for each row's supplier."""
    resolver = load_resolver(workdir)
    out = []
    for row in rows:
        answer = resolver.resolve(
            ResolveQuery(entity_type="supplier", record={"name": "x", "tax_id": row["A2_CGC"]})
        )
        top = [c for c in answer.candidates if c.canonical_id == _cid(row)]
        out.append(top[0].display["A2_NOME"] if top else None)
    return out


def test_sigkill_during_canon_sync_loses_nothing(tmp_path: Path) -> None:
    with running_sandbox(tmp_path / "sandbox") as sandbox:
        workdir = _train_from(sandbox, tmp_path)
        rows = [_supplier(n) for n in range(6)]
        renamed = [f"RENOMEADA {n} COMERCIO LTDA" for n in range(6)]
        for row, name in zip(rows, renamed, strict=True):
            sandbox.admin.change("SA2010", int(row["R_E_C_N_O_"]), A2_NOME=name)
        # the second page of changes is held, as a slow ERP would: the sync is killed there
        sandbox.admin.fault("block", operation="supplier.changes", nth=2, seconds=60)
        args = ("sync", "--workdir", workdir, "--erp-kind", "protheus", "--erp-url", sandbox.url)
        proc = _canon(*args, "--page-size", "3", "--batch-rows", "3")
        try:
            sandbox.admin.wait_for_hold(timeout=120)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        manifest = json.loads((current_model_dir(workdir) / "manifest.json").read_text())
        # the first batch is in force together with its watermark; nothing after it
        assert manifest["watermarks"] == {"supplier": "3"}
        assert _names(workdir, rows) == [*renamed[:3], *(r["A2_NOME"] for r in rows[3:])]

        sandbox.admin.release_all("abort")
        sandbox.admin.clear_faults()
        again = _canon(*args, "--page-size", "3")
        stdout, stderr = again.communicate(timeout=300)
        assert again.returncode == 0, stderr
        assert "supplier: 3 changed row(s) applied" in stdout
        assert _names(workdir, rows) == renamed
        manifest = json.loads((current_model_dir(workdir) / "manifest.json").read_text())
        assert manifest["watermarks"] == {"supplier": "6"}
        assert manifest["rows_applied"] == 6
