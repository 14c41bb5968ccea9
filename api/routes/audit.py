"""`GET /v1/audit` and `GET /v1/audit/verify`: review and prove the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import GatewayDep, PrincipalDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditPage(BaseModel):
    entries: list[dict[str, Any]]
    next_after: int | None


class AuditVerdict(BaseModel):
    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None


@router.get("", response_model=AuditPage, summary="Audit entries in chain order")
def audit_entries(
    principal: PrincipalDep,
    gateway: GatewayDep,
    action_id: Annotated[str | None, Query(max_length=36)] = None,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    entries = gateway.audit_entries(principal, action_id, after, limit)
    return AuditPage(
        entries=entries, next_after=entries[-1]["seq"] if len(entries) == limit else None
    )


@router.get("/verify", response_model=AuditVerdict, summary="Check the hash chain end to end")
def audit_verify(principal: PrincipalDep, gateway: GatewayDep) -> AuditVerdict:
    verdict = gateway.verify_audit(principal)
    return AuditVerdict(
        ok=verdict.ok,
        entries=verdict.entries,
        first_bad_seq=verdict.first_bad_seq,
        problem=verdict.problem,
    )
