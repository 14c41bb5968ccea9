"""The sandbox's admin API (`/_sandbox`): fault rules, held requests, journal, raw rows.

Unauthenticated on purpose: the sandbox is a staging ERP bound to 127.0.0.1 by default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict

from sandbox.erp.backend import RECNO, FaultRule, SandboxRefusal, Tx
from sandbox.erp.backend.tables import COLUMNS
from sandbox.erp.common import sandbox_of

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


@router.patch(
    "/rows/{table}/{recno}",
    summary="Change fields of a row directly, as another user or system of the ERP would",
)
def change_row(
    request: Request, table: str, recno: int, body: Annotated[dict[str, str], Body()]
) -> dict[str, Any]:
    """No idempotency key, no journal entry: a change Canon did not make (the previous values
    of the changed fields are answered)."""
    table = table.upper()
    known = COLUMNS.get(table)
    if known is None:
        raise SandboxRefusal(404, f"{table}: no such table")
    unknown = sorted(set(body) - set(known) - {"D_E_L_E_T_"})
    if unknown or not body:
        raise SandboxRefusal(400, f"{table}: field {unknown[0]} does not exist" if unknown
                             else "no field to change")  # fmt: skip

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        if tx.find(table, {RECNO: str(recno)}, live=False) is None:
            raise SandboxRefusal(404, f"{table}: no row {recno}")
        return 200, {"previous": tx.update(table, recno, dict(body))}, {}

    written = sandbox_of(request).db.write(
        key=None, face="admin", operation="row.change", request_hash="", apply=apply
    )
    return dict(written.body)
