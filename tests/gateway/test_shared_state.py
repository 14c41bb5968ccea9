"""The state workers and replicas share (rate-limit buckets, sign-in failures) on each backend,
and the store lease that lets one sweeper per store run."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from gateway import LocalLedgerConnector, Store
from gateway.leases import Lease
from gateway.shared_redis import RedisState
from gateway.shared_state import Current, MemoryState, SharedState, StoreState, Value
from gateway.throttle import LoginThrottle, Throttled, ThrottleRules
from gateway.workflow import WorkflowRunner
from gateway.workflow_sweeper import LEASE_NAME, WorkflowSweeper
from tests.db import redis_url
from tests.gateway.conftest import Clock


@pytest.fixture(params=["store", "redis"])
def shared(request: pytest.FixtureRequest, store: Store) -> Iterator[SharedState]:
    """The shared state on the store (SQLite and PostgreSQL), and on Redis."""
    if request.param == "store":
        yield StoreState(store)
        return
    state = RedisState(redis_url(), prefix=f"canon-test:{uuid.uuid4().hex}:")
    yield state
    state.close()


def _increment(current: Current) -> tuple[dict[str, Value | None], int]:
    new: dict[str, Value | None] = {}
    for key, found in current.items():
        new[key] = {"n": (found["n"] if found else 0) + 1}
    return new, max(int(v["n"]) for v in new.values() if v)


def test_concurrent_updates_lose_nothing(shared: SharedState) -> None:
    def work(_: int) -> None:
        for _ in range(25):
            shared.update(["a", "b"], _increment, 60)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    assert shared.update(["a", "b"], lambda current: ({}, current), 60) == {
        "a": {"n": 200},
        "b": {"n": 200},
    }


def test_none_deletes_and_absent_keys_read_as_none(shared: SharedState) -> None:
    shared.update(["x"], _increment, 60)
    seen = shared.update(["x", "y"], lambda current: ({"x": None}, dict(current)), 60)
    assert seen == {"x": {"n": 1}, "y": None}
    assert shared.update(["x"], lambda current: ({}, dict(current)), 60) == {"x": None}


def test_store_values_expire_with_the_store_clock(store: Store) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    state = StoreState(store, clock=lambda: now[0])
    assert state.update(["k"], _increment, 10) == 1
    assert state.update(["k"], _increment, 10) == 2
    now[0] += timedelta(seconds=11)
    assert state.update(["k"], _increment, 10) == 1  # expired: counted afresh


def test_the_login_throttle_counts_failures_of_every_process(shared: SharedState) -> None:
    clock = Clock()
    rules = ThrottleRules(free_attempts=2, base_delay_seconds=10)
    first, second = LoginThrottle(rules, clock, shared), LoginThrottle(rules, clock, shared)
    key = f"user:{uuid.uuid4().hex}"
    assert first.failed(key) == 1
    assert second.failed(key) == 2
    assert first.failed(key) == 3  # one past the free attempts: 20 s to wait, on both
    with pytest.raises(Throttled) as throttled:
        second.check(key)
    assert throttled.value.retry_after == 20
    clock.advance(21)
    second.check(key)
    second.succeeded(key)
    assert first.failed(key) == 1


def _sweeper(store: Store, clock: Clock, ledger: LocalLedgerConnector) -> WorkflowSweeper:
    return WorkflowSweeper(WorkflowRunner(), store, ledger, interval=5, clock=clock)


def test_one_sweeper_per_store_holds_the_lease_until_it_stops_or_lapses(
    store: Store, ledger: LocalLedgerConnector
) -> None:
    clock = Clock()
    a, b = _sweeper(store, clock, ledger), _sweeper(store, clock, ledger)
    assert a.pass_once() == 0  # a holds the lease, and swept (nothing due)
    assert b.pass_once() is None  # b does not sweep
    assert a.lease.current_holder() == a.lease.holder
    clock.advance(19)
    assert a.pass_once() == 0 and b.pass_once() is None  # a renewed in time
    clock.advance(21)  # a missed its renewals: the lease (3 x 5 + 5 s) lapsed
    assert b.pass_once() == 0 and a.pass_once() is None
    b.lease.release()
    assert a.pass_once() == 0


def test_concurrent_claims_of_one_lease_make_one_holder(store: Store) -> None:
    leases = [Lease(store, LEASE_NAME, 30) for _ in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        won = list(pool.map(lambda lease: lease.acquire(), leases))
    assert won.count(True) == 1
    assert leases[won.index(True)].current_holder() == leases[won.index(True)].holder


def test_memory_state_is_bounded_by_expiry() -> None:
    now = [0.0]
    state = MemoryState(clock=lambda: now[0])
    state.update(["k"], _increment, 5)
    now[0] = 6.0
    assert state.update(["k"], _increment, 5) == 1


def test_a_lease_of_a_dead_process_on_this_host_is_taken_at_once(store: Store) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    gone = Lease(store, LEASE_NAME, 3600, holder=f"{host}/{dead.pid}/nonce/x")
    elsewhere = Lease(store, "other-lease", 3600, holder="another-host/1/nonce/x")
    assert gone.acquire() and elsewhere.acquire()
    assert Lease(store, LEASE_NAME, 30).acquire()  # its holder's process is gone
    assert not Lease(store, "other-lease", 30).acquire()  # another host's: wait for expiry
