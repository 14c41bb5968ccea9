"""Per-key rate limits: token buckets by role, and by action type for proposals.

Every authenticated call, an HTTP request or an MCP tool call, takes one token from its key's
role bucket (`agent`, `approver`, `steward`, `admin`: rate and burst from settings); proposing
an action also takes one from the bucket of the first configured pattern matching its name
(`supplier.update_bank_account`, `supplier.*`, `*`), per key. A call finds both tokens or takes
neither. Refused: HTTP 429 with `Retry-After`, or an MCP error with the same meaning. Both doors
share the limiter, so a key cannot double its rate by switching door, and the buckets live in the
shared state (`gateway.shared_state`: the store, or Redis with `CANON_REDIS_URL`), so that every
worker and replica draws from the same ones: N workers do not make N times the rate.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from api.deps import PrincipalDep
from api.errors import problem
from api.settings import Rate, Settings
from gateway import Gateway, Principal, audit
from gateway.shared_state import Current, MemoryState, SharedState, Value, shared_state
from gateway.store import Store

log = logging.getLogger("canon.api")

#: The MCP error code of a refusal by rate limit (JSON-RPC's implementation-defined range).
MCP_RATE_LIMITED = -32029


class RateLimited(Exception):
    """A call refused by a rate limit; `retry_after` in whole seconds (at least 1)."""

    def __init__(self, bucket: str, retry_after: int, first_refusal: bool = False) -> None:
        super().__init__(f"rate limit of the {bucket} bucket reached; retry in {retry_after} s")
        self.bucket = bucket
        self.retry_after = retry_after
        #: The first refusal since the key's last admitted call: the one worth an audit entry.
        self.first_refusal = first_refusal
        self.field: str | None = None


class RateLimiter:
    """Token buckets per (key, role) and (key, action pattern), kept in `state` (default: this
    process's memory). The clock is wall time: processes sharing the buckets share it."""

    def __init__(
        self,
        by_role: Mapping[str, Rate],
        by_action: Mapping[str, Rate] | None = None,
        clock: Callable[[], float] = time.time,
        by_source: Rate | None = None,
        state: SharedState | None = None,
    ) -> None:
        self.by_role, self.by_action = dict(by_role), dict(by_action or {})
        self.by_source = by_source
        self.clock = clock
        self.state: SharedState = state or MemoryState()

    def action_pattern(self, action: str) -> str | None:
        """The configured pattern governing `action`: its exact name first, then the first match."""
        if action in self.by_action:
            return action
        return next((p for p in self.by_action if fnmatchcase(action, p)), None)

    def _limits(self, principal: Principal, action: str | None) -> list[tuple[str, Rate]]:
        limits: list[tuple[str, Rate]] = []
        role_rate = self.by_role.get(principal.role.value)
        if role_rate is not None:
            limits.append((f"role:{principal.role.value}", role_rate))
        pattern = self.action_pattern(action) if action else None
        if pattern is not None:
            limits.append((f"action:{pattern}", self.by_action[pattern]))
        return limits

    def check(self, principal: Principal, action: str | None = None) -> None:
        """Take the call's tokens, or raise RateLimited (taking none)."""
        self._take(principal.key_id, self._limits(principal, action))

    def check_source(self, address: str) -> None:
        """Take a token of a source address's bucket (doors without a key), or RateLimited."""
        if self.by_source is not None:
            self._take(f"ip:{address}", [("source", self.by_source)])

    def _take(self, owner: str, limits: list[tuple[str, Rate]]) -> None:
        if not limits:
            return
        now = self.clock()
        keys = [f"rate:{owner}:{name}" for name, _ in limits]
        # Kept until a bucket would have refilled anyway (absent means full), plus a margin.
        ttl = max(rate.burst / rate.per_second for _, rate in limits) + 60.0

        def apply(current: Current) -> tuple[dict[str, Value | None], RateLimited | None]:
            buckets: list[tuple[str, str, Rate, Value]] = []
            for key, (name, rate) in zip(keys, limits, strict=True):
                found = current[key]
                tokens = float(rate.burst)
                if found is not None:  # never negative elapsed time: replicas' clocks differ
                    elapsed = max(0.0, now - float(found["updated"]))
                    tokens = min(tokens, float(found["tokens"]) + elapsed * rate.per_second)
                throttled = bool(found and found.get("throttled"))
                buckets.append((key, name, rate, {"tokens": tokens, "updated": now,
                                                  "throttled": throttled}))  # fmt: skip
            short = [b for b in buckets if b[3]["tokens"] < 1.0]
            if short:
                key, name, rate, bucket = max(
                    short, key=lambda b: (1.0 - b[3]["tokens"]) / b[2].per_second
                )
                wait = (1.0 - bucket["tokens"]) / rate.per_second
                refusal = RateLimited(name, max(1, math.ceil(wait)),
                                      first_refusal=not bucket["throttled"])  # fmt: skip
                bucket["throttled"] = True
                return {k: b for k, _, _, b in buckets}, refusal
            for _key, _name, _rate, bucket in buckets:
                bucket["tokens"] -= 1.0
                bucket["throttled"] = False
            return {k: b for k, _, _, b in buckets}, None

        refusal = self.state.update(keys, apply, ttl)
        if refusal is not None:
            raise refusal


def shared_state_from(settings: Settings, store: Store) -> SharedState:
    """Where rate limits and sign-in throttles count: Redis if `redis_url` is set, else the
    store; the choice is logged (never the URL: it may hold a password)."""
    url = settings.redis_url.get_secret_value() if settings.redis_url else None
    state = shared_state(store, url, settings.redis_key_prefix)
    log.info("rate limits and sign-in throttles shared through: %s", state.kind)
    return state


def limiter_from(settings: Settings, state: SharedState | None = None) -> RateLimiter:
    """The limiter the settings describe, its buckets in `state` (default: this process)."""
    return RateLimiter(settings.rate_limit_roles, settings.rate_limit_actions,
                       by_source=settings.rate_limit_anonymous, state=state)  # fmt: skip


def limiter_of(app: FastAPI) -> RateLimiter:
    """The app's limiter."""
    limiter: RateLimiter = app.state.rate_limiter
    return limiter


async def _action_of(request: Request) -> str | None:
    """The action a `POST /v1/actions` proposes (None when the body is not one)."""
    if request.method != "POST" or request.url.path != "/v1/actions":
        return None
    try:
        body: Any = await request.json()
    except ValueError:
        return None
    action = body.get("action") if isinstance(body, dict) else None
    return action if isinstance(action, str) else None


async def enforce(request: Request, principal: PrincipalDep) -> None:
    """Router dependency: the calling key's tokens for this request, or 429."""
    limiter = limiter_of(request.app)
    try:
        limiter.check(principal, await _action_of(request))
    except RateLimited as e:
        request.app.state.metrics.rate_limited.labels("http", e.bucket.partition(":")[0]).inc()
        if e.first_refusal:
            gateway: Gateway = request.app.state.gateway
            detail = {"method": request.method, "path": request.url.path, "bucket": e.bucket}
            gateway.record_refusal(principal, "request.rate_limited", e, detail)
        raise


async def enforce_source(request: Request) -> None:
    """Router dependency of the doors without an API key: the source address's token, or 429."""
    address = request.client.host if request.client else "unknown"
    try:
        limiter_of(request.app).check_source(address)
    except RateLimited as e:
        request.app.state.metrics.rate_limited.labels("http", "source").inc()
        if e.first_refusal:
            gateway: Gateway = request.app.state.gateway
            detail = {"method": request.method, "path": request.url.path, "source": address}
            with gateway.store.transaction() as session:
                audit.append(session, "request.rate_limited", detail, now=gateway.clock())
        raise


RateLimitDep = Depends(enforce)
SourceLimitDep = Depends(enforce_source)
RateLimitedDeps = Annotated[None, RateLimitDep]


async def _on_rate_limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    response = problem(request, 429, "rate-limited", str(exc), retry_after=exc.retry_after)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def install(app: FastAPI, limiter: RateLimiter) -> None:
    """Attach the limiter to the app and render its refusals as 429 problem+json."""
    app.state.rate_limiter = limiter
    app.add_exception_handler(RateLimited, _on_rate_limited)
