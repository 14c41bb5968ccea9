"""`POST /v1/actions` and `GET /v1/actions/{id}`: propose an action, follow it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

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
