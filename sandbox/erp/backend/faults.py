"""Fault injection of the sandbox ERP: rules, held requests, and keys in flight.

A rule matches calls (by face, operation, method, path pattern or idempotency key) and fires
on the `nth` matching call and the `times - 1` after it (`times: null`: on every call from the
`nth` on). What it does, at `stage` `before` the write or `after` it committed:

- `latency`: wait `seconds`, then carry on;
- `error`: answer `status` (before: nothing was written; after: the write stays committed);
- `reset`: drop the connection without a complete response;
- `timeout_after_commit`: commit, then hold the response `seconds` (a client times out);
- `block`: hold the request until released through the admin API (or `seconds` pass), then
  `proceed` or `abort` as the release says (what crash tests use to kill a client mid-call).

The same, for one request, from the `X-Sandbox-Fault` header: `kind[=value][;after]`, e.g.
`error=503`, `reset;after`, `latency=0.5`, `timeout_after_commit=2`.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

FaultKind = Literal["latency", "error", "reset", "timeout_after_commit", "block"]
Stage = Literal["before", "after"]
DEFAULT_HOLD_SECONDS = 30.0


class FaultRule(BaseModel):
    """One fault to inject into matching calls."""

    model_config = ConfigDict(extra="forbid")

    fault: FaultKind
    face: str | None = Field(default=None, description="protheus | sap | oracle")
    operation: str | None = Field(default=None, description="e.g. supplier.create_record")
    method: str | None = None
    path: str | None = Field(default=None, description="regular expression on the URL path")
    key: str | None = Field(default=None, description="idempotency key; a trailing * is a prefix")
    stage: Stage = "before"
    status: int = Field(default=503, ge=400, le=599)
    seconds: float = Field(default=0.0, ge=0.0, le=600.0)
    nth: int = Field(default=1, ge=1)
    times: int | None = Field(default=1, ge=1)


@dataclass(frozen=True)
class Call:
    """What the sandbox knows of a call when it decides on faults."""

    face: str
    operation: str
    method: str
    path: str
    key: str | None


@dataclass
class _Armed:
    id: int
    rule: FaultRule
    seen: int = 0
    fired: int = 0

    def matches(self, call: Call) -> bool:
        r = self.rule
        if r.face and r.face != call.face:
            return False
        if r.operation and r.operation != call.operation:
            return False
        if r.method and r.method.upper() != call.method.upper():
            return False
        if r.path and not re.search(r.path, call.path):
            return False
        if r.key:
            if call.key is None:
                return False
            if r.key.endswith("*"):
                return call.key.startswith(r.key[:-1])
            return call.key == r.key
        return True


@dataclass
class Hold:
    """A request held by a `block` fault."""

    id: int
    call: Call
    stage: Stage
    released: threading.Event = field(default_factory=threading.Event)
    decision: str = "proceed"


def parse_header(value: str) -> FaultRule:
    """A one-request rule from `X-Sandbox-Fault` (`kind[=value][;after]`); ValueError if bad."""
    head, _, stage = value.strip().partition(";")
    kind, _, arg = head.strip().partition("=")
    data: dict[str, object] = {"fault": kind.strip().replace("-", "_")}
    if stage.strip():
        data["stage"] = stage.strip()
    if arg.strip():
        data["status" if data["fault"] == "error" else "seconds"] = float(arg)
    if data["fault"] == "error" and "status" in data:
        data["status"] = int(float(str(data["status"])))
    try:
        return FaultRule.model_validate(data)
    except ValidationError as e:
        raise ValueError(f"X-Sandbox-Fault {value!r}: {e.errors()[0]['msg']}") from e


class FaultBook:
    """The sandbox's fault rules, held requests and in-flight idempotency keys (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._rules: list[_Armed] = []
        self._holds: dict[int, Hold] = {}
        self._inflight: set[str] = set()
        self.calls: dict[str, int] = {}

    # -- rules ---------------------------------------------------------------------------------
    def add(self, rule: FaultRule) -> int:
        with self._lock:
            armed = _Armed(next(self._ids), rule)
            self._rules.append(armed)
            return armed.id

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {"id": a.id, **a.rule.model_dump(), "seen": a.seen, "fired": a.fired}
                for a in self._rules
            ]

    def fire(self, call: Call, header: str | None = None) -> FaultRule | None:
        """Count the call against every rule; the first rule that fires for it, if any."""
        with self._lock:
            self.calls[call.operation] = self.calls.get(call.operation, 0) + 1
            fired: FaultRule | None = None
            for armed in self._rules:
                if not armed.matches(call):
                    continue
                armed.seen += 1
                rule = armed.rule
                due = armed.seen >= rule.nth and (rule.times is None or armed.fired < rule.times)
                if due and fired is None:
                    armed.fired += 1
                    fired = rule
        if header:
            return parse_header(header)
        return fired

    # -- held requests ---------------------------------------------------------------------------
    def hold(self, call: Call, stage: Stage, seconds: float) -> str:
        """Hold the calling thread until released (or `seconds`); `proceed` or `abort`."""
        with self._lock:
            held = Hold(next(self._ids), call, stage)
            self._holds[held.id] = held
        released = held.released.wait(seconds or DEFAULT_HOLD_SECONDS)
        with self._lock:
            self._holds.pop(held.id, None)
        return held.decision if released else "abort"

    def holds(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {
                    "id": h.id,
                    "stage": h.stage,
                    "face": h.call.face,
                    "operation": h.call.operation,
                    "method": h.call.method,
                    "path": h.call.path,
                    "key": h.call.key,
                }
                for h in self._holds.values()
            ]

    def release(self, hold_id: int | None = None, decision: str = "proceed") -> int:
        """Release one held request (or all); how many were released."""
        with self._lock:
            chosen = [h for h in self._holds.values() if hold_id in (None, h.id)]
            for held in chosen:
                held.decision = decision
                held.released.set()
            return len(chosen)

    # -- keys in flight --------------------------------------------------------------------------
    def enter(self, key: str | None) -> bool:
        """Mark a key in flight; False when another request with it is still being processed."""
        if key is None:
            return True
        with self._lock:
            if key in self._inflight:
                return False
            self._inflight.add(key)
            return True

    def leave(self, key: str | None) -> None:
        if key is not None:
            with self._lock:
                self._inflight.discard(key)
