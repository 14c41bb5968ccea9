"""`create_app(settings)`: the HTTP front door of the resolver and the gate."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route

from api import errors, ratelimit
from api.approvals_setup import build_approval_services, sweeping
from api.docs_ui import install_docs
from api.limits import BodySizeLimit
from api.logging import RequestLog, configure_logging
from api.mcp import http_endpoint
from api.metrics import CountingResolver, FreshnessCollector, HttpMetrics, Metrics
from api.metrics import router as metrics_router
from api.routes import (
    actions,
    admin,
    approvals,
    audit,
    dashboard,
    health,
    portal,
    resolutions,
    resolve,
    slack,
)
from api.settings import Settings, audit_sink, token_keys
from gateway import (
    EntityResolver,
    ErpConnector,
    GateRules,
    Gateway,
    PromotionRules,
    Store,
    TokenSigner,
    load_catalog,
)
from gateway.erp.base import ChangeFeed, RowReads
from gateway.erp.registry import kind as erp_kind
from gateway.erp_sync import ErpSync
from gateway.record_sync import IndexSync
from gateway.workflow import RunnerPolicy, WorkflowRunner
from gateway.workflow_sweeper import WorkflowSweeper
from resolver import ResolverError, load_resolver, normalise_record

log = logging.getLogger("canon.api")

DESCRIPTION = """
Canon lets AI agents act on an ERP safely. An agent **resolves** what it means to a canonical
ERP id (`POST /v1/resolve`), then **proposes an action** on that id by its resolution token
(`POST /v1/actions`). The gate decides by configuration whether the action runs, waits for
human approval, or is only recorded; every step is in a tamper-evident audit log.

Every endpoint but `/healthz` and `/readyz` needs an API key: `Authorization: Bearer <key>`.
Errors are `application/problem+json`, with the offending `field` when there is one.
"""


def rules_from(settings: Settings) -> GateRules:
    """The gate's tunable limits, from settings."""
    return GateRules(
        promotion=PromotionRules(
            min_proposals=settings.promotion_min_proposals,
            min_approval_rate=settings.promotion_min_approval_rate,
        ),
        burst_window_seconds=settings.burst_window_seconds,
        burst_max_actions=settings.burst_max_actions,
        amount_z_threshold=settings.amount_z_threshold,
        approval_ttl_seconds=settings.approval_ttl_seconds,
        account_window_seconds=settings.approval_account_window_seconds,
    )


def connector_class(settings: Settings) -> type:
    """The class of the connector `build_connector` makes (what it declares it can run is
    class-level: `gateway.offered`), without connecting to anything."""
    return erp_kind(settings.erp_kind).connector


def build_connector(settings: Settings) -> ErpConnector:
    """The ERP connector the settings name (`erp_kind`, a kind of `gateway.erp.registry`: the
    local ledger, or one over HTTP); an unknown kind is `UnknownErpKind`, naming the known."""
    return erp_kind(settings.erp_kind).build(settings)


def runner_from(settings: Settings) -> WorkflowRunner:
    """The workflow runner, as patient with the ERP as the settings say."""
    return WorkflowRunner(
        RunnerPolicy(
            lease_seconds=settings.workflow_lease_seconds,
            call_attempts=settings.workflow_call_attempts,
            retry_after_seconds=settings.workflow_retry_after_seconds,
            max_claims=settings.workflow_max_claims,
            start_grace_seconds=settings.workflow_start_grace_seconds,
            settle_seconds=settings.erp_settle_seconds,
        )
    )


def build_gateway(settings: Settings, connector: ErpConnector | None = None) -> Gateway:
    """The gateway over the settings' store, catalog, secret and ERP (default: `erp_kind`)."""
    keys, source = token_keys(settings)
    log.info("token secret: %s", source)
    return Gateway(
        store=Store.open(settings.store_url, checkpoints=audit_sink(settings)),
        catalog=load_catalog(settings.actions_file),
        signer=TokenSigner(keys, settings.token_ttl_seconds),
        connector=connector or build_connector(settings),
        normalise_identity=normalise_record,
        rules=rules_from(settings),
        runner=runner_from(settings),
    )


def create_app(
    settings: Settings,
    *,
    connector: ErpConnector | None = None,
    resolver: EntityResolver | None = None,
) -> FastAPI:
    """The API app. The ERP connector defaults to the local ledger in the workdir; the resolver
    to the workdir's trained model (the app starts without one, and says so in /readyz)."""
    configure_logging(settings.log_level)
    gateway = build_gateway(settings, connector)
    metrics = Metrics(gateway)
    state = ratelimit.shared_state_from(settings, gateway.store)
    limiter = ratelimit.limiter_from(settings, state)
    resolver_error: str | None = None
    erp_sync: ErpSync | None = None
    if resolver is None:
        try:
            resolver = own = load_resolver(settings.workdir, watch=True)
        except (ResolverError, OSError) as e:
            resolver_error = str(e)
            log.warning("resolver not loaded: %s", e)
        else:  # read-your-own-writes: what a workflow changes is served before it succeeds
            if isinstance(gateway.connector, RowReads):
                sync = IndexSync(settings.workdir, gateway.connector, on_applied=own.reload)
                gateway.runner.record_sync = sync
            if settings.erp_sync_seconds > 0 and isinstance(gateway.connector, ChangeFeed):
                erp_sync = ErpSync(settings.workdir, gateway.connector, on_applied=own.reload)

    if resolver is not None:
        resolver = CountingResolver(resolver, metrics)
    approval_services = build_approval_services(settings, gateway, state)
    mcp = http_endpoint(settings, gateway, lambda: app.state.resolver, limiter, metrics,
                        approval_services.desk, approval_services.resolutions)  # fmt: skip

    workflows = WorkflowSweeper(gateway.runner, gateway.store, gateway.connector,
                                interval=settings.workflow_sweep_seconds,
                                workers=settings.workflow_workers)  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.workflow_sweep_seconds > 0:
            workflows.start()  # resumes what a crash interrupted, then keeps watching
        if erp_sync is not None:
            erp_sync.start(settings.erp_sync_seconds)
        async with sweeping(approval_services), mcp.running():
            yield
        if erp_sync is not None:
            erp_sync.stop()
        workflows.stop()
        state.close()
        gateway.store.close()

    app = FastAPI(
        title="Canon",
        version="0.1.0",
        summary="Resolve-before-write: the gate between AI agents and an ERP",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from the bundled assets: no CDN, so it works offline
        redoc_url=None,
    )
    install_docs(app)
    app.state.settings = settings
    app.state.gateway = gateway
    app.state.resolver = resolver
    app.state.resolver_error = resolver_error
    app.state.erp_sync = erp_sync
    app.state.workflows = workflows
    metrics.registry.register(FreshnessCollector(settings.workdir, erp_sync))
    app.state.approvals = approval_services
    app.state.metrics = metrics
    errors.install(app)
    ratelimit.install(app, limiter)
    app.include_router(health.router)
    keyed = (resolve.router, actions.router, audit.router, admin.router, approvals.router,
             resolutions.router)  # fmt: skip
    for router in (*keyed, metrics_router):
        app.include_router(router, dependencies=[ratelimit.RateLimitDep])
    for router in (portal.router, slack.router):
        app.include_router(router, dependencies=[ratelimit.SourceLimitDep])
    dashboard.install(app)
    app.router.routes.append(Route("/mcp", mcp, methods=["GET", "POST", "DELETE"]))
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HttpMetrics, metrics=metrics)
    app.add_middleware(RequestLog)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker of `canon serve --workers N` (uvicorn's factory): its settings come
    from the `CANON_*` environment, where the command wrote the options it was given."""
    return create_app(Settings())


def prepare_shared(settings: Settings) -> None:
    """Make, once and before any worker starts, what the first app would make on first use and
    every worker must share: the store's schema, the token secret and the audit key files (N
    workers racing to create a secret file could each read a different or a half-written one)."""
    token_keys(settings)
    Store.open(settings.store_url, checkpoints=audit_sink(settings)).close()
