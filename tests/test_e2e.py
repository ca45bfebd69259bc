"""End to end: the real app in a real browser (Debian's Chromium driven by Playwright).

One Streamlit server runs for the module, on a SQLite file whose demo story ends today (the
overview shows the last 30 days). The deep-link test must be the first page the fresh server
serves, because that is when a top-level pages/ folder puts Streamlit in legacy multipage mode.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from data_access.demo import DemoConfig, generate_demo
from data_access.engine import create_db_engine
from tests.conftest import missing

try:
    import playwright.sync_api as playwright_api
except ImportError:  # pragma: no cover - only without requirements-dev.txt
    playwright_api = None

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parent.parent
# The README's picture is refreshed only on request, so that test runs leave the tree clean.
README_SCREENSHOT = REPO_ROOT / "docs" / "overview.png"
UPDATE_README_SCREENSHOT = os.environ.get("SERVICEPULSE_UPDATE_SCREENSHOT") == "1"
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
    process: subprocess.Popen
    port: int
    stderr_path: Path
    pages_opened: int = field(default=0)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-6000:]


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
    """A demo story that ends today, so the overview's last 30 days hold data."""
    path = tmp_path_factory.mktemp("e2e") / "today.db"
    url = f"sqlite:///{path}"
    engine = create_db_engine(url)
    generate_demo(engine, DemoConfig.ending(scale=E2E_SCALE))
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def app_server(today_sqlite_url) -> Iterator[AppServer]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": today_sqlite_url}
    with tempfile.NamedTemporaryFile("wb", prefix="streamlit-e2e-", suffix=".err",
                                     delete=False) as stderr_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py",
             "--server.port", str(port), "--server.headless", "true"],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr_file,
            start_new_session=True,
        )
    server = AppServer(process, port, Path(stderr_file.name))
    try:
        wait_until_healthy(server)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        server.stderr_path.unlink(missing_ok=True)


@pytest.fixture
def browser(chromium, app_server):
    """A headless Chromium per test (about a second); `chromium` skips or fails when missing."""
    if playwright_api is None:
        missing("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium, headless=True,
                                          args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Problems:
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_page(browser, server: AppServer, path: str, viewport=(1400, 1000)):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    problems = Problems()
    page.on("pageerror", lambda error: problems.page_errors.append(str(error)))

    def on_dialog(dialog) -> None:
        problems.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    server.pages_opened += 1
    page.goto(f"{server.base_url}{path}", wait_until="domcontentloaded")
    return context, page, problems


def wait_for_overview(page, server: AppServer) -> None:
    """Wait until the overview has rendered and the script run has finished."""
    expect = playwright_api.expect
    try:
        expect(page.get_by_role("heading", name="ServicePulse overview")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_test_id("stMetric").filter(has_text="NPS").first).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        # The status widget ("Running...") disappears once the script run has finished.
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=RENDER_TIMEOUT_MS)
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- page text ---\n{page.inner_text('body')[:3000]}"
                             f"\n--- server stderr ---\n{server.stderr()}") from error


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
        for expected in ("Leadership", "Overview", "Planning", "Staffing simulator"):
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
    return found


def report(found: list[str], page, server: AppServer) -> str:
    return ("\n".join(f"- {item}" for item in found)
            + f"\n--- url ---\n{page.url}\n--- server stderr ---\n{server.stderr()}")


def test_first_request_deep_link_renders_inside_frame(app_server, browser):
    """The fresh server's very first page is a deep link: it must still get the frame.

    A top-level pages/ folder starts Streamlit in legacy multipage mode; without ui.frame's
    guard this request would run pages/simulator.py alone, without app.py's navigation.
    """
    assert app_server.pages_opened == 0, (
        "this test needs a fresh server; it must run before any other page is opened")
    context, page, problems = open_page(browser, app_server, "/simulator")
    try:
        expect = playwright_api.expect
        expect(page.get_by_role("heading", name="Staffing simulator")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_text("Simulation: baseline vs scenario")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        found = frame_problems(page, problems)
        if urlsplit(page.url).path.rstrip("/") != "/simulator":
            found.append(f"the deep link did not stay on /simulator: {page.url}")
        assert not found, report(found, page, app_server)
    finally:
        context.close()


def test_root_shows_overview_and_saves_screenshot(app_server, browser, tmp_path):
    context, page, problems = open_page(browser, app_server, "/")
    try:
        wait_for_overview(page, app_server)
        charts = page.get_by_test_id("stVegaLiteChart")
        playwright_api.expect(charts).to_have_count(2, timeout=RENDER_TIMEOUT_MS)
        for index in range(2):
            playwright_api.expect(
                charts.nth(index).locator("canvas, svg").first
            ).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        page.wait_for_timeout(500)  # let vega finish its last paint
        screenshot = tmp_path / "overview.png"
        page.screenshot(path=str(screenshot), full_page=True)
        found = frame_problems(page, problems)
        assert not found, report(found, page, app_server)
    finally:
        context.close()
    size = screenshot.stat().st_size
    assert size > 20_000, f"{screenshot} is only {size} bytes"
    if UPDATE_README_SCREENSHOT:
        README_SCREENSHOT.write_bytes(screenshot.read_bytes())
