"""`canon portal unlock`: portal users."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import (
    SettingsWorkdirOpt,
    open_store,
    readable_gateway_errors,
    say,
)

portal_app = typer.Typer(help="Portal users.", no_args_is_help=True)


@portal_app.command("unlock")
def portal_unlock(
    username: Annotated[str, typer.Argument(help="The locked portal user")],
    workdir: SettingsWorkdirOpt = None,
) -> None:
    """Unlock a portal user locked by failed sign-ins (audited)."""
    from gateway import LOCAL_OPERATOR
    from gateway.channels.portal import unlock_user
    from gateway.store import utcnow

    with readable_gateway_errors(), open_store(workdir) as store:
        with store.transaction() as session:
            user = unlock_user(session, username, LOCAL_OPERATOR.actor, utcnow())
            name = user.username
    say(f"unlocked {name}")


def register(app: typer.Typer) -> None:
    """Add `canon portal` to the `canon` app."""
    app.add_typer(portal_app, name="portal")
