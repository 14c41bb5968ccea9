"""Faults end to end: the real app served on 127.0.0.1 and talking to the sandbox ERP (Protheus
format) over HTTP, on both stores. A timeout after the ERP committed, at each step, creates
nothing twice; 1,000 concurrent submissions of one idempotency key write once; a compensation
the ERP refuses leaves the action `needs_attention` with a record a human can act on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from api.app import create_app
from api.settings import Rate, Settings
from gateway import Gateway, Phase, create_key
from gateway.rollout import PromotionRules, set_phase
from gateway.store import utcnow
from resolver.normalise import normalise_record
from resolver.types import Decision, Resolution
from tests.e2e.conftest import serving
from tests.gateway.conftest import record_passing_drill, resolution
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox, running_sandbox
from tests.tokens import issue_for

NEW = {
    "name": "Zebulon Quantum Robotics Ltda",
    "tax_id": "11.222.333/0001-81",
    "document": "dms://suppliers/zebulon.pdf",
}
CNPJ = "11222333000181"
REASON = {"reason": "new supplier for the Campinas plant", "evidence": ["RFQ 2026-118"]}
UNLIMITED = {
    role: Rate(per_second=100_000, burst=100_000)
    for role in ("agent", "approver", "steward", "admin")
}


@dataclass
class Stack:
    app: FastAPI
    http: httpx.Client
    sandbox: Sandbox
    url: str

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    def key(self, role: str = "agent", name: str = "k") -> dict[str, str]:
        scopes = ["resolve", "actions:*"] if role == "agent" else []
        with self.gateway.store.transaction() as session:
            _, secret = create_key(session, name, role, scopes)
        return {"Authorization": f"Bearer {secret}"}

    def token(self, resolution: Resolution, agent: dict[str, str]) -> str:
        return issue_for(self.gateway, resolution, agent)

    def propose_supplier(self, agent: dict[str, str]) -> dict[str, Any]:
        identity = dict(normalise_record({"name": NEW["name"], "tax_id": NEW["tax_id"]}))
        token = self.token(
            resolution(decision=Decision.NO_MATCH, entity_type="supplier", identity=identity),
            agent,
        )
        body = {
            "action": "supplier.create",
            "target": {"resolution_token": token},
            "params": NEW,
            "context": REASON,
            "idempotency_key": "create-zebulon",
        }
        created = self.http.post("/v1/actions", headers=agent, json=body)
        assert created.status_code == 201, created.text
        return dict(created.json())

    def approve(self, action: dict[str, Any], approver: dict[str, str]) -> dict[str, Any]:
        url = f"/v1/approvals/{action['approval']['id']}/decision"
        decided = self.http.post(url, headers=approver, json={"decision": "approve"})
        assert decided.status_code == 200, decided.text
        final = self.http.get(f"/v1/actions/{action['id']}", headers=approver)
        return dict(final.json())

    def audit(self, action_id: str) -> list[dict[str, Any]]:
        page = self.http.get(
            "/v1/audit",
            headers=self.key("steward", "auditor"),
            params={"action_id": action_id, "limit": 1000},
        ).json()
        return list(page["entries"])


@contextmanager
def running_stack(
    folder: Path, store_url: str, erp_timeout: float, *, stock: bool = False
) -> Iterator[Stack]:
    with running_sandbox(folder / "sandbox", stock=stock) as sandbox:
        settings = Settings(
            workdir=folder / "work",
            database_url=store_url,
            token_secret=SecretStr("faults-secret-" + "f" * 32),
            erp_kind="protheus",
            erp_url=sandbox.url,
            erp_username=USER,
            erp_password=SecretStr(PASSWORD),
            erp_timeout_seconds=erp_timeout,
            workflow_lease_seconds=30,
            workflow_sweep_seconds=0,
            rate_limit_roles=UNLIMITED,
            approval_sweep_seconds=0,
        )
        app = create_app(settings)
        with serving(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            yield Stack(app, http, sandbox, url)


@pytest.fixture
def stack(tmp_path: Path, store_url: str) -> Iterator[Stack]:
    """The app and the sandbox, with a short ERP timeout (a held answer times out fast)."""
    with running_stack(tmp_path, store_url, erp_timeout=0.5) as running:
        yield running


@pytest.fixture
def patient_stack(tmp_path: Path, store_url: str) -> Iterator[Stack]:
    """The same with a patient ERP timeout (1,000 requests at once slow the sandbox down)."""
    with running_stack(tmp_path, store_url, erp_timeout=20) as running:
        yield running


def _erp_rows(sandbox: Sandbox) -> tuple[int, int, int]:
    rows = sandbox.admin.live("SA2010", A2_CGC=CNPJ)
    if not rows:
        return 0, 0, 0
    code = rows[0]["A2_COD"] + rows[0]["A2_LOJA"]
    return (
        len(sandbox.admin.rows("SA2010", A2_CGC=CNPJ)),
        len(sandbox.admin.live("AC9010", AC9_CODENT=code)),
        len(sandbox.admin.live("SCR010", CR_NUM=code)),
    )


@pytest.mark.parametrize("step", [0, 1, 2])
def test_a_timeout_after_the_erp_committed_creates_nothing_twice(stack: Stack, step: int) -> None:
    action = stack.propose_supplier(stack.key())
    stack.sandbox.admin.fault("timeout_after_commit", key=f"{action['id']}:{step}", seconds=1.5)
    final = stack.approve(action, stack.key("approver", "ana"))
    assert final["status"] == "succeeded"
    assert _erp_rows(stack.sandbox) == (1, 1, 1)
    assert stack.sandbox.admin.keys() == [f"{action['id']}:{n}" for n in range(3)]
    story = [
        (e["kind"], e["data"].get("step"), bool(e["data"].get("reconciled")))
        for e in stack.audit(action["id"])
        if e["kind"].startswith("step.")
    ]
    steps = ["create_record", "attach_document", "route_for_approval"]
    assert story == [
        item
        for n, name in enumerate(steps)
        for item in (("step.call", name, False), ("step.succeeded", name, n == step))
    ]


@pytest.mark.parametrize("step", [0, 1, 2])
def test_on_a_stock_erp_a_timeout_after_commit_is_never_written_twice(
    tmp_path: Path, store_url: str, step: int
) -> None:
    """No look-up by key, keys ignored: each step's write is found in the ERP's own tables
    (the supplier by its tax id, the document link, the routing) instead of being re-sent."""
    with running_stack(tmp_path, store_url, erp_timeout=0.5, stock=True) as stack:
        action = stack.propose_supplier(stack.key())
        stack.sandbox.admin.fault("timeout_after_commit", key=f"{action['id']}:{step}", seconds=1.5)
        final = stack.approve(action, stack.key("approver", "ana"))
        calls = stack.sandbox.admin.calls()
        operations = ["supplier.create_record", "supplier.attach_document"]
        operations.append("supplier.start_approval_routing")
        assert [calls.get(o, 0) for o in operations] == [1, 1, 1]  # each write sent once
        assert final["status"] == "succeeded"
        assert _erp_rows(stack.sandbox) == (1, 1, 1)
        reconciled = [
            e["data"]["step"]
            for e in stack.audit(action["id"])
            if e["kind"] == "step.succeeded" and e["data"].get("reconciled")
        ]
        assert reconciled == [final["steps"][step]["name"]]


@pytest.mark.slow
def test_a_thousand_concurrent_submissions_of_one_key_write_to_the_erp_once(
    patient_stack: Stack,
) -> None:
    stack = patient_stack
    with stack.gateway.store.transaction() as session:
        spec = stack.gateway.catalog.get("purchase_order.update_delivery_date")
        record_passing_drill(session, spec)
        set_phase(
            session, spec, Phase.AUTONOMOUS, PromotionRules(0, 0.0), actor="test", now=utcnow()
        )
    agent = stack.key()
    token = stack.token(
        Resolution(
            decision=Decision.MATCH,
            entity_type="purchase_order",
            canonical_id="SC7:01:000002",
            candidates=[],
            reason="key",
            model_version="m",
            calibration_version="c",
        ),
        agent,
    )
    body = {
        "action": "purchase_order.update_delivery_date",
        "target": {"resolution_token": token},
        "params": {"delivery_date": "2026-06-30"},
        "context": REASON,
        "idempotency_key": "move-000002",
    }

    async def submit_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        async with httpx.AsyncClient(base_url=stack.url, timeout=120, limits=limits) as client:
            return await asyncio.gather(
                *(client.post("/v1/actions", headers=agent, json=body) for _ in range(1000))
            )

    responses = asyncio.run(submit_all())
    assert sorted({r.status_code for r in responses}) == [200, 201], {
        r.text for r in responses if r.status_code >= 300
    }
    assert sum(r.status_code == 201 for r in responses) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    writes = [e for e in stack.sandbox.admin.journal() if e["operation"] == "purchase_order.change"]
    assert len(writes) == 1 and stack.sandbox.admin.calls()["purchase_order.change"] == 1
    items = stack.sandbox.admin.rows("SC7010", C7_FILIAL="01", C7_NUM="000002")
    assert {i["C7_DATPRF"] for i in items} == {"20260630"}


def test_a_refused_compensation_needs_attention_with_a_readable_record(stack: Stack) -> None:
    action = stack.propose_supplier(stack.key())
    admin = stack.sandbox.admin
    admin.fault("error", key=f"{action['id']}:2", status=422, times=None)
    admin.fault("error", key=f"{action['id']}:1:undo", status=423, times=None)
    final = stack.approve(action, stack.key("approver", "ana"))
    assert final["status"] == "needs_attention"
    assert [s["status"] for s in final["steps"]] == ["succeeded", "compensation_failed", "failed"]
    created = final["steps"][0]["result"]["canonical_id"]
    error = final["error"]
    assert "422" in error and "undoing step 1 (attach_document) failed" in error
    assert "Done in the ERP: step 0 (create_record), step 1 (attach_document)" in error
    assert "Undone: none" in error
    assert (
        f"a human must still undo step 1 (attach_document: run supplier.detach_document on "
        f"{created}, key {action['id']}:1), step 0 (create_record: run "
        f"supplier.delete_record on {created}, key {action['id']}:0)"
    ) in error
    last = stack.audit(action["id"])[-1]
    assert last["kind"] == "action.needs_attention"
    assert [e["position"] for e in last["data"]["report"]["to_undo"]] == [1, 0]
    assert _erp_rows(stack.sandbox) == (1, 1, 0)  # nothing undone behind the report's back
    verified = stack.http.get("/v1/audit/verify", headers=stack.key("steward", "v")).json()
    assert verified["ok"] is True
