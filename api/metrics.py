"""`GET /metrics` (Prometheus): requests and latencies per route and tool, decisions, approvals
pending, workflow outcomes.

Counters and histograms live in one registry per app (tests build many apps). What the store
knows (actions by type and status, approvals pending) is read from the store at scrape time, so
the figures hold across processes (`canon serve` and `canon mcp` share one store) and restarts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import PrincipalDep
from api.logging import route_of
from gateway import EntityResolver, Gateway, Role
from gateway.erp_sync import ErpSync, index_freshness
from gateway.errors import Forbidden
from gateway.store import Action, Approval
from resolver import Resolution, ResolveQuery

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
READERS = (Role.STEWARD, Role.ADMIN)


class StoreCollector(Collector):
    """Gauges read from the store at scrape time: actions by type and status, pending approvals."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[GaugeMetricFamily]:
        actions = GaugeMetricFamily(
            "canon_actions",
            "Actions in the store by type and status (the gate's decisions and workflow outcomes)",
            labels=["action", "status"],
        )
        pending = GaugeMetricFamily(
            "canon_approvals_pending", "Approval requests waiting for a decision"
        )
        up = GaugeMetricFamily("canon_store_up", "1 when the store answered this scrape")
        try:
            with self.gateway.store.transaction() as session:
                by_status = session.execute(
                    select(Action.action_type, Action.status, func.count()).group_by(
                        Action.action_type, Action.status
                    )
                ).all()
                waiting = session.scalar(
                    select(func.count()).select_from(Approval).where(Approval.status == "pending")
                )
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        for action_type, status, count in by_status:
            actions.add_metric([action_type, status], count)
        pending.add_metric([], waiting or 0)
        up.add_metric([], 1)
        yield from (actions, pending, up)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


class FreshnessCollector(Collector):
    """Gauges of how current the serving index is, read at scrape time from the active model's
    manifest (what every replica serving the workdir serves) and this process's sync."""

    def __init__(self, workdir: Path, erp_sync: ErpSync | None) -> None:
        self.workdir, self.erp_sync = workdir, erp_sync

    def collect(self) -> Iterator[GaugeMetricFamily]:
        fresh = index_freshness(self.workdir)
        if fresh:
            age = GaugeMetricFamily(
                "canon_index_age_seconds", "Seconds since the serving index was trained or updated"
            )
            age.add_metric([], float(fresh["index_age_seconds"] or 0.0))
            applied = GaugeMetricFamily(
                "canon_index_rows_applied", "ERP rows applied to the serving index since training"
            )
            applied.add_metric([], float(fresh["rows_applied_since_training"]))
            marks = GaugeMetricFamily(
                "canon_sync_watermark",
                "How far the ERP's changes are applied, per entity type (numeric watermarks)",
                labels=["entity_type"],
            )
            for entity_type, mark in fresh["watermarks"].items():
                if str(mark).isdigit():
                    marks.add_metric([entity_type], float(mark))
            yield from (age, applied, marks)
        if self.erp_sync is None:
            return
        sync = self.erp_sync.freshness()
        lag = GaugeMetricFamily("canon_sync_lag_seconds", "Seconds since the last successful sync")
        if sync["sync_lag_seconds"] is not None:
            lag.add_metric([], float(sync["sync_lag_seconds"]))
        failing = GaugeMetricFamily("canon_sync_failing", "1 when the last sync failed")
        failing.add_metric([], 1.0 if sync["last_sync_error"] else 0.0)
        yield from (lag, failing)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


class Metrics:
    """The app's metrics: one registry, the families every door updates."""

    def __init__(self, gateway: Gateway | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "canon_http_requests", "HTTP requests by route and status",
            ["method", "route", "status"], registry=r,
        )  # fmt: skip
        self.http_latency = Histogram(
            "canon_http_request_duration_seconds", "HTTP request latency by route",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.tool_calls = Counter(
            "canon_mcp_tool_calls", "MCP tool calls by tool and outcome",
            ["tool", "outcome"], registry=r,
        )  # fmt: skip
        self.tool_latency = Histogram(
            "canon_mcp_tool_duration_seconds", "MCP tool call latency by tool",
            ["tool"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.resolve_decisions = Counter(
            "canon_resolve_decisions", "Resolver decisions by entity type and decision",
            ["entity_type", "decision"], registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "canon_rate_limited", "Calls refused by a rate limit, by door and bucket kind",
            ["door", "bucket"], registry=r,
        )  # fmt: skip
        if gateway is not None:
            r.register(StoreCollector(gateway))

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """One sample's value (for tests and the load report)."""
        return self.registry.get_sample_value(name, labels or {})

    def samples(self, prefix: str) -> list[Sample]:
        """Every sample whose name starts with `prefix`."""
        return [s for m in self.registry.collect() for s in m.samples if s.name.startswith(prefix)]


class CountingResolver:
    """An `EntityResolver` that counts its decisions; anything else goes to the wrapped one."""

    def __init__(self, inner: EntityResolver, metrics: Metrics) -> None:
        self.inner, self.metrics = inner, metrics

    def resolve(self, query: ResolveQuery) -> Resolution:
        resolution = self.inner.resolve(query)
        self.metrics.resolve_decisions.labels(
            resolution.entity_type or "none", resolution.decision.value
        ).inc()
        return resolution

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class HttpMetrics:
    """ASGI middleware: count and time every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            method, route = str(scope.get("method")), route_of(scope)
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_latency.labels(method, route).observe(time.perf_counter() - started)


router = APIRouter(tags=["observability"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (steward and admin keys)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request, principal: PrincipalDep) -> Response:
    if principal.role not in READERS:
        raise Forbidden(f"{principal.role.spoken} key may not read the metrics")
    registry: Metrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
