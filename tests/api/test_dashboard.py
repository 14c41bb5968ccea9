"""The quality dashboard through the real app: who may read it, the empty state, the overview,
the tables (filter, sort, page, 422 on bad parameters), CSV export, cluster pages, escaping of
hostile ERP text, the static assets, and the single static file.

The dashboard reads only the workdir's stored runs; the store serves authentication alone, and
that is tested on both backends elsewhere, so these tests use SQLite.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.dashboard import write_dashboard_html
from api.settings import Settings
from gateway.keys import LOCAL_OPERATOR
from resolver import (
    ClusterMember,
    ClusterPair,
    DuplicateCluster,
    EntityQuality,
    MetricResult,
    Offender,
    QualityReport,
    WaterfallStep,
    save_run,
)
from tests.api.conftest import KeyMaker
from tests.api.test_portal import add_user, sign_in

SCRIPT = "<script>alert('pwned')</script>"
FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'canon.sqlite'}"


def _metric(metric_id: str, entity_type: str, offenders: list[tuple[str, str, str]],
            denominator: int, severity: str = "medium", category: str = "validity",
            field: str | None = "tax_id") -> MetricResult:  # fmt: skip
    found = tuple(Offender(*o) for o in offenders)
    return MetricResult(
        metric_id=metric_id, entity_type=entity_type, field=field, category=category,  # type: ignore[arg-type]
        title=metric_id.replace(".", " "), description=f"what {metric_id} checks",
        severity=severity, value=1 - len(found) / denominator, numerator=len(found),  # type: ignore[arg-type]
        denominator=denominator, offenders=found,
    )  # fmt: skip


def _pair(left: str, right: str, p: float, differing: tuple[str, ...]) -> ClusterPair:
    steps = (WaterfallStep("prior", None, -9.5), WaterfallStep("name", "name", 8.0),
             WaterfallStep("tax_id", "tax_id", 6.0),
             WaterfallStep("city", "city", -1.2))  # fmt: skip
    return ClusterPair(left, right, p, sum(s.match_weight for s in steps), differing, steps)


def sample_report(run_id: str = "run-2", created_at: datetime | None = None,
                  supplier_score: float = 71.5) -> QualityReport:  # fmt: skip
    """A small run with a hostile supplier name, a formula-like label and three clusters."""
    members = (
        ClusterMember("SA2:01:000001:01", {"name": f"ACME {SCRIPT}", "tax_id": "11222333000181",
                                           "city": "SAO PAULO"}),
        ClusterMember("SA2:01:000002:01", {"name": "ACME LTDA", "tax_id": "11222333000181",
                                           "city": "Sao  Paulo"}),
        ClusterMember("SA2:01:000003:01", {"name": "ACME LTDA.", "tax_id": "11222333000181",
                                           "city": "CAMPINAS"}),
    )  # fmt: skip
    big = DuplicateCluster("c-acme", "supplier", 3, members, (
        _pair(members[0].canonical_id, members[1].canonical_id, 0.998, ("name",)),
        _pair(members[1].canonical_id, members[2].canonical_id, 0.91, ("name", "city")),
    ))  # fmt: skip
    small = DuplicateCluster("c-beta", "supplier", 2, (
        ClusterMember("SA2:01:000010:01", {"name": "BETA SA", "city": "RIO"}),
        ClusterMember("SA2:01:000011:01", {"name": "BETA S.A.", "city": "RIO"}),
    ), (_pair("SA2:01:000010:01", "SA2:01:000011:01", 0.97, ("name",)),))  # fmt: skip
    people = DuplicateCluster("c-joao", "customer", 2, (
        ClusterMember("SA1:01:000100:01", {"name": "JOAO SILVA"}),
        ClusterMember("SA1:01:000101:01", {"name": "JOÃO SILVA"}),
    ), (_pair("SA1:01:000100:01", "SA1:01:000101:01", 0.95, ("name",)),))  # fmt: skip
    invalid = [(f"SA2:01:{i:06d}:01", f"SUPPLIER {i:02d}", "check digits do not match")
               for i in range(20, 32)]  # fmt: skip
    invalid.append(("SA2:01:000099:01", FORMULA, 'bad, "quoted"\nvalue'))
    invalid.append(("SA2:01:000001:01", f"ACME {SCRIPT}", "check digits do not match"))
    metrics = (
        _metric("supplier.tax_id.valid", "supplier", invalid, 400, severity="high"),
        _metric("supplier.email.filled", "supplier", [("SA2:01:000050:01", "NO MAIL", "blank")],
                400, severity="low", category="completeness", field="email"),
        _metric("customer.name.unique", "customer", [("SA1:01:000100:01", "JOAO SILVA", "dup")],
                200, category="uniqueness", field=None),
        _metric("customer.phone.valid", "customer", [], 200, category="validity", field="phone"),
    )  # fmt: skip
    return QualityReport(
        run_id=run_id, created_at=created_at or datetime(2026, 11, 25, 12, tzinfo=UTC),
        workdir="/w", model_version="m-1",
        entities=(EntityQuality("supplier", 400, supplier_score),
                  EntityQuality("customer", 200, 93.0)),
        metrics=metrics, clusters=(big, small, people),
    )  # fmt: skip


def store_runs(workdir: Path) -> QualityReport:
    """Two stored runs a day apart; the later one is returned."""
    earlier = datetime(2026, 11, 24, 12, tzinfo=UTC)
    save_run(workdir, sample_report("run-1", earlier, supplier_score=64.0))
    latest = sample_report("run-2", earlier + timedelta(days=1))
    save_run(workdir, latest)
    return latest


@pytest.fixture
def stored(settings: Settings) -> QualityReport:
    return store_runs(settings.workdir)


@pytest.fixture
def steward(auth: KeyMaker) -> dict[str, str]:
    return auth("steward", name="steward")


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def cells(html: str, css_class: str) -> list[str]:
    """The text of every `<code>` cell link of a table (the ids shown, in order)."""
    return re.findall(rf'class="{css_class}"[^>]*><code>([^<]+)</code>', html)


# --- who may read it -------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [
    pytest.param(None, 401, id="no-key"),
    pytest.param("agent", 403, id="agent"),
    pytest.param("approver", 403, id="approver"),
    pytest.param("steward", 200, id="steward"),
    pytest.param("admin", 200, id="admin"),
])  # fmt: skip
def test_keys_by_role(client: TestClient, auth: KeyMaker, stored: Any, role: str | None,
                      status: int) -> None:  # fmt: skip
    headers = auth(role) if role else {}
    for path in ("/dashboard", "/dashboard/offenders", "/dashboard/clusters.csv",
                 "/dashboard/clusters/c-acme"):  # fmt: skip
        assert client.get(path, headers=headers).status_code == status, path


def test_an_unknown_key_is_refused(client: TestClient, stored: Any) -> None:
    response = client.get("/dashboard", headers={"Authorization": "Bearer not-a-key"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_portal_admin_reads_it_until_signing_out(client: TestClient, app: FastAPI,
                                                  stored: Any) -> None:  # fmt: skip
    add_user(app, "root", role="admin")
    assert client.get("/dashboard").status_code == 401
    assert sign_in(client, "root").status_code == 303
    assert client.get("/dashboard").status_code == 200
    portal = client.get("/portal")
    token = re.search(r'name="csrf_token" value="([^"]+)"', portal.text)
    assert token
    client.post("/portal/logout", data={"csrf_token": token.group(1)})
    assert client.get("/dashboard").status_code == 401


def test_a_browser_is_shown_a_page_not_json(client: TestClient, app: FastAPI, auth: KeyMaker,
                                            stored: Any) -> None:  # fmt: skip
    html = {"Accept": "text/html,application/xhtml+xml"}
    anonymous = client.get("/dashboard", headers=html)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("text/html")
    assert 'href="/portal/login?next=/dashboard"' in anonymous.text
    agent = client.get("/dashboard", headers={**html, **auth("agent", name="bot")})
    assert agent.status_code == 403 and "an agent may not read the quality dashboard" in agent.text
    refused = app.state.gateway.audit_entries(LOCAL_OPERATOR, None, 0, 1000)
    assert [e["data"]["path"] for e in refused if e["kind"] == "request.refused"] == ["/dashboard"]
    add_user(app, "root", role="admin")
    sign_in(client, "root")
    assert 'href="/dashboard"' in client.get("/portal").text  # the portal leads admins here


def test_a_portal_approver_may_not(client: TestClient, app: FastAPI, stored: Any) -> None:
    add_user(app, "bob")
    sign_in(client, "bob")
    assert client.get("/portal").status_code == 200
    assert client.get("/dashboard").status_code == 403


# --- pages -----------------------------------------------------------------------------------


def test_without_a_run_it_says_how_to_make_one(client: TestClient, settings: Settings,
                                               steward: dict[str, str]) -> None:  # fmt: skip
    for path in ("/dashboard", "/dashboard/clusters", "/dashboard/clusters/c-acme"):
        page = client.get(path, headers=steward)
        assert page.status_code == 200
        assert f"canon quality --workdir {settings.workdir}" in page.text
    assert client.get("/dashboard/offenders.csv", headers=steward).status_code == 404


def test_the_overview(client: TestClient, steward: dict[str, str], stored: Any) -> None:
    page = client.get("/dashboard", headers=steward)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert html.count('class="card entity"') == 2
    assert "71.5" in html and "+7.5 since the last run" in html  # the trend from run-1
    assert 'href="/dashboard/clusters/c-acme"' in html  # the biggest cluster, from its card
    assert 'href="/dashboard/offenders?metric=supplier.tax_id.valid"' in html
    charts = set(re.findall(r'id="(chart-[a-z]+)"', html))
    assert {"chart-trend", "chart-categories", "chart-sizes"} <= charts
    assert html.count('class="chart spark"') == 2
    assert '<script src="/dashboard/static/plotly.min.js"></script>' in html
    assert "cdn" not in html.lower()


def test_hostile_erp_text_is_escaped_everywhere(client: TestClient, steward: dict[str, str],
                                                stored: Any) -> None:  # fmt: skip
    for path in ("/dashboard", "/dashboard/offenders?q=ACME", "/dashboard/clusters",
                 "/dashboard/clusters/c-acme"):  # fmt: skip
        html = client.get(path, headers=steward).text
        assert "<script>alert" not in html, path
        assert "ACME &lt;script&gt;" in html or "ACME \\u0026lt;script" in html, path
        # Only same-origin script files: no inline script a CSP would have to allow.
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], path
    csp = client.get("/dashboard", headers=steward).headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp


def test_offenders_filter_sort_and_page(client: TestClient, steward: dict[str, str],
                                        stored: Any) -> None:  # fmt: skip
    def ids(**params: Any) -> list[str]:
        page = client.get("/dashboard/offenders", headers=steward, params=params)
        assert page.status_code == 200, page.text
        return re.findall(r"<td>(SA[12]:[^<]+)</td>", page.text)

    everything = ids(per_page=500)
    assert len(everything) == 16
    tax = {"metric": "supplier.tax_id.valid", "sort": "canonical_id", "order": "asc",
           "per_page": 5}  # fmt: skip
    first, second = ids(**tax), ids(**tax, page=2)
    assert first == [f"SA2:01:{i:06d}:01" for i in (1, 20, 21, 22, 23)]
    assert second == [f"SA2:01:{i:06d}:01" for i in (24, 25, 26, 27, 28)]
    assert ids(**{**tax, "order": "desc"})[0] == "SA2:01:000099:01"
    assert ids(q="no mail") == ["SA2:01:000050:01"]
    assert ids(entity_type="customer") == ["SA1:01:000100:01"]
    page = client.get("/dashboard/offenders", headers=steward, params=tax).text
    assert "14 rows · page 1 of 3" in page
    assert 'rel="next" href="/dashboard/offenders?' in page and "page=2" in page


def test_clusters_sorted_by_size_then_filtered(client: TestClient, steward: dict[str, str],
                                               stored: Any) -> None:  # fmt: skip
    page = client.get("/dashboard/clusters", headers=steward).text
    assert cells(page, "cluster-link") == ["c-acme", "c-beta", "c-joao"]  # ties keep run order
    by_id = client.get("/dashboard/clusters", headers=steward,
                       params={"sort": "cluster_id", "order": "desc"}).text  # fmt: skip
    assert cells(by_id, "cluster-link") == ["c-joao", "c-beta", "c-acme"]
    people = client.get("/dashboard/clusters", headers=steward, params={"entity_type": "customer"})
    assert cells(people.text, "cluster-link") == ["c-joao"]


@pytest.mark.parametrize(("params", "field"), [
    pytest.param({"page": 0}, "page", id="page-zero"),
    pytest.param({"per_page": 10_000}, "per_page", id="page-too-big"),
    pytest.param({"sort": "password"}, "sort", id="unknown-column"),
    pytest.param({"order": "sideways"}, "order", id="unknown-order"),
    pytest.param({"q": "x" * 201}, "q", id="filter-too-long"),
    pytest.param({"colour": "red"}, "colour", id="unknown-parameter"),
])  # fmt: skip
def test_bad_table_parameters_are_422_naming_the_field(
    client: TestClient, steward: dict[str, str], stored: Any, params: dict[str, Any], field: str
) -> None:
    for path in ("/dashboard/offenders", "/dashboard/clusters.csv"):
        response = client.get(path, headers=steward, params=params)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["field"] == f"query.{field}"


def test_csv_export(client: TestClient, steward: dict[str, str], stored: Any) -> None:
    params = {"metric": "supplier.tax_id.valid", "sort": "canonical_id", "per_page": 2}
    response = client.get("/dashboard/offenders.csv", headers=steward, params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="offenders.csv"' in response.headers["content-disposition"]
    rows = rows_of(response.text)
    assert len(rows) == 14  # every selected row, not one page
    assert list(rows[0]) == ["metric_id", "entity_type", "field", "category", "severity",
                             "canonical_id", "label", "detail"]  # fmt: skip
    hostile = next(r for r in rows if r["canonical_id"] == "SA2:01:000099:01")
    assert hostile["label"] == "'" + FORMULA  # a spreadsheet shows it, does not run it
    assert hostile["detail"] == 'bad, "quoted"\nvalue'  # quoted, and read back whole
    assert response.text.startswith("metric_id,") and "\r\n" in response.text
    clusters = rows_of(client.get("/dashboard/clusters.csv", headers=steward).text)
    assert [(r["cluster_id"], r["size"]) for r in clusters] == [("c-acme", "3"), ("c-beta", "2"),
                                                                ("c-joao", "2")]  # fmt: skip
    assert clusters[0]["min_probability"] == "0.91"


def test_the_cluster_page(client: TestClient, steward: dict[str, str], stored: Any) -> None:
    page = client.get("/dashboard/clusters/c-acme", headers=steward)
    assert page.status_code == 200
    html = page.text
    assert html.count("<code>SA2:01:00000") >= 3
    differs = re.findall(r'<tr class="(differs|same)"><th>([a-z_]+)</th>', html)
    assert {name: kind for kind, name in differs} == {
        "name": "differs", "tax_id": "same", "city": "differs"}  # fmt: skip
    assert html.count('class="chart waterfall"') == 2
    assert '"type":"waterfall"' in html.replace("&#34;", '"').replace("&quot;", '"')
    assert 'href="/dashboard"' in html  # the way back


def test_an_unknown_cluster_is_404(client: TestClient, steward: dict[str, str],
                                   stored: Any) -> None:  # fmt: skip
    page = client.get("/dashboard/clusters/no-such-cluster", headers=steward)
    assert page.status_code == 404 and "no-such-cluster" in page.text
    too_long = client.get("/dashboard/clusters/" + "x" * 201, headers=steward)
    assert too_long.status_code == 422


def test_plotly_js_is_served_from_the_package(client: TestClient) -> None:
    script = client.get("/dashboard/static/plotly.min.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "max-age=" in script.headers["cache-control"]
    assert script.text.lstrip().startswith("/**") and "plotly.js v" in script.text[:200]
    again = client.get("/dashboard/static/plotly.min.js",
                       headers={"If-None-Match": script.headers["etag"]})  # fmt: skip
    assert again.status_code == 304 and again.content == b""
    for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        asset = client.get(f"/dashboard/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)


def test_the_single_static_file(settings: Settings, stored: QualityReport,
                                tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "out" / "quality.html"
    write_dashboard_html(settings.workdir, out)
    html = out.read_text(encoding="utf-8")
    assert "plotly.js v" in html and "<script src=" not in html  # no server, no network
    assert "<script>alert" not in html and "ACME &lt;script&gt;" in html
    assert 'id="cluster-c-acme"' in html and 'href="#cluster-c-acme"' in html
    data = re.search(r'<script type="application/json" id="offender-data">(.*?)</script>', html,
                     re.S)  # fmt: skip
    assert data and "\\u003cscript\\u003e" in data.group(1)  # JSON cannot close its script
    assert [p.name for p in out.parent.iterdir()] == ["quality.html"]  # no temporary left
