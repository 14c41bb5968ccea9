"""The `canon` command line: one typer app (`api.cli.main`); one module per command group, each
registering its commands; what they share in `api.cli.common`."""

from api.cli.main import app, main, register_all

__all__ = ["app", "main", "register_all"]
