"""Shared state in Redis (`CANON_REDIS_URL`): see `gateway.shared_state`.

Each update WATCHes its keys, reads them, and writes the new values in a MULTI/EXEC transaction
that Redis refuses if another client changed one of the keys meanwhile; the update is then
retried. Values are JSON strings under `canon:<key>` with an expiry, so idle buckets and old
failure counts leave Redis by themselves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import redis
from redis.exceptions import RedisError, WatchError

from gateway.errors import SharedStateUnavailable
from gateway.shared_state import RETRIES, Apply, T, Value

PREFIX = "canon:"


class RedisState:
    """Shared state in Redis; the URL may carry a password, so it is never logged."""

    kind = "redis"

    def __init__(self, url: str, prefix: str = PREFIX, timeout_seconds: float = 2.0) -> None:
        self.prefix = prefix
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )

    def update(self, keys: Sequence[str], apply: Apply[T], ttl_seconds: float) -> T:
        names = [self.prefix + key for key in keys]
        ttl_ms = max(1, int(ttl_seconds * 1000))
        try:
            with self.client.pipeline() as pipe:
                for attempt in range(RETRIES * 4):
                    try:
                        pipe.watch(*names)  # type: ignore[no-untyped-call]
                        raw = pipe.mget(names)
                        current: dict[str, Value | None] = {
                            key: json.loads(found) if found is not None else None
                            for key, found in zip(keys, raw, strict=True)
                        }
                        new, result = apply(current)
                        pipe.multi()
                        for key, value in new.items():
                            if value is None:
                                pipe.delete(self.prefix + key)
                            else:
                                pipe.set(self.prefix + key, json.dumps(value), px=ttl_ms)
                        pipe.execute()
                        return result
                    except WatchError:  # another client changed a key: read again
                        time.sleep(0.0005 * min(attempt + 1, 10))
        except RedisError as e:
            raise SharedStateUnavailable(f"the shared state in Redis is unavailable: {e}") from e
        raise SharedStateUnavailable("the shared state in Redis stayed contended; try again")

    def ping(self) -> bool:
        """Whether Redis answers."""
        try:
            return bool(self.client.ping())
        except RedisError:
            return False

    def close(self) -> None:
        self.client.close()
