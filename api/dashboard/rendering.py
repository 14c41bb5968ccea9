"""The dashboard's templates (autoescaped Jinja), its static assets, and the links between pages,
which differ between the served dashboard and the single static file."""

from __future__ import annotations

import functools
from datetime import datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
ASSETS = TEMPLATES / "dashboard"
PLOTLY_VERSION: str = metadata.version("plotly")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _grade(score: float) -> str:
    return "good" if score >= 90 else "fair" if score >= 70 else "poor"


ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
ENV.filters.update(when=_when, pct=_pct, grade=_grade, duration=_duration)


def render(template: str, **values: Any) -> str:
    """A dashboard template rendered with `values` (every value escaped unless marked safe)."""
    return ENV.get_template(f"dashboard/{template}").render(values)


@functools.cache
def plotly_js() -> str:
    """plotly.js as shipped inside the installed plotly package (no CDN: works offline)."""
    return (resources.files("plotly") / "package_data" / "plotly.min.js").read_text("utf-8")


@functools.cache
def asset(name: str) -> str:
    """One of the dashboard's own assets (`dashboard.js`, `dashboard.css`)."""
    return (ASSETS / name).read_text(encoding="utf-8")


class ServedLinks:
    """Links between the pages of the served dashboard."""

    standalone = False

    def overview(self) -> str:
        return "/dashboard"

    def cluster(self, cluster_id: str) -> str:
        return f"/dashboard/clusters/{quote(cluster_id, safe='')}"

    def clusters(self, entity_type: str = "") -> str:
        query = f"?{urlencode({'entity_type': entity_type})}" if entity_type else ""
        return f"/dashboard/clusters{query}"

    def offenders(self, metric: str = "") -> str:
        query = f"?{urlencode({'metric': metric})}" if metric else ""
        return f"/dashboard/offenders{query}"


class StandaloneLinks(ServedLinks):
    """Links inside the single static file: fragments its script shows one view at a time."""

    standalone = True

    def overview(self) -> str:
        return "#overview"

    def cluster(self, cluster_id: str) -> str:
        return f"#cluster-{quote(cluster_id, safe='')}"

    def clusters(self, entity_type: str = "") -> str:
        return "#clusters"

    def offenders(self, metric: str = "") -> str:
        return "#offenders"
