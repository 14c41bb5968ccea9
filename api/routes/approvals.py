"""Approval requests over JSON: the queue, one request, a decision; agents' waits and webhooks."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.approvals_setup import ApprovalServices
from api.deps import GatewayDep, PrincipalDep
from gateway.approvals_desk import ApprovalDesk
from gateway.approvals_views import ApprovalDetailView, ApprovalRequestView
from gateway.channels.portal import create_user, unlock_user
from gateway.errors import Forbidden
from gateway.keys import Role

router = APIRouter(tags=["approvals"])


def get_services(request: Request) -> ApprovalServices:
    """The app's approval services."""
    services: ApprovalServices = request.app.state.approvals
    return services


def get_desk(request: Request) -> ApprovalDesk:
    """The app's approval desk."""
    return get_services(request).desk


DeskDep = Annotated[ApprovalDesk, Depends(get_desk)]


class DecisionRequest(BaseModel):
    """An approver's decision on one request."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "approve", "reason": "", "comment": "delivery checked in WMS"},
                {"decision": "reject", "reason": "wrong_entity", "comment": "PO 2819, not 2891"},
            ]
        },
    )

    decision: Literal["approve", "reject"]
    reason: str = Field(
        default="",
        max_length=24,
        description="For a rejection: wrong_entity | wrong_amount | not_needed | other",
    )
    comment: str = Field(default="", max_length=2000, description="Needed with `other`")
    payload_hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="The payload hash you reviewed; refused (409) if the action changed since",
    )


@router.get(
    "/v1/approvals",
    response_model=list[ApprovalRequestView],
    summary="Approval requests, newest first",
    description="Approvers, admins and stewards see every request; agents those of their actions.",
)
def list_approvals(
    principal: PrincipalDep,
    desk: DeskDep,
    status_: Annotated[
        Literal["pending", "approved", "rejected", "expired", "decided", "all"],
        Query(alias="status"),
    ] = "pending",
    action: Annotated[str | None, Query(max_length=100)] = None,
    risk: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[ApprovalRequestView]:
    return desk.list(principal, status_, action, risk, limit, offset)


@router.get(
    "/v1/approvals/{approval_id}",
    response_model=ApprovalDetailView,
    summary="One request with its business context",
)
def get_approval(approval_id: str, principal: PrincipalDep, desk: DeskDep) -> ApprovalDetailView:
    return desk.get(principal, approval_id)


@router.post(
    "/v1/approvals/{approval_id}/decision",
    response_model=ApprovalRequestView,
    summary="Approve or reject",
    description=(
        "403 for a key that may not decide this request (its requester, an agent, a steward, "
        "an approver limited to other action types); 409 once it is decided or expired, for a "
        "second decision by the same approver, or when the action changed since `payload_hash`."
    ),
)
def decide(
    approval_id: str, body: DecisionRequest, principal: PrincipalDep, gateway: GatewayDep
) -> ApprovalRequestView:
    return gateway.decide(
        principal, approval_id, body.decision == "approve", body.reason, body.comment,
        seen_hash=body.payload_hash, channel="api",
    )  # fmt: skip


class CallbackRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"url": "https://agent.example/hook"}]}
    )

    url: str = Field(min_length=1, max_length=2000)


class CallbackView(BaseModel):
    id: int
    action_id: str
    url: str
    secret: str = Field(
        description="Shown once: X-Canon-Signature is v1=HMAC-SHA256(secret, '{timestamp}.{body}')"
    )


@router.post(
    "/v1/actions/{action_id}/callbacks",
    response_model=CallbackView,
    status_code=status.HTTP_201_CREATED,
    summary="Register a webhook for the action's outcome (signed)",
    tags=["actions"],
)
def register_callback(
    action_id: str, body: CallbackRequest, principal: PrincipalDep, desk: DeskDep
) -> CallbackView:
    registered = desk.register_callback(principal, action_id, body.url)
    return CallbackView(
        id=registered.id, action_id=action_id, url=registered.url, secret=registered.secret
    )


class PortalUserRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=100)
    password: str = Field(min_length=12, max_length=1000)
    role: Literal["approver", "admin"] = "approver"
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    slack_user_id: str | None = Field(default=None, max_length=40)
    action_scopes: list[str] = Field(default_factory=list, max_length=50)
    notify_group: str = Field(default="approvers", min_length=1, max_length=50)
    person_id: str | None = Field(
        default=None, max_length=32, description="The person this user is (default: a new one)"
    )
    resolver: bool = Field(default=False, description="Settles resolution requests")


class PortalUserView(BaseModel):
    id: str
    username: str
    role: str
    email: str | None
    slack_user_id: str | None
    action_scopes: list[str]
    notify_group: str
    person_id: str | None = None
    resolver: bool = False


@router.post(
    "/v1/admin/portal-users",
    response_model=PortalUserView,
    status_code=status.HTTP_201_CREATED,
    summary="Add a portal user who decides approvals (admins)",
    tags=["admin"],
)
def add_portal_user(
    body: PortalUserRequest, principal: PrincipalDep, desk: DeskDep
) -> PortalUserView:
    if principal.role is not Role.ADMIN:
        raise Forbidden("only admins add portal users")
    gateway = desk.gateway
    with gateway.store.transaction() as session:
        user = create_user(
            session, **body.model_dump(), actions=list(gateway.catalog.actions),
            actor=principal.actor, now=gateway.clock(),
        )  # fmt: skip
        return PortalUserView(
            id=user.id, username=user.username, role=user.role, email=user.email,
            slack_user_id=user.slack_user_id, action_scopes=list(user.action_scopes),
            notify_group=user.notify_group, person_id=user.person_id, resolver=user.resolver,
        )  # fmt: skip


@router.post(
    "/v1/admin/portal-users/{username}/unlock",
    response_model=PortalUserView,
    summary="Unlock a portal user locked by failed sign-ins (admins; audited)",
    tags=["admin"],
)
def unlock_portal_user(username: str, principal: PrincipalDep, desk: DeskDep) -> PortalUserView:
    if principal.role is not Role.ADMIN:
        raise Forbidden("only admins unlock portal users")
    gateway = desk.gateway
    with gateway.store.transaction() as session:
        user = unlock_user(session, username[:100], principal.actor, gateway.clock())
        return PortalUserView(
            id=user.id, username=user.username, role=user.role, email=user.email,
            slack_user_id=user.slack_user_id, action_scopes=list(user.action_scopes),
            notify_group=user.notify_group, person_id=user.person_id, resolver=user.resolver,
        )  # fmt: skip
