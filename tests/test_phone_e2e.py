"""Every dashboard page at phone width (390 x 844) and at desktop width, in Chromium.

At phone width no KPI tile or table may reach past the viewport, two tiles share a row, a
table wider than the screen scrolls inside itself, and the view's filters and its link are
reachable without opening the sidebar. Each page is photographed at both widths; the pictures
go to docs/screenshots/ (the README shows them) only when SERVICEPULSE_SCREENSHOTS=1, so an
ordinary test run never rewrites tracked files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from data_access.demo import DemoConfig, generate_demo
from data_access.engine import create_db_engine
from tests.test_e2e import (
    E2E_SCALE,
    RENDER_TIMEOUT_MS,
    AppServer,
    chromium_launched,
    frame_problems,
    report,
    visit,
    wait_for_page,
)

try:
    import playwright.sync_api as playwright_api
except ImportError:  # pragma: no cover - only without requirements-dev.txt
    playwright_api = None

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
WRITE_SCREENSHOTS = os.environ.get("SERVICEPULSE_SCREENSHOTS") == "1"
PHONE = (390, 844)
DESKTOP = (1400, 1000)
TALLEST = 9000  # px: a whole page in one picture, however long
# page name -> (path, heading, a KPI tile, has a table)
PAGES = {
    "overview": ("/", "ServicePulse overview", "NPS", False),
    "nps": ("/nps", "NPS", "NPS", True),
    "complaints": ("/complaints", "Complaints & appeals", "Complaints", False),
    "channels": ("/channels", "Channels", "Contacts online", False),
    "agents": ("/agents", "Agent performance", "Ratings", True),
}


@pytest.fixture(scope="module")
def phone_server(tmp_path_factory) -> Iterator[AppServer]:
    """A demo story that ends today (the default view holds data), served for this module."""
    url = f"sqlite:///{tmp_path_factory.mktemp('phone') / 'today.db'}"
    engine = create_db_engine(url)
    generate_demo(engine, DemoConfig.ending(scale=E2E_SCALE))
    engine.dispose()
    server = AppServer(url)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def chromium_browser(chromium, phone_server):
    with chromium_launched(chromium) as launched:
        yield launched


def settle(page) -> None:
    """Wait until every chart has drawn, then a moment for vega's last paint."""
    charts = page.get_by_test_id("stVegaLiteChart")
    for index in range(charts.count()):
        playwright_api.expect(charts.nth(index).locator("canvas, svg").first).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
    page.wait_for_timeout(800)


def photograph(page, path: Path, width: int) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the viewport is made as
    tall as the content first (the width, and so the layout, stays)."""
    height = page.evaluate("Math.max(...[...document.querySelectorAll("
                           "'[data-testid=stMain], [data-testid=stMain] > div')]"
                           ".map(element => element.scrollHeight))")
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, TALLEST)})
    page.wait_for_timeout(1500)
    tracked = SCREENSHOTS / path.name
    stamp = tracked.stat().st_mtime_ns if tracked.exists() else None
    page.screenshot(path=str(path), full_page=True)
    if WRITE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tracked.write_bytes(path.read_bytes())
    else:  # an ordinary run leaves the README's pictures alone
        assert (tracked.stat().st_mtime_ns if tracked.exists() else None) == stamp


def page_problems(page, problems) -> list[str]:
    """frame_problems without the navigation, which sits in the closed sidebar on a phone."""
    found = []
    if page.get_by_test_id("stException").count():
        found.append(f"Streamlit exception: {page.get_by_test_id('stException').all_inner_texts()}")
    for kind, items in (("JavaScript errors", problems.page_errors),
                        ("browser dialogs", problems.dialogs),
                        ("console errors", problems.console_errors)):
        if items:
            found.append(f"{kind}: {items}")
    return found


def boxes(page, test_id: str) -> list[dict]:
    elements = page.get_by_test_id(test_id)
    return [box for box in (elements.nth(index).bounding_box()
                            for index in range(elements.count())) if box]


@pytest.mark.parametrize("name", PAGES)
def test_phone_layout_fits_the_screen(phone_server, chromium_browser, tmp_path, name):
    path, heading, metric, has_table = PAGES[name]
    width = PHONE[0]
    with visit(chromium_browser, phone_server, path, viewport=PHONE) as (page, problems):
        wait_for_page(page, phone_server, heading, metric)
        settle(page)
        found = page_problems(page, problems)
        tiles = boxes(page, "stMetric")
        assert len(tiles) >= 3, tiles
        for box in tiles:
            if box["x"] < -0.5 or box["x"] + box["width"] > width + 0.5:
                found.append(f"a tile overflows the {width} px viewport: {box}")
        first, second = tiles[0], tiles[1]
        if abs(first["y"] - second["y"]) > 2 or first["width"] > width / 2:
            found.append(f"the first two tiles do not share a row: {first}, {second}")
        tables = boxes(page, "stDataFrame")
        if has_table and not tables:
            found.append("no table drawn")
        for box in tables:
            if box["x"] < -0.5 or box["x"] + box["width"] > width + 0.5:
                found.append(f"a table overflows the {width} px viewport: {box}")
        if tables:  # wider than the screen: it scrolls inside itself, nothing is cut off
            scrolled = page.get_by_test_id("stDataFrame").first.evaluate(
                "element => { const s = element.querySelector('.dvn-scroller');"
                " if (!s || s.scrollWidth <= s.clientWidth) return null;"
                " s.scrollLeft = 200; return s.scrollLeft; }")
            if scrolled == 0:
                found.append("a table wider than the screen does not scroll sideways")
        overflow = page.evaluate("Math.max(document.documentElement.scrollWidth, "
                                 "document.querySelector('[data-testid=stMain]').scrollWidth)")
        if overflow > width + 1:
            found.append(f"the page is {overflow} px wide on a {width} px screen")
        # The view's filters and its link, without opening the sidebar.
        main = page.get_by_test_id("stMain")
        if not main.get_by_text("All regions, channels and service types").first.is_visible():
            found.append("the active filters are not named under the title")
        main.get_by_role("button", name="Filters and link").click()
        link = page.get_by_test_id("stPopoverBody").get_by_test_id("stCode").first
        playwright_api.expect(link).to_contain_text("from=", timeout=RENDER_TIMEOUT_MS)
        page.keyboard.press("Escape")
        photograph(page, tmp_path / f"{name}-phone.png", width)
        assert not found, report(found, page, phone_server)
    assert (tmp_path / f"{name}-phone.png").stat().st_size > 20_000


@pytest.mark.parametrize("name", PAGES)
def test_desktop_screenshot(phone_server, chromium_browser, tmp_path, name):
    path, heading, metric, _ = PAGES[name]
    with visit(chromium_browser, phone_server, path, viewport=DESKTOP) as (page, problems):
        wait_for_page(page, phone_server, heading, metric)
        settle(page)
        tiles = boxes(page, "stMetric")
        assert len({round(box["y"]) for box in tiles[:4]}) == 1, tiles  # one row on desktop
        photograph(page, tmp_path / f"{name}-desktop.png", DESKTOP[0])
        found = frame_problems(page, problems)
        assert not found, report(found, page, phone_server)
    assert (tmp_path / f"{name}-desktop.png").stat().st_size > 20_000
