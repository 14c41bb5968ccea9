"""The email round trip over real SMTP: the served app sends the approval email (its background
sweep), the test follows the links from the received message; GET shows, POST decides, once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from gateway.channels.portal import create_user
from tests.api.conftest import KeyMaker, po_token
from tests.e2e.conftest import serving
from tests.gateway.test_approval_outbox import FAST_HASHER, Inbox, smtp  # noqa: F401 (fixture)

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def settings(tmp_path: Path, store_url: str, smtp: tuple[Inbox, int]) -> Settings:  # noqa: F811
    return Settings(
        workdir=tmp_path / "work", database_url=store_url,
        token_secret=SecretStr("api-test-secret-" + "y" * 32),
        smtp_host="127.0.0.1", smtp_port=smtp[1], smtp_from="Canon <canon@example.test>",
        approval_sweep_seconds=0.2, public_url="http://placeholder",
    )  # fmt: skip


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[FastAPI, httpx.Client]]:
    """The app on a real port, its links pointing at itself."""
    app = create_app(settings)
    with serving(app) as base:
        app.state.approvals.desk.public_url = base
        with httpx.Client(base_url=base, timeout=30) as http:
            yield app, http


def links(message: EmailMessage) -> dict[str, str]:
    text = message.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    found = dict(re.findall(r"(Approve|Reject) \(opens a confirmation page\):\s+(\S+)", body))
    assert set(found) == {"Approve", "Reject"}, body
    return {k.lower(): v for k, v in found.items()}


def request_by_email(
    app: FastAPI, http: httpx.Client, auth: KeyMaker, inbox: Inbox, count: int, key: str = "k1",
) -> tuple[str, EmailMessage]:  # fmt: skip
    agent = auth()
    body = {
        "action": "purchase_order.close",
        "target": {"resolution_token": po_token(app, agent)},
        "params": {},
        "context": {"reason": f"confirmed {SCRIPT}"},
        "idempotency_key": key,
    }
    created = http.post("/v1/actions", headers=agent, json=body)  # fmt: skip
    assert created.status_code == 201, created.text
    messages = inbox.wait_for(count)
    assert len(messages) == count, "the sweep sent no email"
    return created.json()["approval"]["id"], messages[-1]


def form_token(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_email_round_trip(
    served: tuple[FastAPI, httpx.Client], auth: KeyMaker, smtp: tuple[Inbox, int],  # noqa: F811
) -> None:  # fmt: skip
    app, http = served
    inbox, _ = smtp
    with app.state.gateway.store.transaction() as session:
        create_user(session, username="alice", password="correct horse battery",
                    email="alice@example.test", actor="test", hasher=FAST_HASHER,
                    now=app.state.gateway.clock())  # fmt: skip
    approval_id, message = request_by_email(app, http, auth, inbox, 1)
    assert (message["To"], message["From"]) == ("alice@example.test", "Canon <canon@example.test>")
    html = message.get_body(("html",))
    assert html is not None and SCRIPT not in html.get_content()
    assert "&lt;script&gt;" in html.get_content()
    urls = links(message)

    shown = http.get(urls["approve"])  # what a mail scanner's prefetch does: decides nothing
    assert shown.status_code == 200 and "Confirm: approve" in shown.text
    assert shown.headers["referrer-policy"] == "no-referrer" and SCRIPT not in shown.text
    admin = auth("admin", name="auditor")
    assert http.get(f"/v1/approvals/{approval_id}", headers=admin).json()["status"] == "pending"

    token = form_token(shown.text)
    tampered = http.post("/portal/email", data={"token": token[:-2] + "xx"})
    assert tampered.status_code == 400
    decided = http.post("/portal/email", data={"token": token, "comment": "checked in WMS"})
    assert decided.status_code == 200 and "Your decision is recorded" in decided.text
    view = http.get(f"/v1/approvals/{approval_id}", headers=admin).json()
    assert view["status"] == "approved"
    assert (view["decisions"][0]["channel"], view["decisions"][0]["comment"]) == (
        "email", "checked in WMS",
    )  # fmt: skip
    replayed = http.post("/portal/email", data={"token": token})
    assert replayed.status_code == 410 and "already been used" in replayed.text
    reject_token = parse_qs(urlsplit(urls["reject"]).query)["token"][0]
    assert "already been used" in http.get(urls["reject"]).text  # no form offered
    other_link = http.post("/portal/email", data={"token": reject_token, "reason": "not_needed"})
    assert other_link.status_code == 410  # both links of one email share one use
    again = http.get(urls["approve"])
    assert "already been used" in again.text and 'name="token"' not in again.text

    entries = http.get("/v1/audit", headers=admin, params={"limit": 1000}).json()["entries"]
    refusals = [e["data"].get("reason") for e in entries if e["kind"] == "link.refused"]
    assert "tampered" in refusals
    used = [e for e in entries if e["kind"] == "approval.refused"]
    assert len(used) == 2 and all("already been used" in e["data"]["message"] for e in used)
    assert http.get("/v1/audit/verify", headers=admin).json()["ok"] is True


def test_reject_link_needs_a_reason(
    served: tuple[FastAPI, httpx.Client], auth: KeyMaker, smtp: tuple[Inbox, int],  # noqa: F811
) -> None:  # fmt: skip
    app, http = served
    inbox, _ = smtp
    with app.state.gateway.store.transaction() as session:
        create_user(session, username="bob", password="correct horse battery",
                    email="bob@example.test", actor="test", hasher=FAST_HASHER,
                    now=app.state.gateway.clock())  # fmt: skip
    approval_id, message = request_by_email(app, http, auth, inbox, 1)
    page = http.get(links(message)["reject"])
    assert 'name="reason"' in page.text
    token = form_token(page.text)
    missing = http.post("/portal/email", data={"token": token})
    assert missing.status_code == 422
    # A refused attempt consumed nothing: the same link still decides, with a reason.
    done = http.post("/portal/email", data={"token": token, "reason": "wrong_entity"})
    assert done.status_code == 200
    view = http.get(f"/v1/approvals/{approval_id}", headers=auth("admin", name="a")).json()
    assert (view["status"], view["decisions"][0]["reason"]) == ("rejected", "wrong_entity")
    deadline = time.monotonic() + 5
    while (
        http.get(f"/v1/actions/{view['action_id']}", headers=auth("admin", name="b")).json()[
            "status"
        ]
        != "rejected"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_forged_and_garbage_links_are_refused(served: tuple[FastAPI, httpx.Client]) -> None:
    _, http = served
    for token, status in (("", 400), ("abc.def", 400), ("x" * 3000, 422)):
        response = http.get("/portal/email", params={"token": token})
        assert response.status_code == status
