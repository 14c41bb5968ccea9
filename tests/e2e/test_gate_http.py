"""The gate end to end over real HTTP: resolve with the trained sample model, act by token, approve,
execute against the local ledger, audit; and idempotency under concurrent HTTP submissions."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from gateway import Gateway, LocalLedgerConnector, Phase, create_key
from gateway.rollout import PromotionRules, set_phase
from gateway.store import utcnow
from resolver import Resolver
from tests.e2e.conftest import serving
from tests.gateway.conftest import record_passing_drill

PO_QUERY = {"entity_type": "purchase_order", "record": {"branch": "01", "number": "000001"}}
PO_ID = "SC7:01:000001"
NEW_SUPPLIER = {"name": "Zebulon Quântum Robotics Ltda", "tax_id": "11.222.333/0001-81"}
REASON = {"reason": "goods received in full (WMS receipt 88121)", "evidence": ["WMS 88121"]}


@dataclass
class Live:
    app: FastAPI
    http: httpx.Client
    ledger: LocalLedgerConnector

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    def key(
        self, role: str = "agent", scopes: list[str] | None = None, name: str = "k"
    ) -> dict[str, str]:
        scopes = (
            scopes if scopes is not None else (["resolve", "actions:*"] if role == "agent" else [])
        )
        with self.gateway.store.transaction() as session:
            _, key = create_key(session, name, role, scopes)
        return {"Authorization": f"Bearer {key}"}

    def resolve(self, headers: dict[str, str], query: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/v1/resolve", headers=headers, json=query)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def live(tmp_path: Path, store_url: str, trained_resolver: Resolver) -> Iterator[Live]:
    settings = Settings(workdir=tmp_path / "work", database_url=store_url,
                        token_secret=SecretStr("e2e-secret-" + "z" * 32))  # fmt: skip
    ledger = LocalLedgerConnector(tmp_path / "ledger.sqlite")
    po = {"supplier_name": "SOUZA MACHADDO COM. DE MEDICAMENTOS", "amount": 29528.16,
          "currency": "BRL"}  # fmt: skip
    ledger.put_record("purchase_order", PO_ID, po)
    app = create_app(settings, connector=ledger, resolver=trained_resolver)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield Live(app, http, ledger)


def _close(token: str | None, idem: str = "close-000001") -> dict[str, Any]:
    return {"action": "purchase_order.close", "target": {"resolution_token": token},
            "params": {}, "context": REASON, "idempotency_key": idem}  # fmt: skip


def test_resolve_act_approve_execute_audit(live: Live) -> None:
    agent = live.key()
    resolved = live.resolve(agent, PO_QUERY)
    assert (resolved["decision"], resolved["canonical_id"]) == ("match", PO_ID)
    assert resolved["resolution_token"].startswith("ct1.")

    proposed = live.http.post(
        "/v1/actions", headers=agent, json=_close(resolved["resolution_token"])
    )
    assert proposed.status_code == 201, proposed.text
    action = proposed.json()
    assert action["status"] == "pending_approval"
    assert action["summary"] == (
        "Approve closing SC7:01:000001 (supplier: SOUZA MACHADDO COM. DE MEDICAMENTOS, "
        "amount: BRL 29,528.16, reason: goods received in full (WMS receipt 88121))"
    )
    assert action["target"]["model_version"] == resolved["model_version"]

    decided = live.http.post(
        f"/v1/approvals/{action['approval']['id']}/decision",
        headers=live.key("approver"),
        json={"decision": "approve"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["action_status"] == "succeeded"

    status = live.http.get(f"/v1/actions/{action['id']}", headers=agent).json()
    assert status["status"] == "succeeded"
    assert [op.operation for op in live.ledger.journal()] == ["purchase_order.close"]
    steward = live.key("steward")
    page = live.http.get("/v1/audit", headers=steward, params={"action_id": action["id"]}).json()
    kinds = [e["kind"] for e in page["entries"]]
    assert kinds == ["action.requested", "approval.decided", "workflow.started", "step.call",
                     "step.succeeded", "action.succeeded"]  # fmt: skip
    assert live.http.get("/v1/audit/verify", headers=steward).json()["ok"] is True


def test_no_match_token_creates_that_supplier_and_no_other(live: Live) -> None:
    agent = live.key()
    resolved = live.resolve(agent, {"entity_type": "supplier", "record": NEW_SUPPLIER})
    assert resolved["decision"] == "no_match"
    token = resolved["resolution_token"]
    params = {"name": "ZEBULON QUANTUM ROBOTICS LTDA.", "tax_id": "11222333000181",
              "document": "dms://suppliers/zebulon-cnpj.pdf"}  # fmt: skip
    create = {"action": "supplier.create", "target": {"resolution_token": token}, "params": params,
              "context": REASON, "idempotency_key": "create-zebulon"}  # fmt: skip
    created = live.http.post("/v1/actions", headers=agent, json=create)
    assert (created.status_code, created.json()["status"]) == (201, "pending_approval")
    other = {
        **create,
        "params": {**params, "name": "Estrela do Norte Ltda"},
        "idempotency_key": "x",
    }
    refused = live.http.post("/v1/actions", headers=agent, json=other)
    assert (refused.status_code, refused.json()["field"]) == (422, "params.name")
    assert refused.json()["type"] == "/problems/identity-mismatch"


def test_a_match_token_cannot_create_nor_name_another_type(live: Live) -> None:
    agent = live.key()
    supplier = live.resolve(
        agent, {"entity_type": "supplier", "record": {"tax_id": "85669591000147"}}
    )
    assert supplier["decision"] == "match"
    token = supplier["resolution_token"]
    create = {"action": "supplier.create", "target": {"resolution_token": token},
              "params": {"name": "x", "tax_id": "85669591000147", "document": "d"},
              "context": REASON, "idempotency_key": "dup"}  # fmt: skip
    duplicate = live.http.post("/v1/actions", headers=agent, json=create)
    assert (duplicate.status_code, duplicate.json()["type"]) == (422, "/problems/wrong-token-kind")
    wrong_type = live.http.post("/v1/actions", headers=agent, json=_close(token, "wrong"))
    assert (wrong_type.status_code, wrong_type.json()["type"]) == (
        422,
        "/problems/wrong-entity-type",
    )


def test_ambiguous_resolution_carries_no_token(live: Live) -> None:
    query = {"entity_type": "supplier", "record": {"name": "Brito & Filhos Gráfica e Editora Ltda",
                                                   "city": "SÃO PAULO"}}  # fmt: skip
    resolved = live.resolve(live.key(), query)
    assert resolved["decision"] == "ambiguous"
    assert resolved["resolution_token"] is None and len(resolved["candidates"]) >= 2


def test_agent_without_resolve_scope_is_refused(live: Live) -> None:
    response = live.http.post("/v1/resolve", headers=live.key(scopes=["actions:*"]), json=PO_QUERY)
    assert response.status_code == 403


def test_concurrent_http_submissions_make_one_action_and_one_erp_write(live: Live) -> None:
    with live.gateway.store.transaction() as session:
        record_passing_drill(
            session, live.gateway.catalog.get("purchase_order.update_delivery_date")
        )
        set_phase(session, live.gateway.catalog.get("purchase_order.update_delivery_date"),
                  Phase.AUTONOMOUS, PromotionRules(0, 0.0), actor="test", now=utcnow())  # fmt: skip
    agent = live.key()
    token = live.resolve(agent, PO_QUERY)["resolution_token"]
    body = {"action": "purchase_order.update_delivery_date", "target": {"resolution_token": token},
            "params": {"delivery_date": "2026-06-30"}, "context": REASON,
            "idempotency_key": "move-000001"}  # fmt: skip

    def submit(_: int) -> httpx.Response:
        return live.http.post("/v1/actions", headers=agent, json=body)

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(submit, range(48)))
    assert sorted({r.status_code for r in responses}) == [200, 201]
    assert sum(r.status_code == 201 for r in responses) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    journal = live.ledger.journal()
    assert [(op.operation, op.params) for op in journal] == [
        ("purchase_order.update_delivery_date", {"delivery_date": "2026-06-30"})
    ]
    final = live.http.get(f"/v1/actions/{responses[0].json()['id']}", headers=agent).json()
    assert final["status"] == "succeeded"
