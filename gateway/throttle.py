"""Doors that anyone can knock on: portal sign-in, e-mail links, Slack posts.

`LoginThrottle` slows password guessing: per account and per source address, each failure after
the first few doubles the wait before the next attempt is even checked (HTTP 429 with
`Retry-After`), and `lock_after` consecutive failures lock the account in the store until an
admin unlocks it (audited). `RefusalLog` keeps refusals from flooding the audit log: the first
refusal of a kind and key in each window writes one audit entry, carrying how many refusals were
counted since the previous entry; the others are only counted (and exported as a metric).

The throttle's failure counts live in the shared state (`gateway.shared_state`: the store, or
Redis with `CANON_REDIS_URL`), so that every worker and replica counts the same failures; the
lockout itself is in the store. The refusal log's windows are per process: behind N processes a
flood writes at most N entries a window, each with its count.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway import audit
from gateway.errors import GatewayError
from gateway.shared_state import Current, MemoryState, SharedState, Value
from gateway.store import Store

MAX_KEYS = 10_000


class Throttled(GatewayError):
    """Too many failed attempts from this account or address: wait `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class ThrottleRules:
    """Free attempts, base and maximum backoff, and the failures that lock an account."""

    free_attempts: int = 3
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 300.0
    lock_after: int = 10
    forget_after_seconds: float = 3600.0


class LoginThrottle:
    """Failure counts per account and per source address, with exponential backoff, kept in
    `state` (default: this process's memory)."""

    def __init__(
        self,
        rules: ThrottleRules,
        clock: Callable[[], datetime],
        state: SharedState | None = None,
    ) -> None:
        self.rules, self.clock = rules, clock
        self.state: SharedState = state or MemoryState()

    @staticmethod
    def _keys(keys: tuple[str, ...]) -> list[str]:
        return [f"login:{key}" for key in keys]

    def _delay(self, count: int) -> float:
        extra = count - self.rules.free_attempts
        if extra < 0:
            return 0.0
        return min(self.rules.max_delay_seconds, self.rules.base_delay_seconds * 2.0**extra)

    def check(self, *keys: str) -> None:
        """Throttled if any key (`user:<name>`, `ip:<address>`) must still wait."""
        now = self.clock().timestamp()
        forget = self.rules.forget_after_seconds

        def apply(current: Current) -> tuple[dict[str, Value | None], float]:
            waits: list[float] = []
            forgotten: dict[str, Value | None] = {}
            for key, found in current.items():
                if found is None:
                    continue
                elapsed = max(0.0, now - float(found["last"]))
                if elapsed > forget:
                    forgotten[key] = None
                    continue
                waits.append(self._delay(int(found["count"])) - elapsed)
            return forgotten, max(waits, default=0.0)

        wait = self.state.update(self._keys(keys), apply, forget)
        if wait > 0:
            raise Throttled(max(1, math.ceil(wait)))

    def failed(self, *keys: str) -> int:
        """Count a failure against each key; the highest count among them."""
        now = self.clock().timestamp()
        forget = self.rules.forget_after_seconds

        def apply(current: Current) -> tuple[dict[str, Value | None], int]:
            new: dict[str, Value | None] = {}
            for key, found in current.items():
                count = (
                    0 if found is None or now - float(found["last"]) > forget else found["count"]
                )
                new[key] = {"count": int(count) + 1, "last": now}
            return new, max((int(v["count"]) for v in new.values() if v), default=0)

        return self.state.update(self._keys(keys), apply, forget)

    def succeeded(self, *keys: str) -> None:
        self.state.update(self._keys(keys), lambda current: (dict.fromkeys(current), None), 1.0)


class RefusalLog:
    """Refusals as counted, rate-limited audit events (see the module docstring)."""

    def __init__(
        self, store: Store, clock: Callable[[], datetime], window: timedelta = timedelta(minutes=1)
    ) -> None:
        self.store, self.clock, self.window = store, clock, window
        self._open: dict[tuple[str, str], tuple[datetime, int]] = {}
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, kind: str, key: str, data: dict[str, Any], actor: str | None = None) -> bool:
        """Count a refusal; write its audit entry if none was written for (kind, key) in the
        window. True when an entry was written."""
        now = self.clock()
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if len(self._open) > MAX_KEYS:
                self._open = {k: v for k, v in self._open.items() if now - v[0] < self.window}
            started, unwritten = self._open.get((kind, key), (None, 0))
            if started is not None and now - started < self.window:
                self._open[(kind, key)] = (started, unwritten + 1)
                return False
            self._open[(kind, key)] = (now, 0)
        with self.store.transaction() as session:
            audit.append(session, kind, {**data, "refusals": unwritten + 1}, actor=actor, now=now)
        return True
