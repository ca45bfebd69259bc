"""End to end: the real app in a real browser (Debian's Chromium driven by Playwright).

One Streamlit server runs for the module, on a SQLite file whose demo story ends today (the
default view is the last 30 days), refreshing every few seconds. The deep-link tests must be a
fresh server's first request, because that is when a top-level pages/ folder puts Streamlit in
legacy multipage mode: the first test runs before any other page, and a later one restarts the
server.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from data_access.config import local_now, local_today
from data_access.demo import DemoConfig, generate_demo
from data_access.engine import create_db_engine
from data_access.reference import CHANNEL_BY_CODE
from data_access.schema import Case, CaseEvent
from tests.conftest import insert_answered_contacts, missing
from tests.tcp_proxy import TcpProxy

try:
    import playwright.sync_api as playwright_api
except ImportError:  # pragma: no cover - only without requirements-dev.txt
    playwright_api = None

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parent.parent
REFRESH_S = 3
E2E_SCALE = 0.02
STARTUP_TIMEOUT_S = 60.0
RENDER_TIMEOUT_MS = 60_000
NAV_TIMEOUT_MS = 5_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class AppServer:
    """`streamlit run app.py` on a free port; restartable to test a fresh server again."""

    database_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    stderr_path: Path | None = None
    pages_opened: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        if self.stderr_path is None:
            return ""
        return self.stderr_path.read_text(errors="replace")[-6000:]

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.database_url,
               "SERVICEPULSE_REFRESH_S": str(REFRESH_S)}
        with tempfile.NamedTemporaryFile("wb", prefix="streamlit-e2e-", suffix=".err",
                                         delete=False) as stderr_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py",
                 "--server.port", str(self.port), "--server.headless", "true"],
                cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr_file,
                start_new_session=True,
            )
        self.stderr_path = Path(stderr_file.name)
        self.pages_opened = 0
        wait_until_healthy(self)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.stderr_path is not None:
            self.stderr_path.unlink(missing_ok=True)

    def restart(self) -> None:
        self.stop()
        self.start()


def wait_until_healthy(server: AppServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"streamlit exited with {server.process.returncode}; "
                        f"stderr:\n{server.stderr()}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/_stcore/health", timeout=2) as reply:
                if reply.read().decode().strip() == "ok":
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = str(error)
        time.sleep(0.25)
    pytest.fail(f"streamlit was not healthy after {STARTUP_TIMEOUT_S:.0f} s ({last_error}); "
                f"stderr:\n{server.stderr()}")


@pytest.fixture(scope="module")
def today_sqlite_url(tmp_path_factory) -> str:
    """A demo story that ends today, so the default view (last 30 days) holds data."""
    path = tmp_path_factory.mktemp("e2e") / "today.db"
    url = f"sqlite:///{path}"
    engine = create_db_engine(url)
    generate_demo(engine, DemoConfig.ending(scale=E2E_SCALE))
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def app_server(today_sqlite_url) -> Iterator[AppServer]:
    server = AppServer(today_sqlite_url)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextmanager
def chromium_launched(chromium: str):
    """Debian's headless Chromium through Playwright, for one test (about a second)."""
    if playwright_api is None:
        missing("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium, headless=True,
                                          args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def browser(chromium, app_server):
    """A headless Chromium per test; `chromium` skips or fails when missing."""
    with chromium_launched(chromium) as launched:
        yield launched


@dataclass
class Problems:
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


def streamlit_probe(message) -> bool:
    """Streamlit's frontend first asks for /<page>/_stcore/... on a deep link (a 404), then
    finds the app's root: its own probe, not a problem of the page."""
    url = (message.location or {}).get("url", "")
    return "404" in message.text and re.search(r"/_stcore/(host-config|health)$", url) is not None


@contextmanager
def visit(browser, server: AppServer, path: str, viewport=(1400, 1000),
          wait_until: str = "domcontentloaded"):
    """A page in a new browser context (its own cookies and session), watched for problems."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    problems = Problems()
    page.on("pageerror", lambda error: problems.page_errors.append(str(error)))
    page.on("console", lambda message: problems.console_errors.append(message.text)
            if message.type == "error" and not streamlit_probe(message) else None)

    def on_dialog(dialog) -> None:
        problems.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    server.pages_opened += 1
    page.goto(f"{server.base_url}{path}", wait_until=wait_until)
    try:
        yield page, problems
    finally:
        context.close()


def wait_for_page(page, server: AppServer, heading: str, metric: str | None) -> None:
    """Wait until the page's heading (and a KPI tile) rendered and the script run finished."""
    expect = playwright_api.expect
    try:
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        if metric:
            expect(tile(page, metric)).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        # The status widget ("Running...") disappears once the script run has finished.
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=RENDER_TIMEOUT_MS)
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- page text ---\n{page.inner_text('body')[:3000]}"
                             f"\n--- server stderr ---\n{server.stderr()}") from error


def tile(page, label: str):
    return page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)).first


def tile_value(page, label: str) -> str:
    return tile(page, label).get_by_test_id("stMetricValue").inner_text()


NAVIGATION = ("Leadership", "Overview", "Customer", "NPS", "Complaints & appeals",
              "Operations", "Channels", "Agent performance", "Planning", "Staffing simulator",
              "Plan")


def frame_problems(page, problems: Problems) -> list[str]:
    """Everything that says the page did not render cleanly inside app.py's frame."""
    found = []
    nav = page.get_by_test_id("stSidebarNav")
    try:  # the script run has finished, so the navigation is there or it never will be
        nav.wait_for(state="visible", timeout=NAV_TIMEOUT_MS)
    except playwright_api.Error:
        found.append("no sidebar navigation (stSidebarNav) is visible")
    else:
        text = nav.inner_text()
        for expected in NAVIGATION:
            if expected not in text:
                found.append(f"sidebar navigation lacks {expected!r}: {text!r}")
    if page.get_by_test_id("stException").count():
        found.append(f"Streamlit exception: {page.get_by_test_id('stException').all_inner_texts()}")
    modals = page.get_by_role("dialog")
    if modals.count():  # e.g. Streamlit's "Page not found" modal
        found.append(f"Streamlit modal open: {modals.all_inner_texts()}")
    if problems.page_errors:
        found.append(f"JavaScript errors: {problems.page_errors}")
    if problems.dialogs:
        found.append(f"browser dialogs: {problems.dialogs}")
    if problems.console_errors:
        found.append(f"console errors: {problems.console_errors}")
    return found


def report(found: list[str], page, server: AppServer) -> str:
    return ("\n".join(f"- {item}" for item in found)
            + f"\n--- url ---\n{page.url}\n--- server stderr ---\n{server.stderr()}")


def filter_state(page) -> dict[str, str]:
    """What the sidebar shows: the date range, the selected granularity and the chips."""
    sidebar = page.get_by_test_id("stSidebar")
    days = sidebar.get_by_test_id("stDateInput").locator("input[type=date]")
    state = {"dates": " – ".join(days.nth(index).input_value() for index in range(2))}
    for label in ("Regions", "Channels", "Service types"):
        box = sidebar.get_by_test_id("stMultiSelect").filter(has_text=label)
        state[label] = ", ".join(box.locator("[data-tag] [title]").all_inner_texts())
    state["granularity"] = sidebar.get_by_test_id("stButtonGroup").locator(
        "[role=radio][aria-checked=true]").inner_text()
    return state


def deep_link_problems(page, problems: Problems, server: AppServer, path: str, heading: str,
                       metric: str, expected_state: dict[str, str]) -> list[str]:
    """What is wrong with a deep link's page: frame, path and filter state."""
    wait_for_page(page, server, heading, metric)
    found = frame_problems(page, problems)
    wanted_path = urlsplit(path).path.rstrip("/")
    if urlsplit(page.url).path.rstrip("/") != wanted_path:
        found.append(f"the deep link did not stay on {wanted_path}: {page.url}")
    state = filter_state(page)
    for key, value in expected_state.items():
        if value not in state[key]:
            found.append(f"filter {key!r} shows {state[key]!r}, expected {value!r}")
    return found


def test_first_request_deep_link_renders_inside_frame(app_server, browser):
    """The fresh server's very first page is a deep link: it must still get the frame.

    Without ui.frame's guard this request would run pages/simulator.py alone, without
    app.py's navigation.
    """
    assert app_server.pages_opened == 0
    with visit(browser, app_server, "/simulator") as (page, problems):
        wait_for_page(page, app_server, "Staffing simulator", None)
        playwright_api.expect(page.get_by_text("Simulation: baseline vs scenario")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        found = frame_problems(page, problems)
        if urlsplit(page.url).path.rstrip("/") != "/simulator":
            found.append(f"the deep link did not stay on /simulator: {page.url}")
        assert not found, report(found, page, app_server)


PAGE_TEXT = {
    "/": ("ServicePulse overview", "NPS", "Contacts online and offline"),
    "/nps": ("NPS", "Promoters", "Latest low-score comments"),
    "/complaints": ("Complaints & appeals", "Appeals", "e-Otinish appeals"),
    "/channels": ("Channels", "Online share", "Wait for an operator by channel"),
    "/agents": ("Agent performance", "Mean rating", "Operators"),
}


@pytest.mark.parametrize("path", PAGE_TEXT)
def test_each_page_shows_its_figures(app_server, browser, path):
    heading, metric, text = PAGE_TEXT[path]
    with visit(browser, app_server, path) as (page, problems):
        wait_for_page(page, app_server, heading, metric)
        playwright_api.expect(page.get_by_text(text).first).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        found = frame_problems(page, problems)
        value = tile_value(page, metric)
        if not any(character.isdigit() for character in value):
            found.append(f"KPI {metric!r} shows {value!r}")
        assert not found, report(found, page, app_server)


def test_copied_link_reproduces_the_view_in_a_new_browser(app_server, browser):
    expect = playwright_api.expect
    with visit(browser, app_server, "/nps") as (page, problems):
        wait_for_page(page, app_server, "NPS", "NPS")
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_test_id("stButtonGroup").get_by_role("radio", name="Day").click()
        expect(page).to_have_url(re.compile(r"grain=day"), timeout=RENDER_TIMEOUT_MS)
        regions = sidebar.get_by_test_id("stMultiSelect").filter(has_text="Regions")
        regions.locator("input").fill("Astana")
        regions.locator("input").press("Enter")
        page.keyboard.press("Escape")
        expect(page).to_have_url(re.compile(r"region=astana"), timeout=RENDER_TIMEOUT_MS)
        wait_for_page(page, app_server, "NPS", "NPS")
        page.get_by_test_id("stMain").get_by_role("radio", name="Region").click()
        expect(page).to_have_url(re.compile(r"split=region"), timeout=RENDER_TIMEOUT_MS)
        wait_for_page(page, app_server, "NPS", "NPS")
        link = page.url
        original_state, original_kpi = filter_state(page), tile_value(page, "NPS")
        sidebar.get_by_test_id("stExpander").filter(has_text="Copy link").click()
        expect(sidebar.get_by_test_id("stCode").first).to_be_visible(timeout=NAV_TIMEOUT_MS)
        shown_links = sidebar.get_by_test_id("stCode").all_inner_texts()
        assert not frame_problems(page, problems), report(frame_problems(page, problems),
                                                          page, app_server)
    assert original_state["Regions"] == "Astana"
    assert original_state["granularity"] == "Day"
    assert any("region=astana" in text and "grain=day" in text and "split=region" in text
               for text in shown_links), shown_links
    copied = f"{urlsplit(link).path}?{urlsplit(link).query}"
    with visit(browser, app_server, copied) as (page, problems):
        wait_for_page(page, app_server, "NPS", "NPS")
        assert filter_state(page) == original_state
        assert tile_value(page, "NPS") == original_kpi
        assert not frame_problems(page, problems)


def test_copy_link_follows_a_choice_made_in_the_live_part(app_server, browser):
    """The breakdown selector sits in the live part, whose reruns skip the sidebar."""
    expect = playwright_api.expect
    with visit(browser, app_server, "/complaints") as (page, problems):
        wait_for_page(page, app_server, "Complaints & appeals", "Complaints")
        page.get_by_test_id("stMain").get_by_role("radio", name="Region").click()
        expect(page).to_have_url(re.compile(r"case_by=region"), timeout=RENDER_TIMEOUT_MS)
        wait_for_page(page, app_server, "Complaints & appeals", "Complaints")
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_test_id("stExpander").filter(has_text="Copy link").click()
        expect(sidebar.get_by_test_id("stCode").first).to_contain_text(
            "case_by=region", timeout=RENDER_TIMEOUT_MS)
        found = frame_problems(page, problems)
        assert not found, report(found, page, app_server)


def test_a_visit_to_the_simulator_keeps_both_views(app_server, browser):
    """Dashboards -> simulator -> dashboards -> simulator: each page gets its own state back."""
    expect = playwright_api.expect
    start = local_today() - dt.timedelta(days=9)
    with visit(browser, app_server, f"/?from={start}&to={local_today()}&grain=day") as (
            page, problems):
        wait_for_page(page, app_server, "ServicePulse overview", "NPS")
        sidebar = page.get_by_test_id("stSidebar")
        live = sidebar.get_by_role("switch", name="Live refresh")
        sidebar.get_by_text("Live refresh", exact=True).click()
        expect(live).not_to_be_checked(timeout=NAV_TIMEOUT_MS)
        navigation = page.get_by_test_id("stSidebarNav")
        navigation.get_by_role("link", name="Staffing simulator").click()
        wait_for_page(page, app_server, "Staffing simulator", None)
        page.get_by_role("button", name="Bot on 30% more chats").click()
        expect(page).to_have_url(re.compile(r"bot_add=0\.3"), timeout=RENDER_TIMEOUT_MS)
        wait_for_page(page, app_server, "Staffing simulator", None)
        assert "from=" not in page.url
        navigation.get_by_role("link", name="Overview").click()
        wait_for_page(page, app_server, "ServicePulse overview", "NPS")
        expect(page).to_have_url(re.compile(rf"from={start}"), timeout=RENDER_TIMEOUT_MS)
        assert "bot_add=" not in page.url
        assert filter_state(page)["granularity"] == "Day"
        expect(live).not_to_be_checked(timeout=NAV_TIMEOUT_MS)
        navigation.get_by_role("link", name="Staffing simulator").click()
        wait_for_page(page, app_server, "Staffing simulator", None)
        expect(page).to_have_url(
            re.compile(r"bot_add=0\.3.*bot_cont=0\.6|bot_cont=0\.6.*bot_add=0\.3"),
            timeout=RENDER_TIMEOUT_MS)
        found = frame_problems(page, problems)
        assert not found, report(found, page, app_server)


def test_new_rows_appear_without_a_reload(app_server, browser, today_sqlite_url):
    with visit(browser, app_server, "/") as (page, problems):
        wait_for_page(page, app_server, "ServicePulse overview", "Survey responses")
        before = int(tile_value(page, "Survey responses").replace(",", ""))
        insert_answered_contacts(today_sqlite_url, 25, local_now().replace(microsecond=0))
        playwright_api.expect(
            tile(page, "Survey responses").get_by_test_id("stMetricValue")
        ).to_have_text(f"{before + 25:,}", timeout=(3 * REFRESH_S + 5) * 1000)
        assert not frame_problems(page, problems)


def test_root_shows_overview_and_saves_screenshot(app_server, browser, tmp_path):
    with visit(browser, app_server, "/") as (page, problems):
        wait_for_page(page, app_server, "ServicePulse overview", "NPS")
        charts = page.get_by_test_id("stVegaLiteChart")
        playwright_api.expect(charts).to_have_count(3, timeout=RENDER_TIMEOUT_MS)
        for index in range(3):
            playwright_api.expect(
                charts.nth(index).locator("canvas, svg").first
            ).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        page.wait_for_timeout(500)  # let vega finish its last paint
        screenshot = tmp_path / "overview.png"
        page.screenshot(path=str(screenshot), full_page=True)
        found = frame_problems(page, problems)
        assert not found, report(found, page, app_server)
    size = screenshot.stat().st_size
    assert size > 20_000, f"{screenshot} is only {size} bytes"
    # The README's pictures are written by tests/test_phone_e2e.py, and only when asked
    # (SERVICEPULSE_SCREENSHOTS=1): a test run never rewrites tracked files.


XSS = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2;alert(2)</script>'


def insert_open_e_otinish_appeal(url: str, category: str) -> None:
    engine = create_db_engine(url)
    received = local_now().replace(microsecond=0) - dt.timedelta(days=1)
    with engine.begin() as connection:
        case_id = connection.execute(insert(Case).values(
            external_id="e2e-hostile-appeal", kind="appeal", channel_id=CHANNEL_BY_CODE[
                "e_otinish"].id, category=category, region_id=1, received_at=received,
            status="received").returning(Case.id)).scalar_one()
        connection.execute(insert(CaseEvent).values(case_id=case_id, stage="received",
                                                     at=received))
    engine.dispose()


@pytest.mark.parametrize("path, insert_hostile", [
    ("/nps", lambda url: insert_answered_contacts(
        url, 1, local_now().replace(microsecond=0), score=0, reason="problem_not_solved",
        suggestion=XSS)),
    ("/complaints", lambda url: insert_open_e_otinish_appeal(url, XSS)),
])
def test_hostile_text_from_the_database_shows_as_text(app_server, browser, today_sqlite_url,
                                                      path, insert_hostile):
    """A comment or category crafted as markup is displayed literally; no script runs, no
    dialog opens."""
    insert_hostile(today_sqlite_url)
    heading = PAGE_TEXT[path][0]
    with visit(browser, app_server, path) as (page, problems):
        wait_for_page(page, app_server, heading, PAGE_TEXT[path][1])
        table = page.get_by_test_id("stDataFrame").last  # the detail list ends the page
        table.scroll_into_view_if_needed()  # the grid draws its cells when visible
        # The grid paints on a canvas and mirrors its cells in an accessible table.
        cell = table.locator("td").filter(has_text="window.__xss=1").first
        playwright_api.expect(cell).to_have_text(XSS, timeout=(3 * REFRESH_S + 5) * 1000)
        page.wait_for_timeout(1000)  # time for any injected handler to fire
        assert page.evaluate("window.__xss") is None
        assert page.locator("img[src=x]").count() == 0
        found = frame_problems(page, problems)
        assert not found, report(found, page, app_server)


def test_hostile_link_warns_and_runs_no_script(app_server, browser):
    path = ("/complaints?region=%3Cscript%3Ealert(1)%3C/script%3E&from=99999-01-01"
            "&grain=%27%3B%20DROP%20TABLE%20contacts%3B--&case_by=%3Cimg%20src%3Dx%20"
            "onerror%3Dalert(2)%3E")
    with visit(browser, app_server, path) as (page, problems):
        wait_for_page(page, app_server, "Complaints & appeals", "Complaints")
        alerts = page.get_by_test_id("stAlertContentWarning")
        for name in ("region", "from", "grain", "case_by"):  # the page's own comes later
            playwright_api.expect(alerts.filter(has_text=f"'{name}'")).to_have_count(
                1, timeout=(3 * REFRESH_S + 5) * 1000)
        warnings = " ".join(alerts.all_inner_texts())
        assert "<script>alert(1)</script>" in warnings  # echoed as text
        assert page.evaluate("window.__xss") is None
        found = frame_problems(page, problems)
        assert not found, report(found, page, app_server)


def test_markdown_in_a_link_shows_as_text(app_server, browser):
    """Warnings are Markdown: a link's values must not become a link, an image or styling."""
    fetched: list[str] = []
    path = ("/?region=" + quote("[Sign in again](https://evil.example/)")
            + "&channel=" + quote(f"![x]({app_server.base_url}/pixel.png)")
            + "&service=" + quote(":red[**URGENT** reset]"))
    with visit(browser, app_server, path) as (page, problems):
        page.on("request", lambda request: fetched.append(request.url)
                if "pixel" in request.url or "evil" in request.url else None)
        wait_for_page(page, app_server, "ServicePulse overview", "NPS")
        alerts = page.get_by_test_id("stAlertContentWarning")
        text = " ".join(alerts.all_inner_texts())
        assert "[Sign in again](https://evil.example/)" in text, text
        assert f"![x]({app_server.base_url}/pixel.png)" in text, text
        assert ":red[**URGENT** reset]" in text, text
        assert alerts.locator("a, img, strong, span[style*=color]").count() == 0
        found = frame_problems(page, problems)
        assert not found, report(found, page, app_server)
    assert not fetched, fetched


HOSTILE_VALUES = ("![x]({base}/pixel.png)", "[Sign in again](https://evil.example/)",
                  ":red[**URGENT**] `tick", "<img src={base}/pixel.png>")
# Every page with every parameter it reads, plus an unknown one; each gets a hostile value.
HOSTILE_PAGES = {
    "/": ("from", "to", "grain", "range", "region", "channel", "service", "made_up"),
    "/nps": ("region", "channel", "from"),
    "/complaints": ("case_by", "region", "to"),
    "/channels": ("channel", "grain"),
    "/agents": ("find", "order", "page", "region"),
    "/simulator": ("wd", "wk", "mult", "bot_add", "sw_nf", "sweep", "a`b![y](http://evil/)"),
    "/plan": ("wk", "ops", "pool", "tl", "a`b![y](http://evil/)"),
}


@pytest.mark.parametrize("path", sorted(HOSTILE_PAGES))
def test_every_page_shows_hostile_link_values_as_text(app_server, browser, path):
    """Every warning or error that echoes a link's value renders it literally: no link, image
    or styling from a value in the DOM, and the browser fetches nothing from outside."""
    outside: list[str] = []
    params = HOSTILE_PAGES[path]
    values = [HOSTILE_VALUES[i % len(HOSTILE_VALUES)].format(base=app_server.base_url)
              for i in range(len(params))]
    query = "&".join(f"{quote(name)}={quote(value)}" for name, value in zip(params, values,
                                                                           strict=True))
    with visit(browser, app_server, f"{path}?{query}") as (page, problems):
        page.on("request", lambda request: outside.append(request.url)
                if "pixel" in request.url or urlsplit(request.url).hostname not in (
                    "127.0.0.1", "localhost") else None)
        expect = playwright_api.expect
        alerts = page.get_by_test_id("stAlert")
        expect(alerts.first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=RENDER_TIMEOUT_MS)
        page.wait_for_timeout(1000)  # time for any injected image to be requested
        text = " ".join(alerts.all_inner_texts())
        assert any(value in text for value in values), text  # echoed, as text
        assert alerts.locator("a, img, strong, em, span[style*=color]").count() == 0, text
        assert page.evaluate("window.__xss") is None
        assert not problems.page_errors and not problems.dialogs
    assert not outside, outside


def test_restarted_server_serves_filtered_deep_links_first(app_server, browser):
    """After a restart, the first requests arrive together: the overview and a deep link to
    the NPS page with a region and a date range. The NPS session starts in legacy mode, and the
    overview's session leaves that mode while the NPS page is still importing: the page must
    still get the frame, the filters and its KPI."""
    app_server.restart()
    assert app_server.pages_opened == 0
    end = local_today()
    start = end - dt.timedelta(days=13)
    nps = f"/nps?from={start}&to={end}&grain=day&region=almaty_city"
    with ExitStack() as stack:
        # "commit": the second request leaves before the first page has even loaded.
        root, root_problems = stack.enter_context(
            visit(browser, app_server, "/", wait_until="commit"))
        page, problems = stack.enter_context(visit(browser, app_server, nps,
                                                   wait_until="commit"))
        found = deep_link_problems(page, problems, app_server, nps, "NPS", "NPS",
                                   {"dates": f"{start} – {end}", "Regions": "Almaty",
                                    "granularity": "Day"})
        assert not found, report(found, page, app_server)
        assert "±" in tile_value(page, "NPS")
        found = deep_link_problems(root, root_problems, app_server, "/",
                                   "ServicePulse overview", "NPS", {"granularity": "Week"})
        assert not found, report(found, root, app_server)


@pytest.mark.postgres
def test_database_outage_shows_one_banner_then_recovers(browser, seeded_postgres_url):
    """Real PostgreSQL behind a proxy: cut it, the page shows one masked banner and keeps
    retrying; restore it, the figures come back without a reload or a restart."""
    target = make_url(seeded_postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    proxy.start()
    server = AppServer(target.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    tick_ms = (3 * REFRESH_S + 5) * 1000
    try:
        server.start()
        path = "/complaints?from=2022-06-01&to=2022-07-31"
        with visit(browser, server, path) as (page, problems):
            wait_for_page(page, server, "Complaints & appeals", "Complaints")
            proxy.stop()
            banner = page.get_by_test_id("stAlertContentError").filter(has_text="database")
            playwright_api.expect(banner).to_have_count(1, timeout=tick_ms)
            text = banner.inner_text()
            assert f"{target.username}:***@127.0.0.1:{proxy.port}" in text, text
            assert f":{target.password}@" not in text
            assert page.get_by_test_id("stException").count() == 0
            proxy.start()
            playwright_api.expect(banner).to_have_count(0, timeout=tick_ms)
            playwright_api.expect(tile(page, "Complaints")).to_be_visible(timeout=tick_ms)
            assert page.get_by_test_id("stException").count() == 0
            assert not problems.page_errors and not problems.dialogs
    finally:
        proxy.stop()
        server.stop()
