"""Liveness and readiness: no key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.erp_sync import index_freshness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def freshness(request: Request) -> dict[str, Any]:
    """How current the serving index is: its age, the watermark per entity type, rows applied
    since training and, with `canon serve --sync`, the sync's lag and last error."""
    settings = request.app.state.settings
    found: dict[str, Any] = index_freshness(settings.workdir)
    erp_sync = getattr(request.app.state, "erp_sync", None)
    found["sync"] = "on" if erp_sync is not None else "off"
    if erp_sync is not None:
        found.update(erp_sync.freshness())
    return found


@router.get("/readyz", summary="The store answers and a trained model is loaded")
def readyz(request: Request) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with request.app.state.gateway.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["store"] = "ok"
    except SQLAlchemyError as e:
        checks["store"] = f"unavailable: {type(e).__name__}"
    resolver = request.app.state.resolver
    checks["resolver"] = (
        f"ok ({resolver.model_version})"
        if resolver is not None
        else f"not loaded: {request.app.state.resolver_error}"
    )
    checks["catalog"] = f"ok ({len(request.app.state.gateway.catalog.actions)} actions)"
    ready = all(str(v).startswith("ok") for v in checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    body["freshness"] = freshness(request)
    return JSONResponse(body, status_code=200 if ready else 503)
