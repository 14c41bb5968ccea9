"""`create_sandbox_app`: the sandbox ERP, speaking Protheus, SAP OData v2 and Oracle REST.

One SQLite file of Protheus-shaped tables (loaded from the sample CSVs) behind three faces;
faults are injected per request (`X-Sandbox-Fault`) or by rule (`/_sandbox/faults`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.erp import admin, oracle, oracle_service, protheus, sap
from sandbox.erp import sap_orders as _sap_orders  # noqa: F401  (adds its routes to sap's)
from sandbox.erp.backend import FaultBook, SandboxDatabase, SandboxRefusal
from sandbox.erp.common import Credentials, Sandbox, StampArrival

DEFAULT_USER, DEFAULT_PASSWORD = "canon", "sandbox"
#: Canon's own ERP-side services, absent from a stock ERP (`--stock`): the SAP `ZCANON_*`
#: services, Oracle's `canonOperations`, and the Protheus face's operation log. (The rest of
#: the Protheus face, `/rest/api/canon/v1`, is itself a custom TLPP service: see docs/ERP.md.)
CUSTOM_SERVICES = (
    "/sap/opu/odata/sap/ZCANON_",
    f"{oracle.BASE}/canonOperations",
    f"/rest{protheus.API}/operations",
)


def _error_body(path: str, status: int, message: str) -> object:
    if path.startswith("/sap/"):
        return sap.error(status, message)
    if path.startswith(("/fscmRestApi/", "/crmRestApi/")):
        return oracle.error(status, message)
    return protheus.error(status, message)


class WithoutCustomServices:
    """ASGI middleware of a stock sandbox: Canon's custom services answer 404."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path.startswith(CUSTOM_SERVICES):
            body = _error_body(path, 404, f"{path}: no such service on this system")
            await JSONResponse(body, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_sandbox_app(
    database: Path,
    data_dir: Path | None = None,
    *,
    username: str = DEFAULT_USER,
    password: str = DEFAULT_PASSWORD,
    stock: bool = False,
    request_timeout_seconds: float | None = None,
    protheus_filial_width: int = 2,
) -> FastAPI:
    """The sandbox ERP over the SQLite file `database`, loaded from `data_dir` when empty.

    `stock`: as an ERP installed from the vendor, without Canon's custom services (they answer
    404) and ignoring `Idempotency-Key` (a write sent twice is made twice).
    `request_timeout_seconds`: a request that has not committed its write that long after it
    arrived is abandoned, nothing written (None: no limit).
    `protheus_filial_width`: the width of the filial in the Protheus face's primary keys.
    """
    app = FastAPI(
        title="Canon sandbox ERP",
        version="0.1.0",
        summary="A staging ERP with Protheus, SAP and Oracle faces and fault injection",
    )
    sandbox = Sandbox(
        SandboxDatabase(database, data_dir),
        FaultBook(),
        Credentials(username, password),
        stock=stock,
        request_timeout_seconds=request_timeout_seconds,
        protheus_filial_width=protheus_filial_width,
    )
    app.state.sandbox = sandbox

    @app.exception_handler(SandboxRefusal)
    async def refused(request: Request, error: SandboxRefusal) -> JSONResponse:
        headers = {"WWW-Authenticate": "Basic"} if error.status == 401 else {}
        if error.status == 403 and request.url.path.startswith("/sap/"):
            headers["x-csrf-token"] = "Required"
        body = _error_body(request.url.path, error.status, error.message)
        return JSONResponse(body, status_code=error.status, headers=headers)

    if stock:
        app.add_middleware(WithoutCustomServices)
    app.add_middleware(StampArrival)  # the outermost: the moment a request reaches the ERP

    @app.get("/_sandbox/health", tags=["sandbox: admin"])
    def health() -> dict[str, object]:
        return {"status": "ok", "loaded": sandbox.db.loaded, "stock": sandbox.stock}

    for router in (protheus.router, sap.router, oracle.router, oracle_service.router, admin.router):
        app.include_router(router)
    return app
