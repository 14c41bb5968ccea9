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


def _register() -> None:
    # Imported here so that `canon --help` stays fast and each module owns its commands.
    from api import cli_resolver

    cli_resolver.register(app)
    __import__("api.cli_gateway", fromlist=["register"]).register(app)
    __import__("api.cli_rollback", fromlist=["register"]).register(app)
    __import__("api.cli_calibration", fromlist=["register"]).register(app)
    __import__("api.cli_learn", fromlist=["register"]).register(app)
    __import__("api.cli_mcp", fromlist=["register"]).register(app)
    __import__("api.cli_quality", fromlist=["register"]).register(app)


def main() -> None:
    """Entry point of the `canon` console script."""
    _register()
    app()
