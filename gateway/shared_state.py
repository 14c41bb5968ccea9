"""State that every worker and replica of one deployment shares: rate-limit buckets and sign-in
failure counts.

Each backend offers one operation, `update(keys, apply, ttl_seconds)`: read the keys' current
values (JSON objects; None when absent or expired), let `apply` compute their new values (None
deletes) and a result, and write them back atomically, so that two processes updating one key
never both read the old value. `apply` may run more than once (a lost race is retried), so it
must not have side effects.

- `MemoryState`: one process's dictionary (tests, and tools that serve alone).
- `StoreState`: the store's `shared_state` table, on SQLite (writes are serialised by BEGIN
  IMMEDIATE) or PostgreSQL (rows locked FOR UPDATE; a concurrent first insert is retried). The
  default of `canon serve`: workers and replicas behind a load balancer share one store anyway.
  A counter is not worth a disk flush per request: its commits do not wait for one (SQLite:
  its own connections with `synchronous=NORMAL`, still atomic in WAL mode; PostgreSQL:
  `synchronous_commit` off for these transactions only). A crash may forget the last moments of
  counting, never the audit log or an action, whose commits are unchanged.
- `RedisState` (`gateway.shared_redis`): Redis, optimistic WATCH/MULTI transactions, when
  `CANON_REDIS_URL` is set: no write to the store per request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, delete, event, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import SharedStateUnavailable
from gateway.store import SharedValue, Store, create_store_engine

T = TypeVar("T")
Value = dict[str, Any]
Current = Mapping[str, Value | None]
#: Given the keys' current values, their new values (only the keys to change) and a result.
Apply = Callable[[Current], tuple[dict[str, Value | None], T]]

MAX_MEMORY_KEYS = 10_000
PURGE_EVERY = 500
RETRIES = 8


class SharedState(Protocol):
    """Where rate limits and sign-in throttles keep their counters."""

    #: `memory`, `store` or `redis`: logged at start-up.
    kind: str

    def update(self, keys: Sequence[str], apply: Apply[T], ttl_seconds: float) -> T:
        """Atomically read `keys`, apply, and write the new values (kept `ttl_seconds`)."""
        ...

    def close(self) -> None:
        """Release connections (the state is gone only for MemoryState)."""
        ...


class MemoryState:
    """One process's shared state: a dictionary under a lock, bounded in size."""

    kind = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._values: dict[str, tuple[Value, float]] = {}
        self._lock = threading.Lock()

    def update(self, keys: Sequence[str], apply: Apply[T], ttl_seconds: float) -> T:
        now = self.clock()
        with self._lock:
            if len(self._values) > MAX_MEMORY_KEYS:
                self._values = {k: v for k, v in self._values.items() if v[1] > now}
                if len(self._values) > MAX_MEMORY_KEYS:
                    self._values.clear()  # bounded memory above all
            current: dict[str, Value | None] = {}
            for key in keys:
                found = self._values.get(key)
                current[key] = found[0] if found is not None and found[1] > now else None
            new, result = apply(current)
            for key, value in new.items():
                if value is None:
                    self._values.pop(key, None)
                else:
                    self._values[key] = (value, now + ttl_seconds)
            return result

    def close(self) -> None:
        return None


#: PostgreSQL's deadlock and serialisation failures: the transaction may simply run again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


class StoreState:
    """Shared state in the store's `shared_state` table (see the module docstring)."""

    kind = "store"

    def __init__(self, store: Store, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self._updates = 0
        self._postgres = store.engine.dialect.name == "postgresql"
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] = store.sessions
        in_memory = store.engine.url.database in (None, "", ":memory:")  # one connection's own
        if store.engine.dialect.name == "sqlite" and not in_memory:
            self._engine = create_store_engine(store.engine.url.render_as_string(False))

            @event.listens_for(self._engine, "connect")
            def _no_flush_per_commit(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute("PRAGMA synchronous=NORMAL")

            self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def close(self) -> None:
        """Release the state's own connections (the store's are the store's)."""
        if self._engine is not None:
            self._engine.dispose()

    def update(self, keys: Sequence[str], apply: Apply[T], ttl_seconds: float) -> T:
        for attempt in range(RETRIES):
            try:
                return self._update(keys, apply, ttl_seconds)
            except IntegrityError:  # another process inserted one of the keys first: read again
                time.sleep(0.001 * (attempt + 1))
            except OperationalError as e:
                if getattr(e.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
                    time.sleep(0.001 * (attempt + 1))  # PostgreSQL chose this one: run it again
                    continue
                raise SharedStateUnavailable(f"the store's shared state is unavailable: {e}") from e
        raise SharedStateUnavailable("the store's shared state stayed contended; try again")

    def _update(self, keys: Sequence[str], apply: Apply[T], ttl_seconds: float) -> T:
        unique = sorted(set(keys))  # one lock order for every caller: no deadlock
        with self._sessions.begin() as session:
            if self._postgres:
                session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            now = self.clock()
            query = (
                select(SharedValue)
                .where(SharedValue.key.in_(unique))
                .order_by(SharedValue.key)  # rows are locked in the order they are read
                .with_for_update()
            )
            rows = {row.key: row for row in session.scalars(query)}
            current: dict[str, Value | None] = {}
            for key in keys:
                row = rows.get(key)
                current[key] = json.loads(row.value) if row and row.expires_at > now else None
            new, result = apply(current)
            expires_at = now + timedelta(seconds=ttl_seconds)
            for key, value in sorted(new.items()):  # new keys' index entries in one order too
                row = rows.get(key)
                if value is None:
                    if row is not None:
                        session.delete(row)
                elif row is None:
                    session.add(SharedValue(key=key, value=_dumps(value), expires_at=expires_at))
                else:
                    row.value, row.expires_at = _dumps(value), expires_at
            session.flush()
            self._updates += 1
            if self._updates % PURGE_EVERY == 0:
                session.execute(delete(SharedValue).where(SharedValue.expires_at <= now))
            return result


def _dumps(value: Value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def shared_state(
    store: Store, redis_url: str | None = None, redis_prefix: str = "canon:"
) -> SharedState:
    """Redis at `redis_url` (keys under `redis_prefix`) when one is given, else the store."""
    if redis_url:
        from gateway.shared_redis import RedisState

        return RedisState(redis_url, prefix=redis_prefix)
    return StoreState(store)
