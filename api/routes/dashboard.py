"""The master-data quality dashboard: server-rendered pages under `/dashboard` over the workdir's
latest stored `canon quality` run, for steward and admin API keys or a signed-in portal admin.

Pages are autoescaped Jinja; charts are plotly figures drawn by plotly.js served from the
installed package (no CDN); scripts come only from this origin (no inline script or handler).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.dashboard import ClusterQuery, Html, OffenderQuery, pages
from api.dashboard.rendering import PLOTLY_VERSION, asset, plotly_js
from api.deps import GatewayDep
from api.errors import status_of
from api.routes.approvals import get_services
from api.routes.portal import DASHBOARD_SESSION_COOKIE
from gateway import Gateway, Principal, Role
from gateway.errors import Forbidden, NotAuthenticated

router = APIRouter(prefix="/dashboard", include_in_schema=False)
READERS = (Role.STEWARD, Role.ADMIN)
HEADERS = {
    # plotly.js sets styles from script, hence 'unsafe-inline' for styles only.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC_CACHE = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
_bearer = HTTPBearer(auto_error=False, description="A steward or admin API key")


def _reader(
    request: Request, gateway: Gateway, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is not None:
        principal = gateway.authenticate(credentials.credentials)
    else:
        cookie = request.cookies.get(DASHBOARD_SESSION_COOKIE)
        login = get_services(request).sessions.resume(cookie) if cookie else None
        if login is None:
            raise NotAuthenticated("sign in at /portal/login, or send a steward or admin key")
        principal = login.principal
    request.state.principal = principal
    if principal.role not in READERS:
        raise Forbidden(f"{principal.role.spoken} may not read the quality dashboard")
    return principal


class RefusalPage(Exception):
    """A refusal a browser is shown as a page (API clients get problem+json)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def viewer(
    request: Request,
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Who reads the dashboard: a steward/admin key, or a portal admin's session."""
    try:
        return _reader(request, gateway, credentials)
    except (NotAuthenticated, Forbidden) as e:
        if "text/html" not in request.headers.get("accept", ""):
            raise
        status = status_of(e)[0]
        detail = {"method": request.method, "path": request.url.path, "status": status}
        principal = getattr(request.state, "principal", None)
        gateway.record_refusal(principal, "request.refused", e, detail)
        raise RefusalPage(status, e.message) from e


async def on_refusal_page(_request: Request, exc: Exception) -> Response:
    """The page of a refused browser: what happened and where to sign in."""
    assert isinstance(exc, RefusalPage)
    page = pages.refusal_page(exc.status, exc.message)
    headers = {**HEADERS, "WWW-Authenticate": "Bearer"} if exc.status == 401 else HEADERS
    return HTMLResponse(page.body, status_code=page.status, headers=headers)


def install(app: FastAPI) -> None:
    """Serve the dashboard on `app`, with its refusal pages."""
    app.include_router(router)
    app.add_exception_handler(RefusalPage, on_refusal_page)


Viewer = Annotated[Principal, Depends(viewer)]


def _workdir(request: Request) -> Path:
    workdir: Path = request.app.state.settings.workdir
    return workdir


def _html(page: Html) -> HTMLResponse:
    return HTMLResponse(page.body, status_code=page.status, headers=HEADERS)


def _csv(text: str | None, name: str, request: Request) -> Response:
    if text is None:
        return _html(pages.empty_page(_workdir(request), 404))
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers={**HEADERS, **disposition})


@router.get("")
def overview(request: Request, _: Viewer) -> Response:
    return _html(pages.overview_page(_workdir(request)))


@router.get("/offenders")
def offenders(request: Request, _: Viewer, query: Annotated[OffenderQuery, Query()]) -> Response:
    return _html(pages.offenders_page(_workdir(request), query))


@router.get("/offenders.csv")
def offenders_csv(request: Request, _: Viewer,
                  query: Annotated[OffenderQuery, Query()]) -> Response:  # fmt: skip
    return _csv(pages.offenders_csv(_workdir(request), query), "offenders.csv", request)


@router.get("/clusters")
def clusters(request: Request, _: Viewer, query: Annotated[ClusterQuery, Query()]) -> Response:
    return _html(pages.clusters_page(_workdir(request), query))


@router.get("/clusters.csv")
def clusters_csv(request: Request, _: Viewer, query: Annotated[ClusterQuery, Query()]) -> Response:
    return _csv(pages.clusters_csv(_workdir(request), query), "clusters.csv", request)


@router.get("/clusters/{cluster_id}")
def cluster(request: Request, _: Viewer,
            cluster_id: Annotated[str, PathParam(max_length=200)]) -> Response:  # fmt: skip
    return _html(pages.cluster_page(_workdir(request), cluster_id))


def _static(request: Request, text: str, media_type: str, version: str = "") -> Response:
    version = version or hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    etag = f'"{version}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={**STATIC_CACHE, "ETag": etag})
    return Response(text, media_type=media_type, headers={**STATIC_CACHE, "ETag": etag})


@router.get("/static/plotly.min.js")
def plotly_script(request: Request) -> Response:
    return _static(request, plotly_js(), "text/javascript", f"plotly-{PLOTLY_VERSION}")


@router.get("/static/dashboard.js")
def dashboard_script(request: Request) -> Response:
    return _static(request, asset("dashboard.js"), "text/javascript")


@router.get("/static/dashboard.css")
def stylesheet(request: Request) -> Response:
    return _static(request, asset("dashboard.css"), "text/css")
