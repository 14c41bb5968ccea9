"""Structured JSON logs (structlog) with a request id per HTTP request and per MCP tool call.

Every log line is one JSON object on stderr (stdout stays free for `canon keys create` and the
MCP stdio transport). The request id is taken from a well-formed `X-Request-ID` header or made
here, is echoed in the response's `X-Request-ID`, bound to every line logged while the request
runs, and set in `gateway.audit.REQUEST_ID` so that the audit entries it causes carry it too.
API keys, resolution tokens, bearer credentials and IBANs are masked in every line as a last
line of defence: nothing should log them in the first place.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit import REQUEST_ID
from gateway.redact import mask_text

REQUEST_ID_HEADER = "x-request-id"
SCOPE_KEY = "canon.request_id"
_WELL_FORMED_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: API keys (`canon_<id>_<secret>`), resolution tokens (`ct1.<claims>.<sig>`), bearer values.
SECRET_PATTERNS = (
    re.compile(r"canon_[0-9a-f]{8,32}_[A-Za-z0-9_-]{8,}"),
    re.compile(r"ct1\.[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+"),
    re.compile(r"(?i)(bearer\s+)[^\s\"',]+"),
)
_HANDLER_NAME = "canon-json"

log = structlog.get_logger("canon.http")


def mask_secrets(text: str) -> str:
    """The text with anything shaped like a key, a token or a bearer credential masked."""
    text = SECRET_PATTERNS[0].sub("canon_[redacted]", text)
    text = SECRET_PATTERNS[1].sub("ct1.[redacted]", text)
    return SECRET_PATTERNS[2].sub(r"\1[redacted]", text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(mask_secrets(value))
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def _redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    return {key: _mask(value) for key, value in event_dict.items()}


#: HTTP client libraries whose per-request lines are noise at INFO (`configure_logging`).
QUIET_CLIENTS = ("httpx", "httpcore")


def configure_logging(level: str = "INFO") -> None:
    """Route structlog and the standard library's loggers (uvicorn's too) to JSON on stderr.

    Idempotent: calling it again replaces Canon's handler instead of adding a second one.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # httpx logs every request at INFO: with the ERP sync polling every 2 s that buries what
    # matters, so the ERP client's own lines show from WARNING unless DEBUG is asked for.
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in QUIET_CLIENTS:
        logging.getLogger(name).setLevel(quiet)


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


@contextmanager
def request_context(request_id: str, **fields: Any) -> Iterator[str]:
    """Bind the request id (and fields) to the logs and the audit entries made inside."""
    token = REQUEST_ID.set(request_id)
    with structlog.contextvars.bound_contextvars(request_id=request_id, **fields):
        try:
            yield request_id
        finally:
            REQUEST_ID.reset(token)


def _presented_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            text = value.decode("latin-1")
            return text if _WELL_FORMED_ID.match(text) else None
    return None


def route_of(scope: Scope) -> str:
    """The route template a request matched (a bounded label), once the app has routed it."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    # Unmatched paths are not labels: a scanner must not grow logs' or metrics' label sets.
    return "/mcp" if str(scope.get("path", "")).startswith("/mcp") else "unmatched"


def _key_id(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    principal = state.get("principal") if isinstance(state, dict) else None
    key_id = getattr(principal, "key_id", None) or scope.get("canon.key_id")
    return str(key_id) if key_id else None


class RequestLog:
    """ASGI middleware: a request id per request, and one JSON line when it is answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _presented_id(scope) or new_request_id()
        scope[SCOPE_KEY] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with request_context(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    route=route_of(scope),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    key_id=_key_id(scope),
                )
