"""`canon audit verify`: walk the hash-chained audit log and its checkpoints."""

from __future__ import annotations

import typer

from api.cli.common import (
    SettingsWorkdirOpt,
    fail,
    open_store,
    out,
    readable_gateway_errors,
)

audit_app = typer.Typer(help="Review and verify the audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(workdir: SettingsWorkdirOpt = None) -> None:
    """Walk the audit chain; name the first edited, deleted or re-ordered entry."""
    from gateway.audit import verify_all

    with readable_gateway_errors(), open_store(workdir) as store:
        with store.transaction() as session:
            verdict = verify_all(session, store.checkpoints)
    if not verdict.ok:
        where = f" at entry {verdict.first_bad_seq}" if verdict.first_bad_seq else ""
        fail(f"audit log broken{where}: {verdict.problem}", code=1)
    out.print(f"audit log intact: {verdict.entries} entries", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `canon audit` to the `canon` app."""
    app.add_typer(audit_app, name="audit")
