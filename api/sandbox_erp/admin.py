"""The sandbox's admin API (`/_sandbox`): fault rules, held requests, journal, raw rows.

Unauthenticated on purpose: the sandbox is a staging ERP bound to 127.0.0.1 by default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict

from api.sandbox_erp.common import sandbox_of
from gateway.erp.sandbox import FaultRule

router = APIRouter(prefix="/_sandbox", tags=["sandbox: admin"])


class Release(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["proceed", "abort"] = "proceed"


@router.post("/faults", status_code=201, summary="Add a fault rule")
def add_fault(request: Request, rule: FaultRule) -> dict[str, int]:
    return {"id": sandbox_of(request).faults.add(rule)}


@router.get("/faults", summary="Fault rules, with how often each matched and fired")
def faults(request: Request) -> list[dict[str, Any]]:
    return sandbox_of(request).faults.rules()


@router.delete("/faults", status_code=204, summary="Remove every fault rule")
def clear_faults(request: Request) -> None:
    sandbox_of(request).faults.clear()


@router.get("/holds", summary="Requests held by `block` faults")
def holds(request: Request) -> list[dict[str, Any]]:
    return sandbox_of(request).faults.holds()


@router.post("/holds/release", summary="Release every held request")
def release_all(request: Request, body: Annotated[Release, Body()]) -> dict[str, int]:
    return {"released": sandbox_of(request).faults.release(None, body.decision)}


@router.post("/holds/{hold_id}/release", summary="Release one held request")
def release(request: Request, hold_id: int, body: Annotated[Release, Body()]) -> dict[str, int]:
    return {"released": sandbox_of(request).faults.release(hold_id, body.decision)}


@router.get("/journal", summary="Committed writes by idempotency key, in order")
def journal(request: Request) -> list[dict[str, Any]]:
    return sandbox_of(request).db.journal()


@router.get("/calls", summary="Calls seen per operation")
def calls(request: Request) -> dict[str, int]:
    return dict(sandbox_of(request).faults.calls)


@router.get("/rows/{table}", summary="Raw rows of a table, soft-deleted ones included")
def rows(
    request: Request,
    table: str,
    field: Annotated[list[str] | None, Query(description="FIELD=value filters")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    where = dict(f.split("=", 1) for f in field or [] if "=" in f)
    return sandbox_of(request).db.rows(table.upper(), where, live_only=False, limit=limit)
