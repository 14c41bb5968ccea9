"""The attacks of issue 14, each performed over HTTP against the real app on loopback, each now
failing: an agent forging tokens and approval links from a secret known from the source, tokens
surviving a rotation of the secret, an agent presenting another agent's token or replaying a
single-use one, callbacks pointed into Canon's own network, one admin approving twice through an
account it made, password guessing, forged Slack floods, non-Unicode text, Slack mention
injection, bank data in the audit log, and a database writer rewriting the audit log.
(docs/SECURITY.md maps each promise to its test here.)"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from itsdangerous import URLSafeSerializer
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as canon_cli
from api.cli import register_all
from api.settings import Rate, Settings
from gateway import Gateway, LocalLedgerConnector, create_key
from gateway.audit import entry_hash
from gateway.channels.links import SALT, LinkSigner
from gateway.channels.portal import create_user
from gateway.store import ApiKey, AuditEntry
from gateway.tokens import TokenSigner
from resolver import Resolver
from tests.e2e.conftest import serving
from tests.gateway.test_approval_outbox import (  # noqa: F401 (fixtures)
    FAST_HASHER,
    Inbox,
    SlackStandIn,
    slack_api,
    smtp,
)
from tests.gateway.test_webhook_ssrf import Server
from tests.tokens import key_id

PO_QUERY = {"entity_type": "purchase_order", "record": {"branch": "01", "number": "000001"}}
PO_ID = "SC7:01:000001"
SUPPLIER_ID = "SA2:01:000123:01"
REASON = {"reason": "goods received in full (WMS receipt 88121)"}
#: The secret the source used to ship as the default, and the words people put in its place.
KNOWN_SECRETS = ("change-me", "changeme", "secret")


@dataclass
class Live:
    app: FastAPI
    http: httpx.Client
    ledger: LocalLedgerConnector
    settings: Settings

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    def key(self, role: str = "agent", name: str = "bot") -> dict[str, str]:
        scopes = ["resolve", "actions:*"] if role == "agent" else []
        with self.gateway.store.transaction() as session:
            _, key = create_key(session, name, role, scopes)
        return {"Authorization": f"Bearer {key}"}

    def propose(self, agent: dict[str, str], token: str | None, idem: str) -> httpx.Response:
        body = {"action": "purchase_order.close", "target": {"resolution_token": token},
                "params": {}, "context": REASON, "idempotency_key": idem}  # fmt: skip
        return self.http.post("/v1/actions", headers=agent, json=body)

    def resolve_po(self, agent: dict[str, str]) -> str:
        resolved = self.http.post("/v1/resolve", headers=agent, json=PO_QUERY)
        assert resolved.status_code == 200, resolved.text
        token: str = resolved.json()["resolution_token"]
        return token


@contextmanager
def running(tmp_path: Path, store_url: str, resolver: Resolver, **overrides: Any) -> Iterator[Live]:
    """The app as a fresh install runs it: no secret configured anywhere."""
    settings = Settings(workdir=tmp_path / "work", database_url=store_url,
                        approval_sweep_seconds=0, **overrides)  # fmt: skip
    assert settings.token_secret is None
    ledger = LocalLedgerConnector(tmp_path / "ledger.sqlite")
    ledger.put_record("purchase_order", PO_ID, {"supplier_name": "SOUZA", "amount": 10.0})
    app = create_app(settings, connector=ledger, resolver=resolver)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield Live(app, http, ledger, settings)
    app.state.gateway.store.close()


@pytest.fixture
def live(tmp_path: Path, store_url: str, trained_resolver: Resolver) -> Iterator[Live]:
    with running(tmp_path, store_url, trained_resolver) as live:
        yield live


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(entity_type: str, canonical_id: str) -> dict[str, Any]:
    now = int(time.time())
    return {"kind": "match", "entity_type": entity_type, "canonical_id": canonical_id,
            "identity": {}, "model_version": "m", "calibration_version": "default",
            "issued_at": now, "expires_at": now + 600, "token_id": "forged"}  # fmt: skip


def _forged_tokens(entity_type: str, canonical_id: str) -> list[str]:
    """What an agent can sign from the source alone: the old scheme under each known secret,
    and the current scheme (HKDF keys) under the same guesses."""
    claims = _claims(entity_type, canonical_id)
    payload = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
    forged = []
    for secret in KNOWN_SECRETS:
        key = hmac.new(secret.encode(), b"canon resolution token v1", hashlib.sha256).digest()
        signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
        forged.append(f"ct1.{payload}.{signature}")
        from gateway.tokens import TokenClaims

        forged.append(TokenSigner(secret, 600).encode(TokenClaims(**claims)))
    return forged


def test_a_fresh_install_signs_with_a_private_random_secret_and_names_only_its_source(
    tmp_path: Path, store_url: str, trained_resolver: Resolver, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(workdir=tmp_path / "w", database_url=store_url)
    app = create_app(settings, resolver=trained_resolver)
    try:
        secret_file = tmp_path / "w" / "secret.key"
        assert secret_file.stat().st_mode & 0o777 == 0o600
        secret = secret_file.read_text().strip()
        assert secret not in KNOWN_SECRETS and len(secret) == 64
        logged = capfd.readouterr().err
        assert f"a new random secret in {secret_file}" in logged
        assert secret not in logged
    finally:
        app.state.gateway.store.close()


def test_an_agent_cannot_forge_a_token_from_a_secret_known_from_the_source(live: Live) -> None:
    agent = live.key()
    for token in _forged_tokens("purchase_order", PO_ID):
        refused = live.propose(agent, token, idem=f"forged-{token[-8:]}")
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"] == "/problems/token-forged"
    body = {"action": "supplier.block", "params": {"reason": "forged"}, "context": REASON,
            "idempotency_key": "block"}  # fmt: skip
    for token in _forged_tokens("supplier", SUPPLIER_ID):
        body["target"] = {"resolution_token": token}
        refused = live.http.post("/v1/actions", headers=agent, json=body)
        assert refused.json()["type"] == "/problems/token-forged"
    assert live.ledger.journal() == []
    assert live.propose(agent, live.resolve_po(agent), idem="real").status_code == 201


def _forged_links(approval_id: str, user_id: str) -> list[str]:
    expires = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    body = {"a": approval_id, "h": "0" * 64, "u": user_id, "d": "approve", "e": expires,
            "j": "forged"}  # fmt: skip
    links = []
    for secret in KNOWN_SECRETS:
        links.append(str(URLSafeSerializer(secret, salt=SALT).dumps(body)))
        links.append(
            LinkSigner(secret).issue(approval_id=approval_id, payload_hash="0" * 64,
                                     user_id=user_id, decision="approve",
                                     expires_at=datetime.now(UTC) + timedelta(days=1))
        )  # fmt: skip
    return links


def test_an_agent_cannot_forge_an_approval_link(live: Live) -> None:
    with live.gateway.store.transaction() as session:
        ana = create_user(session, username="ana", password="correct horse battery",
                          email="ana@example.test", actor="test", hasher=FAST_HASHER,
                          now=live.gateway.clock())  # fmt: skip
    agent = live.key()
    proposed = live.propose(agent, live.resolve_po(agent), idem="close-1")
    assert proposed.status_code == 201, proposed.text
    approval_id = proposed.json()["approval"]["id"]
    for link in _forged_links(approval_id, ana.id):
        shown = live.http.get("/portal/email", params={"token": link})
        assert shown.status_code == 400 and "not authentic" in shown.text
        decided = live.http.post("/portal/email", data={"token": link})
        assert decided.status_code == 400
    status = live.http.get(f"/v1/actions/{proposed.json()['id']}", headers=agent).json()
    assert status["status"] == "pending_approval"
    assert live.ledger.journal() == []


def test_rotating_the_secret_refuses_old_tokens_and_links_with_that_reason(
    live: Live, store_url: str
) -> None:
    with live.gateway.store.transaction() as session:
        ana = create_user(session, username="ana", password="correct horse battery",
                          email="ana@example.test", actor="test", hasher=FAST_HASHER,
                          now=live.gateway.clock())  # fmt: skip
    agent = live.key()
    old_token = live.resolve_po(agent)
    proposed = live.propose(agent, live.resolve_po(agent), idem="before")
    approval_id = proposed.json()["approval"]["id"]
    view = live.http.get(f"/v1/approvals/{approval_id}", headers=live.key("admin", "a")).json()
    old_link = live.app.state.approvals.desk.links.issue(
        approval_id=approval_id, payload_hash=view["payload_hash"], user_id=ana.id,
        decision="approve", expires_at=datetime.now(UTC) + timedelta(days=1),
    )  # fmt: skip
    assert live.http.get("/portal/email", params={"token": old_link}).status_code == 200

    register_all()
    env = {"CANON_DATABASE_URL": store_url}
    rotated = CliRunner().invoke(
        canon_cli, ["secret", "rotate", "--workdir", str(live.settings.workdir)], env=env
    )
    assert rotated.exit_code == 0, rotated.output
    assert "retired" in rotated.stderr

    refused = live.propose(agent, old_token, idem="after-old")
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/token-rotated"
    assert "rotated" in refused.json()["detail"]
    stale = live.http.post("/portal/email", data={"token": old_link})
    assert stale.status_code == 410 and "rotated" in stale.text
    assert live.propose(agent, live.resolve_po(agent), idem="after-new").status_code == 201
    audit = live.http.get("/v1/audit", headers=live.key("admin", "b")).json()["entries"]
    rotation = next(e for e in audit if e["kind"] == "secret.rotated")
    secret = live.settings.secret_file.read_text().strip()
    assert secret not in json.dumps(rotation) and rotation["data"]["key_id"]


def test_a_token_stolen_by_another_agent_is_refused(live: Live) -> None:
    owner, thief = live.key(name="owner"), live.key(name="thief")
    stolen = live.resolve_po(owner)
    refused = live.propose(thief, stolen, idem="stolen")
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert (problem["type"], problem["field"]) == (
        "/problems/token-not-yours", "target.resolution_token",
    )  # fmt: skip
    assert "issued to another API key" in problem["detail"]
    (entry,) = _audit(live, "action.refused")
    assert entry["data"]["error"] == "TokenNotYours"
    assert entry["actor"] == f"key:{key_id(thief)}"
    # Nothing was stored for the thief, and the token still works for the key it was issued to.
    with live.gateway.store.transaction() as session:
        assert session.scalar(text("SELECT COUNT(*) FROM actions")) == 0
    assert live.propose(owner, stolen, idem="mine").status_code == 201
    assert live.ledger.journal() == []


def _bank_change(live: Live, agent: dict[str, str], token: str, idem: str) -> httpx.Response:
    body = {"action": "supplier.update_bank_account", "target": {"resolution_token": token},
            "params": {"iban": "CH9300762011623852957", "account_holder": "ABC AG"},
            "context": REASON, "idempotency_key": idem}  # fmt: skip
    return live.http.post("/v1/actions", headers=agent, json=body)


def _supplier_token(live: Live, agent: dict[str, str]) -> str:
    resolved = live.http.post("/v1/resolve", headers=agent, json={
        "entity_type": "supplier", "record": {"tax_id": "85669591000147"}})  # fmt: skip
    assert resolved.json()["decision"] == "match", resolved.text
    token: str = resolved.json()["resolution_token"]
    return token


def test_a_single_use_token_cannot_be_replayed_for_a_second_irreversible_action(
    live: Live,
) -> None:
    agent = live.key()
    token = _supplier_token(live, agent)
    first = _bank_change(live, agent, token, "bank-1")
    assert first.status_code == 201, first.text
    # The same request again (a retry after a lost answer) is the same action, not a new one.
    retry = _bank_change(live, agent, token, "bank-1")
    assert (retry.status_code, retry.json()["id"], retry.json()["replayed"]) == (
        200, first.json()["id"], True,
    )  # fmt: skip
    replay = _bank_change(live, agent, token, "bank-2")
    assert replay.status_code == 409, replay.text
    assert (replay.json()["type"], replay.json()["field"]) == (
        "/problems/token-used", "target.resolution_token",
    )  # fmt: skip
    assert [e["data"]["error"] for e in _audit(live, "action.refused")] == ["TokenUsed"]


def test_concurrent_replays_of_a_single_use_token_make_one_action(live: Live) -> None:
    agent = live.key()
    token = _supplier_token(live, agent)

    async def replay_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=str(live.http.base_url), timeout=60) as client:
            body = {"action": "supplier.update_bank_account",
                    "target": {"resolution_token": token},
                    "params": {"iban": "CH9300762011623852957", "account_holder": "ABC AG"},
                    "context": REASON}  # fmt: skip
            return await asyncio.gather(*(
                client.post("/v1/actions", headers=agent, json={**body, "idempotency_key": f"r{i}"})
                for i in range(20)
            ))  # fmt: skip

    statuses = sorted(r.status_code for r in asyncio.run(replay_all()))
    assert statuses == [201] + [409] * 19
    with live.gateway.store.transaction() as session:
        assert session.scalar(text("SELECT COUNT(*) FROM actions")) == 1


def test_an_agent_cannot_point_a_callback_into_canons_network(live: Live) -> None:
    inside = Server()  # an internal service on loopback that must never hear from Canon
    try:
        agent = live.key()
        action = live.propose(agent, live.resolve_po(agent), idem="ssrf").json()
        port = inside.port
        for url in (f"http://127.0.0.1:{port}/hook", f"http://localhost:{port}/hook",
                    f"http://[::1]:{port}/hook", "http://169.254.169.254/latest/meta-data/",
                    "http://10.0.0.1/hook", "http://2130706433/hook"):  # fmt: skip
            refused = live.http.post(
                f"/v1/actions/{action['id']}/callbacks", headers=agent, json={"url": url}
            )
            assert (refused.status_code, refused.json()["field"]) == (422, "url"), url
        decided = live.http.post(f"/v1/approvals/{action['approval']['id']}/decision",
                                 headers=live.key("approver", "ana"),
                                 json={"decision": "reject", "reason": "wrong_amount"})  # fmt: skip
        assert decided.status_code == 200, decided.text
        live.app.state.approvals.outbox.sweep()
        assert inside.received == []
    finally:
        inside.httpd.shutdown()
        inside.httpd.server_close()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def _portal_approve(base_url: str, username: str, approval_id: str) -> httpx.Response:
    """Sign in to the portal as `username` and approve, as a browser would."""
    with httpx.Client(base_url=base_url, timeout=30) as browser:
        page = browser.get("/portal/login")
        signed_in = browser.post("/portal/login", data={"username": username,
                                 "password": "correct horse battery",
                                 "csrf_token": _csrf(page.text)})  # fmt: skip
        assert signed_in.status_code in (200, 303), signed_in.text
        page = browser.get(f"/portal/approvals/{approval_id}")
        seen = re.search(r'name="payload_hash" value="([0-9a-f]{64})"', page.text)
        assert seen is not None, page.text
        data = {"csrf_token": _csrf(page.text), "payload_hash": seen.group(1),
                "decision": "approve"}  # fmt: skip
        return browser.post(f"/portal/approvals/{approval_id}/decision", data=data)


def test_an_admin_adding_a_portal_user_is_announced_to_the_other_admins(
    tmp_path: Path,
    store_url: str,
    trained_resolver: Resolver,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, port = smtp
    with running(tmp_path, store_url, trained_resolver, smtp_host="127.0.0.1", smtp_port=port,
                 smtp_from="Canon <canon@example.test>") as live:  # fmt: skip
        sweep = live.app.state.approvals.outbox.sweep
        with live.gateway.store.transaction() as session:  # another admin, made by the operator
            create_user(session, username="bob", password="correct horse battery", role="admin",
                        email="bob@example.test", actor="cli:operator", hasher=FAST_HASHER,
                        now=live.gateway.clock())  # fmt: skip
        root = live.key("admin", "root")
        assert sweep().notices_sent == 2  # to bob: his own account, then root's key
        before = len(inbox.wait_for(2))
        sock = {"username": "sock", "password": "correct horse battery", "role": "admin",
                "email": "sock@example.test"}  # fmt: skip
        made = live.http.post("/v1/admin/portal-users", headers=root, json=sock)
        assert made.status_code == 201, made.text
        assert sweep().notices_sent == 2  # bob, and the new admin itself (not root: no e-mail)
        mails = inbox.wait_for(before + 2)[before:]
        assert sorted(m["To"] for m in mails) == ["bob@example.test", "sock@example.test"]
        assert all("portal.user_created sock (role admin)" in m["Subject"] for m in mails)
        kinds = [
            e["kind"]
            for e in live.http.get("/v1/audit", headers=root, params={"limit": 1000}).json()[
                "entries"
            ]
        ]
        assert kinds.count("admin_notice.sent") >= 1  # fmt: skip


def test_one_admin_cannot_be_both_approvers_of_an_irreversible_change(live: Live) -> None:
    agent, admin = live.key(), live.key("admin", "root")
    supplier = live.http.post("/v1/resolve", headers=agent,
                              json={"entity_type": "supplier",
                                    "record": {"tax_id": "85669591000147"}}).json()  # fmt: skip
    assert supplier["decision"] == "match"
    live.ledger.put_record("supplier", supplier["canonical_id"], {"name": "S", "iban": "x"})
    body = {"action": "supplier.update_bank_account",
            "target": {"resolution_token": supplier["resolution_token"]},
            "params": {"iban": "CH9300762011623852957", "account_holder": "Attacker AG"},
            "context": REASON, "idempotency_key": "bank"}  # fmt: skip
    proposed = live.http.post("/v1/actions", headers=agent, json=body)
    assert proposed.status_code == 201, proposed.text
    action_id, approval_id = proposed.json()["id"], proposed.json()["approval"]["id"]

    # The admin makes itself a portal account, approves with its key, then as the new user.
    sock = {"username": "sock", "password": "correct horse battery"}
    made = live.http.post("/v1/admin/portal-users", headers=admin, json=sock)
    assert made.status_code == 201, made.text
    first = live.http.post(f"/v1/approvals/{approval_id}/decision", headers=admin,
                           json={"decision": "approve"})  # fmt: skip
    assert first.status_code == 200, first.text
    second = _portal_approve(str(live.http.base_url), "sock", approval_id)
    assert second.status_code == 409 and "independent person" in second.text
    # Tying a key to the admin's own person is no way around it either.
    with live.gateway.store.transaction() as session:
        admin_person = session.get(ApiKey, first.json()["decisions"][0]["approver"][4:]).person_id
        _, twin = create_key(session, "root-2", "approver", person_id=admin_person)
    again = live.http.post(f"/v1/approvals/{approval_id}/decision",
                           headers={"Authorization": f"Bearer {twin}"},
                           json={"decision": "approve"})  # fmt: skip
    assert again.status_code == 409 and "second person" in again.json()["detail"]
    status = live.http.get(f"/v1/actions/{action_id}", headers=agent).json()
    assert status["status"] == "pending_approval" and live.ledger.journal() == []
    refusals = [e for e in live.http.get("/v1/audit", headers=admin).json()["entries"]
                if e["kind"] == "approval.refused"]  # fmt: skip
    assert len(refusals) == 2

    # A person the admin did not make is the independent second approver the rule asks for.
    with live.gateway.store.transaction() as session:
        create_user(session, username="bea", password="correct horse battery",
                    actor="cli:operator", hasher=FAST_HASHER, now=live.gateway.clock())  # fmt: skip
    assert _portal_approve(str(live.http.base_url), "bea", approval_id).status_code in (200, 303)
    status = live.http.get(f"/v1/actions/{action_id}", headers=agent).json()
    assert status["status"] == "succeeded"


PASSWORD = "correct horse battery"


def _add_user(live: Live, username: str) -> None:
    with live.gateway.store.transaction() as session:
        create_user(session, username=username, password=PASSWORD, actor="cli:operator",
                    hasher=FAST_HASHER, now=live.gateway.clock())  # fmt: skip


def _sign_in(browser: httpx.Client, username: str, password: str) -> httpx.Response:
    page = browser.get("/portal/login")
    token = _csrf(page.text) if page.status_code == 200 else browser.cookies["canon_login_csrf"]
    return browser.post("/portal/login", data={"username": username, "password": password,
                                               "csrf_token": token})  # fmt: skip


def _audit(live: Live, kind: str) -> list[dict[str, Any]]:
    entries = live.http.get("/v1/audit", headers=live.key("admin", "auditor"),
                            params={"limit": 1000}).json()["entries"]  # fmt: skip
    return [e for e in entries if e["kind"] == kind]


def test_password_guessing_is_slowed_and_the_right_password_does_not_slip_through(
    live: Live,
) -> None:
    _add_user(live, "ana")
    _add_user(live, "bea")
    with httpx.Client(base_url=str(live.http.base_url), timeout=30) as browser:
        answers = [_sign_in(browser, "ana", f"guess-{n:04d}-wrong") for n in range(40)]
        statuses = [a.status_code for a in answers]
        assert statuses[:3] == [401, 401, 401]  # the first few are free
        throttled = [a for a in answers if a.status_code == 429]
        assert len(throttled) >= 30
        assert all(int(a.headers["Retry-After"]) >= 1 for a in throttled)
        right = _sign_in(browser, "ana", PASSWORD)
        assert right.status_code == 429 and "canon_session" not in browser.cookies
        # The same address guessing another account waits too.
        assert _sign_in(browser, "bea", "another-wrong-guess").status_code == 429
    failed = _audit(live, "portal.login_failed")
    assert 1 <= len(failed) <= 2  # counted, not one row each
    assert sum(e["data"]["refusals"] for e in failed) <= 5
    assert _audit(live, "portal.login_throttled")[0]["data"]["source"] == "127.0.0.1"


def test_repeated_failures_lock_the_account_until_an_admin_unlocks_it(
    tmp_path: Path, store_url: str, trained_resolver: Resolver
) -> None:
    with running(tmp_path, store_url, trained_resolver, portal_login_free_attempts=50,
                 portal_login_lock_after=5) as live:  # fmt: skip
        _add_user(live, "ana")
        with httpx.Client(base_url=str(live.http.base_url), timeout=30) as browser:
            for n in range(5):
                assert _sign_in(browser, "ana", f"wrong-{n}-password").status_code == 401
            locked = _sign_in(browser, "ana", PASSWORD)
            assert locked.status_code == 401 and "canon_session" not in browser.cookies
            assert len(_audit(live, "portal.user_locked")) == 1
            agent = live.key("approver", "not-an-admin")
            refused = live.http.post("/v1/admin/portal-users/ana/unlock", headers=agent)
            assert refused.status_code == 403
            admin = live.key("admin", "root")
            unlocked = live.http.post("/v1/admin/portal-users/ana/unlock", headers=admin)
            assert unlocked.status_code == 200, unlocked.text
            (entry,) = _audit(live, "portal.user_unlocked")
            assert entry["actor"].startswith("key:") and entry["data"]["was_locked"] is True
            assert _sign_in(browser, "ana", PASSWORD).status_code in (200, 303)
            assert "canon_session" in browser.cookies


@pytest.mark.slow
def test_forged_slack_posts_are_rate_limited_and_counted_not_each_audited(
    tmp_path: Path, store_url: str, trained_resolver: Resolver
) -> None:
    signing = SecretStr("slack-signing-" + "x" * 32)
    door = Rate(per_second=1.0, burst=50)
    with running(tmp_path, store_url, trained_resolver, slack_signing_secret=signing,
                 rate_limit_anonymous=door) as live:  # fmt: skip
        headers = {"X-Slack-Request-Timestamp": str(int(time.time())),
                   "X-Slack-Signature": "v0=" + "0" * 64,
                   "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
        statuses = [
            live.http.post("/slack/interactions", content=b"payload=%7B%7D", headers=headers)
            .status_code
            for _ in range(300)
        ]  # fmt: skip
        assert set(statuses) <= {401, 429} and statuses[0] == 401
        assert 429 in statuses  # the door's per-address limit
        refused = _audit(live, "slack.refused")
        assert 1 <= len(refused) <= 2
        assert sum(e["data"]["refusals"] for e in refused) <= statuses.count(401)
        assert len(_audit(live, "request.rate_limited")) >= 1


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        pytest.param("/v1/actions", '{"action": "purchase_order.close", "target": {},'
                     ' "params": {}, "context": {"reason": "\\ud800"}, "idempotency_key": "u"}',
                     "context.reason", id="action-reason"),
        pytest.param("/v1/actions", '{"action": "purchase_order.close", "target": {},'
                     ' "params": {}, "context": {"\\udfff": "x"}, "idempotency_key": "u"}',
                     "context.\\udfff", id="action-context-key"),
        pytest.param("/v1/resolve", '{"entity_type": "supplier", "record": {"name": "A\\udc00"}}',
                     "record.name", id="resolve-name"),
    ],
)  # fmt: skip
def test_text_that_is_not_unicode_is_a_422_naming_the_field_and_audited(
    live: Live, path: str, raw: str, field: str
) -> None:
    agent = live.key()
    answer = live.http.post(path, headers={**agent, "Content-Type": "application/json"},
                            content=raw.encode())  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"] == "/problems/invalid-text"
    assert answer.json()["field"] == field
    (refusal,) = _audit(live, "request.refused")
    assert refusal["data"]["error"] == "InvalidText" and refusal["actor"].startswith("key:")
    # A valid pair of escapes is one character, and passes.
    pair = b'{"entity_type": "supplier", "record": {"name": "A \\ud83d\\ude00"}}'
    ok = live.http.post("/v1/resolve", headers={**agent, "Content-Type": "application/json"},
                        content=pair)  # fmt: skip
    assert ok.status_code == 200, ok.text


def test_agent_text_cannot_mention_the_channel_or_forge_a_link_in_slack(
    tmp_path: Path,
    store_url: str,
    trained_resolver: Resolver,
    slack_api: SlackStandIn,  # noqa: F811
) -> None:
    with running(tmp_path, store_url, trained_resolver, slack_channel="C-APPROVALS",
                 slack_bot_token=SecretStr("xoxb-test"), slack_api_url=slack_api.url,
                 slack_signing_secret=SecretStr("slack-signing-" + "x" * 32)) as live:  # fmt: skip
        agent = live.key()
        body = {"action": "purchase_order.close",
                "target": {"resolution_token": live.resolve_po(agent)}, "params": {},
                "context": {"reason": "<!channel> & <https://evil.example|Open the approval>"},
                "idempotency_key": "slack"}  # fmt: skip
        assert live.http.post("/v1/actions", headers=agent, json=body).status_code == 201
        live.app.state.approvals.outbox.sweep()
        (message,) = [m for method, m in slack_api.calls if method == "chat.postMessage"]
        text = message["text"]
        assert "<!channel>" not in text and "<https://" not in text
        assert "&lt;!channel&gt; &amp; &lt;https://evil.example|Open the approval&gt;" in text


def test_bank_data_is_masked_in_the_audit_log_and_kept_for_the_workflow(live: Live) -> None:
    iban = "CH9300762011623852957"
    agent = live.key()
    supplier = live.http.post("/v1/resolve", headers=agent,
                              json={"entity_type": "supplier",
                                    "record": {"tax_id": "85669591000147"}}).json()  # fmt: skip
    live.ledger.put_record("supplier", supplier["canonical_id"], {"name": "S", "iban": "x"})
    body = {"action": "supplier.update_bank_account",
            "target": {"resolution_token": supplier["resolution_token"]},
            "params": {"iban": iban, "account_holder": "ABC AG"},
            "context": {"reason": f"new account {iban} per letter"},
            "idempotency_key": "bank"}  # fmt: skip
    proposed = live.http.post("/v1/actions", headers=agent, json=body)
    assert proposed.status_code == 201, proposed.text
    approval_id = proposed.json()["approval"]["id"]
    for name in ("ana", "bea"):
        decided = live.http.post(f"/v1/approvals/{approval_id}/decision",
                                 headers=live.key("approver", name),
                                 json={"decision": "approve"})  # fmt: skip
        assert decided.status_code == 200, decided.text
    status = live.http.get(f"/v1/actions/{proposed.json()['id']}", headers=agent).json()
    assert status["status"] == "succeeded"
    (write,) = live.ledger.journal()
    assert write.params["iban"] == iban  # the ERP write got the full value
    entries = live.http.get("/v1/audit", headers=live.key("admin", "auditor"),
                            params={"limit": 1000}).json()["entries"]  # fmt: skip
    text = json.dumps(entries)
    assert iban not in text and "CH93 0076" not in text
    requested = next(e for e in entries if e["kind"] == "action.requested")
    assert requested["data"]["params"]["iban"] == "****2957"
    assert "****2957" in requested["data"]["context"]["reason"]
    verified = live.http.get("/v1/audit/verify", headers=live.key("admin", "v")).json()
    assert verified["ok"] is True


def _activity(live: Live) -> None:
    agent = live.key()
    for n in range(3):
        assert live.propose(agent, live.resolve_po(agent), idem=f"a{n}").status_code == 201


def _verify(live: Live, auditor: dict[str, str]) -> dict[str, Any]:
    answer = live.http.get("/v1/audit/verify", headers=auditor)
    assert answer.status_code == 200
    verdict: dict[str, Any] = answer.json()
    return verdict


def _cli_verify(live: Live, store_url: str) -> Any:
    register_all()
    args = ["audit", "verify", "--workdir", str(live.settings.workdir)]
    return CliRunner().invoke(canon_cli, args, env={"CANON_DATABASE_URL": store_url})


def test_a_database_writer_cannot_delete_the_last_entries_unseen(
    live: Live, store_url: str
) -> None:
    auditor = live.key("admin", "auditor")
    _activity(live)
    assert _verify(live, auditor)["ok"] is True
    engine = create_engine(store_url)
    with engine.begin() as db:  # the attacker: rows gone, head rewound, chain consistent again
        last = db.execute(text("SELECT max(seq) FROM audit_entries")).scalar_one()
        prev = db.execute(text("SELECT hash FROM audit_entries WHERE seq = :s"),
                          {"s": last - 1}).scalar_one()  # fmt: skip
        db.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": last})
        db.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": last - 1, "h": prev})
    engine.dispose()
    verdict = _verify(live, auditor)
    assert verdict["ok"] is False and "missing (deleted)" in verdict["problem"]
    cli = _cli_verify(live, store_url)
    assert cli.exit_code == 1 and "missing (deleted)" in cli.stderr


@pytest.mark.parametrize(
    ("start", "downgrade", "found"),
    [
        # Re-hashed with SHA-256 under the keyed marker: the chain's HMAC finds it.
        pytest.param(3, False, "entry 3 does not match its hash", id="rehash"),
        # Marked as plain SHA-256 entries from there on: a downgrade after keyed entries.
        pytest.param(3, True, "entry 3 has a plain SHA-256 hash after keyed", id="downgrade"),
        # The whole chain re-hashed as plain SHA-256: only the signed checkpoints find it.
        pytest.param(1, True, "rewritten", id="downgrade-all"),
    ],
)
def test_a_database_writer_cannot_rewrite_an_entry_and_recompute_the_chain(
    live: Live, store_url: str, start: int, downgrade: bool, found: str
) -> None:
    auditor = live.key("admin", "auditor")
    _activity(live)
    engine = create_engine(store_url)
    with engine.begin() as db:  # the attacker edits an actor, then re-hashes every entry after
        rows = db.execute(text("SELECT seq, at, kind, action_id, actor, data, prev_hash, scheme"
                               " FROM audit_entries ORDER BY seq")).all()  # fmt: skip
        assert {row[7] for row in rows} == {"hmac-sha256"}  # the live app keys its chain
        prev = rows[start - 1][6]
        for seq, at, kind, action_id, actor, data, _, scheme in rows[start - 1 :]:
            actor = "key:someone-else" if seq == 3 else actor
            scheme = None if downgrade else scheme
            entry = AuditEntry(seq=seq, at=at, kind=kind, action_id=action_id, actor=actor,
                               data=data)  # fmt: skip
            digest = entry_hash(prev, entry)  # plain SHA-256: the attacker has no audit key
            db.execute(
                text("UPDATE audit_entries SET actor = :a, prev_hash = :p, hash = :h,"
                     " scheme = :m WHERE seq = :s"),
                {"a": actor, "p": prev, "h": digest, "m": scheme, "s": seq},
            )  # fmt: skip
            prev = digest
        db.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    engine.dispose()
    verdict = _verify(live, auditor)
    assert verdict["ok"] is False and found in verdict["problem"]
    live.key("admin", "later")  # entries appended after the rewrite do not launder it
    assert _verify(live, auditor)["ok"] is False


def test_a_forged_checkpoint_is_refused(live: Live) -> None:
    _activity(live)
    path = live.settings.workdir / "audit-checkpoints.jsonl"
    assert path.stat().st_mode & 0o777 == 0o600
    lines = path.read_text().splitlines()
    assert lines and all(json.loads(line)["sig"] for line in lines)
    forged = {**json.loads(lines[-1]), "seq": 1, "hash": "0" * 64}
    with path.open("a") as f:
        f.write(json.dumps(forged) + "\n")
    verdict = _verify(live, live.key("admin", "auditor"))
    assert verdict["ok"] is False and "not authentic" in verdict["problem"]
