"""The sandbox's Oracle Fusion Service face: `serviceRequests` under
`/crmRestApi/resources/11.13.18.05` (Oracle's "REST API for Oracle Fusion Cloud Service").

A service request is addressed by its `SrNumber`; `StatusCd` holds a code of the lookup
ORA_SVC_SR_STATUS_CD (`ORA_SVC_NEW`, `ORA_SVC_INPROGRESS`, `ORA_SVC_WAITING`,
`ORA_SVC_RESOLVED`, `ORA_SVC_CLOSED`) and `StatusTypeCd` the open/closed bucket it falls in.
Lists page with `limit` (≤ 500) / `offset`, as the Oracle face's other resources. The rows live
in the sandbox table `SERVICE_REQUEST` (seeded; no other face shows them).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from sandbox.erp.backend import RECNO, SandboxRefusal, Tx
from sandbox.erp.common import perform, sandbox_of
from sandbox.erp.oracle import (
    FACE,
    JsonBody,
    Limit,
    Offset,
    _collection,
    authorised,
    checked,
    error,
    narrower,
)

BASE = "/crmRestApi/resources/11.13.18.05"
STATUSES = ("ORA_SVC_NEW", "ORA_SVC_INPROGRESS", "ORA_SVC_WAITING", "ORA_SVC_RESOLVED",
            "ORA_SVC_CLOSED")  # fmt: skip
#: What the sandbox lets a PATCH change (Oracle allows more: `gateway.erp.oracle_schema`).
CHANGES = {"StatusCd", "Title"}

router = APIRouter(prefix=BASE, tags=["sandbox: Oracle"], dependencies=[Depends(authorised)])


def ticket_item(request: Request, row: dict[str, Any]) -> dict[str, Any]:
    status = row["STATUSCD"]
    closed = status in ("ORA_SVC_RESOLVED", "ORA_SVC_CLOSED")
    return {
        "SrId": int(row["SRID"]),
        "SrNumber": row["SRNUMBER"],
        "Title": row["TITLE"],
        "StatusCd": status,
        "StatusTypeCd": "ORA_SVC_CLOSED" if closed else "ORA_SVC_OPEN",
        "SeverityCd": row["SEVERITYCD"],
        "links": [{"rel": "self",
                   "href": f"{request.base_url}{BASE[1:]}/serviceRequests/{row['SRNUMBER']}"}],
    }  # fmt: skip


@router.get("/serviceRequests", summary="Service requests, by limit/offset")
def service_requests(request: Request, limit: Limit = 25, offset: Offset = 0) -> Response:
    rows = sandbox_of(request).db.rows("SERVICE_REQUEST", offset=offset, limit=limit + 1)
    items = [ticket_item(request, r) for r in rows[:limit]]
    body = _collection(request, items, limit, offset, len(rows) > limit)
    return perform(request, face=FACE, operation="ticket.list", error=error,
                   read=lambda: (200, body, {}))  # fmt: skip


@router.get("/serviceRequests/{number}", summary="One service request (by SrNumber)")
def service_request(request: Request, number: str) -> Response:
    def read() -> tuple[int, Any, dict[str, str]]:
        row = sandbox_of(request).db.read(lambda tx: tx.service_request(number))
        return 200, ticket_item(request, row), {}

    return perform(request, face=FACE, operation="ticket.read", error=error, read=read)


@router.patch("/serviceRequests/{number}", summary="Change a service request (status, title)")
def patch_service_request(request: Request, number: str, body: JsonBody) -> Response:
    checked("serviceRequests", body, creating=False)
    narrower(body, CHANGES, "service requests")
    status = body.get("StatusCd")
    if status is not None and status not in STATUSES:
        raise SandboxRefusal(400, f"StatusCd {status!r}: not a code of ORA_SVC_SR_STATUS_CD")
    columns = {"StatusCd": "STATUSCD", "Title": "TITLE"}

    def apply(tx: Tx) -> tuple[int, Any, dict[str, Any]]:
        row = tx.service_request(number)
        before = ticket_item(request, row)
        tx.update("SERVICE_REQUEST", int(row[RECNO]), {columns[k]: str(v) for k, v in body.items()})
        after = ticket_item(request, tx.service_request(number))
        return 200, after, {"previous": {k: before[k] for k in body}}

    return perform(request, face=FACE, operation="ticket.change", error=error, apply=apply,
                   body=body)  # fmt: skip
