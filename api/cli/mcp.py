"""`canon mcp`: Canon's MCP tools over stdio, for an agent that launches Canon as a subprocess.

The API key comes from the environment (`CANON_API_KEY`), never from an argument (arguments
show in process lists); it is checked at start-up and again on every tool call, so revoking it
(`canon keys revoke`) stops the running server at once. stdout carries the protocol only: logs
go to stderr as JSON.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from api.cli.common import SettingsWorkdirOpt, fail, readable_gateway_errors

if TYPE_CHECKING:
    from api.mcp import CanonMcp

KEY_ENV = "CANON_API_KEY"


def _server(workdir: Path | None, key: str) -> CanonMcp:
    from api.app import build_gateway
    from api.approvals_setup import build_approval_services
    from api.logging import configure_logging
    from api.mcp import CanonMcp, pending_from, static_key
    from api.metrics import CountingResolver, Metrics
    from api.ratelimit import limiter_from, shared_state_from
    from api.settings import Settings
    from gateway.errors import NotAuthenticated
    from resolver import ResolverError, load_resolver

    settings = Settings()
    if workdir is not None:
        settings = settings.model_copy(update={"workdir": workdir})
    configure_logging(settings.log_level)
    gateway = build_gateway(settings)
    try:
        gateway.authenticate(key)
    except NotAuthenticated as e:
        fail(f"{KEY_ENV}: {e}")
    metrics = Metrics(gateway)
    resolver: CountingResolver | None
    try:
        resolver = CountingResolver(load_resolver(settings.workdir), metrics)
    except (ResolverError, OSError) as e:
        typer.echo(f"canon mcp: resolver not loaded ({e}); resolve_entity will refuse", err=True)
        resolver = None
    state = shared_state_from(settings, gateway.store)
    services = build_approval_services(settings, gateway, state)
    desk = services.desk
    return CanonMcp(
        gateway,
        lambda: resolver,
        limiter_from(settings, state),
        metrics,
        static_key(gateway, key),
        pending_from(desk),
        services.resolutions,
    )


async def _serve(mcp: CanonMcp) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await mcp.server.run(read_stream, write_stream, mcp.server.create_initialization_options())


def mcp(workdir: SettingsWorkdirOpt = None) -> None:
    """Serve the MCP tools over stdio; the API key is read from CANON_API_KEY."""
    import anyio

    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        fail(f"{KEY_ENV} is not set: export an API key from `canon keys create`")
    with readable_gateway_errors():
        server = _server(workdir, key)
    try:
        anyio.run(_serve, server)
    finally:
        server.gateway.store.close()


def register(app: typer.Typer) -> None:
    """Add `canon mcp` to the `canon` app."""
    app.command("mcp")(mcp)
