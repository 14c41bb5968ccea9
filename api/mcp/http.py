"""`/mcp`: the MCP server over streamable HTTP, in the API's process and behind its checks.

In order, before the SDK sees a request: the `Host` and `Origin` headers must be allowed
(DNS rebinding: a web page must not reach a local server through a name it controls), and the
bearer API key must be valid (authenticated again on every request, so revocation is immediate;
sessions are not authentication). The transport is stateless with JSON responses: every POST
stands alone, so any replica can answer it and no session can be hijacked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp_types import ErrorData, JSONRPCError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.mcp.server import MCP_NOT_AUTHENTICATED, PRINCIPAL_SCOPE_KEY, CanonMcp
from api.settings import Settings
from gateway import Gateway
from gateway.errors import NotAuthenticated


def _jsonrpc_error(status: int, code: int, message: str, **headers: str) -> Response:
    error = ErrorData(code=code, message=message, data={"status": status})
    body = JSONRPCError(jsonrpc="2.0", id=None, error=error)
    return Response(
        body.model_dump_json(by_alias=True, exclude_unset=True),
        status_code=status,
        media_type="application/json",
        headers=headers or None,
    )


def security_settings(settings: Settings) -> TransportSecuritySettings:
    """The allowed `Host` and `Origin` values of the MCP endpoint."""
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(settings.mcp_allowed_hosts),
        allowed_origins=list(settings.mcp_allowed_origins),
    )


class McpEndpoint:
    """The ASGI app at `/mcp`: transport checks, API-key authentication, then the SDK."""

    def __init__(self, mcp: CanonMcp, gateway: Gateway, settings: Settings) -> None:
        self.mcp, self.gateway = mcp, gateway
        self.security = security_settings(settings)
        self.max_body_bytes = settings.max_body_bytes
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve while the app runs (a session manager runs once: a new one per app lifespan)."""
        manager = StreamableHTTPSessionManager(
            app=self.mcp.server,
            json_response=True,
            stateless=True,
            security_settings=self.security,
            max_request_body_size=self.max_body_bytes,
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        refused = await TransportSecurityMiddleware(self.security).validate_request(
            Request(scope, receive), is_post=False
        )
        if refused is not None:
            await refused(scope, receive, send)
            return
        scheme, _, key = Headers(scope=scope).get("authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not key.strip():
                raise NotAuthenticated("a valid API key is required (Authorization: Bearer <key>)")
            principal = await anyio.to_thread.run_sync(self.gateway.authenticate, key.strip())
        except NotAuthenticated as e:
            response = _jsonrpc_error(
                401, MCP_NOT_AUTHENTICATED, str(e), **{"WWW-Authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        scope[PRINCIPAL_SCOPE_KEY] = principal
        scope["canon.key_id"] = principal.key_id
        if self._manager is None:
            response = _jsonrpc_error(503, -32603, "the MCP endpoint is not running")
            await response(scope, receive, send)
            return
        await self._manager.handle_request(scope, receive, send)
