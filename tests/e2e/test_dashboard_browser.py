"""The quality dashboard in a real browser: Playwright drives Debian's Chromium against a live
`canon serve` over a workdir trained on the committed sample with two stored quality runs.

Sign in through the portal, see the charts drawn (plot elements with data traces), click from an
entity card into a duplicate cluster and back, export a table as CSV and read it, and do the same
in the single static file `canon quality --html` writes. Screenshots go to `test-artifacts/`.
Chromium is never downloaded: without /usr/bin/chromium the test is skipped, or fails when
CANON_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.dashboard import write_dashboard_html
from gateway import Store
from gateway.channels.portal import create_user
from resolver import save_run
from resolver.quality import compute_quality
from tests.e2e.test_mcp_live import Canon, running_canon
from tests.gateway.test_approval_outbox import FAST_HASHER

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the module skips (or fails in CI) and says why
    expect = sync_playwright = None

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
USER, PASSWORD = "quality-admin", "correct horse battery staple"
#: Per plot element: the data points of its traces, or 0 when plotly drew no trace in the SVG.
COUNT_POINTS = """els => els.map(el =>
    (el.data || []).reduce((n, t) => n + ((t.y || t.x || []).length || 0), 0)
    * (el.querySelectorAll('.trace, .waterfall, .point').length > 0 ? 1 : 0))"""
#: Charts of the overview: three figures plus one sparkline per entity type.
OVERVIEW_CHARTS = 3


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: apt-get install -y chromium"
    if sync_playwright is None:
        return "playwright is not installed: pip install -e '.[dev]'"
    return None


#: Checked before any fixture trains or serves anything: skip at once, or fail in CI.
MISSING = _missing()
REQUIRED = os.environ.get("CANON_REQUIRE_BROWSER") == "1"
if MISSING and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (never a downloaded browser)."""
    if MISSING:
        pytest.fail(f"{MISSING} (CANON_REQUIRE_BROWSER=1)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--headless"])  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def quality_workdir(gate_workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the trained sample workdir with two stored quality runs (the trend)."""
    workdir = tmp_path_factory.mktemp("quality") / "work"
    shutil.copytree(gate_workdir, workdir)
    for _ in range(2):
        save_run(workdir, compute_quality(workdir))
    return workdir


@pytest.fixture(scope="module")
def canon(quality_workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canon]:
    with running_canon(quality_workdir, tmp_path_factory.mktemp("serve")) as live:
        store = Store.open(live.store_url)
        try:
            with store.transaction() as session:
                create_user(session, username=USER, password=PASSWORD, role="admin",
                            actor="test", now=datetime.now(UTC), hasher=FAST_HASHER)  # fmt: skip
        finally:
            store.close()
        yield live


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context; any script error or CSP violation on the page fails the test."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error"
           and not m.text.startswith("Failed to load resource") else None)  # fmt: skip
    tab.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
           and not r.url.endswith("/favicon.ico") else None)  # fmt: skip
    tab.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))
    yield tab
    context.close()
    assert problems == [], problems


def _shot(page: Any, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def _drawn(page: Any, selector: str = ".js-plotly-plot") -> list[int]:
    """How many data points each drawn plot of the page holds (0: a plot without data)."""
    page.wait_for_selector(selector)
    return list(page.eval_on_selector_all(selector, COUNT_POINTS))


def _csv(download: Any) -> list[dict[str, str]]:
    path = Path(download.path())
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_served_dashboard(canon: Canon, page: Any) -> None:
    page.goto(f"{canon.url}/portal/login")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{canon.url}/portal")

    page.click("header a[href='/dashboard']")  # the portal leads admins to the dashboard
    page.wait_for_url(f"{canon.url}/dashboard")
    cards = page.locator("article.card.entity")
    assert cards.count() == 5
    points = _drawn(page)
    assert len(points) == OVERVIEW_CHARTS + cards.count() and all(n > 0 for n in points), points
    _shot(page, "overview.png")
    _shot(page, "overview-top.png", full_page=False)
    page.locator("section.charts").screenshot(path=str(ARTIFACTS / "charts.png"))

    card = page.locator("article.card.entity", has=page.locator("a.cluster-link")).first
    entity_type = card.get_attribute("data-entity-type")
    card.locator("a.cluster-link").first.click()
    page.wait_for_url(re.compile(r".*/dashboard/clusters/[^/?]+$"))
    assert entity_type in page.locator("main p.muted").first.inner_text()
    assert page.locator("table.members tbody tr").count() > 0
    waterfalls = _drawn(page, ".chart.waterfall.js-plotly-plot")
    assert waterfalls and all(n > 0 for n in waterfalls), waterfalls
    _shot(page, "cluster.png")

    page.click("a.back")
    page.wait_for_url(f"{canon.url}/dashboard")
    assert page.locator("article.card.entity").count() == 5

    worst = page.locator("ul.worst a").first
    metric = worst.get_attribute("data-metric")
    worst.click()
    page.wait_for_url(re.compile(r".*/dashboard/offenders\?metric="))
    total = int(re.sub(r"\D", "", page.locator("main p.muted").first.inner_text().split("row")[0]))
    with page.expect_download() as got:
        page.click("a.csv")
    rows = _csv(got.value)
    assert len(rows) == total > 0
    assert {r["metric_id"] for r in rows} == {metric}
    _shot(page, "offenders.png")

    page.goto(f"{canon.url}/dashboard/clusters?sort=size&order=desc&per_page=10")
    assert page.locator("table.data tbody tr").count() <= 10
    with page.expect_download() as got:
        page.click("a.csv")
    clusters = _csv(got.value)
    sizes = [int(r["size"]) for r in clusters]
    assert sizes == sorted(sizes, reverse=True) and min(sizes) >= 2
    _shot(page, "clusters.png")


def test_the_single_static_file(quality_workdir: Path, tmp_path: Path, page: Any) -> None:
    out = tmp_path / "quality.html"
    write_dashboard_html(quality_workdir, out)
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
               else route.continue_())  # fmt: skip  # offline: nothing but the file itself
    page.goto(out.as_uri())
    points = _drawn(page)
    assert len(points) >= OVERVIEW_CHARTS and all(n > 0 for n in points), points
    _shot(page, "static-overview.png")

    link = page.locator("#overview a.cluster-link").first
    view = page.locator(f"section[data-view='{str(link.get_attribute('href'))[1:]}']")
    link.click()
    expect(view).to_be_visible()
    expect(page.locator("#overview")).to_be_hidden()
    waterfalls = _drawn(page, "section:not([hidden]) .chart.waterfall.js-plotly-plot")
    assert waterfalls and all(n > 0 for n in waterfalls), waterfalls
    view.locator("a.back").click()
    expect(page.locator("#overview")).to_be_visible()

    every = page.locator("#overview a[data-entity]").first
    entity_type = every.get_attribute("data-entity")
    every.click()
    table = page.locator("#clusters .client-table")
    expect(table).to_be_visible()
    rows_shown = table.locator("tbody tr").count()
    assert 0 < rows_shown <= 25
    table.locator("input[type=search]").fill("zzzz-no-such-name")
    expect(table.locator("tbody tr")).to_have_count(0)
    table.locator("input[type=search]").fill("")
    expect(table.locator("tbody tr")).to_have_count(rows_shown)
    with page.expect_download() as got:
        table.locator("button.csv").click()
    rows = _csv(got.value)
    assert len(rows) >= rows_shown and list(rows[0])[0] == "cluster_id"
    assert {r["entity_type"] for r in rows} == {entity_type}  # the card's filter, exported
    _shot(page, "static-clusters.png")
