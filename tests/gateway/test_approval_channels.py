"""Channel building blocks: signed links, Slack signatures (Slack's published vector), Slack
payloads and messages, webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from gateway import Store
from gateway.channels.links import LinkClaims, LinkRefused, LinkSigner, consume, is_consumed
from gateway.channels.slack import (
    APPROVE,
    REJECT_PREFIX,
    SlackRefused,
    SlackVerifier,
    parse_interaction,
    request_blocks,
)
from gateway.channels.webhook import check_url, signature
from gateway.errors import InvalidParams

NOW = datetime(2026, 4, 12, 9, 0, tzinfo=UTC)
# Slack's published example (api.slack.com, "Verifying requests from Slack").
VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TIMESTAMP = "1531420618"
VECTOR_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIG"
    "lgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def _link(signer: LinkSigner, **kw: Any) -> str:
    values: dict[str, Any] = {
        "approval_id": "ap-1", "payload_hash": "h" * 64, "user_id": "u1",
        "decision": "approve", "expires_at": NOW + timedelta(days=1),
    }  # fmt: skip
    values.update(kw)
    return signer.issue(**values)


def test_link_round_trip_binds_approval_payload_person_and_decision() -> None:
    signer = LinkSigner("s" * 40)
    claims = signer.verify(_link(signer, decision="reject", token_id="j1"), NOW)
    assert claims == LinkClaims("ap-1", "h" * 64, "u1", "reject", claims.expires_at, "j1", "reject")


def _flip(token: str) -> str:
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda s: _flip(_link(s)), "tampered", id="edited-payload"),
        pytest.param(lambda s: _link(LinkSigner("other" * 8)), "tampered", id="other-secret"),
        pytest.param(lambda s: _link(s)[:-4], "tampered", id="truncated-signature"),
        pytest.param(lambda s: _link(s, expires_at=NOW), "expired", id="expired"),
        pytest.param(lambda s: "", "malformed", id="empty"),
        pytest.param(lambda s: "x" * 5000, "malformed", id="oversized"),
        pytest.param(lambda s: "not-a-token", "tampered", id="garbage"),
    ],
)
def test_bad_links_are_refused_with_the_reason(make: Any, reason: str) -> None:
    signer = LinkSigner("s" * 40)
    with pytest.raises(LinkRefused) as refused:
        signer.verify(make(signer), NOW)
    assert refused.value.reason == reason


def test_a_link_is_consumed_once(store: Store) -> None:
    signer = LinkSigner("s" * 40)
    claims = signer.verify(_link(signer), NOW)
    with store.transaction() as session:
        consume(session, claims, "user:u1", NOW)
    with pytest.raises(LinkRefused) as refused, store.transaction() as session:
        consume(session, claims, "user:u1", NOW)
    assert refused.value.reason == "used"
    with store.transaction() as session:
        assert is_consumed(session, claims.token_id)


def _at(timestamp: str, offset: float = 0) -> Any:
    return lambda: datetime.fromtimestamp(int(timestamp) + offset, UTC)


@pytest.mark.parametrize(
    ("body", "timestamp", "sig", "offset", "reason"),
    [
        pytest.param(VECTOR_BODY, VECTOR_TIMESTAMP, VECTOR_SIGNATURE, 0, None,
                     id="slack-published-vector"),
        pytest.param(VECTOR_BODY, VECTOR_TIMESTAMP, VECTOR_SIGNATURE, 299, None,
                     id="within-five-minutes"),
        pytest.param(VECTOR_BODY, VECTOR_TIMESTAMP, VECTOR_SIGNATURE, 301, "stale",
                     id="replayed-after-five-minutes"),
        pytest.param(VECTOR_BODY, VECTOR_TIMESTAMP, VECTOR_SIGNATURE, -301, "stale",
                     id="from-the-future"),
        pytest.param(VECTOR_BODY.replace("roadrunner", "coyote"), VECTOR_TIMESTAMP,
                     VECTOR_SIGNATURE, 0, "forged", id="tampered-body"),
        pytest.param(VECTOR_BODY, VECTOR_TIMESTAMP, VECTOR_SIGNATURE[:-1] + "0", 0, "forged",
                     id="tampered-signature"),
        pytest.param(VECTOR_BODY, VECTOR_TIMESTAMP, VECTOR_SIGNATURE.replace("v0=", "v1="), 0,
                     "forged", id="wrong-version"),
        pytest.param(VECTOR_BODY, "15314206l8", VECTOR_SIGNATURE, 0, "forged",
                     id="non-numeric-timestamp"),
        pytest.param(VECTOR_BODY, None, VECTOR_SIGNATURE, 0, "missing", id="no-timestamp"),
        pytest.param(VECTOR_BODY, VECTOR_TIMESTAMP, None, 0, "missing", id="no-signature"),
    ],
)  # fmt: skip
def test_slack_signature(
    body: str, timestamp: str | None, sig: str | None, offset: float, reason: str | None
) -> None:
    verifier = SlackVerifier(VECTOR_SECRET, _at(VECTOR_TIMESTAMP, offset))
    if reason is None:
        verifier.verify(body.encode(), timestamp, sig)
        return
    with pytest.raises(SlackRefused) as refused:
        verifier.verify(body.encode(), timestamp, sig)
    assert refused.value.reason == reason


def interaction_body(
    action_id: str, value: str, user: str = "U1", kind: str = "block_actions"
) -> bytes:
    payload = {"type": kind, "user": {"id": user}, "channel": {"id": "C1"},
               "container": {"message_ts": "1.2"},
               "actions": [{"action_id": action_id, "value": value}]}  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


VALUE = json.dumps({"a": "ap-1", "h": "h" * 64})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(interaction_body(APPROVE, VALUE), (True, ""), id="approve"),
        pytest.param(interaction_body(REJECT_PREFIX + "wrong_entity", VALUE),
                     (False, "wrong_entity"), id="reject-wrong-entity"),
        pytest.param(interaction_body("approval.delete", VALUE), None, id="unknown-action"),
        pytest.param(interaction_body(REJECT_PREFIX, VALUE), None, id="reject-without-reason"),
        pytest.param(interaction_body(APPROVE, "{}"), None, id="value-without-approval"),
        pytest.param(interaction_body(APPROVE, VALUE, kind="view_submission"), None,
                     id="other-interaction-type"),
        pytest.param(b"payload=%7Bnot json", None, id="not-json"),
        pytest.param(b"\xff\xfe", None, id="not-utf8"),
        pytest.param(b"", None, id="empty"),
    ],
)  # fmt: skip
def test_slack_interactions_parse_or_are_malformed(body: bytes, expected: Any) -> None:
    if expected is None:
        with pytest.raises(SlackRefused) as refused:
            parse_interaction(body)
        assert refused.value.reason == "malformed"
        return
    click = parse_interaction(body)
    assert (click.approve, click.reason) == expected
    assert (click.slack_user, click.approval_id, click.payload_hash) == ("U1", "ap-1", "h" * 64)
    assert (click.channel, click.message_ts) == ("C1", "1.2")


def test_webhook_signature_is_hmac_over_timestamp_and_body() -> None:
    body = b'{"status":"succeeded"}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("k", "1700000000", body) == "v1=" + expected


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://agent.example/hook", id="not-http"),
        pytest.param("https:///hook", id="no-host"),
        pytest.param("https://user:pw@agent.example/hook", id="credentials"),
        pytest.param("https://agent.example/" + "x" * 2000, id="too-long"),
    ],
)
def test_callback_urls_are_checked(url: str) -> None:
    with pytest.raises(InvalidParams):
        check_url(url)


def test_slack_blocks_keep_agent_text_plain(detail_view: Any) -> None:
    blocks = request_blocks(detail_view, "http://canon.test", escalation=False)
    texts = [b["text"] for b in blocks if "text" in b] + [
        f for b in blocks for f in b.get("fields", [])
    ]
    assert all(t["type"] == "plain_text" for t in texts)
    assert any("<!channel> <script>" in t["text"] for t in texts)
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    buttons = {e["action_id"]: e for e in actions["elements"]}
    assert set(buttons) == {APPROVE, "approval.open"} | {
        REJECT_PREFIX + r for r in ("wrong_entity", "wrong_amount", "not_needed")
    }
    assert json.loads(buttons[APPROVE]["value"]) == {"a": "ap-1", "h": "h" * 64}
    assert all("confirm" in b for k, b in buttons.items() if k != "approval.open")
    assert buttons["approval.open"]["url"] == "http://canon.test/portal/approvals/ap-1"


@pytest.fixture
def detail_view() -> Any:
    from gateway.approvals_views import ApprovalDetails, ApprovalDetailView

    details = ApprovalDetails(
        entity_type="purchase_order", canonical_id="SC7:01:002891", display_name="ABC",
        amount="CHF 45,000", dates={}, reason="<!channel> <script>alert(1)</script>",
        evidence=["WMS 1"], record={}, record_found=True, steps=[], compensation_plan=[],
        model_version="m", calibration_version="c",
    )  # fmt: skip
    return ApprovalDetailView(
        id="ap-1", action_id="a-1", action="purchase_order.close", action_status="pending_approval",
        status="pending", summary="Approve closing <!channel> <script>alert(1)</script>",
        risk="high_risk", requested_by="k", approvals_needed=1, approvals_given=0, decisions=[],
        payload_hash="h" * 64, flags=[], created_at=NOW, expires_at=None, escalated_at=None,
        decided_at=None, details=details,
    )  # fmt: skip
