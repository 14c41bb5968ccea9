"""Canon's MCP server: the same gate as the HTTP API, as MCP tools, over streamable HTTP
(`/mcp` on the API) and over stdio (`canon mcp`)."""

from __future__ import annotations

from typing import Any

from api.mcp.http import McpEndpoint
from api.mcp.server import (
    MCP_NOT_AUTHENTICATED,
    Authenticator,
    CanonMcp,
    PendingLister,
    ResolverSource,
    http_principal,
    static_key,
)
from api.mcp.tools import TOOLS_VERSION, ToolKind, ToolSpec, catalog_tools
from api.metrics import Metrics
from api.ratelimit import MCP_RATE_LIMITED, RateLimiter
from api.settings import Settings
from gateway import Gateway, Principal
from gateway.approvals_desk import ApprovalDesk
from gateway.resolutions_desk import ResolutionDesk

__all__ = [
    "MCP_NOT_AUTHENTICATED",
    "MCP_RATE_LIMITED",
    "TOOLS_VERSION",
    "Authenticator",
    "CanonMcp",
    "McpEndpoint",
    "ToolKind",
    "ToolSpec",
    "catalog_tools",
    "http_endpoint",
    "pending_from",
    "static_key",
]


def pending_from(desk: ApprovalDesk) -> PendingLister:
    """List pending approval requests through the approval desk (the HTTP queue's function)."""

    def pending(principal: Principal, action: str | None, limit: int) -> list[dict[str, Any]]:
        views = desk.list(principal, "pending", action, None, limit, 0)
        return [view.model_dump(mode="json") for view in views]

    return pending


def http_endpoint(
    settings: Settings,
    gateway: Gateway,
    resolver: ResolverSource,
    limiter: RateLimiter,
    metrics: Metrics,
    desk: ApprovalDesk | None = None,
    resolutions: ResolutionDesk | None = None,
) -> McpEndpoint:
    """The `/mcp` endpoint of an app, sharing its gateway, limiter and metrics."""
    pending = pending_from(desk) if desk is not None else None
    mcp = CanonMcp(gateway, resolver, limiter, metrics, http_principal, pending, resolutions)
    return McpEndpoint(mcp, gateway, settings)
