"""Per-key token buckets: the limiter's arithmetic, and 429 with Retry-After through the real app
(both doors drawing from one bucket, the start of a throttling episode audited once)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mcp import Client
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr

from api.app import create_app
from api.mcp import MCP_RATE_LIMITED, CanonMcp, static_key
from api.ratelimit import RateLimited, RateLimiter
from api.settings import Rate, Settings
from gateway import Principal, Role, create_key
from gateway.audit import entries
from tests.api.test_portal import add_user, sign_in
from tests.db import redis_url


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _key(role: Role = Role.AGENT, key_id: str = "k1") -> Principal:
    return Principal(key_id, "n", role, ("resolve", "actions:*"))


def _limiter(clock: FakeClock, **actions: Rate) -> RateLimiter:
    roles = {"agent": Rate(per_second=2.0, burst=3), "approver": Rate(per_second=1.0, burst=1)}
    patterns = {k.replace("__", "."): v for k, v in actions.items()}
    return RateLimiter(roles, patterns, clock=clock)


def _admitted(limiter: RateLimiter, principal: Principal, n: int, action: str | None = None) -> int:
    count = 0
    for _ in range(n):
        try:
            limiter.check(principal, action)
            count += 1
        except RateLimited:
            pass
    return count


def test_a_bucket_admits_its_burst_then_refuses_with_the_wait() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    assert _admitted(limiter, _key(), 10) == 3
    with pytest.raises(RateLimited) as refused:
        limiter.check(_key())
    assert (refused.value.bucket, refused.value.retry_after) == ("role:agent", 1)
    clock.now += 0.5  # 2 per second: one token back
    assert _admitted(limiter, _key(), 10) == 1
    clock.now += 60  # refills to the burst, never beyond
    assert _admitted(limiter, _key(), 10) == 3


def test_buckets_are_per_key_and_per_role() -> None:
    limiter = _limiter(FakeClock())
    assert _admitted(limiter, _key(key_id="a"), 5) == 3
    assert _admitted(limiter, _key(key_id="b"), 5) == 3
    assert _admitted(limiter, _key(Role.APPROVER, "c"), 5) == 1
    assert _admitted(limiter, _key(Role.ADMIN, "d"), 50) == 50  # no limit configured for admin


@pytest.mark.parametrize(
    ("action", "expected_bucket"),
    [
        pytest.param("supplier.update_bank_account", "action:supplier.update_bank_account",
                     id="exact-name-wins"),
        pytest.param("supplier.block", "action:supplier.*", id="pattern"),
        pytest.param("ticket.close", "role:agent", id="no-action-limit"),
    ],
)  # fmt: skip
def test_action_buckets_are_chosen_by_exact_name_then_pattern(
    action: str, expected_bucket: str
) -> None:
    clock = FakeClock()
    limiter = _limiter(
        clock,
        supplier__update_bank_account=Rate(per_second=0.01, burst=1),
        **{"supplier.*": Rate(per_second=0.1, burst=2)},
    )
    limit = {"action:supplier.update_bank_account": 1, "action:supplier.*": 2, "role:agent": 3}
    assert _admitted(limiter, _key(), 10, action) == limit[expected_bucket]
    with pytest.raises(RateLimited) as refused:
        limiter.check(_key(), action)
    assert refused.value.bucket == expected_bucket


def test_a_refused_call_takes_no_token_from_the_other_bucket() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, **{"supplier.*": Rate(per_second=0.001, burst=1)})
    limiter.check(_key(), "supplier.block")
    for _ in range(5):
        with pytest.raises(RateLimited):
            limiter.check(_key(), "supplier.block")
    # The role bucket (burst 3) lost one token only, to the admitted proposal.
    assert _admitted(limiter, _key(), 10) == 2


def test_only_the_first_refusal_of_an_episode_is_flagged() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    _admitted(limiter, _key(), 3)
    flags = []
    for _ in range(3):
        with pytest.raises(RateLimited) as refused:
            limiter.check(_key())
        flags.append(refused.value.first_refusal)
    assert flags == [True, False, False]
    clock.now += 1  # two tokens back: admitted calls end the episode
    assert _admitted(limiter, _key(), 2) == 2
    with pytest.raises(RateLimited) as again:
        limiter.check(_key())
    assert again.value.first_refusal is True


@pytest.fixture
def tight_app(settings: Settings) -> Iterator[FastAPI]:
    tight = settings.model_copy(
        update={
            "rate_limit_roles": {"agent": Rate(per_second=0.01, burst=4)},
            "rate_limit_actions": {"ticket.*": Rate(per_second=0.01, burst=1)},
        }
    )
    app = create_app(tight)
    yield app
    app.state.gateway.store.close()


def _agent(app: FastAPI, name: str = "agent") -> str:
    with app.state.gateway.store.transaction() as session:
        return create_key(session, name, "agent", ["resolve", "actions:*"])[1]


def test_http_answers_429_with_retry_after_and_audits_the_episode_once(tight_app: FastAPI) -> None:
    client, key = TestClient(tight_app), _agent(tight_app)
    headers = {"Authorization": f"Bearer {key}"}
    statuses = [client.get("/v1/actions/none", headers=headers).status_code for _ in range(7)]
    assert statuses == [404] * 4 + [429] * 3
    refused = client.get("/v1/actions/none", headers=headers)
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["type"] == "/problems/rate-limited"
    assert refused.json()["retry_after"] == int(refused.headers["Retry-After"])
    other = {"Authorization": f"Bearer {_agent(tight_app, 'other')}"}
    assert client.get("/v1/actions/none", headers=other).status_code == 404  # its own bucket
    assert client.get("/healthz").status_code == 200  # health is never limited
    with tight_app.state.gateway.store.transaction() as session:
        kinds = [e.kind for e in entries(session, limit=1000)]
    assert kinds.count("request.rate_limited") == 1


def test_http_action_buckets_read_the_proposed_action(tight_app: FastAPI) -> None:
    client = TestClient(tight_app)
    headers = {"Authorization": f"Bearer {_agent(tight_app)}"}
    body = {"action": "ticket.close", "target": {"resolution_token": "x"},
            "params": {"resolution": "done"}, "context": {"reason": "r"}}  # fmt: skip
    first = client.post("/v1/actions", headers=headers, json={**body, "idempotency_key": "a"})
    second = client.post("/v1/actions", headers=headers, json={**body, "idempotency_key": "b"})
    assert (first.status_code, second.status_code) == (422, 429)  # bad token, then no token left
    assert "action:ticket.*" in second.json()["detail"]
    other = {**body, "action": "supplier.block", "params": {"reason": "x"}, "idempotency_key": "c"}
    assert client.post("/v1/actions", headers=headers, json=other).status_code == 422


def test_mcp_and_http_draw_from_one_bucket_and_mcp_refuses_with_an_error(
    tight_app: FastAPI,
) -> None:
    client, key = TestClient(tight_app), _agent(tight_app)
    headers = {"Authorization": f"Bearer {key}"}
    gateway = tight_app.state.gateway
    mcp = CanonMcp(gateway, lambda: None, tight_app.state.rate_limiter, tight_app.state.metrics,
                   static_key(gateway, key))  # fmt: skip
    for _ in range(3):
        assert client.get("/v1/actions/none", headers=headers).status_code == 404

    async def calls() -> tuple[bool, MCPError]:
        async with Client(mcp.server) as session:
            admitted = await session.call_tool("get_action_status", {"action_id": "none"})
            with pytest.raises(MCPError) as refused:
                await session.call_tool("get_action_status", {"action_id": "none"})
            return admitted.is_error, refused.value

    admitted_is_error, refused = anyio.run(calls)
    assert admitted_is_error is True  # admitted, and answered: no such action
    assert refused.code == MCP_RATE_LIMITED
    assert refused.data["status"] == 429 and refused.data["retry_after"] >= 1
    assert client.get("/v1/actions/none", headers=headers).status_code == 429
    metrics = tight_app.state.metrics
    assert metrics.sample("canon_rate_limited_total", {"door": "mcp", "bucket": "role"}) == 1
    assert metrics.sample("canon_rate_limited_total", {"door": "http", "bucket": "role"}) == 1


@pytest.fixture(params=["store", "redis"])
def replicas(request: pytest.FixtureRequest, settings: Settings) -> Iterator[list[FastAPI]]:
    """Two app instances on one store, as two workers or replicas behind a load balancer: their
    shared state in the store, or in Redis."""
    shared = settings.model_copy(
        update={
            "rate_limit_roles": {"agent": Rate(per_second=0.01, burst=4)},
            "portal_login_free_attempts": 2,
            "redis_url": SecretStr(redis_url()) if request.param == "redis" else None,
            "redis_key_prefix": f"canon-test:{uuid.uuid4().hex}:",
        }
    )
    apps = [create_app(shared), create_app(shared)]
    yield apps
    for app in apps:
        app.state.gateway.store.close()


def test_replicas_on_one_store_share_each_keys_rate_limit(replicas: list[FastAPI]) -> None:
    clients = [TestClient(app) for app in replicas]
    headers = {"Authorization": f"Bearer {_agent(replicas[0])}"}
    statuses = [clients[i % 2].get("/v1/actions/none", headers=headers).status_code
                for i in range(8)]  # fmt: skip
    assert statuses == [404] * 4 + [429] * 4  # a burst of 4 in all, not 4 per replica
    kind = replicas[0].state.rate_limiter.state.kind
    assert kind == ("redis" if replicas[0].state.settings.redis_url else "store")


def test_replicas_share_the_sign_in_throttle(replicas: list[FastAPI]) -> None:
    add_user(replicas[0], "ana")
    clients = [TestClient(app) for app in replicas]
    # Two free failures, one on each replica; then both make the next attempt wait (a replica
    # counting alone would have seen one failure, still free), even with the right password.
    assert sign_in(clients[0], "ana", "wrong").status_code == 401
    assert sign_in(clients[1], "ana", "wrong").status_code == 401
    assert sign_in(clients[0], "ana").status_code == 429
    assert sign_in(clients[1], "ana").status_code == 429


def test_of_two_replicas_one_sweeps_workflows_and_the_other_takes_over(
    replicas: list[FastAPI],
) -> None:
    sweepers = [app.state.workflows for app in replicas]
    with TestClient(replicas[0]), TestClient(replicas[1]):  # both started, sweeping every 5 s
        for sweeper in sweepers:
            assert sweeper.first_pass.wait(timeout=60)
        holder = sweepers[0].lease.current_holder()
        assert holder in {s.lease.holder for s in sweepers}
        holding = next(s for s in sweepers if s.lease.holder == holder)
        other = next(s for s in sweepers if s is not holding)
        assert other.pass_once() is None  # the other replica does not sweep
        holding.stop()  # a clean stop gives the lease up: the other sweeps at its next pass
        assert other.pass_once() == 0
        assert other.lease.current_holder() == other.lease.holder
