"""`canon serve | sync | sandbox-erp | rollout`: the gate's commands (and, registered with them,
`keys`, `audit`, `secret`, `portal` and `labels`, each in its own module).

Every command that touches the store takes `--workdir W` (the default SQLite store lives there)
or uses `CANON_DATABASE_URL`. Output meant for scripts goes to stdout, messages to stderr; bad
input is one readable line on stderr and exit code 2; a refusal by the rules is exit code 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.measure import Measurement
from rich.table import Table

from api.cli.common import (
    SettingsWorkdirOpt,
    fail,
    load_settings,
    open_store,
    out,
    readable_gateway_errors,
    say,
)

rollout_app = typer.Typer(help="Rollout phases per action type.", no_args_is_help=True)


def serve(
    workdir: SettingsWorkdirOpt = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
    erp_kind: Annotated[
        str | None,
        typer.Option("--erp-kind", help="ledger | protheus | sap | oracle (CANON_ERP_KIND)"),
    ] = None,
    erp_url: Annotated[
        str | None, typer.Option("--erp-url", help="The ERP's base URL (CANON_ERP_URL)")
    ] = None,
    sync: Annotated[
        bool,
        typer.Option(
            "--sync",
            help="Pull the ERP's changes into the serving index every few seconds "
            "(CANON_ERP_SYNC_SECONDS, default 2 with --sync)",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Processes serving the API, sharing one memory-mapped index (CANON_WORKERS, "
            "default 1; e.g. --workers $(nproc))",
        ),
    ] = None,
) -> None:
    """Run the HTTP API (resolve, actions, audit, rollout)."""
    import os

    import uvicorn

    from api.app import create_app, prepare_shared
    from api.settings import Settings

    with readable_gateway_errors():
        settings = load_settings(workdir)
        chosen: dict[str, object] = {
            k: v for k, v in (("erp_kind", erp_kind), ("erp_url", erp_url)) if v
        }
        if sync and settings.erp_sync_seconds <= 0:
            chosen["erp_sync_seconds"] = 2.0
        if workers is not None:
            chosen["workers"] = workers
        if chosen:
            settings = Settings(**{**settings.model_dump(), **chosen})
        if settings.workers > 1 and settings.erp_sync_seconds > 0:
            fail(
                "--sync pulls the ERP's changes in one process: serve with --workers 1, or run "
                "`canon sync` periodically beside `canon serve --workers N`"
            )
        resolved_host, resolved_port = host or settings.host, port or settings.port
        app = create_app(settings) if settings.workers == 1 else None
        if app is None:  # each worker builds its app from the environment: hand it the options
            prepare_shared(settings)
            os.environ["CANON_WORKDIR"] = str(settings.workdir)
            for key, value in chosen.items():
                os.environ[f"CANON_{key.upper()}"] = str(value)
        every = settings.erp_sync_seconds
        say(
            f"canon: serving on http://{resolved_host}:{resolved_port} "
            f"(ERP: {settings.erp_kind}{' at ' + settings.erp_url if settings.erp_url else ''}"
            f"{f', syncing its changes every {every:g} s' if every else ''}"
            f"{f'; {settings.workers} workers' if settings.workers > 1 else ''})"
        )
    _open_files_up_to_the_hard_limit()  # inherited by the workers
    # Canon's JSON logs (api/logging.py) carry uvicorn's lines too, and log every request itself.
    if app is not None:
        uvicorn.run(app, host=resolved_host, port=resolved_port, log_config=None, access_log=False)
        return
    uvicorn.run("api.app:app_from_environment", factory=True, workers=settings.workers,
                host=resolved_host, port=resolved_port, log_config=None,
                access_log=False)  # fmt: skip


def _open_files_up_to_the_hard_limit() -> None:
    """Raise the soft limit of open files to the hard one: each memory-mapped file of the serving
    index holds a descriptor (Python's mmap keeps one), a few hundred per model folder, two
    folders while a refresh is swapped in; a soft limit of 1024 is within reach."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65_536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):  # not allowed here: serve within the soft limit
            pass


def sync(
    workdir: SettingsWorkdirOpt = None,
    erp_kind: Annotated[
        str | None,
        typer.Option("--erp-kind", help="protheus | sap | oracle (CANON_ERP_KIND)"),
    ] = None,
    erp_url: Annotated[
        str | None, typer.Option("--erp-url", help="The ERP's base URL (CANON_ERP_URL)")
    ] = None,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=1000, help="Changed rows asked per request")
    ] = 500,
    batch_rows: Annotated[
        int,
        typer.Option(
            "--batch-rows", min=1, help="Rows applied (with their watermark) per index switch"
        ),
    ] = 5000,
) -> None:
    """Pull the ERP's changes since the last sync into the serving index, once (for cron).

    A running `canon serve` picks the refreshed index up without a restart.
    """
    from api.app import build_connector
    from api.settings import Settings
    from gateway.erp.base import ChangeFeed
    from gateway.erp_sync import ErpSync, index_freshness
    from resolver import ResolverError

    with readable_gateway_errors():
        settings = load_settings(workdir)
        chosen = {k: v for k, v in (("erp_kind", erp_kind), ("erp_url", erp_url)) if v}
        if chosen:
            settings = Settings(**{**settings.model_dump(), **chosen})
        connector = build_connector(settings)
        if not isinstance(connector, ChangeFeed):
            fail(f"--erp-kind {settings.erp_kind}: this ERP connector has no change feed to sync")
        try:
            syncer = ErpSync(
                settings.workdir, connector, page_size=page_size, batch_rows=batch_rows
            )
            applied = syncer.sync_once()
        except ResolverError as e:
            fail(str(e))
    for entity_type, count in applied.items():
        out.print(f"{entity_type}: {count} changed row(s) applied", highlight=False)
    fresh = index_freshness(settings.workdir)
    marks = ", ".join(f"{k} {v}" for k, v in fresh.get("watermarks", {}).items()) or "none"
    say(f"canon: serving {fresh.get('index_version')}; watermarks: {marks}")


def sandbox_erp(
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Folder of Protheus-shaped CSVs (SA2010.csv, SC7010.csv, ...)"),
    ] = None,
    port: Annotated[int, typer.Option(help="Port")] = 8100,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    database: Annotated[
        Path | None,
        typer.Option("--database", help="Its SQLite file (default: <workdir>/sandbox-erp.sqlite)"),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Start from the CSVs again")] = False,
    user: Annotated[str, typer.Option("--user", help="The ERP user")] = "canon",
    password: Annotated[str, typer.Option("--password", help="Its password")] = "sandbox",
    stock: Annotated[
        bool,
        typer.Option(
            "--stock",
            help="As installed from the vendor: no Canon custom services, Idempotency-Key ignored",
        ),
    ] = False,
    request_timeout: Annotated[
        float,
        typer.Option(
            "--request-timeout",
            min=0.1,
            max=3600.0,
            help="Seconds after which a request that has not written is abandoned, nothing "
            "written (the ERP's own request timeout; Canon's CANON_ERP_SETTLE_SECONDS must "
            "exceed it)",
        ),
    ] = 60.0,
    filial_width: Annotated[
        int,
        typer.Option(
            "--protheus-filial-width",
            min=1,
            max=12,
            help="Width of the filial in the Protheus face's primary keys (the installation's)",
        ),
    ] = 2,
    workdir: SettingsWorkdirOpt = None,
) -> None:
    """Run the sandbox ERP: Protheus, SAP and Oracle APIs over one SQLite file, with faults."""
    import uvicorn

    from sandbox.erp import create_sandbox_app

    with readable_gateway_errors():
        if data is not None and not data.is_dir():
            fail(f"--data {data}: not a folder of CSV extracts")
        path = database or load_settings(workdir).workdir / "sandbox-erp.sqlite"
        if reset:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        app = create_sandbox_app(
            path,
            data,
            username=user,
            password=password,
            stock=stock,
            request_timeout_seconds=request_timeout,
            protheus_filial_width=filial_width,
        )
        loaded = app.state.sandbox.db.loaded
        rows = ", ".join(f"{t} {n}" for t, n in loaded.items()) or "nothing new"
        say(f"canon: sandbox ERP on http://{host}:{port} over {path} (loaded: {rows})")
        say("  Protheus /rest   SAP /sap/opu/odata/sap   Oracle /fscmRestApi   faults /_sandbox")
        if stock:
            say("  stock: no Canon custom services; Idempotency-Key ignored (docs/ERP.md)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@rollout_app.command("set")
def rollout_set(
    action: Annotated[str, typer.Argument(help="Action type, e.g. purchase_order.close")],
    phase: Annotated[str, typer.Argument(help="read_only | supervised | autonomous | high_volume")],
    workdir: SettingsWorkdirOpt = None,
) -> None:
    """Change an action type's phase; a promotion needs the readiness evidence."""
    from api.app import connector_class, rules_from
    from gateway import LOCAL_OPERATOR, Phase, load_catalog
    from gateway.errors import PromotionRefused
    from gateway.offered import not_offered
    from gateway.rollout import set_phase
    from gateway.store import utcnow

    try:
        target = Phase(phase)
    except ValueError:
        fail(f"unknown phase {phase!r} (use {' | '.join(p.value for p in Phase)})")
    with readable_gateway_errors():
        settings = load_settings(workdir)
        spec = load_catalog(settings.actions_file).get(action)
        absent = not_offered(connector_class(settings), spec)  # on the deployment's ERP
        with open_store(workdir) as store:
            with store.transaction() as session:
                change = set_phase(session, spec, target, rules_from(settings).promotion,
                                   actor=LOCAL_OPERATOR.actor, now=utcnow(),
                                   not_offered=absent)  # fmt: skip
        if change.refused:
            raise PromotionRefused(f"{action} stays {change.before.value}: {change.refused}")
    say(f"{action}: {change.before.value} -> {change.after.value}")


@rollout_app.command("readiness")
def rollout_readiness(
    action: Annotated[str | None, typer.Argument(help="One action type (default: all)")] = None,
    workdir: SettingsWorkdirOpt = None,
) -> None:
    """Per action type: phase, approval rate without change, wrong-entity rejections."""
    from api.app import rules_from
    from gateway import load_catalog
    from gateway.rollout import readiness

    with readable_gateway_errors():
        settings = load_settings(workdir)
        catalog = load_catalog(settings.actions_file)
        specs = [catalog.get(action)] if action else list(catalog.actions.values())
        rules = rules_from(settings).promotion
        with open_store(workdir) as store:
            with store.transaction() as session:
                rows = [readiness(session, spec, rules) for spec in specs]
    table = Table(title=f"promotion needs ≥{rules.min_approval_rate:.0%} over "
                  f"≥{rules.min_proposals} proposals, no wrong-entity rejection")  # fmt: skip
    # Action and phase names are what an operator types next: never cut them on a narrow terminal.
    table.add_column("action", no_wrap=True, min_width=max((len(s.name) for s in specs), default=6))
    table.add_column("phase", no_wrap=True, min_width=len("high_volume"))
    headers = ("proposals", "approved unchanged", "wrong entity", "ready", "why", "drill")
    for header in headers:
        table.add_column(header)
    values = []
    for r in rows:
        rate = "-" if r.approval_rate is None else f"{r.approval_rate:.1%}"
        values.append((r.action_type, r.phase.value, str(r.proposals), rate, str(r.wrong_entity),
                       "yes" if r.ready else "no", r.reason, r.drill_state))  # fmt: skip
        table.add_row(*values[-1])
    natural = Measurement.get(out, out.options.update_width(10_000), table).maximum
    if natural <= out.width:
        out.print(table)
        return
    # Too narrow for the table (an 80-column terminal): one block per action, every value whole.
    out.print(table.title, highlight=False, markup=False)
    for row in values:
        out.print(f"\n{row[0]}", highlight=False, markup=False)
        for header, value in zip(("phase", *headers), row[1:], strict=True):
            out.print(f"  {header:<18}  {value}", highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the gate's commands to the `canon` app (the groups of their own modules too, in the
    order `canon --help` lists them)."""
    from api.cli import audit, keys, labels, portal, secret

    app.command("serve")(serve)
    app.command("sync")(sync)
    app.command("sandbox-erp")(sandbox_erp)
    keys.register(app)
    audit.register(app)
    app.add_typer(rollout_app, name="rollout")
    secret.register(app)
    portal.register(app)
    labels.register(app)
