"""The human-resolution loop end to end, over HTTP, against the real app and the sandbox ERP.

resolve → `ambiguous` → the agent opens a resolution request and waits → a reviewer holding the
`resolver` scope picks a candidate (in the portal; by a signed email link; by a signed Slack
button) → the waiting agent receives a `human` token bound to the pick and naming who decided →
`supplier.block` proposed with it is approved and `succeeded` in the sandbox ERP → the pick (and
the approval) are labels of the store, in the table `canon calibrate` reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select

from api.app import create_app
from api.settings import Settings
from calibration.labels import labels_from_records
from gateway import Gateway, create_key
from gateway.channels.portal import create_user
from gateway.erp import ProtheusConnector, fetch_extracts
from gateway.labels import label_rows
from gateway.store import Label
from resolver import train_workdir
from resolver.profiles import DEFAULT_PROFILE
from tests.api.test_approvals_api import Receiver, receiver  # noqa: F401 (fixture)
from tests.e2e.conftest import serving
from tests.e2e.test_faults import UNLIMITED
from tests.gateway.erp.sandbox import PASSWORD, USER, Sandbox, running_sandbox
from tests.gateway.test_approval_outbox import (  # noqa: F401 (fixtures)
    FAST_HASHER,
    Inbox,
    SlackStandIn,
    slack_api,
    smtp,
)

SIGNING_SECRET = "slack-e2e-signing-secret-0123456789"
REVIEWER_PASSWORD = "correct horse battery"
#: Look-alike names of the sandbox's suppliers: each resolves `ambiguous`, the model's top
#: candidate first (measured on the sandbox's data).
#: Names two or more records fit (the query, and the record a person picks): "Auto Peças Comércio"
#: is Guerra's and Nogueira's; Madeireira Progresso has three branches.
GUERRA = ("Auto Peças Comércio S.A.", "SA2::000001:01")
NOGUEIRA = ("AUTO PECAS COMERCIO", "SA2::000007:01")
MADEIREIRA = ("MADEIREIRA PROGRESSO EIRELI", "SA2::000004:02")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A supplier model trained from the sandbox ERP over Protheus REST (once per module)."""
    folder = tmp_path_factory.mktemp("human-resolution")
    with running_sandbox(folder / "sandbox") as sandbox:
        erp: ProtheusConnector = sandbox.connector("protheus", timeout=20)
        fetched = fetch_extracts(erp, DEFAULT_PROFILE, folder / "extracts")
        train_workdir(fetched.folder, folder / "work", fetched.profile, entity_types=["supplier"])
    return folder / "work"


@dataclass
class Loop:
    app: FastAPI
    http: httpx.Client
    erp: ProtheusConnector
    inbox: Inbox
    slack: SlackStandIn
    sandbox: Sandbox

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    def key(self, role: str, name: str, scopes: list[str] | None = None) -> dict[str, str]:
        if scopes is None:
            scopes = ["resolve", "actions:*"] if role == "agent" else []
        with self.gateway.store.transaction() as session:
            _, secret = create_key(session, name, role, scopes)
        return {"Authorization": f"Bearer {secret}"}

    def sweep(self) -> dict[str, int]:
        counts: dict[str, int] = self.app.state.approvals.resolutions.sweep()
        return counts

    def ambiguous(self, agent: dict[str, str], name: str) -> dict[str, Any]:
        query = {"entity_type": "supplier", "record": {"name": name}}
        answer = self.http.post("/v1/resolve", headers=agent, json=query)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert body["decision"] == "ambiguous" and body["resolution_token"] is None
        assert body["resolution_id"] and len(body["candidates"]) >= 2
        return body

    def ask(self, agent: dict[str, str], resolution_id: str, key: str, **kw: Any) -> dict[str, Any]:
        body = {"resolution_id": resolution_id, "idempotency_key": key,
                "context": {"reason": "invoice 4711 is from a supplier whose tax id lapsed",
                            "evidence": ["invoice 4711"]}, **kw}  # fmt: skip
        opened = self.http.post("/v1/resolution-requests", headers=agent, json=body)
        assert opened.status_code == 201, opened.text
        request: dict[str, Any] = opened.json()
        assert request["status"] == "pending" and request["resolution_token"] is None
        return request

    def block(self, agent: dict[str, str], token: str, key: str) -> dict[str, Any]:
        body = {"action": "supplier.block", "target": {"resolution_token": token},
                "params": {"reason": "tax registration suspended"},
                "context": {"reason": "invoice 4711: supplier's tax id lapsed"},
                "idempotency_key": key}  # fmt: skip
        proposed = self.http.post("/v1/actions", headers=agent, json=body)
        assert proposed.status_code == 201, proposed.text
        action: dict[str, Any] = proposed.json()
        return action

    def approve_and_run(self, action: dict[str, Any], approver: dict[str, str]) -> dict[str, Any]:
        assert action["status"] == "pending_approval", action
        url = f"/v1/approvals/{action['approval']['id']}/decision"
        decided = self.http.post(url, headers=approver, json={"decision": "approve"})
        assert decided.status_code == 200, decided.text
        done = self.http.get(f"/v1/actions/{action['id']}", headers=approver, params={"wait": 30})
        body: dict[str, Any] = done.json()
        return body


@pytest.fixture
def loop(
    tmp_path: Path, store_url: str, trained: Path, smtp: tuple[Inbox, int],  # noqa: F811
    slack_api: SlackStandIn,  # noqa: F811
) -> Iterator[Loop]:  # fmt: skip
    workdir = tmp_path / "work"
    shutil.copytree(trained, workdir)
    with running_sandbox(tmp_path / "sandbox") as sandbox:
        settings = Settings(
            workdir=workdir, database_url=store_url,
            token_secret=SecretStr("hr-secret-" + "h" * 32), erp_kind="protheus",
            erp_url=sandbox.url, erp_username=USER, erp_password=SecretStr(PASSWORD),
            erp_timeout_seconds=20, workflow_sweep_seconds=0, approval_sweep_seconds=0,
            rate_limit_roles=UNLIMITED, smtp_host="127.0.0.1", smtp_port=smtp[1],
            smtp_from="Canon <canon@example.test>", slack_bot_token=SecretStr("xoxb-test"),
            slack_signing_secret=SecretStr(SIGNING_SECRET), slack_channel="C-RESOLVE",
            slack_api_url=slack_api.url, callback_allowed_hosts=["127.0.0.1"],
        )  # fmt: skip
        app = create_app(settings)
        with app.state.gateway.store.transaction() as session:
            create_user(session, username="rita", password=REVIEWER_PASSWORD,
                        email="rita@example.test", slack_user_id="U-RITA", resolver=True,
                        actor="test", hasher=FAST_HASHER,
                        now=app.state.gateway.clock())  # fmt: skip
        with serving(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            app.state.approvals.desk.public_url = url
            erp = sandbox.connector("protheus", timeout=20)
            yield Loop(app, http, erp, smtp[0], slack_api, sandbox)


def wait_in_background(loop: Loop, agent: dict[str, str], request_id: str) -> dict[str, Any]:
    """Start the agent's long-poll; the dict fills with its answer."""
    answer: dict[str, Any] = {}

    def poll() -> None:
        got = loop.http.get(f"/v1/resolution-requests/{request_id}", headers=agent,
                            params={"wait": 60})  # fmt: skip
        answer.update(got.json(), http_status=got.status_code)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    answer["_thread"] = thread
    return answer


def finish(answer: dict[str, Any]) -> dict[str, Any]:
    answer.pop("_thread").join(timeout=90)
    assert answer.get("http_status") == 200, answer
    return answer


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def check_blocked_and_labelled(
    loop: Loop, action: dict[str, Any], supplier: str, request_id: str
) -> None:
    assert action["status"] == "succeeded", action
    record = loop.erp.read_record("supplier", supplier)
    assert record is not None and record.fields["blocked"] is True
    with loop.gateway.store.transaction() as session:
        labels = session.scalars(select(Label).where(Label.request_id == request_id)).all()
        rows = label_rows(session)
    picked = [(x.canonical_id, x.label, x.source) for x in labels]
    assert (supplier, "correct", "resolution") in picked  # the pick
    assert (supplier, "correct", "approval") in picked  # the approval of the write it named
    assert any(x.label == "wrong" and x.canonical_id != supplier for x in labels)  # the others
    assert all(x.decided_by for x in labels)
    # The rows read as calibration labels: the agent's query beside the judged candidate.
    read = labels_from_records(rows, "store labels")
    assert any(
        x.canonical_id == supplier and x.label == "correct" and x.query.record.get("name")
        for x in read
    )


def test_a_portal_pick_reaches_the_waiting_agent_and_the_block_succeeds(loop: Loop) -> None:
    agent, approver = loop.key("agent", "buyer-bot"), loop.key("approver", "ana")
    name, supplier = GUERRA
    resolved = loop.ambiguous(agent, name)
    assert resolved["candidates"][0]["canonical_id"] == supplier
    request = loop.ask(agent, resolved["resolution_id"], "r-guerra")
    assert "A2_NOME" in request["columns"] and "A2_NOME" in request["differing"]
    answer = wait_in_background(loop, agent, request["id"])

    portal = httpx.Client(base_url=str(loop.http.base_url), timeout=60, follow_redirects=True)
    page = portal.get("/portal/login")
    portal.post("/portal/login", data={"username": "rita", "password": REVIEWER_PASSWORD,
                                       "csrf_token": csrf(page.text)})  # fmt: skip
    queue = portal.get("/portal/resolutions")
    assert queue.status_code == 200 and f"/portal/resolutions/{request['id']}" in queue.text
    detail = portal.get(f"/portal/resolutions/{request['id']}")
    assert 'class="differs"' in detail.text and f'value="{supplier}"' in detail.text
    done = portal.post(f"/portal/resolutions/{request['id']}/decision",
                       data={"csrf_token": csrf(detail.text), "choice": supplier,
                             "payload_hash": request["payload_hash"]})  # fmt: skip
    assert done.status_code == 200 and "Your decision is recorded" in done.text

    got = finish(answer)
    assert (got["status"], got["choice"], got["canonical_id"]) == ("decided", "pick", supplier)
    assert got["channel"] == "portal" and got["decided_by"].startswith("user:")
    claims = claims_of(got["resolution_token"])
    assert (claims["kind"], claims["canonical_id"]) == ("human", supplier)
    assert claims["decided_by"] == got["decided_by"] and claims["request_id"] == request["id"]

    action = loop.block(agent, got["resolution_token"], "block-guerra")
    assert action["target"]["kind"] == "human"
    check_blocked_and_labelled(
        loop, loop.approve_and_run(action, approver), supplier, request["id"]
    )


def test_an_email_link_pick_reaches_the_agent_by_webhook(
    loop: Loop,
    receiver: Receiver,  # noqa: F811
) -> None:
    agent, approver = loop.key("agent", "buyer-bot"), loop.key("approver", "ana")
    name, supplier = NOGUEIRA
    resolved = loop.ambiguous(agent, name)
    opened = loop.http.post("/v1/resolution-requests", headers=agent, json={
        "resolution_id": resolved["resolution_id"], "idempotency_key": "r-nogueira",
        "context": {"reason": "invoice 4712 <b>urgent</b>"}, "callback_url": receiver.url,
    })  # fmt: skip
    assert opened.status_code == 201, opened.text
    request, secret = opened.json(), opened.json()["callback_secret"]
    assert loop.sweep()["queued"] == 2  # rita's email, the Slack channel

    (message,) = [m for m in loop.inbox.wait_for(1) if m["To"] == "rita@example.test"]
    html = message.get_body(("html",))
    assert html is not None and "&lt;b&gt;urgent&lt;/b&gt;" in html.get_content()  # escaped
    text = message.get_body(("plain",))
    assert text is not None
    links = dict(re.findall(r"^  (Pick \S+|None of these[^:]*|Cannot tell): (\S+)",
                            text.get_content(), re.M))  # fmt: skip
    assert {f"Pick {supplier}", "Cannot tell"} <= set(links)
    url = links[f"Pick {supplier}"].removeprefix(str(loop.http.base_url))
    confirm = loop.http.get(url)
    assert confirm.status_code == 200 and "Nothing is decided until you confirm" in confirm.text
    token = re.search(r'name="token" value="([^"]+)"', confirm.text)
    assert token is not None
    posted = loop.http.post("/portal/resolutions/email", data={"token": token.group(1)})
    assert posted.status_code == 200 and supplier in posted.text
    again = loop.http.post("/portal/resolutions/email", data={"token": token.group(1)})
    assert again.status_code in (409, 410) and "already" in again.text  # one use

    assert loop.sweep()["callbacks"] == 1
    ((headers, body),) = receiver.received
    expected = hmac.new(secret.encode(), headers["X-Canon-Timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()  # fmt: skip
    assert headers["X-Canon-Signature"] == "v1=" + expected
    heard = json.loads(body)["request"]
    assert (heard["id"], heard["channel"], heard["canonical_id"]) == (request["id"], "email",
                                                                      supplier)  # fmt: skip
    action = loop.block(agent, heard["resolution_token"], "block-nogueira")
    check_blocked_and_labelled(
        loop, loop.approve_and_run(action, approver), supplier, request["id"]
    )


def slack_signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body,
                      hashlib.sha256).hexdigest()  # fmt: skip
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip


def test_a_signed_slack_pick_reaches_the_waiting_agent(loop: Loop) -> None:
    agent, approver = loop.key("agent", "buyer-bot"), loop.key("approver", "ana")
    name, supplier = MADEIREIRA
    resolved = loop.ambiguous(agent, name)
    request = loop.ask(agent, resolved["resolution_id"], "r-madeireira")
    loop.sweep()
    method, message = loop.slack.calls[-1]
    assert (method, message["channel"]) == ("chat.postMessage", "C-RESOLVE")
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    buttons = [e for e in actions["elements"] if e["action_id"] == "resolution.pick"]
    (button,) = [b for b in buttons if json.loads(b["value"])["c"] == supplier]
    answer = wait_in_background(loop, agent, request["id"])

    def click(value: str, user: str = "U-RITA") -> bytes:
        payload = {"type": "block_actions", "user": {"id": user}, "channel": {"id": "C-RESOLVE"},
                   "container": {"message_ts": "1.1"},
                   "actions": [{"action_id": "resolution.pick", "value": value}]}  # fmt: skip
        return urlencode({"payload": json.dumps(payload)}).encode()

    forged = click(button["value"])
    bad_signature = {**slack_signed(forged), "X-Slack-Signature": "v0=" + "0" * 64}
    refused = loop.http.post("/slack/interactions", content=forged, headers=bad_signature)
    assert refused.status_code == 401
    body = click(button["value"])
    clicked = loop.http.post("/slack/interactions", content=body, headers=slack_signed(body))
    assert clicked.status_code == 200 and clicked.json()["ok"] is True, clicked.text

    got = finish(answer)
    assert (got["channel"], got["canonical_id"]) == ("slack", supplier)
    assert claims_of(got["resolution_token"])["kind"] == "human"
    action = loop.block(agent, got["resolution_token"], "block-madeireira")
    check_blocked_and_labelled(
        loop, loop.approve_and_run(action, approver), supplier, request["id"]
    )
    loop.sweep()  # the Slack message is updated with the outcome, its buttons gone
    method, update = loop.slack.calls[-1]
    assert method == "chat.update" and all(b["type"] != "actions" for b in update["blocks"])


def test_new_cannot_tell_and_refusals(loop: Loop) -> None:
    agent, steward = loop.key("agent", "buyer-bot"), loop.key("steward", "sam", ["resolver"])
    plain_approver = loop.key("approver", "no-scope")
    resolved = loop.ambiguous(agent, GUERRA[0])
    request = loop.ask(agent, resolved["resolution_id"], "r-1")
    replay = loop.http.post("/v1/resolution-requests", headers=agent, json={
        "resolution_id": resolved["resolution_id"], "idempotency_key": "r-1",
        "context": {"reason": "invoice 4711 is from a supplier whose tax id lapsed",
                    "evidence": ["invoice 4711"]}})  # fmt: skip
    assert (replay.status_code, replay.json()["id"]) == (200, request["id"])
    conflict = loop.http.post("/v1/resolution-requests", headers=agent, json={
        "resolution_id": resolved["resolution_id"], "idempotency_key": "r-1",
        "context": {"reason": "another"}})  # fmt: skip
    assert conflict.status_code == 409
    other = loop.http.post("/v1/resolution-requests", headers=loop.key("agent", "other"), json={
        "resolution_id": resolved["resolution_id"], "idempotency_key": "x",
        "context": {"reason": "not mine"}})  # fmt: skip
    assert other.status_code in (403, 404)
    url = f"/v1/resolution-requests/{request['id']}/decision"
    no_scope = loop.http.post(url, headers=plain_approver, json={"choice": "new"})
    assert no_scope.status_code == 403
    outside = loop.http.post(
        url, headers=steward, json={"choice": "pick", "canonical_id": "SA2::999999:01"}
    )
    assert (outside.status_code, outside.json()["field"]) == (409, "canonical_id")
    bad = loop.http.post(url, headers=steward, json={"choice": "pick"})
    assert bad.status_code == 422
    new = loop.http.post(url, headers=steward, json={"choice": "new", "comment": "a new branch"})
    assert new.status_code == 200 and new.json()["choice"] == "new"
    got = loop.http.get(f"/v1/resolution-requests/{request['id']}", headers=agent).json()
    claims = claims_of(got["resolution_token"])
    assert (claims["kind"], claims["canonical_id"], claims["decided_by"]) == (
        "no_match", None, got["decided_by"])  # fmt: skip
    assert loop.http.post(url, headers=steward, json={"choice": "new"}).status_code == 409
    with loop.gateway.store.transaction() as session:
        (label,) = session.scalars(select(Label).where(Label.request_id == request["id"])).all()
        assert (label.canonical_id, label.label) == (None, "wrong")

    # A record blocked in the ERP meanwhile may be picked: the answer says so, to both sides.
    blocked_request = loop.ask(agent, loop.ambiguous(agent, GUERRA[0])["resolution_id"], "r-b")
    (row,) = loop.sandbox.admin.live("SA2010", A2_COD="000001", A2_LOJA="01")
    loop.sandbox.admin.change("SA2010", int(row["R_E_C_N_O_"]), A2_MSBLQL="1")
    url_b = f"/v1/resolution-requests/{blocked_request['id']}/decision"
    picked = loop.http.post(url_b, headers=steward,
                            json={"choice": "pick", "canonical_id": GUERRA[1]})  # fmt: skip
    assert picked.json()["note"] == f"{GUERRA[1]} is blocked in the ERP"
    heard = loop.http.get(f"/v1/resolution-requests/{blocked_request['id']}", headers=agent)
    assert heard.json()["note"] == f"{GUERRA[1]} is blocked in the ERP"
    assert heard.json()["resolution_token"]

    second = loop.ask(agent, loop.ambiguous(agent, NOGUEIRA[0])["resolution_id"], "r-2")
    unsure = loop.http.post(f"/v1/resolution-requests/{second['id']}/decision", headers=steward,
                            json={"choice": "cannot_tell"})  # fmt: skip
    assert unsure.status_code == 200
    got = loop.http.get(f"/v1/resolution-requests/{second['id']}", headers=agent).json()
    assert (got["status"], got["choice"], got["resolution_token"]) == (
        "decided", "cannot_tell", None)  # fmt: skip

    # A record deleted in the ERP meanwhile cannot be picked: the request stays open.
    third = loop.ask(agent, loop.ambiguous(agent, MADEIREIRA[0])["resolution_id"], "r-3")
    gone = third["candidates"][1]["canonical_id"]
    _, code, store = gone.split(":")[0], *gone.split(":")[2:]
    (row,) = loop.sandbox.admin.live("SA2010", A2_COD=code, A2_LOJA=store)
    loop.sandbox.admin.change("SA2010", int(row["R_E_C_N_O_"]), D_E_L_E_T_="*")
    refused = loop.http.post(f"/v1/resolution-requests/{third['id']}/decision", headers=steward,
                             json={"choice": "pick", "canonical_id": gone})  # fmt: skip
    assert refused.status_code == 409 and "no longer in the ERP" in refused.json()["detail"]
    still = loop.http.get(f"/v1/resolution-requests/{third['id']}", headers=agent).json()
    assert still["status"] == "pending"


def test_the_dashboard_counts_halts_open_requests_and_picks_of_the_top_candidate(
    loop: Loop,
) -> None:
    agent = loop.key("agent", "buyer-bot")
    steward = loop.key("steward", "sam", ["resolver"])
    name, supplier = GUERRA
    picked = loop.ask(agent, loop.ambiguous(agent, name)["resolution_id"], "d-1")
    other = loop.ambiguous(agent, MADEIREIRA[0])
    runner_up = other["candidates"][1]["canonical_id"]
    second = loop.ask(agent, other["resolution_id"], "d-2")
    hostile = "<script>alert(1)</script> Guerra & Filhos"
    query = {"entity_type": "supplier", "record": {"name": hostile}}
    answer = loop.http.post("/v1/resolve", headers=agent, json=query).json()
    assert answer["decision"] in ("ambiguous", "no_match")
    opened = loop.ask(agent, answer["resolution_id"], "d-3")
    for request_id, choice in ((picked["id"], supplier), (second["id"], runner_up)):
        decided = loop.http.post(f"/v1/resolution-requests/{request_id}/decision",
                                 headers=steward, json={"choice": "pick",
                                                        "canonical_id": choice})  # fmt: skip
        assert decided.status_code == 200, decided.text

    stats = loop.http.get("/dashboard/halts.json", headers=steward).json()
    assert stats["resolutions"] == 3 and stats["decided"] == 2 and stats["picks"] == 2
    assert stats["picks_of_top_candidate"] == 1  # Guerra: the top one; Madeireira: the runner-up
    assert [r["id"] for r in stats["open_requests"]] == [opened["id"]]
    assert stats["open_requests"][0]["age_seconds"] >= 0
    assert stats["median_seconds_to_resolve"] is not None
    halted = [(h["entity_type"], h["decision"], h["count"]) for h in stats["halts"]]
    assert sum(n for _, _, n in halted) == 3
    assert sum(n for e, d, n in halted if (e, d) == ("supplier", "ambiguous")) >= 2
    assert {h["reason"] for h in stats["halts"]} <= {
        "look-alike",
        "name alone",
        "close runner-up",
        "below threshold",
        "entity type halted",
        "no candidate",
    }

    page = loop.http.get("/dashboard/halts", headers={**steward, "Accept": "text/html"})
    assert page.status_code == 200 and "50.0 %" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    agent_page = loop.http.get("/dashboard/halts.json", headers=agent)
    assert agent_page.status_code == 403
