"""Request body limits, enforced while the body streams in (chunked bodies included): a size
limit, no NUL character (PostgreSQL text cannot hold one, and no field of ours needs it), and no
text that is not Unicode: a JSON string escape of a lone surrogate (`"\\ud800"`) parses into a
Python string that no UTF-8 encoder, database or hash accepts, so it is refused (422 naming the
field) before any route reads it."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import InvalidText, RequestTooLarge

#: A NUL in a JSON body: the raw byte (invalid JSON anyway) or its escape.
NUL_MARKERS = (b"\x00", b"\\u0000")
_CARRY = 5


class NulInBody(HTTPException):
    """The body holds a NUL character; an HTTPException for the reason RequestTooLarge is one."""

    def __init__(self) -> None:
        super().__init__(422, "NUL characters (\\u0000) are not accepted in request bodies")
        self.field = "body"


async def _nul_in_url(scope: Scope, receive: Receive, send: Send) -> None:
    """Answered here: no route should see a NUL in its path or query."""
    body = {"type": "/problems/invalid-request", "title": "Invalid request", "status": 422,
            "detail": "NUL characters are not accepted in URLs", "instance": scope.get("path"),
            "field": "query"}  # fmt: skip
    response = JSONResponse(body, status_code=422, media_type="application/problem+json")
    await response(scope, receive, send)


def _bad_text(value: Any, path: str) -> str | None:
    """The dotted path of the first string (key or value) that is not valid Unicode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            found = _bad_text(key, here) or _bad_text(item, here)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _bad_text(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def check_text(body: bytes) -> None:
    """InvalidText naming the field if a JSON body holds a lone surrogate (cheap when none)."""
    if b"\\u" not in body and b"\\U" not in body:
        return  # no escape at all; raw surrogate bytes are invalid UTF-8, refused as bad JSON
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: the route refuses it as such
    field = _bad_text(parsed, "")
    if field is not None:
        raise InvalidText(field)


class BodySizeLimit:
    """ASGI middleware: the app sees RequestTooLarge once a body passes `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or b"%00" in scope.get("raw_path", b""):
            await _nul_in_url(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        too_large = declared is not None and declared.isdigit() and int(declared) > self.max_bytes
        seen, tail, body = 0, b"", b""
        is_json = b"json" in dict(scope.get("headers", [])).get(b"content-type", b"")

        async def limited() -> Message:
            nonlocal seen, tail, body
            if too_large:
                raise RequestTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)
                window, tail = tail + chunk, (tail + chunk)[-_CARRY:]
                if any(marker in window for marker in NUL_MARKERS):
                    raise NulInBody()
                if is_json:
                    body += chunk
                    if not message.get("more_body", False):
                        check_text(body)
            return message

        await self.app(scope, limited, send)
