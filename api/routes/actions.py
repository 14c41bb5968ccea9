"""`POST /v1/actions` and `GET /v1/actions/{id}`: propose an action, follow it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import GatewayDep, PrincipalDep
from gateway import ActionRequest, ActionView
from gateway.approvals_wait import wait_for_action

router = APIRouter(prefix="/v1/actions", tags=["actions"])


@router.post(
    "",
    response_model=ActionView,
    status_code=status.HTTP_201_CREATED,
    summary="Propose an action on a resolved target",
    description=(
        "The gate validates the params against the catalog, verifies the resolution token, and "
        "applies the policy of the action's risk class and rollout phase: the action runs, waits "
        "for approval, is only recorded (shadow), or is rejected. Repeating an idempotency key "
        "with the same payload returns the same action (200, `replayed: true`); with another "
        "payload it is refused (409)."
    ),
    responses={200: {"model": ActionView, "description": "An idempotent replay"}},
)
def submit_action(
    request: ActionRequest, principal: PrincipalDep, gateway: GatewayDep, response: Response
) -> ActionView:
    view = gateway.submit(principal, request)
    if view.replayed:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/actions/{view.id}"
    return view


@router.get(
    "/{action_id}",
    response_model=ActionView,
    summary="An action's status",
    description="With `wait=N`, answers once the action is settled or after N seconds (≤ 60).",
)
async def action_status(
    action_id: str,
    principal: PrincipalDep,
    gateway: GatewayDep,
    wait: Annotated[float, Query(ge=0, le=60, description="Long-poll for up to N seconds")] = 0,
) -> ActionView:
    return await wait_for_action(gateway, principal, action_id, wait)


class RevertRequest(BaseModel):
    """Why the action is reverted, and (optionally) the key that makes retries safe."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"reason": "blocked the wrong supplier (ticket 4411)"}]},
    )

    reason: str = Field(min_length=1, max_length=2000)
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"
    )


@router.get(
    "/{action_id}/revert",
    summary="What reverting a succeeded action would do",
    description=(
        "The plan: the original's compensations in reverse step order, each with what the "
        "record must still hold before it runs. 409 when the action cannot be reverted (not "
        "succeeded, or already reverted), 422 for a revert."
    ),
)
def revert_plan(action_id: str, principal: PrincipalDep, gateway: GatewayDep) -> dict[str, Any]:
    return gateway.revert_plan(principal, action_id).as_dict()


@router.post(
    "/{action_id}/revert",
    response_model=ActionView,
    status_code=status.HTTP_201_CREATED,
    summary="Propose the revert of a succeeded action",
    description=(
        "A new action linked to the original (`reverts`), waiting for approval (never by the "
        "key that asks for it). Once approved it runs the original's compensations in reverse "
        "step order; before each it checks the ERP record still holds what the original step "
        "left, and stops in `needs_attention` with the difference if someone changed it since. "
        "409 `not-revertible` when the action did not succeed (failed, compensated, ...), 409 "
        "`already-reverted` when a revert is proposed, running or done, 422 `revert-of-revert` "
        "for a revert. Repeating the idempotency key returns the same revert (200)."
    ),
    responses={200: {"model": ActionView, "description": "An idempotent replay"}},
)
def revert_action(
    action_id: str,
    request: RevertRequest,
    principal: PrincipalDep,
    gateway: GatewayDep,
    response: Response,
) -> ActionView:
    view = gateway.revert(principal, action_id, request.reason, request.idempotency_key)
    if view.replayed:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/actions/{view.id}"
    return view
