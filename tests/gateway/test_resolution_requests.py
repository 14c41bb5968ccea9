"""Resolution requests over a real gateway and store: notification, escalation and expiry on the
approvals' clock, the human token at the gate, scopes, signed links and escaping."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient

from gateway import ActionRequest, Gateway, create_key
from gateway.actions import TargetRef
from gateway.approvals_desk import ApprovalDesk, ApprovalRules, Channels
from gateway.channels import EmailConfig, LinkSigner, SlackChannel, SmtpMailer
from gateway.channels.links import LinkRefused
from gateway.channels.resolution_messages import resolution_blocks, summary_line
from gateway.errors import ActionNotFound, Forbidden, InvalidKeyRequest, WrongTokenKind
from gateway.keys import Principal
from gateway.resolution_records import resolution_record
from gateway.resolutions import OpenRequest, ResolutionRefused, ResolveDecision
from gateway.resolutions_desk import ResolutionDesk
from gateway.store import Store
from resolver.types import Candidate, Decision, Resolution, ResolveQuery
from tests.gateway.conftest import SECRET, Clock, KeyMaker, decide_action
from tests.gateway.test_approval_outbox import (  # noqa: F401 (fixtures)
    FAST_HASHER,
    Inbox,
    SlackStandIn,
    add_user,
    slack_api,
    smtp,
)

HOSTILE = "<!channel> <https://evil.test|click> & <b>bold</b>"
SUPPLIER = "SA2:01:000123:01"
OTHER = "SA2:01:000999:01"


def candidate(canonical_id: str, name: str, probability: float) -> Candidate:
    return Candidate(entity_type="supplier", canonical_id=canonical_id, native_key={},
                     display={"name": name, "city": "Zürich"}, match_weight=3.0,
                     probability=probability, explanation=[])  # fmt: skip


def ambiguous() -> Resolution:
    """A halt with two look-alike candidates, the second with hostile text in it."""
    return Resolution(
            decision=Decision.AMBIGUOUS, entity_type="supplier", reason="a look-alike",
            candidates=[candidate(SUPPLIER, "ABC Manufacturing", 0.7),
                        candidate(OTHER, HOSTILE, 0.6)],
            model_version="m-1", calibration_version="c-1",
            query_identity={"name": "abc manufacturing"},
    )  # fmt: skip


@pytest.fixture
def desk(gate: Gateway, smtp: tuple[Inbox, int], slack_api: SlackStandIn) -> ResolutionDesk:  # noqa: F811
    client = WebClient(token="xoxb-test", base_url=slack_api.url)
    channels = Channels(
        mailer=SmtpMailer(EmailConfig(host="127.0.0.1", port=smtp[1], timeout_seconds=5)),
        slack=SlackChannel(client, "C-RESOLVE", "C-ESCALATION", "http://canon.test"),
    )
    approvals = ApprovalDesk(gateway=gate, links=LinkSigner(SECRET), public_url="http://canon.test",
                             rules=ApprovalRules(escalate_after_seconds=5 * 24 * 3600),
                             channels=channels)  # fmt: skip
    return ResolutionDesk(approvals, ttl_seconds=7 * 24 * 3600)


def halt(gate: Gateway, agent: Principal) -> str:
    """What /v1/resolve keeps of a halt answered to `agent`; its id."""
    query = ResolveQuery(entity_type="supplier", record={"name": "ABC Manufacturing"})
    resolution_id = uuid.uuid4().hex
    with gate.store.transaction() as session:
        session.add(resolution_record(resolution_id, query, ambiguous(), agent, gate.clock()))
    return resolution_id


def open_on(desk: ResolutionDesk, agent: Principal, resolution_id: str, key: str = "r1") -> str:
    body = OpenRequest(resolution_id=resolution_id, idempotency_key=key,
                       context={"reason": HOSTILE})  # type: ignore[arg-type]  # fmt: skip
    return desk.open(agent, body).view.id


def resolver_principal(store: Store, role: str = "steward") -> Principal:
    with store.transaction() as session:
        principal, _ = create_key(session, f"{role}-r", role, ["resolver"])
    return principal


def test_notify_escalate_expire_on_the_approvals_clock(
    gate: Gateway, desk: ResolutionDesk, key: KeyMaker, clock: Clock, store: Store,
    smtp: tuple[Inbox, int], slack_api: SlackStandIn,  # noqa: F811
) -> None:  # fmt: skip
    add_user(gate, "rita", resolver=True)
    add_user(gate, "abe")  # an approver without the resolver scope: not asked
    add_user(gate, "esc", group="escalation", resolver=True)
    agent = key()
    request_id = open_on(desk, agent, halt(gate, agent))
    first = desk.sweep()
    assert (first["queued"], first["sent"]) == (2, 2)  # rita's email, the channel
    inbox, _ = smtp
    assert [m["To"] for m in inbox.wait_for(1)] == ["rita@example.test"]
    assert slack_api.calls[-1][1]["channel"] == "C-RESOLVE"
    assert desk.sweep()["queued"] == 0  # notified once
    clock.advance(5 * 24 * 3600 + 1)
    escalated = desk.sweep()
    assert escalated["escalated"] == 1 and slack_api.calls[-1][1]["channel"] == "C-ESCALATION"
    assert "esc@example.test" in [m["To"] for m in inbox.wait_for(2)]
    clock.advance(2 * 24 * 3600)
    assert desk.sweep()["expired"] == 1
    steward = resolver_principal(store)
    with pytest.raises(ResolutionRefused, match="expired"):
        desk.decide(steward, request_id, ResolveDecision(choice="new"))
    view = desk.get(agent, request_id)
    assert (view.status, view.resolution_token) == ("expired", None)


def test_a_human_token_stands_for_a_match_and_names_who_decided(
    gate: Gateway, desk: ResolutionDesk, key: KeyMaker, store: Store
) -> None:
    agent = key(scopes=["resolve", "actions:supplier.*"])
    request_id = open_on(desk, agent, halt(gate, agent))
    steward = resolver_principal(store)
    desk.decide(steward, request_id, ResolveDecision(choice="pick", canonical_id=SUPPLIER))
    token = desk.get(agent, request_id).resolution_token
    assert token is not None
    claims = gate.signer.read(token)
    assert (claims.kind, claims.canonical_id, claims.decided_by, claims.holder) == (
        "human", SUPPLIER, steward.actor, agent.key_id)  # fmt: skip
    assert desk.get(steward, request_id).resolution_token is None  # only its agent gets it
    block = ActionRequest(action="supplier.block", target=TargetRef(resolution_token=token),
                          params={"reason": "tax id lapsed"}, context={"reason": "invoice 4711"},
                          idempotency_key="b1")  # fmt: skip
    view = gate.submit(agent, block)
    assert view.status == "pending_approval" and view.target["decided_by"] == steward.actor
    create = ActionRequest(action="supplier.create", target=TargetRef(resolution_token=token),
                           params={"name": "ABC Manufacturing", "tax_id": "1",
                                   "document": "dms://x"},
                           context={"reason": "new"}, idempotency_key="c1")  # fmt: skip
    with pytest.raises(WrongTokenKind):
        gate.submit(agent, create)


def test_who_may_ask_and_who_may_decide(
    gate: Gateway, desk: ResolutionDesk, key: KeyMaker, store: Store
) -> None:
    agent, other = key(name="a"), key(name="b")
    resolution_id = halt(gate, agent)
    with pytest.raises(ActionNotFound):  # another agent's halt is not theirs to put to a person
        open_on(desk, other, resolution_id)
    request_id = open_on(desk, agent, resolution_id)
    for decider in (key("approver", name="plain"), agent):
        with pytest.raises(Forbidden):
            desk.decide(decider, request_id, ResolveDecision(choice="new"))
    with store.transaction() as session, pytest.raises(InvalidKeyRequest):
        create_key(session, "sneaky", "agent", ["resolve", "resolver"])
    approver = resolver_principal(store, "approver")
    assert desk.decide(approver, request_id, ResolveDecision(choice="cannot_tell")).choice == (
        "cannot_tell")  # fmt: skip


def test_slack_and_email_carry_agent_and_erp_text_as_text(
    gate: Gateway, desk: ResolutionDesk, key: KeyMaker
) -> None:
    agent = key()
    view = desk.detail_of(open_on(desk, agent, halt(gate, agent)))
    blocks = resolution_blocks(view, "http://canon.test", escalation=False)
    texts = [b["text"] for b in blocks if "text" in b] + [
        e for b in blocks if b["type"] == "context" for e in b["elements"]
    ]
    assert all(t["type"] == "plain_text" for t in texts)
    assert any(HOSTILE in t["text"] for t in texts)  # shown as typed, in plain_text only
    buttons = next(b for b in blocks if b["type"] == "actions")["elements"]
    picks = [json.loads(b["value"])["c"] for b in buttons if b["action_id"] == "resolution.pick"]
    assert picks == [SUPPLIER, OTHER]
    assert "\n" not in summary_line(view)


def test_an_approval_link_cannot_decide_a_resolution_request(
    gate: Gateway, desk: ResolutionDesk, key: KeyMaker
) -> None:
    user_id = add_user(gate, "rita", resolver=True)
    agent = key()
    view = desk.detail_of(open_on(desk, agent, halt(gate, agent)))
    forged = desk.approvals.links.issue(
        approval_id=view.id,
        payload_hash=view.payload_hash,
        user_id=user_id,
        decision=SUPPLIER,
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )  # the approval key's salt: not a resolution link
    with pytest.raises(LinkRefused, match="not authentic"):
        desk.decide_by_link(forged)
    genuine = dict(desk.link_urls(view, user_id, datetime(2030, 1, 1, tzinfo=UTC)))
    token = genuine[f"Pick {SUPPLIER}"].split("token=")[1]
    assert desk.decide_by_link(token).canonical_id == SUPPLIER


def test_the_person_who_picked_the_target_cannot_approve_the_write_on_it(
    gate: Gateway, desk: ResolutionDesk, key: KeyMaker, store: Store
) -> None:
    agent = key(scopes=["resolve", "actions:supplier.*"])
    request_id = open_on(desk, agent, halt(gate, agent))
    picker = resolver_principal(store, "approver")
    desk.decide(picker, request_id, ResolveDecision(choice="pick", canonical_id=SUPPLIER))
    token = desk.get(agent, request_id).resolution_token
    block = ActionRequest(action="supplier.block", target=TargetRef(resolution_token=token),
                          params={"reason": "tax id lapsed"}, context={"reason": "invoice 4711"},
                          idempotency_key="b1")  # fmt: skip
    view = gate.submit(agent, block)
    with pytest.raises(Forbidden, match="picked the target"):
        decide_action(gate, picker, view, approve=True, reason="")
    assert decide_action(gate, key("approver", name="other"), view, True, "").status == "succeeded"


def test_a_no_match_token_opens_a_request_and_new_answers_with_a_no_match_token(
    gate: Gateway, desk: ResolutionDesk, key: KeyMaker, store: Store
) -> None:
    agent = key()
    nothing = ambiguous().model_copy(update={"decision": Decision.NO_MATCH, "candidates": []})
    resolution_id = uuid.uuid4().hex
    query = ResolveQuery(entity_type="supplier", record={"name": "ABC Manufacturing"})
    with gate.store.transaction() as session:
        session.add(resolution_record(resolution_id, query, nothing, agent, gate.clock()))
    token = gate.signer.issue(nothing, holder=agent.key_id, token_id=resolution_id)
    body = OpenRequest(resolution_token=token, idempotency_key="n1",
                       context={"reason": "I know this supplier exists"})  # type: ignore[arg-type]  # fmt: skip
    view = desk.open(agent, body).view
    assert (view.resolution_id, view.halt, view.candidates) == (resolution_id, "no_match", [])
    steward = resolver_principal(store)
    with pytest.raises(ResolutionRefused, match="not a candidate"):
        desk.decide(steward, view.id, ResolveDecision(choice="pick", canonical_id=SUPPLIER))
    desk.decide(steward, view.id, ResolveDecision(choice="new"))
    new_token = desk.get(agent, view.id).resolution_token
    claims = gate.signer.verify(
        new_token, entity_type="supplier", kind="no_match", bound_to=agent.key_id
    )
    assert claims.identity == {"name": "abc manufacturing"} and claims.decided_by == steward.actor
