"""Revert on request, end to end: the real app served on 127.0.0.1 and the sandbox ERP (Protheus
format) over HTTP, on both stores. A supplier blocked through the gate is reverted with approval
and found unblocked in the ERP; a supplier changed in the ERP between the block and the revert
stops the revert in `needs_attention` with the difference, and the change is not overwritten.
Reverting twice, reverting a revert and reverting what did not succeed are refused, each saying
why. `canon actions revert` and the MCP tool `revert_action` ask the same gate."""

from __future__ import annotations

import html
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import typer
from typer.testing import CliRunner

from api.cli import rollback as cli_rollback
from tests.api.test_portal import add_user, sign_in
from tests.e2e.test_faults import Stack, running_stack
from tests.e2e.test_mcp_live import http_session
from tests.gateway.conftest import resolution
from tests.gateway.erp import expected

runner = CliRunner()
BLOCK_REASON = {"reason": "tax registration suspended (SEFAZ notice 2026-311)"}


@pytest.fixture
def stack(tmp_path: Path, store_url: str) -> Iterator[Stack]:
    with running_stack(tmp_path, store_url, erp_timeout=10) as running:
        yield running


def _supplier(n: int) -> tuple[str, dict[str, str]]:
    """A live, unblocked supplier of the sandbox's fixture: its id and row."""
    rows = [r for r in expected.live("SA2010") if r["A2_MSBLQL"] != "1"]
    row = rows[n]
    return f"SA2:{row['A2_FILIAL']}:{row['A2_COD']}:{row['A2_LOJA']}", row


def _sa2(stack: Stack, row: dict[str, str]) -> dict[str, Any]:
    (found,) = stack.sandbox.admin.rows("SA2010", R_E_C_N_O_=row["R_E_C_N_O_"])
    return found


def _block(stack: Stack, agent: dict[str, str], approver: dict[str, str], cid: str) -> str:
    token = stack.token(resolution(entity_type="supplier", canonical_id=cid), agent)
    body = {
        "action": "supplier.block",
        "target": {"resolution_token": token},
        "params": {"reason": "tax registration suspended"},
        "context": BLOCK_REASON,
        "idempotency_key": f"block-{cid}",
    }
    proposed = stack.http.post("/v1/actions", headers=agent, json=body)
    assert proposed.status_code == 201, proposed.text
    done = stack.approve(proposed.json(), approver)
    assert done["status"] == "succeeded", done
    return str(done["id"])


def _portal(stack: Stack) -> httpx.Client:
    """A portal session of an approver, on the live app."""
    add_user(stack.app, "paula")
    client = httpx.Client(base_url=stack.url, timeout=30)
    signed = sign_in(client, "paula")  # type: ignore[arg-type]
    assert signed.status_code == 303, signed.text
    return client


def _revert(stack: Stack, who: dict[str, str], action_id: str, **body: Any) -> Any:
    return stack.http.post(
        f"/v1/actions/{action_id}/revert",
        headers=who,
        json={"reason": "blocked the wrong supplier (ticket 4411)", **body},
    )


def test_a_block_reverted_with_approval_is_unblocked_in_the_erp(stack: Stack) -> None:
    agent, approver = stack.key("agent", "agent"), stack.key("approver", "ana")
    cid, row = _supplier(0)
    block_id = _block(stack, agent, approver, cid)
    assert _sa2(stack, row)["A2_MSBLQL"] == "1"

    plan = stack.http.get(f"/v1/actions/{block_id}/revert", headers=agent)
    assert plan.status_code == 200, plan.text
    assert plan.json()["steps"] == [
        {"undoes_step": 0, "name": "undo_block", "operation": "supplier.unblock",
         "expect": {"blocked": True}}
    ]  # fmt: skip
    assert f"will unblock supplier {row['A2_NOME']} ({cid})" in plan.json()["plan"]

    portal = _portal(stack)
    block_request = stack.http.get(f"/v1/actions/{block_id}", headers=approver).json()
    page = portal.get(f"/portal/approvals/{block_request['approval']['id']}").text
    assert "<h2>Revert</h2>" in page
    assert f"will unblock supplier {html.escape(row['A2_NOME'])} ({cid})" in page

    asked = _revert(stack, agent, block_id)
    assert asked.status_code == 201, asked.text
    revert = asked.json()
    page = portal.get(f"/portal/approvals/{block_request['approval']['id']}").text
    assert f"A revert was asked for: <code>{revert['id']}</code>" in page
    page = portal.get(f"/portal/approvals/{revert['approval']['id']}").text
    assert f"This request reverts action <code>{block_id}</code>" in page
    assert (revert["status"], revert["reverts"], revert["action"]) == (
        "pending_approval", block_id, "supplier.block",
    )  # fmt: skip
    assert revert["approval"]["approvals_needed"] == 1
    assert _sa2(stack, row)["A2_MSBLQL"] == "1"  # nothing runs before the approval

    # the key that asked for the revert cannot approve it
    own = stack.http.post(
        f"/v1/approvals/{revert['approval']['id']}/decision",
        headers=agent,
        json={"decision": "approve"},
    )
    assert own.status_code == 403, own.text

    done = stack.approve(revert, approver)
    assert done["status"] == "succeeded", done
    assert [(s["operation"], s["status"]) for s in done["steps"]] == [
        ("supplier.unblock", "succeeded")
    ]
    assert _sa2(stack, row)["A2_MSBLQL"] != "1"
    kinds = [e["kind"] for e in stack.audit(revert["id"])]
    assert kinds.index("revert.checked") < kinds.index("step.call")

    # asking again returns the same revert; a second revert and a revert of the revert are not
    assert _revert(stack, agent, block_id).status_code == 200
    twice = _revert(stack, agent, block_id, idempotency_key="second-try")
    assert twice.status_code == 409, twice.text
    assert twice.json()["type"].endswith("already-reverted")
    assert revert["id"] in twice.json()["detail"]
    of_revert = _revert(stack, agent, revert["id"])
    assert of_revert.status_code == 422, of_revert.text
    assert "a revert cannot be reverted" in of_revert.json()["detail"]


def test_a_record_changed_since_the_block_stops_the_revert_without_overwriting(
    stack: Stack,
) -> None:
    agent, approver = stack.key("agent", "agent"), stack.key("approver", "ana")
    cid, row = _supplier(1)
    block_id = _block(stack, agent, approver, cid)
    asked = _revert(stack, agent, block_id)
    assert asked.status_code == 201, asked.text

    # someone in the ERP unblocks it by hand (and so owns that field now) before the approval
    stack.sandbox.admin.change("SA2010", int(row["R_E_C_N_O_"]), A2_MSBLQL="2")
    journal_before = len(stack.sandbox.admin.journal())

    done = stack.approve(asked.json(), approver)
    assert done["status"] == "needs_attention", done
    assert "changed since the original action left it" in done["error"]
    assert "blocked: left True, now False" in done["error"]
    assert [s["status"] for s in done["steps"]] == ["planned"]
    assert _sa2(stack, row)["A2_MSBLQL"] == "2"  # the newer change stands
    assert len(stack.sandbox.admin.journal()) == journal_before  # nothing was sent
    conflict = [e for e in stack.audit(done["id"]) if e["kind"] == "revert.conflict"]
    assert conflict[0]["data"]["differences"] == [{"field": "blocked", "left": True, "now": False}]


def test_what_did_not_succeed_cannot_be_reverted(stack: Stack) -> None:
    agent, approver = stack.key("agent", "agent"), stack.key("approver", "ana")
    cid, _row = _supplier(2)
    token = stack.token(resolution(entity_type="supplier", canonical_id=cid), agent)
    body = {
        "action": "supplier.block",
        "target": {"resolution_token": token},
        "params": {"reason": "r"},
        "context": BLOCK_REASON,
        "idempotency_key": "block-refused",
    }
    proposed = stack.http.post("/v1/actions", headers=agent, json=body).json()
    stack.sandbox.admin.fault("error", key=f"{proposed['id']}:0", status=422, times=None)
    failed = stack.approve(proposed, approver)
    assert failed["status"] == "failed", failed
    refused = _revert(stack, agent, failed["id"])
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("not-revertible")
    assert "is failed: it failed before changing anything" in refused.json()["detail"]

    created = stack.propose_supplier(agent)
    stack.sandbox.admin.fault("error", key=f"{created['id']}:2", status=422, times=None)
    compensated = stack.approve(created, approver)
    assert compensated["status"] == "compensated", compensated
    refused = _revert(stack, agent, compensated["id"])
    assert refused.status_code == 409, refused.text
    assert "is compensated: its workflow failed and was already undone" in refused.text

    waiting = stack.http.post(
        "/v1/actions", headers=agent, json={**body, "idempotency_key": "block-waiting"}
    ).json()
    refused = _revert(stack, agent, waiting["id"])
    assert refused.status_code == 409 and "is pending_approval" in refused.json()["detail"]
    missing = _revert(stack, agent, "no-such-action")
    assert missing.status_code == 404
    bad = stack.http.post(f"/v1/actions/{waiting['id']}/revert", headers=agent, json={})
    assert bad.status_code == 422 and "reason" in bad.text


def test_canon_actions_revert_asks_the_api(stack: Stack) -> None:
    agent, approver = stack.key("agent", "agent"), stack.key("approver", "ana")
    cid, row = _supplier(3)
    block_id = _block(stack, agent, approver, cid)
    app = typer.Typer()
    cli_rollback.register(app)
    env = {"CANON_API_KEY": agent["Authorization"].removeprefix("Bearer "),
           "CANON_API_URL": stack.url}  # fmt: skip

    plan = runner.invoke(app, ["actions", "revert", block_id, "--plan"], env=env)  # as README
    assert plan.exit_code == 0, plan.stderr
    assert plan.stdout.startswith("Revert of supplier.block (done on ")
    assert f"will unblock supplier {row['A2_NOME']} ({cid})" in plan.stdout

    unexplained = runner.invoke(app, ["actions", "revert", block_id], env=env)
    assert unexplained.exit_code == 2
    assert "--reason: say why the action is reverted" in unexplained.stderr
    asked = runner.invoke(app, ["actions", "revert", block_id, "--reason", "wrong one"], env=env)
    assert asked.exit_code == 0, asked.stderr
    revert_id = asked.stdout.strip()
    assert f"revert {revert_id} of {block_id}: pending_approval, needs 1 approval(s)" in (
        asked.stderr
    )
    again = runner.invoke(
        app, ["actions", "revert", block_id, "--reason", "x", "--idempotency-key", "other"],
        env=env,
    )  # fmt: skip
    assert again.exit_code == 1
    assert f"already has a revert, {revert_id} (pending_approval)" in again.stderr

    view = stack.http.get(f"/v1/actions/{revert_id}", headers=approver).json()
    assert stack.approve(view, approver)["status"] == "succeeded"
    assert _sa2(stack, row)["A2_MSBLQL"] != "1"


def test_concurrent_requests_of_one_revert_make_one(stack: Stack) -> None:
    agent, approver = stack.key("agent", "agent"), stack.key("approver", "ana")
    cid, _row = _supplier(4)
    block_id = _block(stack, agent, approver, cid)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _revert(stack, agent, block_id), range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1


def test_an_agent_reverts_through_the_mcp_tool(stack: Stack) -> None:
    agent, approver = stack.key("agent", "agent"), stack.key("approver", "ana")
    cid, row = _supplier(5)
    block_id = _block(stack, agent, approver, cid)
    secret = agent["Authorization"].removeprefix("Bearer ")

    async def call() -> Any:
        async with http_session(stack.url, secret) as client:
            return await client.call_tool(
                "revert_action", {"action_id": block_id, "reason": "wrong supplier"}
            )

    result = anyio.run(call)
    assert not result.is_error, result
    revert = result.structured_content
    assert (revert["status"], revert["reverts"]) == ("pending_approval", block_id)
    assert revert["waiting_for"] is not None
    assert stack.approve(revert, approver)["status"] == "succeeded"
    assert _sa2(stack, row)["A2_MSBLQL"] != "1"
