"""The MCP server (the SDK's low-level `Server`: tools come from the catalog, not from Python
signatures): tool calls run the same gateway operations as the HTTP routes, under the same key,
scopes, rate limits and audit.

How a call finds its key depends on the door: over streamable HTTP the endpoint authenticated
the request's bearer key (`api.mcp.http`); over stdio the key comes from `CANON_API_KEY` and is
checked again on every call, so a revoked key stops working at once on both doors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
import structlog
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from api.errors import status_of
from api.logging import SCOPE_KEY, new_request_id, request_context
from api.mcp.tools import (
    PendingArgs,
    ProposeArgs,
    RevertArgs,
    StatusArgs,
    ToolKind,
    ToolSpec,
    catalog_tools,
)
from api.metrics import Metrics
from api.ratelimit import MCP_RATE_LIMITED, RateLimited, RateLimiter
from gateway import (
    ActionRequest,
    ActionView,
    EntityResolver,
    Gateway,
    GatewayError,
    Principal,
    TargetRef,
)
from gateway.errors import Forbidden, InvalidParams, NotAuthenticated
from gateway.keys import Role
from resolver import ModelError, ResolveQuery, ResolverError

#: MCP error code of a call without a valid key (JSON-RPC's implementation-defined range).
MCP_NOT_AUTHENTICATED = -32001
PRINCIPAL_SCOPE_KEY = "canon.principal"
APPROVAL_READERS = (Role.APPROVER, Role.ADMIN, Role.STEWARD)
INSTRUCTIONS = (
    "Canon is the gate between you and the ERP. Resolve what you mean with resolve_entity, then "
    "propose an action with the tool of that action, naming the target by the resolution_token. "
    "Canon decides by configuration whether it runs, waits for human approval or is only "
    "recorded; every call is audited. Waiting actions are followed with get_action_status."
)

#: Where the HTTP body's field differs from the tool's argument.
ARGUMENT_OF = {"target.resolution_token": "resolution_token"}

Authenticator = Callable[[ServerRequestContext[Any, Any]], Awaitable[Principal]]
ResolverSource = Callable[[], EntityResolver | None]
PendingLister = Callable[[Principal, str | None, int], list[dict[str, Any]]]

log = structlog.get_logger("canon.mcp")


def problem_of(error: Exception) -> dict[str, Any]:
    """The problem body the HTTP door would answer for this error."""
    field: str | None
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "arguments"
        messages = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
            for e in error.errors()
        )
        status, slug, detail = 422, "invalid-request", messages
    else:
        status, slug = status_of(error)
        named: str | None = getattr(error, "field", None)
        field = ARGUMENT_OF.get(named, named) if named else None
        unexpected = slug in ("internal-error", "resolver-error", "catalog-error")
        detail = "an unexpected error occurred; see the logs" if unexpected else str(error)
    title = slug.replace("-", " ").capitalize()
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status,
                            "detail": detail}  # fmt: skip
    if field is not None:
        body["field"] = field
    return body


def waiting_for(view: ActionView) -> dict[str, Any] | None:
    """Where a pending action waits, and how to follow it."""
    if view.status != "pending_approval" or view.approval is None:
        return None
    given = sum(d.decision == "approve" for d in view.approval.decisions)
    return {
        "approval_id": view.approval.id,
        "approvals_needed": view.approval.approvals_needed,
        "approvals_given": given,
        "expires_at": view.approval.expires_at.isoformat() if view.approval.expires_at else None,
        "follow_with": {"tool": "get_action_status", "arguments": {"action_id": view.id}},
        "status_url": f"/v1/actions/{view.id}",
    }


def static_key(gateway: Gateway, key: str | None) -> Authenticator:
    """Authenticate every call with one key (stdio, in-process), checked anew each time."""

    async def authenticate(_ctx: ServerRequestContext[Any, Any]) -> Principal:
        return await anyio.to_thread.run_sync(gateway.authenticate, key)

    return authenticate


async def http_principal(ctx: ServerRequestContext[Any, Any]) -> Principal:
    """The principal the HTTP endpoint authenticated for this request."""
    scope = getattr(ctx.request, "scope", None) or {}
    principal = scope.get(PRINCIPAL_SCOPE_KEY)
    if not isinstance(principal, Principal):
        raise NotAuthenticated("a valid API key is required (Authorization: Bearer <key>)")
    return principal


class CanonMcp:
    """The tools of one catalog over one gateway, behind one authenticator and rate limiter."""

    def __init__(
        self,
        gateway: Gateway,
        resolver: ResolverSource,
        limiter: RateLimiter,
        metrics: Metrics,
        authenticate: Authenticator,
        pending: PendingLister | None = None,
    ) -> None:
        self.gateway, self.resolver, self.limiter = gateway, resolver, limiter
        self.metrics, self.authenticate, self.pending = metrics, authenticate, pending
        self.tools = catalog_tools(gateway.catalog)
        self.server: Server[Any] = Server(
            "canon",
            version="0.1.0",
            title="Canon",
            instructions=INSTRUCTIONS,
            get_tool_input_schema=self._input_schema,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        tool = self.tools.get(name)
        return None if tool is None else tool.definition.input_schema

    async def _list_tools(
        self, _ctx: ServerRequestContext[Any, Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[t.definition for t in self.tools.values()])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = self.tools.get(params.name)
        label = tool.name if tool else "unknown"
        scope = getattr(ctx.request, "scope", None) or {}
        request_id = str(scope.get(SCOPE_KEY) or new_request_id())
        started, outcome = time.perf_counter(), "error"
        with request_context(request_id, tool=label):
            try:
                if tool is None:
                    raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name[:100]!r}")
                result, outcome = await self._run(ctx, tool, params.arguments or {})
                return result
            finally:
                elapsed = time.perf_counter() - started
                self.metrics.tool_calls.labels(label, outcome).inc()
                self.metrics.tool_latency.labels(label).observe(elapsed)
                log.info("tool_call", outcome=outcome, duration_ms=round(elapsed * 1000, 2))

    async def _run(
        self, ctx: ServerRequestContext[Any, Any], tool: ToolSpec, arguments: dict[str, Any]
    ) -> tuple[types.CallToolResult, str]:
        try:
            principal = await self.authenticate(ctx)
        except NotAuthenticated as e:
            raise MCPError(MCP_NOT_AUTHENTICATED, str(e), {"status": 401}) from None
        with structlog.contextvars.bound_contextvars(key_id=principal.key_id):
            return await self._admitted(tool, principal, arguments)

    async def _admitted(
        self, tool: ToolSpec, principal: Principal, arguments: dict[str, Any]
    ) -> tuple[types.CallToolResult, str]:
        try:
            self.limiter.check(principal, tool.action)
        except RateLimited as e:
            self.metrics.rate_limited.labels("mcp", e.bucket.partition(":")[0]).inc()
            if e.first_refusal:
                detail = {"tool": tool.name, "door": "mcp", "bucket": e.bucket}
                await anyio.to_thread.run_sync(
                    self.gateway.record_refusal, principal, "request.rate_limited", e, detail
                )
            data = {"status": 429, "retry_after": e.retry_after, "bucket": e.bucket}
            raise MCPError(MCP_RATE_LIMITED, str(e), data) from None
        try:
            if "\\u0000" in json.dumps(arguments):  # as the HTTP door: PostgreSQL holds no NUL
                raise InvalidParams(
                    "NUL characters are not accepted in arguments", field="arguments"
                )
            value = await anyio.to_thread.run_sync(self._dispatch, tool, principal, arguments)
        except (GatewayError, ResolverError, ValidationError) as e:
            return await self._refused(tool, principal, e), "refused"
        text = json.dumps(value, ensure_ascii=False, default=str)
        content: list[types.ContentBlock] = [types.TextContent(type="text", text=text)]
        return types.CallToolResult(content=content, structured_content=value), "ok"

    async def _refused(
        self, tool: ToolSpec, principal: Principal, error: Exception
    ) -> types.CallToolResult:
        body = problem_of(error)
        if body["status"] not in (401, 500) and not getattr(error, "audited", False):
            detail = {"tool": tool.name, "door": "mcp", "status": body["status"]}
            await anyio.to_thread.run_sync(
                self.gateway.record_refusal, principal, "request.refused", error, detail
            )
        if body["status"] >= 500:
            log.error("tool_failed", error=type(error).__name__, message=str(error))
        text = json.dumps(body, ensure_ascii=False)
        content: list[types.ContentBlock] = [types.TextContent(type="text", text=text)]
        return types.CallToolResult(content=content, structured_content=body, is_error=True)

    def _dispatch(
        self, tool: ToolSpec, principal: Principal, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        """Run the tool's one gateway operation (in a worker thread: the gateway is blocking)."""
        match tool.kind:
            case ToolKind.RESOLVE:
                query = ResolveQuery.model_validate(arguments)
                resolver = self.resolver()
                if resolver is None:
                    raise ModelError("no trained model loaded")
                return self.gateway.resolve(principal, resolver, query).model_dump(mode="json")
            case ToolKind.PROPOSE:
                args = ProposeArgs.model_validate(arguments)
                request = ActionRequest(
                    action=str(tool.action),
                    target=TargetRef(resolution_token=args.resolution_token),
                    params=args.params,
                    context=args.context,
                    idempotency_key=args.idempotency_key,
                )
                view = self.gateway.submit(principal, request)
                return {**view.model_dump(mode="json"), "waiting_for": waiting_for(view)}
            case ToolKind.STATUS:
                status = StatusArgs.model_validate(arguments)
                view = self.gateway.status(principal, status.action_id)
                return {**view.model_dump(mode="json"), "waiting_for": waiting_for(view)}
            case ToolKind.REVERT:
                revert = RevertArgs.model_validate(arguments)
                view = self.gateway.revert(
                    principal, revert.action_id, revert.reason, revert.idempotency_key
                )
                return {**view.model_dump(mode="json"), "waiting_for": waiting_for(view)}
            case ToolKind.APPROVALS:
                pending = PendingArgs.model_validate(arguments)
                if principal.role not in APPROVAL_READERS:
                    raise Forbidden(f"{principal.role.spoken} key may not list approvals")
                if self.pending is None:
                    raise GatewayError("approval requests are not available on this server")
                return {"requests": self.pending(principal, pending.action, pending.limit)}
