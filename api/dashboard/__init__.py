"""The master-data quality dashboard: views, charts and tables over stored quality runs, served
by `api.routes.dashboard` and written as one static file by `canon quality --html`."""

from api.dashboard.pages import (
    Html,
    cluster_page,
    clusters_csv,
    clusters_page,
    empty_page,
    offenders_csv,
    offenders_page,
    overview_page,
    refusal_page,
    standalone_html,
    write_dashboard_html,
    write_standalone,
)
from api.dashboard.tables import ClusterQuery, OffenderQuery

__all__ = [
    "ClusterQuery",
    "Html",
    "OffenderQuery",
    "cluster_page",
    "clusters_csv",
    "clusters_page",
    "empty_page",
    "offenders_csv",
    "offenders_page",
    "overview_page",
    "refusal_page",
    "standalone_html",
    "write_dashboard_html",
    "write_standalone",
]
