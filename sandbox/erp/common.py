"""What the sandbox's three faces share: credentials, fault handling around calls, error bodies.

Every call goes through `perform`: the idempotency key is marked in flight (a second request
with it while the first is still being processed gets 409), fault rules fire before or after
the write, the write runs once per key, and a refusal becomes the face's own error body.
With a request timeout (`request_timeout_seconds`), as every real ERP server has, a request
that has not committed its write that long after it arrived is abandoned: a held request is
answered 503 and a write past the deadline is rolled back (504), so that nothing a client sent
can land later than that.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.erp.backend import Call, FaultBook, FaultRule, SandboxDatabase, SandboxRefusal, Tx
from sandbox.erp.backend.faults import DEFAULT_HOLD_SECONDS

ErrorBody = Callable[[int, str], Any]
Apply = Callable[[Tx], tuple[int, Any, dict[str, Any]]]


@dataclass
class Credentials:
    """The one user of the sandbox, its OAuth2 tokens (Protheus) and CSRF sessions (SAP)."""

    username: str
    password: str
    tokens: set[str] = field(default_factory=set)
    csrf: dict[str, str] = field(default_factory=dict)  # session cookie -> token
    lock: threading.Lock = field(default_factory=threading.Lock)

    def basic_ok(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.username) and secrets.compare_digest(
            password, self.password
        )

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
        return token

    def bearer_ok(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("bearer "):
            return False
        with self.lock:
            return header[7:].strip() in self.tokens


@dataclass
class Sandbox:
    """The sandbox app's state."""

    db: SandboxDatabase
    faults: FaultBook
    credentials: Credentials
    #: A stock ERP: none of Canon's custom services, and `Idempotency-Key` ignored.
    stock: bool = False
    #: The longest a request may take to commit after it arrived; None: unbounded.
    request_timeout_seconds: float | None = None
    #: The Protheus face's filial width in primary keys (the installation's; often 8).
    protheus_filial_width: int = 2


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


class DroppedResponse(Response):
    """Starts a response and drops the connection before its body is complete."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
        raise ConnectionResetError("sandbox ERP: connection reset (fault injection)")


def request_hash(request: Request, body: Any) -> str:
    """What makes two requests the same request: method, path, query and JSON body."""
    text = json.dumps(
        [request.method, request.url.path, str(request.url.query), body],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def arrived(request: Request) -> float:
    """When the request reached the sandbox (`time.monotonic()`, stamped by `StampArrival`)."""
    stamp = request.scope.get("state", {}).get("arrived")
    return float(stamp) if stamp is not None else time.monotonic()


class StampArrival:
    """ASGI middleware: note when each request arrived, before it waits for a worker thread."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["arrived"] = time.monotonic()
        await self.app(scope, receive, send)


def _hold_seconds(rule: FaultRule, deadline: float | None) -> float:
    seconds = rule.seconds or DEFAULT_HOLD_SECONDS
    if deadline is None:
        return seconds
    return max(0.001, min(seconds, deadline - time.monotonic()))


def _fault_before(
    sandbox: Sandbox, call: Call, rule: FaultRule, error: ErrorBody, deadline: float | None
) -> Response | None:
    if rule.fault == "latency":
        time.sleep(rule.seconds)
    elif rule.fault == "error":
        return JSONResponse(error(rule.status, "injected fault"), status_code=rule.status)
    elif rule.fault == "reset":
        return DroppedResponse()
    elif rule.fault == "block":
        if sandbox.faults.hold(call, "before", _hold_seconds(rule, deadline)) == "abort":
            return JSONResponse(error(503, "held request aborted"), status_code=503)
    return None


def _fault_after(
    sandbox: Sandbox, call: Call, rule: FaultRule, error: ErrorBody
) -> Response | None:
    if rule.fault == "latency":
        time.sleep(rule.seconds)
    elif rule.fault == "timeout_after_commit":
        time.sleep(rule.seconds or 30.0)
    elif rule.fault == "error":
        return JSONResponse(error(rule.status, "injected fault"), status_code=rule.status)
    elif rule.fault == "reset":
        return DroppedResponse()
    elif rule.fault == "block":
        if sandbox.faults.hold(call, "after", rule.seconds) == "abort":
            return DroppedResponse()
    return None


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if status == 204 or body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def perform(
    request: Request,
    *,
    face: str,
    operation: str,
    error: ErrorBody,
    apply: Apply | None = None,
    body: Any = None,
    read: Callable[[], tuple[int, Any, dict[str, str]]] | None = None,
) -> Response:
    """Run one call (a write through `apply`, or a `read`) with the faults that fire for it."""
    sandbox = sandbox_of(request)
    limit = sandbox.request_timeout_seconds
    deadline = None if limit is None else arrived(request) + limit
    sent = request.headers.get("Idempotency-Key") if apply is not None else None
    key = None if sandbox.stock else sent  # a stock ERP neither keeps nor honours the key
    call = Call(face, operation, request.method, request.url.path, sent)  # faults still see it
    if not sandbox.faults.enter(key):
        message = f"a request with Idempotency-Key {key} is still being processed"
        return JSONResponse(error(409, message), status_code=409)
    try:
        try:
            rule = sandbox.faults.fire(call, request.headers.get("X-Sandbox-Fault"))
        except ValueError as e:
            return JSONResponse(error(400, str(e)), status_code=400)
        late = rule is not None and (rule.stage == "after" or rule.fault == "timeout_after_commit")
        if rule is not None and not late:
            early = _fault_before(sandbox, call, rule, error, deadline)
            if early is not None:
                return early
        headers: dict[str, str] = {}
        if apply is not None:
            written = sandbox.db.write(
                key=key,
                face=face,
                operation=operation,
                request_hash=request_hash(request, body),
                apply=apply,
                unkeyed=sent if key is None else None,
                deadline=deadline,
            )
            status, payload = written.status, written.body
        else:
            assert read is not None
            status, payload, headers = read()
        if rule is not None and late:
            dropped = _fault_after(sandbox, call, rule, error)
            if dropped is not None:
                return dropped
        return _json(status, payload, headers)
    except SandboxRefusal as e:
        return JSONResponse(error(e.status, e.message), status_code=e.status)
    finally:
        sandbox.faults.leave(key)


def journal_lookup(request: Request, key: str) -> dict[str, Any]:
    """The journal entry of a key, as every face's operation lookup returns it (404 if none)."""
    entry = sandbox_of(request).db.journal_entry(key)
    if entry is None:
        raise SandboxRefusal(404, f"no operation with Idempotency-Key {key}")
    return {
        "idempotencyKey": entry["idempotency_key"],
        "operation": entry["operation"],
        "face": entry["face"],
        "status": entry["status"],
        "response": entry["response"],
        "previous": entry["detail"].get("previous", {}),
        "at": entry["at"],
    }
