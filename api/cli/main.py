"""The `canon` command line: one typer app; each area registers its commands from its own module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="canon",
    help="Canon: resolve-before-write for AI agents acting on an ERP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def register_all() -> None:
    """Add every command group to `app`. Imported here so that `canon --help` stays fast and
    each module owns its commands."""
    from api.cli import calibration, gateway, learn, mcp, quality, resolver, rollback

    if app.registered_commands or app.registered_groups:
        return  # registered already (tests call this once per test)
    for group in (resolver, gateway, rollback, calibration, learn, mcp, quality):
        group.register(app)


def main() -> None:
    """Entry point of the `canon` console script."""
    register_all()
    app()
