"""`canon secret rotate | show`: the master secret of resolution tokens and approval links."""

from __future__ import annotations

import typer

from api.cli.common import (
    SettingsWorkdirOpt,
    fail,
    load_settings,
    open_store,
    out,
    readable_gateway_errors,
    say,
)

secret_app = typer.Typer(help="The master secret of tokens and links.", no_args_is_help=True)


@secret_app.command("rotate")
def secret_rotate(workdir: SettingsWorkdirOpt = None) -> None:
    """Replace the secret file's secret: every resolution token and approval link signed before
    is refused from now on (as signed with a rotated secret), also by a running `canon serve`."""
    from gateway import LOCAL_OPERATOR, audit
    from gateway.keyring import rotate_secret_file
    from gateway.store import utcnow

    with readable_gateway_errors():
        settings = load_settings(workdir)
        if settings.token_secret is not None:
            fail("the secret comes from CANON_TOKEN_SECRET: change it there, then restart")
        path = settings.secret_file
        if not path.exists():
            fail(f"{path}: no secret file to rotate (one is made when Canon first needs it)")
        old, new = rotate_secret_file(path)
        with open_store(workdir) as store:
            with store.transaction() as session:
                audit.append(session, "secret.rotated", {"file": str(path), "retired_key_id": old,
                             "key_id": new}, actor=LOCAL_OPERATOR.actor, now=utcnow())  # fmt: skip
    say(
        f"rotated {path}: key {old} retired, key {new} in use; tokens and approval links signed "
        "before now are refused (agents resolve again; approvers use the portal)"
    )


@secret_app.command("show")
def secret_show(workdir: SettingsWorkdirOpt = None) -> None:
    """Say where the secret comes from and its key id (never the secret itself)."""
    from api.settings import token_keys

    with readable_gateway_errors():
        keys, source = token_keys(load_settings(workdir))
    out.print(source, highlight=False, soft_wrap=True)
    if keys.current().retired:
        out.print(f"retired key ids: {', '.join(sorted(keys.current().retired))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `canon secret` to the `canon` app."""
    app.add_typer(secret_app, name="secret")
