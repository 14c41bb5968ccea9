"""Errors as `application/problem+json` (RFC 9457): one table from domain error to HTTP status.

Every refusal of an authenticated caller is audited here, unless the gateway already did.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gateway import Gateway, GatewayError
from gateway import errors as g
from gateway.keys import Principal
from gateway.resolutions import RecordGone, ResolutionRefused
from gateway.throttle import Throttled
from resolver import ModelError, QueryError, ResolverError

log = logging.getLogger("canon.api")
PROBLEM_JSON = "application/problem+json"


class RequestTooLarge(HTTPException):
    """The request body exceeds the configured limit.

    An HTTPException so that FastAPI's body parsing lets it through instead of turning it into
    a 400; its own handler (found first along the MRO) renders and audits it.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")
        self.field = "body"

    def __str__(self) -> str:
        return str(self.detail)


class InvalidText(HTTPException):
    """A request's text is not valid Unicode (a lone surrogate); `field` names where. An
    HTTPException, like RequestTooLarge, so that FastAPI's body parsing lets it through."""

    def __init__(self, field: str) -> None:
        # The path itself may hold the bad key: shown escaped (`context.\\udfff`), never raw.
        field = field.encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(422, f"{field}: not valid Unicode text (a lone surrogate such as \\ud800)")
        self.field = field

    def __str__(self) -> str:
        return str(self.detail)


#: Domain error -> (HTTP status, problem slug). Looked up along the exception's MRO.
PROBLEMS: dict[type[Exception], tuple[int, str]] = {
    g.NotAuthenticated: (401, "not-authenticated"),
    g.Forbidden: (403, "forbidden"),
    g.UnknownAction: (422, "unknown-action"),
    g.ActionNotOffered: (422, "action-not-offered"),
    g.InvalidParams: (422, "invalid-params"),
    g.TokenMissing: (422, "token-missing"),
    g.TokenMalformed: (422, "token-malformed"),
    g.TokenForged: (403, "token-forged"),
    g.TokenExpired: (403, "token-expired"),
    g.TokenRotated: (403, "token-rotated"),
    g.TokenNotYours: (403, "token-not-yours"),
    g.TokenUsed: (409, "token-used"),
    g.WrongEntityType: (422, "wrong-entity-type"),
    g.WrongTokenKind: (422, "wrong-token-kind"),
    g.IdentityMismatch: (422, "identity-mismatch"),
    g.IdempotencyConflict: (409, "idempotency-conflict"),
    g.ActionNotFound: (404, "action-not-found"),
    g.InvalidKeyRequest: (422, "invalid-key-request"),
    g.PromotionRefused: (409, "promotion-refused"),
    RecordGone: (409, "record-gone"),
    ResolutionRefused: (409, "resolution-refused"),
    g.ApprovalError: (409, "approval-refused"),
    g.AlreadyReverted: (409, "already-reverted"),
    g.NotRevertible: (409, "not-revertible"),
    g.RevertOfRevert: (422, "revert-of-revert"),
    g.ErpError: (502, "erp-error"),
    g.CatalogError: (500, "catalog-error"),
    g.StoreError: (503, "store-unavailable"),
    g.SecretError: (503, "secret-unavailable"),
    Throttled: (429, "throttled"),
    GatewayError: (400, "bad-request"),
    QueryError: (422, "invalid-query"),
    ModelError: (503, "no-model"),
    ResolverError: (500, "resolver-error"),
    RequestTooLarge: (413, "body-too-large"),
    InvalidText: (422, "invalid-text"),
}


def status_of(error: Exception) -> tuple[int, str]:
    """The HTTP status and problem slug of a domain error."""
    for cls in type(error).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return 500, "internal-error"


def problem(
    request: Request, status: int, slug: str, detail: str, field: str | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response naming the offending field when there is one."""
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": slug.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if field is not None:
        body["field"] = field
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _principal(request: Request, gateway: Gateway) -> Principal | None:
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal):
        return found
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        return None
    try:
        return gateway.authenticate(key.strip())
    except GatewayError:
        return None


def _audit(request: Request, error: Exception, status: int) -> None:
    if status in (401, 500) or getattr(error, "audited", False):
        return
    gateway: Gateway = request.app.state.gateway
    principal = _principal(request, gateway)
    detail = {"method": request.method, "path": request.url.path, "status": status}
    try:
        gateway.record_refusal(principal, "request.refused", error, detail)
    except GatewayError:
        log.exception("could not audit a refused request")


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts) or "body"


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    status, slug = status_of(exc)
    if status >= 500:
        log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
    _audit(request, exc, status)
    return problem(request, status, slug, str(exc), getattr(exc, "field", None))


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field_of(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    if isinstance(exc.body, bytes | str) or exc.body is None:
        errors = errors or [{"field": "body", "message": "not a JSON object"}]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    _audit(request, exc, 422)
    return problem(request, 422, "invalid-request", summary, errors[0]["field"], errors=errors)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem(request, exc.status_code, slug, str(exc.detail))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return problem(request, 500, "internal-error", "an unexpected error occurred; see the logs")


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""
    for cls in PROBLEMS:
        app.add_exception_handler(cls, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
