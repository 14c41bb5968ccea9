"""Resolution requests over JSON: an agent asks a person to settle a halt, waits for the token."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import Field

from api.deps import PrincipalDep
from api.routes.approvals import get_services
from gateway.approvals_wait import wait_until
from gateway.resolutions import OpenRequest, ResolutionRequestView, ResolveDecision
from gateway.resolutions_desk import ResolutionDesk

router = APIRouter(prefix="/v1/resolution-requests", tags=["resolution requests"])


def get_resolutions(request: Request) -> ResolutionDesk:
    """The app's resolution desk."""
    return get_services(request).resolutions


DeskDep = Annotated[ResolutionDesk, Depends(get_resolutions)]


class OpenedView(ResolutionRequestView):
    callback_secret: str | None = Field(
        default=None,
        description="Shown once, with callback_url: X-Canon-Signature is "
        "v1=HMAC-SHA256(secret, '{timestamp}.{body}')",
    )


@router.post(
    "",
    response_model=OpenedView,
    status_code=status.HTTP_201_CREATED,
    summary="Ask a person to settle an `ambiguous` or `no_match` resolution",
    description=(
        "Name the halt by its `resolution_id` (from `/v1/resolve`) or its `no_match` token, with "
        "your business context. Reviewers holding the `resolver` scope see it in the portal, by "
        "email and in Slack. Wait with `GET /v1/resolution-requests/{id}?wait=60` (or give a "
        "`callback_url`): once decided, a pick carries a `human` token bound to the chosen record "
        '(usable wherever a `match` token is), "new" a `no_match` token. Repeating an '
        "idempotency key with the same body returns the same request (200)."
    ),
    responses={200: {"model": OpenedView, "description": "An idempotent replay"}},
)
def open_request(
    body: OpenRequest, principal: PrincipalDep, desk: DeskDep, response: Response
) -> OpenedView:
    registered = desk.open(principal, body)
    if registered.view.replayed:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/resolution-requests/{registered.view.id}"
    return OpenedView(**registered.view.model_dump(), callback_secret=registered.callback_secret)


@router.get(
    "",
    response_model=list[ResolutionRequestView],
    summary="Resolution requests, newest first (resolvers: all; agents: their own)",
)
def list_requests(
    principal: PrincipalDep,
    desk: DeskDep,
    status_: Annotated[
        Literal["pending", "decided", "expired", "all"], Query(alias="status")
    ] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[ResolutionRequestView]:
    return desk.list_requests(principal, status_, limit, offset)


@router.get(
    "/{request_id}",
    response_model=ResolutionRequestView,
    summary="One request; its agent gets the token once decided",
    description="With `wait=N`, answers once a person decided (or it expired), or after N s "
    "(≤ 60).",
)
async def get_request(
    request_id: str,
    principal: PrincipalDep,
    desk: DeskDep,
    wait: Annotated[float, Query(ge=0, le=60, description="Long-poll for up to N seconds")] = 0,
) -> ResolutionRequestView:
    return await wait_until(
        lambda: desk.get(principal, request_id[:36]), lambda v: v.status != "pending", wait
    )


@router.post(
    "/{request_id}/decision",
    response_model=ResolutionRequestView,
    summary="Settle a request: pick a candidate, `new`, or `cannot_tell` (resolver scope)",
    description=(
        "403 without the `resolver` scope; 409 once decided or expired, for a pick outside the "
        "candidates, or when the picked record is no longer in the ERP (deleted or merged)."
    ),
)
def decide(
    request_id: str, body: ResolveDecision, principal: PrincipalDep, desk: DeskDep
) -> ResolutionRequestView:
    return desk.decide(principal, request_id[:36], body, channel="api")
