"""Admin endpoints: rollout phases and readiness; the action catalog agents act from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import GatewayDep, PrincipalDep
from gateway import Phase, Readiness

router = APIRouter(prefix="/v1", tags=["admin"])


class PhaseChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"phase": "autonomous"}]}
    )

    phase: Phase


class RolloutView(BaseModel):
    action: str
    phase: Phase
    proposals: int
    approved_unchanged: int
    approval_rate: float | None
    wrong_entity_rejections: int
    ready_for_promotion: bool
    reason: str
    #: Whether the latest rollback drill of the current catalog entry passed (promotion out of
    #: read_only/supervised needs it), and what it said.
    drill_passed: bool = False
    drill_state: str = "none"
    drill: str = ""


def _view(r: Readiness) -> RolloutView:
    return RolloutView(
        action=r.action_type,
        phase=r.phase,
        proposals=r.proposals,
        approved_unchanged=r.approved_unchanged,
        approval_rate=r.approval_rate,
        wrong_entity_rejections=r.wrong_entity,
        ready_for_promotion=r.ready,
        reason=r.reason,
        drill_passed=r.drill_passed,
        drill_state=r.drill_state,
        drill=r.drill,
    )


@router.get("/admin/rollout", response_model=list[RolloutView], summary="Phases and readiness")
def rollout(principal: PrincipalDep, gateway: GatewayDep) -> list[RolloutView]:
    return [_view(r) for r in gateway.readiness(principal)]


@router.put(
    "/admin/rollout/{action}",
    response_model=RolloutView,
    summary="Change an action type's rollout phase (promotion needs the readiness evidence)",
)
def set_rollout(
    action: str, change: PhaseChange, principal: PrincipalDep, gateway: GatewayDep
) -> RolloutView:
    gateway.set_phase(principal, action, change.phase)
    return _view(gateway.readiness(principal, action)[0])


@router.get(
    "/catalog",
    summary="The actions agents may propose, with their params' JSON schema, whether each is "
    "offered on this deployment's ERP, and what tells each step happened on a stock ERP",
)
def catalog(_principal: PrincipalDep, gateway: GatewayDep) -> list[dict[str, Any]]:
    return gateway.describe_catalog()
