"""`create_sandbox_app`: the sandbox ERP, speaking Protheus, SAP OData v2 and Oracle REST.

One SQLite file of Protheus-shaped tables (loaded from the sample CSVs) behind three faces;
faults are injected per request (`X-Sandbox-Fault`) or by rule (`/_sandbox/faults`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from api.sandbox_erp import admin, oracle, protheus, sap
from api.sandbox_erp import sap_orders as _sap_orders  # noqa: F401  (adds its routes to sap's)
from api.sandbox_erp.common import Credentials, Sandbox
from gateway.erp.sandbox import FaultBook, SandboxDatabase, SandboxRefusal

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
    if path.startswith("/fscmRestApi/"):
        return oracle.error(status, message)
    return protheus.error(status, message)


def create_sandbox_app(
    database: Path,
    data_dir: Path | None = None,
    *,
    username: str = DEFAULT_USER,
    password: str = DEFAULT_PASSWORD,
    stock: bool = False,
) -> FastAPI:
    """The sandbox ERP over the SQLite file `database`, loaded from `data_dir` when empty.

    `stock`: as an ERP installed from the vendor, without Canon's custom services (they answer
    404) and ignoring `Idempotency-Key` (a write sent twice is made twice).
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
    )
    app.state.sandbox = sandbox

    @app.exception_handler(SandboxRefusal)
    async def refused(request: Request, error: SandboxRefusal) -> JSONResponse:
        headers = {"WWW-Authenticate": "Basic"} if error.status == 401 else {}
        if error.status == 403 and request.url.path.startswith("/sap/"):
            headers["x-csrf-token"] = "Required"
        body = _error_body(request.url.path, error.status, error.message)
        return JSONResponse(body, status_code=error.status, headers=headers)

    @app.middleware("http")
    async def without_custom_services(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if sandbox.stock and path.startswith(CUSTOM_SERVICES):
            body = _error_body(path, 404, f"{path}: no such service on this system")
            return JSONResponse(body, status_code=404)
        return await call_next(request)

    @app.get("/_sandbox/health", tags=["sandbox: admin"])
    def health() -> dict[str, object]:
        return {"status": "ok", "loaded": sandbox.db.loaded, "stock": sandbox.stock}

    for router in (protheus.router, sap.router, oracle.router, admin.router):
        app.include_router(router)
    return app
