"""`canon keys create | revoke`: API keys (shown once, stored hashed)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import (
    SettingsWorkdirOpt,
    fail,
    load_settings,
    open_store,
    readable_gateway_errors,
    say,
)

keys_app = typer.Typer(help="Create and revoke API keys.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who or what holds the key")],
    role: Annotated[str, typer.Option("--role", help="agent | approver | steward | admin")],
    scopes: Annotated[
        list[str] | None,
        typer.Option("--scopes", help="resolve, actions:<name|entity.*|*> (repeat or comma-list)"),
    ] = None,
    person: Annotated[
        str | None,
        typer.Option("--person", help="The person id the key belongs to (default: a new person)"),
    ] = None,
    workdir: SettingsWorkdirOpt = None,
) -> None:
    """Create an API key and print it, alone, on stdout: it is shown this once only."""
    from gateway import create_key, load_catalog

    parsed = [s.strip() for item in scopes or [] for s in item.split(",") if s.strip()]
    with readable_gateway_errors():
        settings = load_settings(workdir)
        actions = list(load_catalog(settings.actions_file).actions)
        with open_store(workdir) as store:
            with store.transaction() as session:
                principal, key = create_key(session, name, role, parsed, actions=actions,
                                            person_id=person)  # fmt: skip
    say(
        f"created {principal.role.value} key {principal.key_id} ({principal.name}); "
        "store it now, it will not be shown again"
    )
    typer.echo(key)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or name")],
    workdir: SettingsWorkdirOpt = None,
) -> None:
    """Revoke a key (by id, or every active key of that name)."""
    from gateway import revoke_key

    with readable_gateway_errors(), open_store(workdir) as store:
        with store.transaction() as session:
            revoked = revoke_key(session, key)
    if not revoked:
        fail(f"no active key with id or name {key!r}")
    say(f"revoked {', '.join(revoked)}")


def register(app: typer.Typer) -> None:
    """Add `canon keys` to the `canon` app."""
    app.add_typer(keys_app, name="keys")
