"""Swagger UI at `/docs`, served from the assets of the `swagger-ui-bundle` wheel.

FastAPI's default page loads Swagger UI from a CDN, which leaves `/docs` blank on a machine
without internet access (an air-gapped plant, a CI runner); these assets ship with Canon.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # the wheel ships Swagger UI 4.15.5

ASSETS = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Mount the bundled assets and the `/docs` page that uses them."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
