"""The demo's steps run twice against the real app and the sandbox ERP (Protheus REST), with the
resolver trained from that ERP, on both stores.

First run: resolve a new supplier (`no_match`), create it, approve, `succeeded`. Second run: the
same resolve now answers `match` with the record Canon just created (the workflow read it back
and applied it to the serving index before reporting `succeeded`), and a second creation with
the first run's `no_match` token is refused before any write: `duplicate-in-erp`, naming the
existing record. The ERP ends with one supplier of that CNPJ.
"""

from __future__ import annotations

from collections.abc import Iterator
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
from gateway.erp import ProtheusConnector, fetch_extracts
from resolver import ResolveQuery, Resolver, load_resolver, train_workdir
from resolver.profiles import DEFAULT_PROFILE
from tests.e2e.conftest import serving
from tests.e2e.test_faults import UNLIMITED
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox, running_sandbox

QUERY = {
    "entity_type": "supplier",
    "record": {"name": "Zebulon Quantum Robotics Ltda", "tax_id": "11.222.333/0001-81"},
}
PARAMS = {
    "name": "Zebulon Quantum Robotics Ltda",
    "tax_id": "11.222.333/0001-81",
    "city": "Campinas",
    "document": "dms://suppliers/zebulon.pdf",
}
REASON = {"reason": "new supplier of robot arms"}


@dataclass
class Demo:
    app: FastAPI
    http: httpx.Client
    erp: ProtheusConnector
    sandbox: Sandbox
    other: Resolver  # another worker serving the same workdir

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    def key(self, role: str, name: str) -> dict[str, str]:
        scopes = ["resolve", "actions:*"] if role == "agent" else []
        with self.gateway.store.transaction() as session:
            _, secret = create_key(session, name, role, scopes)
        return {"Authorization": f"Bearer {secret}"}

    def resolve(self, agent: dict[str, str]) -> dict[str, Any]:
        answer = self.http.post("/v1/resolve", headers=agent, json=QUERY)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def create(self, agent: dict[str, str], token: str, key: str) -> httpx.Response:
        body = {
            "action": "supplier.create",
            "target": {"resolution_token": token},
            "params": PARAMS,
            "context": REASON,
            "idempotency_key": key,
        }
        return self.http.post("/v1/actions", headers=agent, json=body)

    def approve(self, action: dict[str, Any], approver: dict[str, str]) -> dict[str, Any]:
        url = f"/v1/approvals/{action['approval']['id']}/decision"
        decided = self.http.post(url, headers=approver, json={"decision": "approve"})
        assert decided.status_code == 200, decided.text
        return dict(self.http.get(f"/v1/actions/{action['id']}", headers=approver).json())

    def audit_kinds(self, action_id: str, steward: dict[str, str]) -> list[dict[str, Any]]:
        page = self.http.get(
            "/v1/audit", headers=steward, params={"action_id": action_id, "limit": 1000}
        ).json()
        return list(page["entries"])


@pytest.fixture
def demo(tmp_path: Path, store_url: str) -> Iterator[Demo]:
    """`make demo` in a test: the sandbox ERP, the resolver trained from it over Protheus REST,
    and `canon serve --erp-kind protheus` on the trained workdir."""
    with running_sandbox(tmp_path / "sandbox") as sandbox:
        erp: ProtheusConnector = sandbox.connector("protheus", timeout=20)
        workdir = tmp_path / "work"
        fetched = fetch_extracts(erp, DEFAULT_PROFILE, tmp_path / "extracts")
        train_workdir(fetched.folder, workdir, fetched.profile, entity_types=["supplier"])
        settings = Settings(
            workdir=workdir,
            database_url=store_url,
            token_secret=SecretStr("ryw-secret-" + "r" * 32),
            erp_kind="protheus",
            erp_url=sandbox.url,
            erp_username=USER,
            erp_password=SecretStr(PASSWORD),
            erp_timeout_seconds=20,
            workflow_sweep_seconds=0,
            approval_sweep_seconds=0,
            rate_limit_roles=UNLIMITED,
        )
        app = create_app(settings)
        with serving(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            yield Demo(app, http, erp, sandbox, load_resolver(workdir, watch=True))


def test_the_demo_twice_resolves_the_new_supplier_and_refuses_its_duplicate(demo: Demo) -> None:
    agent, approver = demo.key("agent", "demo-agent"), demo.key("approver", "ana")
    steward = demo.key("steward", "auditor")
    assert demo.erp.find_by_tax_id("supplier", PARAMS["tax_id"]) == []

    # -- the demo's steps, the first time ---------------------------------------------------
    first = demo.resolve(agent)
    assert first["decision"] == "no_match" and first["resolution_token"], first
    # The agent asked twice before writing: a second no_match token, issued before the record
    # existed (a supplier.create token names one action only, so the first cannot serve again).
    spare = demo.resolve(agent)["resolution_token"]
    proposed = demo.create(agent, first["resolution_token"], "demo-1")
    assert (proposed.status_code, proposed.json()["status"]) == (201, "pending_approval")
    done = demo.approve(proposed.json(), approver)
    assert done["status"] == "succeeded", done
    held = demo.erp.find_by_tax_id("supplier", PARAMS["tax_id"])
    assert len(held) == 1
    created = held[0].canonical_id
    entries = demo.audit_kinds(done["id"], steward)
    kinds = [e["kind"] for e in entries]
    # the record was read back and applied to the serving index before the action succeeded
    assert kinds[-2:] == ["record.synced", "action.succeeded"], kinds
    assert entries[-2]["data"]["canonical_id"] == created

    # every other worker serving the workdir follows the same switch of CURRENT
    assert demo.other.reload()
    follower = demo.other.resolve(ResolveQuery.model_validate(QUERY))
    assert follower.candidates[0].canonical_id == created

    # -- the same steps again -----------------------------------------------------------------
    second = demo.resolve(agent)
    assert second["decision"] in ("match", "ambiguous"), second
    assert second["candidates"][0]["canonical_id"] == created, second
    if second["decision"] == "match":
        assert second["canonical_id"] == created
    # a match token is not a creation's token; the first run's no_match token is spent; the
    # spare one is still valid, and only the ERP's duplicate guard can stop it
    with_match = demo.create(agent, second["resolution_token"] or "", "demo-2a")
    assert with_match.status_code in (401, 403, 409, 422), with_match.text
    spent = demo.create(agent, first["resolution_token"], "demo-2b")
    assert (spent.status_code, spent.json()["type"]) == (409, "/problems/token-used"), spent.text
    again = demo.create(agent, spare, "demo-2")
    assert again.status_code == 201, again.text
    refused = demo.approve(again.json(), approver)
    assert refused["status"] == "failed", refused
    assert refused["error"].startswith("duplicate-in-erp: "), refused["error"]
    assert created in refused["error"]
    # nothing was written: one supplier of that CNPJ, and the second run made no ERP call
    assert [r.canonical_id for r in demo.erp.find_by_tax_id("supplier", "11222333000181")] == [
        created
    ]
    kinds = [e["kind"] for e in demo.audit_kinds(refused["id"], steward)]
    assert "step.succeeded" not in kinds and "action.failed" in kinds, kinds


def test_an_index_that_cannot_be_updated_does_not_fail_the_write(demo: Demo) -> None:
    """The ERP's write stands when reading the record back fails: the action succeeds, the
    audit log says the index was not updated and why (a later sync brings the record)."""
    agent, approver = demo.key("agent", "demo-agent"), demo.key("approver", "ana")
    demo.sandbox.admin.fault("error", operation="supplier.read", status=500, times=None)
    token = demo.resolve(agent)["resolution_token"]
    done = demo.approve(demo.create(agent, token, "demo-1").json(), approver)
    assert done["status"] == "succeeded", done
    entries = demo.audit_kinds(done["id"], demo.key("steward", "auditor"))
    assert [e["kind"] for e in entries][-2:] == ["record.sync_failed", "action.succeeded"]
    assert "ErpUnavailable" in entries[-2]["data"]["error"]
    assert len(demo.erp.find_by_tax_id("supplier", PARAMS["tax_id"])) == 1
