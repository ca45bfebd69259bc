"""Many people watching the live dashboards while data arrives: errors, server memory, latency.

The app runs on the scale-1 demo (a copy of benchmarks/.cache's database, ending today) with a
5 s refresh, on loopback only, while `python -m data_access feed` writes new contacts, surveys,
cases and ratings. Playwright opens --pages browser pages (Debian's Chromium) spread over the
five dashboards and watches them for --seconds:
- errors: page errors, console errors, Streamlit exception boxes and error banners (target 0);
- the server's peak RSS (VmHWM of the streamlit process);
- tick -> updated KPI: from each refresh request the browser sends (a websocket frame) to the
  moment the page's first KPI tile shows a new value, p50 and p95.

    python benchmarks/load.py [--pages 20] [--seconds 120] [--refresh 5] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pages import demo_database  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Page path -> the KPI tile whose value the feed moves on every tick.
WATCHED = {"/": "Contacts served", "/nps": "Promoters", "/complaints": "Complaints",
           "/channels": "Contacts online", "/agents": "Ratings"}
# Records, in the page, each time the watched tile's value changes (wall-clock ms).
OBSERVER = """label => {
  window.__kpiChanges = [];
  let last = null;
  const read = () => {
    for (const tile of document.querySelectorAll('[data-testid="stMetric"]')) {
      const name = tile.querySelector('[data-testid="stMetricLabel"]');
      if (name && name.innerText.trim() === label) {
        const value = tile.querySelector('[data-testid="stMetricValue"]').innerText;
        if (last !== null && value !== last) window.__kpiChanges.push(Date.now());
        last = value;
      }
    }
  };
  new MutationObserver(read).observe(document.body,
    {subtree: true, childList: true, characterData: true});
  read();
}"""


@dataclass
class Watch:
    path: str
    ticks: list[float] = field(default_factory=list)  # refresh requests sent, epoch ms
    errors: list[str] = field(default_factory=list)
    first_render_s: float | None = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    """The peak resident set of a process and its children (streamlit's worker processes)."""
    total = 0.0
    for candidate in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found] + [grand for child in found
                                                 for grand in children(int(child))]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_healthy(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                        timeout=2) as reply:
                if reply.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the app did not become healthy")


async def watch_page(browser, base: str, watch: Watch, seconds: float) -> list[float]:
    """Open one page, record refresh requests and KPI changes; return the tick latencies."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: watch.errors.append(f"page error: {error}"))
    page.on("console", lambda message: watch.errors.append(f"console: {message.text}")
            if message.type == "error" and "/_stcore/" not in (message.location or {}).get(
                "url", "") else None)

    def on_socket(socket_) -> None:
        socket_.on("framesent", lambda _payload: watch.ticks.append(time.time() * 1000))

    page.on("websocket", on_socket)
    await page.goto(base + watch.path, wait_until="domcontentloaded")
    label = WATCHED[watch.path]
    tile = page.get_by_test_id("stMetric").filter(has_text=label).first
    opened = time.monotonic()
    try:
        await tile.wait_for(timeout=120_000)
    except Exception:  # a page that never renders is an error to report, not a crash
        body = (await page.inner_text("body"))[-300:].replace("\n", " ")
        watch.errors.append(f"no {label!r} tile after 120 s; page ends: {body}")
        await context.close()
        return []
    watch.first_render_s = time.monotonic() - opened
    await page.evaluate(OBSERVER, label)
    settled = time.time() * 1000
    await asyncio.sleep(seconds)
    changes = await page.evaluate("window.__kpiChanges")
    for selector, kind in (("stException", "exception box"),
                           ("stAlertContentError", "error banner")):
        for text in await page.get_by_test_id(selector).all_inner_texts():
            watch.errors.append(f"{kind}: {text[:200]}")
    await context.close()
    ticks = [tick for tick in watch.ticks if tick >= settled]
    latencies = []
    for index, tick in enumerate(ticks):
        following = ticks[index + 1] if index + 1 < len(ticks) else float("inf")
        updated = [change for change in changes if tick <= change < following]
        if updated:
            latencies.append(updated[0] - tick)
    return latencies


async def drive(base: str, pages: int, seconds: float) -> tuple[list[float], list[Watch]]:
    from playwright.async_api import async_playwright

    watches = [Watch(list(WATCHED)[index % len(WATCHED)]) for index in range(pages)]
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path="/usr/bin/chromium",
                                               args=CHROMIUM_ARGS)
        results = await asyncio.gather(*[watch_page(browser, base, watch, seconds)
                                         for watch in watches])
        await browser.close()
    return [latency for result in results for latency in result], watches


def percentile(values: list[float], share: float) -> float:
    """Nearest rank, as the dashboards' percentiles."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(share * len(ordered)))) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--refresh", type=float, default=5)
    parser.add_argument("--rate", type=float, default=20, help="feed events per second")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="servicepulse-load-"))
    source = demo_database(args.scale).removeprefix("sqlite:///")
    database = workdir / "load.db"
    shutil.copy(source, database)
    url = f"sqlite:///{database}"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SERVICEPULSE_REFRESH_S": f"{args.refresh:g}"}
    server = start([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port",
                    str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
                   env, workdir / "server.log")
    feed = None
    try:
        wait_healthy(port)
        feed = start([sys.executable, "-m", "data_access", "feed", "--rate", f"{args.rate:g}",
                      "--db", url], env, workdir / "feed.log")
        started = time.monotonic()
        latencies, watches = asyncio.run(drive(f"http://127.0.0.1:{port}", args.pages,
                                               args.seconds))
        elapsed = time.monotonic() - started
        rss = peak_rss_mb(server.pid)
    finally:
        if feed is not None:
            stop(feed, signal.SIGINT)
        stop(server)
    errors = [f"{watch.path}: {error}" for watch in watches for error in watch.errors]
    server_log = (workdir / "server.log").read_text(errors="replace")
    tracebacks = server_log.count("Traceback")
    print(f"{args.pages} pages × {args.seconds:g} s, refresh {args.refresh:g} s, feed "
          f"{args.rate:g} events/s, scale {args.scale:g} (wall {elapsed:.0f} s)")
    print(f"errors seen in the browsers: {len(errors)} (target 0); server tracebacks: "
          f"{tracebacks}")
    for error in errors[:10]:
        print(f"  {error}")
    if tracebacks:
        first = server_log[server_log.index("Traceback"):]
        print("  first server traceback, last lines:", *first.splitlines()[:40][-6:],
              sep="\n    ")
    print(f"server peak RSS: {rss:.0f} MB")
    renders = [watch.first_render_s for watch in watches if watch.first_render_s is not None]
    if renders:
        print(f"first render with all pages opening at once: median "
              f"{statistics.median(renders):.1f} s, slowest {max(renders):.1f} s")
    if latencies:
        print(f"tick -> updated KPI: p50 {percentile(latencies, 0.5) / 1000:.2f} s, "
              f"p95 {percentile(latencies, 0.95) / 1000:.2f} s over {len(latencies)} ticks "
              f"(mean {statistics.mean(latencies) / 1000:.2f} s)")
    else:
        print("tick -> updated KPI: no KPI change was seen")
    print("feed:", (workdir / "feed.log").read_text(errors="replace").strip().splitlines()[-1:])
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
