"""The portal through the real app: sign-in, the queue and its filters, approve, reject with a
reason, CSRF refusals, escaped agent text, security headers, sign-out; on both stores."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.channels.portal import create_user
from tests.api.conftest import KeyMaker, po_token
from tests.gateway.test_approval_outbox import FAST_HASHER

PASSWORD = "correct horse battery staple"
SCRIPT = "<script>alert('pwned')</script>"


def add_user(app: FastAPI, username: str = "alice", **kw: Any) -> None:
    gateway = app.state.gateway
    with gateway.store.transaction() as session:
        create_user(session, username=username, password=PASSWORD, actor="test", hasher=FAST_HASHER,
                    now=gateway.clock(), display_name=kw.pop("display_name", username.title()),
                    **kw)  # fmt: skip


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, username: str = "alice", password: str = PASSWORD) -> Any:
    page = client.get("/portal/login")
    return client.post("/portal/login", data={"username": username, "password": password,
                                              "csrf_token": csrf(page.text)},
                       follow_redirects=False)  # fmt: skip


def propose(client: TestClient, app: FastAPI, auth: KeyMaker, reason: str = "delivery confirmed",
            key: str = "k1", action: str = "purchase_order.close") -> dict[str, Any]:  # fmt: skip
    agent = auth()
    body = {"action": action, "target": {"resolution_token": po_token(app, agent)}, "params": {},
            "context": {"reason": reason, "evidence": [f"evidence {SCRIPT}"]},
            "idempotency_key": key}  # fmt: skip
    response = client.post("/v1/actions", headers=agent, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def audit_kinds(client: TestClient, auth: KeyMaker) -> list[str]:
    entries = client.get("/v1/audit", headers=auth("admin", name="auditor"), params={"limit": 1000})
    return [e["kind"] for e in entries.json()["entries"]]


def test_sign_in_sets_a_safe_session_cookie(client: TestClient, app: FastAPI) -> None:
    add_user(app)
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/portal/login"
    wrong = sign_in(client, password="not the password")
    assert wrong.status_code == 401 and "unknown username or wrong password" in wrong.text
    unknown = sign_in(client, username="mallory")
    assert unknown.status_code == 401 and "unknown username or wrong password" in unknown.text
    ok = sign_in(client)
    assert (ok.status_code, ok.headers["location"]) == (303, "/portal")
    cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("canon_session="))
    assert {"HttpOnly", "SameSite=lax", "Path=/portal"} <= {p.strip() for p in cookie.split(";")}
    queue = client.get("/portal")
    assert queue.status_code == 200 and "Alice" in queue.text


def test_sign_in_brings_the_user_back_where_they_were_going(
    client: TestClient, app: FastAPI, auth: KeyMaker
) -> None:
    add_user(app)
    view = propose(client, app, auth)
    page = f"/portal/approvals/{view['approval']['id']}"
    sent = client.get(page, follow_redirects=False)
    assert sent.headers["location"] == f"/portal/login?next={page.replace('/', '%2F')}"
    form = client.get(sent.headers["location"])
    assert f'name="next" value="{page}"' in form.text
    data = {"username": "alice", "password": PASSWORD, "csrf_token": csrf(form.text), "next": page}
    signed_in = client.post("/portal/login", data=data, follow_redirects=False)
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, page)
    assert client.get(page).status_code == 200
    # The resolution requests' pages take the same way back.
    client.cookies.clear()
    queue = client.get("/portal/resolutions?status=all", follow_redirects=False)
    assert queue.headers["location"] == "/portal/login?next=%2Fportal%2Fresolutions%3Fstatus%3Dall"


@pytest.mark.parametrize(
    "going",
    ["//evil.example/portal", "https://evil.example/portal", "/portal\r\nSet-Cookie: x=1",
     "javascript:alert(1)", "/v1/admin/keys", "/portal/../v1/audit"],
)  # fmt: skip
def test_sign_in_never_sends_the_user_off_the_portal(
    client: TestClient, app: FastAPI, going: str
) -> None:
    add_user(app)
    form = client.get("/portal/login", params={"next": going})
    assert 'name="next" value="/portal"' in form.text
    data = {"username": "alice", "password": PASSWORD, "csrf_token": csrf(form.text), "next": going}
    signed_in = client.post("/portal/login", data=data, follow_redirects=False)
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/portal")


def test_sign_in_without_the_form_token_is_refused(
    client: TestClient, app: FastAPI, auth: KeyMaker
) -> None:
    add_user(app)
    client.get("/portal/login")
    refused = client.post("/portal/login", data={"username": "alice", "password": PASSWORD,
                                                 "csrf_token": "forged"})  # fmt: skip
    assert refused.status_code == 403
    assert "canon_session" not in client.cookies
    assert "portal.refused" in audit_kinds(client, auth)


def test_queue_filters(client: TestClient, app: FastAPI, auth: KeyMaker) -> None:
    add_user(app)
    propose(client, app, auth)
    sign_in(client)
    pending = client.get("/portal", params={"status": "pending"})
    assert "Approve closing SC7:01:002891" in pending.text
    other = client.get("/portal", params={"action": "supplier.block"})
    assert "Approve closing" not in other.text and "Nothing here." in other.text
    history = client.get("/portal", params={"status": "decided"})
    assert "Nothing here." in history.text
    assert client.get("/portal", params={"status": "x" * 17}).status_code == 422


@pytest.mark.parametrize(
    ("form", "page_status", "final"),
    [
        pytest.param({"decision": "approve"}, 200, "approved", id="approve"),
        pytest.param({"decision": "approve", "comment": "matches the WMS receipt"}, 200,
                     "approved", id="approve-with-comment"),
        pytest.param({"decision": "reject", "reason": "wrong_entity"}, 200, "rejected",
                     id="reject-wrong-entity"),
        pytest.param({"decision": "reject", "reason": "other", "comment": "duplicate"}, 200,
                     "rejected", id="reject-other-with-text"),
        pytest.param({"decision": "reject", "reason": ""}, 422, "pending", id="reject-no-reason"),
        pytest.param({"decision": "reject", "reason": "other"}, 422, "pending",
                     id="reject-other-without-text"),
        pytest.param({"decision": "approve", "payload_hash": "0" * 64}, 409, "pending",
                     id="approve-a-changed-action"),
    ],
)  # fmt: skip
def test_decide_in_the_portal(
    client: TestClient, app: FastAPI, auth: KeyMaker,
    form: dict[str, str], page_status: int, final: str,
) -> None:  # fmt: skip
    add_user(app)
    action = propose(client, app, auth)
    approval_id = action["approval"]["id"]
    sign_in(client)
    page = client.get(f"/portal/approvals/{approval_id}")
    assert page.status_code == 200 and 'value="approve"' in page.text
    payload_hash = re.search(r'name="payload_hash" value="([0-9a-f]{64})"', page.text)
    assert payload_hash is not None
    data = {"csrf_token": csrf(page.text), "payload_hash": payload_hash.group(1), **form}
    done = client.post(f"/portal/approvals/{approval_id}/decision", data=data)
    assert done.status_code == page_status
    view = client.get(f"/v1/approvals/{approval_id}", headers=auth("admin", name="a")).json()
    assert view["status"] == final
    if final != "pending":
        assert "is recorded" in done.text and 'value="approve"' not in done.text  # no form again
        (decision,) = view["decisions"]
        assert (decision["approver"].startswith("user:"), decision["channel"]) == (True, "portal")
        assert decision["reason"] == form.get("reason", "approved")
        history = client.get("/portal", params={"status": "decided"}).text
        assert "Approve closing SC7:01:002891" in history
    if final == "approved":
        assert (
            client.get(f"/v1/actions/{action['id']}", headers=auth("admin", name="b")).json()[
                "status"
            ]
            == "succeeded"
        )


@pytest.mark.parametrize(
    "token",
    [pytest.param(None, id="no-token"), pytest.param("forged", id="wrong-token")],
)
def test_a_form_without_the_session_csrf_token_is_refused_and_audited(
    client: TestClient, app: FastAPI, auth: KeyMaker, token: str | None
) -> None:
    add_user(app)
    approval_id = propose(client, app, auth)["approval"]["id"]
    sign_in(client)
    data = {"decision": "approve"} | ({"csrf_token": token} if token else {})
    refused = client.post(f"/portal/approvals/{approval_id}/decision", data=data)
    assert refused.status_code == 403
    view = client.get(f"/v1/approvals/{approval_id}", headers=auth("admin", name="a")).json()
    assert view["status"] == "pending"
    assert "portal.refused" in audit_kinds(client, auth)


def test_agent_text_is_escaped_everywhere(client: TestClient, app: FastAPI, auth: KeyMaker) -> None:
    add_user(app)
    approval_id = propose(client, app, auth, reason=f"closing {SCRIPT} now")["approval"]["id"]
    sign_in(client)
    for page in (client.get("/portal"), client.get(f"/portal/approvals/{approval_id}")):
        assert SCRIPT not in page.text
        assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page.text
        assert "<script" not in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"


def test_an_approver_limited_to_other_actions_gets_no_form_and_is_refused(
    client: TestClient, app: FastAPI, auth: KeyMaker
) -> None:
    add_user(app, "sam", action_scopes=["supplier.*"])
    approval_id = propose(client, app, auth)["approval"]["id"]
    sign_in(client, "sam")
    page = client.get(f"/portal/approvals/{approval_id}")
    assert 'value="approve"' not in page.text
    data = {"csrf_token": csrf(page.text), "decision": "approve"}
    refused = client.post(f"/portal/approvals/{approval_id}/decision", data=data)
    assert refused.status_code == 403 and "may not decide" in refused.text


def test_sign_out_ends_the_session(client: TestClient, app: FastAPI) -> None:
    add_user(app)
    sign_in(client)
    cookie = client.cookies.get("canon_session")
    page = client.get("/portal")
    out = client.post("/portal/logout", data={"csrf_token": csrf(page.text)},
                      follow_redirects=False)  # fmt: skip
    assert (out.status_code, out.headers["location"]) == (303, "/portal/login")
    client.cookies.set("canon_session", str(cookie), path="/portal")
    again = client.get("/portal", follow_redirects=False)
    assert again.status_code == 303  # the old cookie no longer opens a session


def test_static_css_and_unknown_request(client: TestClient, app: FastAPI) -> None:
    css = client.get("/portal/static/portal.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    add_user(app)
    sign_in(client)
    assert client.get("/portal/approvals/nope").status_code == 404
