"""Many people watching the live dashboards while data arrives: errors, server memory, latency.

The app runs on the scale-1 demo (a copy of benchmarks/.cache's database, ending today) with a
--refresh s refresh, on loopback only, while `python -m data_access feed` writes new contacts,
surveys, cases and ratings. Playwright opens --pages browser pages (Debian's Chromium) spread over
the five dashboards; each page is watched for --seconds from its first render, then for a grace
period (at most max(30 s, 6 refresh intervals)) in which the ticks sent and the contacts
committed while watching can still be answered and shown. What is measured, and how:

- errors (target 0), counted continuously from the moment a page opens until it is closed: a
  script injected before the app's own (add_init_script) runs a MutationObserver that records,
  with a timestamp, every appearance of a Streamlit exception box (stException), an error banner
  (st.error) and any other banner about the database ("did not answer", "unavailable", "could not
  be prepared"), also when it disappears again before the end; plus page errors and console
  errors (console errors about /_stcore/ requests are listed apart, as before). The totals per
  kind and the first distinct messages are printed, with the server log's tracebacks.
- the server's peak RSS (VmHWM of the streamlit process and its children).
- a tick is one fragment auto-rerun: the rerun_script BackMsg with a fragment_id and
  is_auto_rerun set that the browser sends every refresh interval (Streamlit's run_every timer).
  The injected script wraps WebSocket.send and timestamps every frame the page sends; the frames
  are decoded with Streamlit's own protobuf classes afterwards. Only ticks sent between a page's
  first render and the end of its --seconds count; every one of them is measured, whether or not
  it brought new data.
- tick -> rendered: from the tick to the moment the page's "As of HH:MM:SS" stamp shows a run
  that started at or after the tick's second (the stamp is the first thing each run draws, before
  its queries, and says when its figures were read: the first visible sign of the tick, +-1 s in
  telling runs apart). Several ticks queued behind a slow run are answered by the
  same later run, each with its own, longer, wait. Ticks still unanswered when the grace period
  ends are counted, not dropped.
- tick -> run finished: from the tick to the script_finished message of the first run whose
  new_session message the browser received after the tick (every run, a fragment's too, starts
  with new_session and ends with script_finished, tagged with the same run id): the tick's whole
  fragment, tiles and charts, has then reached the browser.
- tick -> new KPI value: for the ticks whose run changed the page's watched KPI tile (WATCHED),
  from the tick to the tile's new value; printed with how many of the ticks brought one.
- insert -> visible: from the commit of a contact row by the feed to the moment 'Contacts served'
  on an overview page includes it, per row and page, for every row committed while the page was
  watched (the grace period lasts until they are all shown). A thread polls the newest contact id
  every 0.1 s (a commit's time is the middle of the poll interval that first saw it, +-0.05 s);
  the tile counts every contact in the default view (last 30 days), so its value minus the
  newest id it includes is constant, measured from the database before the feed starts.
- server CPU: user + system time of the streamlit process and its children (/proc/<pid>/stat
  utime + stime, and cutime + cstime for children already reaped), read just before the pages
  open and after the last one closes, as seconds and as a share of all cores over that wall
  time; the whole machine's busy share (/proc/stat) over the same time is printed beside it.

The measurement runs once per --version-share value (SERVICEPULSE_VERSION_SHARE_S: how long one
reading of the data version is shared by all viewers), one after the other, each with a fresh
server, a fresh copy of the same database and a freshly started feed with the same settings;
each run prints its details, and a table at the end puts every figure side by side.

    python benchmarks/load.py [--pages 20] [--seconds 120] [--refresh 5] [--rate 20]
                              [--version-share 1 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import datetime as dt
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pages import demo_database  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Page path -> the KPI tile whose value the feed moves on every tick.
WATCHED = {"/": "Contacts served", "/nps": "Promoters", "/complaints": "Complaints",
           "/channels": "Contacts online", "/agents": "Ratings"}
INSERT_TILE = "Contacts served"  # counts every contact of the view: one more per inserted row
POLL_S = 0.1
# Injected into every page before the app's scripts; %s is the watched tile's label (JSON).
INIT_SCRIPT = """(() => {
  if (window.top !== window) return;
  const LABEL = %s;
  const log = window.__pulse = {sent: [], received: [], closed: [], stamps: [], tile: [],
                                errors: []};
  const asBytes = data => data instanceof ArrayBuffer ? new Uint8Array(data)
    : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : null;
  const b64 = bytes => {
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000)
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(text);
  };
  // A ForwardMsg's run boundary: top-level field 4 is new_session, 6 is script_finished.
  const boundary = bytes => {
    let pos = 0;
    const varint = () => {
      let value = 0, scale = 1, byte;
      do { byte = bytes[pos++]; value += (byte & 127) * scale; scale *= 128; }
      while (byte & 128 && pos < bytes.length);
      return value;
    };
    while (pos < bytes.length) {
      const tag = varint(), number = Math.floor(tag / 8), wire = tag & 7;
      if (number === 4) return 'start';
      if (number === 6) return 'finish';
      if (wire === 2) { const size = varint(); pos += size; }  // not pos += varint()
      else if (wire === 0) varint();
      else if (wire === 1) pos += 8; else if (wire === 5) pos += 4; else return null;
    }
    return null;
  };
  const Native = window.WebSocket;
  const send = Native.prototype.send;
  Native.prototype.send = function (data) {
    const bytes = asBytes(data);
    if (bytes) log.sent.push([Date.now(), b64(bytes)]);
    return send.call(this, data);
  };
  window.WebSocket = new Proxy(Native, {construct(target, args) {
    const socket = new target(...args);
    socket.addEventListener('message', event => {
      const bytes = asBytes(event.data);
      const kind = bytes && boundary(bytes);
      if (kind) log.received.push([Date.now(), kind, b64(bytes)]);
    });
    socket.addEventListener('close', event => log.closed.push([Date.now(), event.code]));
    return socket;
  }});

  const PROBLEMS = '[data-testid="stException"], [data-testid^="stAlertContent"]';
  const DATABASE = /did not answer|unavailable|could not be prepared/i;
  const shown = new WeakMap();
  const text = node => (node.textContent || '').trim();  // no layout, unlike innerText
  const problem = node => {
    const id = node.getAttribute('data-testid');
    const words = text(node);
    if (!words || shown.get(node) === words) return;
    let kind = null;
    if (id === 'stException') kind = 'exception box';
    else if (id === 'stAlertContentError') kind = 'error banner';
    else if (DATABASE.test(words)) kind = 'database banner';
    if (!kind) return;
    shown.set(node, words);
    log.errors.push([Date.now(), kind, words.slice(0, 300)]);
  };
  let stamp = null, tile = null;
  const look = records => {
    for (const record of records || []) {
      for (const node of record.addedNodes || []) {  // also ones already removed again
        if (node.nodeType !== 1) continue;
        if (node.matches(PROBLEMS)) problem(node);
        node.querySelectorAll(PROBLEMS).forEach(problem);
      }
      const target = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const inside = target && target.closest(PROBLEMS);
      if (inside) problem(inside);  // its text changed
    }
    document.querySelectorAll(PROBLEMS).forEach(problem);
    let now = null;
    for (const caption of document.querySelectorAll('[data-testid="stCaptionContainer"]')) {
      const found = /As of (\\d\\d:\\d\\d:\\d\\d)/.exec(text(caption));
      if (found) { now = found[1]; break; }
    }
    if (now !== null && now !== stamp) log.stamps.push([Date.now(), now]);
    if (now !== null) stamp = now;
    for (const metric of document.querySelectorAll('[data-testid="stMetric"]')) {
      const name = metric.querySelector('[data-testid="stMetricLabel"]');
      const value = metric.querySelector('[data-testid="stMetricValue"]');
      if (name && value && text(name) === LABEL) {
        if (text(value) !== tile) log.tile.push([Date.now(), text(value)]);
        tile = text(value);
        break;
      }
    }
  };
  new MutationObserver(look).observe(document,
    {subtree: true, childList: true, characterData: true});
})();"""
# True once a run that started after `end` (epoch ms) has finished and drawn its stamp: every
# tick sent before `end` has then been answered.
SETTLED = """end => {
  const log = window.__pulse;
  const start = log.received.find(([at, kind]) => kind === 'start' && at > end);
  return Boolean(start) && log.received.some(([at, kind]) => kind === 'finish' && at > start[0])
    && log.stamps.some(([at]) => at >= start[0]);
}"""


@dataclass
class Watch:
    path: str
    errors: list[tuple[float, str, str]] = field(default_factory=list)  # (epoch ms, kind, text)
    ignored_console: list[str] = field(default_factory=list)  # about /_stcore/ requests
    first_render_s: float | None = None
    window: tuple[float, float] | None = None  # ticks sent in it count, epoch ms
    log: dict = field(default_factory=dict)  # window.__pulse at the end

    @property
    def label(self) -> str:
        return WATCHED[self.path]


@dataclass
class Run:
    run_id: str
    started: float  # new_session received, epoch ms
    finished: float | None = None  # script_finished received
    status: int | None = None


@dataclass
class Figures:
    ticks: int = 0
    rendered: list[float] = field(default_factory=list)  # ms
    unanswered: int = 0
    finished: list[float] = field(default_factory=list)
    unfinished: int = 0
    new_value: list[float] = field(default_factory=list)
    insert_lags: list[tuple[float, int]] = field(default_factory=list)  # (ms, rows)
    insert_pages: int = 0
    insert_mismatches: int = 0
    insert_unshown: int = 0
    disconnects: int = 0


@dataclass
class Result:
    """One run, for the side-by-side table."""
    share: float  # SERVICEPULSE_VERSION_SHARE_S
    watches: list[Watch] = field(default_factory=list)
    figures: Figures | None = None
    elapsed: float = 0.0  # s, pages opening to the last one closing
    rss: float = 0.0  # MB
    cpu_s: float | None = None  # server process tree over `elapsed`
    busy: float | None = None  # share of the whole machine's CPU time over `elapsed`
    tracebacks: int = 0
    failure: str | None = None


class InsertClock(threading.Thread):
    """When each contact row became visible to readers: (epoch ms, newest contact id) on change."""

    def __init__(self, database: Path) -> None:
        super().__init__(daemon=True, name="insert-clock")
        self.database = database
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()
        self.failure: str | None = None

    def run(self) -> None:
        try:
            connection = sqlite3.connect(self.database, timeout=10, isolation_level=None)
        except sqlite3.Error as error:
            self.failure = str(error)
            return
        try:
            before = time.time() * 1000
            while not self.stopping.is_set():
                (newest,) = connection.execute("SELECT max(id) FROM contacts").fetchone()
                after = time.time() * 1000
                if not self.samples or (newest or 0) != self.samples[-1][1]:
                    self.samples.append(((before + after) / 2, newest or 0))
                before = after
                self.stopping.wait(POLL_S)
        except sqlite3.Error as error:
            self.failure = str(error)
        finally:
            connection.close()

    def committed_at(self, row_id: int) -> float | None:
        """When the row with this id was first seen, epoch ms (None: not seen yet)."""
        index = bisect.bisect_left([newest for _, newest in self.samples], row_id)
        return self.samples[index][0] if index < len(self.samples) else None


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


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (reaped children too)."""
    total = 0
    for candidate in [pid, *children(pid)]:
        try:  # the fields after "(comm)", which may itself hold spaces or parentheses
            fields = Path(f"/proc/{candidate}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / CLOCK_TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU clock ticks of the whole machine since boot, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0]
              .split()[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(values) - values[3] - values[4], sum(values)


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
            process.wait()


def wait_healthy(port: int, server: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                        timeout=2) as reply:
                if reply.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the app did not become healthy")


def tile_offset(database: Path) -> tuple[int, int]:
    """(the default view's 'Contacts served' minus the newest contact id, that id).

    Computed as the app computes the tile (kpis: contacts_by_period over the default view).
    """
    from sqlalchemy import func, select

    from data_access.config import local_today
    from data_access.engine import create_db_engine
    from data_access.queries import contacts_by_period
    from data_access.schema import Contact
    from ui.view_state import default_view

    engine = create_db_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            newest = int(connection.scalar(select(func.max(Contact.id))) or 0)
            served = int(contacts_by_period(connection, default_view(local_today()).filters,
                                            "month")["contacts"].sum())
    finally:
        engine.dispose()
    return served - newest, newest


async def watch_page(browser, base: str, watch: Watch, seconds: float, grace_s: float,
                     clock: InsertClock, offset: int) -> None:
    """Open one page, watch it for `seconds` after its first render, keep what it recorded.

    The grace period ends once every tick sent while watching is answered and, on an overview
    page, once 'Contacts served' includes every contact committed while watching.
    """
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        await context.add_init_script(script=INIT_SCRIPT % json.dumps(watch.label))
        page = await context.new_page()

        def on_console(message) -> None:
            if message.type != "error":
                return
            if "/_stcore/" in (message.location or {}).get("url", ""):
                watch.ignored_console.append(message.text[:200])
            else:
                watch.errors.append((time.time() * 1000, "console error", message.text[:300]))

        page.on("pageerror", lambda error: watch.errors.append(
            (time.time() * 1000, "page error", str(error)[:300])))
        page.on("console", on_console)
        await page.goto(base + watch.path, wait_until="domcontentloaded", timeout=120_000)
        opened = time.monotonic()
        tile = page.get_by_test_id("stMetric").filter(has_text=watch.label).first
        try:
            await tile.wait_for(timeout=120_000)
        except Exception:  # a page that never renders is an error to report, not a crash
            body = (await page.inner_text("body"))[-300:].replace("\n", " ")
            watch.errors.append((time.time() * 1000, "no first render",
                                 f"no {watch.label!r} tile after 120 s; page ends: {body}"))
            watch.log = await page.evaluate("window.__pulse")
            return
        watch.first_render_s = time.monotonic() - opened
        begin = time.time() * 1000
        watch.window = (begin, begin + seconds * 1000)
        await asyncio.sleep(seconds)
        target = (clock.samples[-1][1] + offset
                  if watch.label == INSERT_TILE and clock.samples else None)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if await page.evaluate(SETTLED, watch.window[1]):
                shown = await page.evaluate("(window.__pulse.tile.at(-1) || [0, ''])[1]")
                if target is None or (number(shown) or 0) >= target:
                    break
            await asyncio.sleep(0.5)
        watch.log = await page.evaluate("window.__pulse")
    except Exception as error:  # e.g. the page crashed or navigation timed out
        watch.errors.append((time.time() * 1000, "page failure", repr(error)[:300]))
    finally:
        await context.close()


async def drive(base: str, watches: list[Watch], seconds: float, grace_s: float,
                clock: InsertClock, offset: int) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path="/usr/bin/chromium",
                                               args=CHROMIUM_ARGS)
        try:
            await asyncio.gather(*[watch_page(browser, base, watch, seconds, grace_s, clock,
                                              offset) for watch in watches])
        finally:
            await browser.close()


# --- Analysis --------------------------------------------------------------------------------

def ticks_of(log: dict, window: tuple[float, float]) -> list[float]:
    """Fragment auto-rerun requests the page sent inside the window, epoch ms."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    ticks = []
    for at, payload in log.get("sent", []):
        message = BackMsg.FromString(base64.b64decode(payload))
        if (message.WhichOneof("type") == "rerun_script" and message.rerun_script.fragment_id
                and message.rerun_script.is_auto_rerun and window[0] <= at <= window[1]):
            ticks.append(at)
    return ticks


def runs_of(log: dict) -> list[Run]:
    """Script runs (full or fragment) as the browser saw them begin and end, in order."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    runs: dict[str, Run] = {}
    for at, kind, payload in log.get("received", []):
        message = ForwardMsg.FromString(base64.b64decode(payload))
        run_id = message.metadata.run.script_run_id
        if kind == "start" and message.HasField("new_session"):
            runs.setdefault(run_id, Run(run_id, at))
        elif kind == "finish" and message.HasField("script_finished") and run_id in runs:
            runs[run_id].finished, runs[run_id].status = at, message.script_finished
    return sorted(runs.values(), key=lambda run: run.started)


def stamps_of(log: dict) -> list[tuple[float, int]]:
    """(epoch ms the stamp changed, epoch second it names) for every 'As of' stamp shown."""
    from data_access.config import LOCAL_TZ

    stamps = []
    for at, text in log.get("stamps", []):
        hours, minutes, secs = (int(part) for part in text.split(":"))
        second = int(at // 1000)
        shown_at = dt.datetime.fromtimestamp(second, LOCAL_TZ)
        of_day = shown_at.hour * 3600 + shown_at.minute * 60 + shown_at.second
        stamps.append((at, second - (of_day - (hours * 3600 + minutes * 60 + secs)) % 86400))
    return stamps


def number(text: str) -> int | None:
    digits = re.sub(r"[^\d-]", "", text)
    return int(digits) if re.fullmatch(r"-?\d+", digits) else None


def measure(watches: list[Watch], clock: InsertClock, offset: int) -> Figures:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    succeeded = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
    figures = Figures()
    for watch in watches:
        if watch.window is None:
            continue
        figures.disconnects += len(watch.log.get("closed", []))  # read before closing
        ticks = ticks_of(watch.log, watch.window)
        runs = [run for run in runs_of(watch.log) if run.status in succeeded]
        stamps = stamps_of(watch.log)
        tile = [(at, text) for at, text in watch.log.get("tile", [])]
        figures.ticks += len(ticks)
        for tick in ticks:
            served = next((index for index, (at, second) in enumerate(stamps)
                           if at > tick and second >= int(tick // 1000)), None)
            if served is None:
                figures.unanswered += 1
            else:
                shown = stamps[served][0]
                figures.rendered.append(shown - tick)
                following = stamps[served + 1][0] if served + 1 < len(stamps) else math.inf
                before = [text for at, text in tile if at < shown]
                changed = [(at, text) for at, text in tile if shown <= at < following]
                if changed and before and changed[-1][1] != before[-1]:
                    figures.new_value.append(changed[0][0] - tick)
            run = next((run for run in runs if run.started > tick), None)
            if run is None or run.finished is None:
                figures.unfinished += 1
            else:
                figures.finished.append(run.finished - tick)
        if watch.label == INSERT_TILE:
            figures.insert_pages += 1
            insert_lags(figures, tile, watch.window, clock, offset)
    return figures


def insert_lags(figures: Figures, tile: list[tuple[float, str]],
                window: tuple[float, float], clock: InsertClock, offset: int) -> None:
    """Per row committed while the page was watched: from its commit to the first
    'Contacts served' value that includes it (shown during the grace period too)."""
    visible = None  # newest contact id the tile includes
    for at, text in tile:
        value = number(text)
        if value is None:
            continue
        newest = value - offset
        if visible is None or at < window[0]:
            visible = newest
            continue
        if newest <= visible:
            if newest < visible:
                figures.insert_mismatches += 1
            continue
        committed = clock.committed_at(newest)
        if committed is None or committed > at + POLL_S * 1000:
            figures.insert_mismatches += 1  # shown before it was committed: no such row
            visible = newest
            continue
        for committed, rows in committed_rows(clock, window, visible, newest):
            figures.insert_lags.append((at - committed, rows))
        visible = newest
    if visible is not None:  # committed while watching, never shown before the page closed
        figures.insert_unshown += sum(rows for _, rows in committed_rows(clock, window, visible,
                                                                       math.inf))


def committed_rows(clock: InsertClock, window: tuple[float, float], above: float,
                   upto: float) -> list[tuple[float, int]]:
    """(commit time, rows) of the contacts with ids in (above, upto] committed in `window`."""
    found = []
    for index, (committed, newest) in enumerate(clock.samples):
        below = clock.samples[index - 1][1] if index else newest
        rows = min(newest, upto) - max(below, above)
        if rows > 0 and window[0] <= committed <= window[1]:
            found.append((committed, int(rows)))
    return found


def percentile(values: list[float], share: float) -> float:
    """Nearest rank, as the dashboards' percentiles (numpy's inverted CDF is exactly that)."""
    return float(np.percentile(values, share * 100, method="inverted_cdf"))


def weighted_percentile(pairs: list[tuple[float, int]], share: float) -> float:
    """Nearest rank over values that each stand for `weight` observations."""
    values, weights = zip(*pairs, strict=True)
    return float(np.percentile(values, share * 100, method="inverted_cdf", weights=weights))


def spread(values: list[float]) -> str:
    return (f"p50 {percentile(values, 0.5) / 1000:.2f} s, p95 "
            f"{percentile(values, 0.95) / 1000:.2f} s (mean {statistics.mean(values) / 1000:.2f}"
            f" s, max {max(values) / 1000:.2f} s)")


def tracebacks_of(log: str) -> list[str]:
    """Every traceback in a log: from 'Traceback' to its first unindented line, the error."""
    found, current = [], None
    for line in log.splitlines():
        if line.startswith("Traceback (most recent call last)"):
            current = [line]
        elif current is not None:
            current.append(line)
            if line and not line[0].isspace():
                found.append("\n".join(current))
                current = None
    if current is not None:
        found.append("\n".join(current))
    return found


def report(args, result: Result, clock: InsertClock, began: float, server_log: str,
           feed_log: str) -> None:
    watches, figures = result.watches, result.figures
    grace = grace_seconds(args.refresh)
    print(f"{args.pages} pages × {args.seconds:g} s, refresh {args.refresh:g} s, "
          f"SERVICEPULSE_VERSION_SHARE_S {result.share:g} s, feed {args.rate:g} events/s, scale "
          f"{args.scale:g} (wall {result.elapsed:.0f} s; each page watched {args.seconds:g} s "
          f"from its first render, then up to {grace:g} s grace)")

    errors = sorted((at, watch.path, kind, text) for watch in watches
                    for at, kind, text in watch.errors)
    tracebacks = result.tracebacks = server_log.count("Traceback")
    kinds: dict[str, int] = {}
    for _, _, kind, _ in errors:
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"errors seen in the browsers: {len(errors)} (target 0) — every appearance, recorded "
          f"continuously from page open to close: "
          + (", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())) or "none"))
    distinct: dict[tuple[str, str], tuple[float, str, int]] = {}
    for at, path, kind, text in errors:
        first = distinct.get((kind, text))
        distinct[(kind, text)] = (first[0], first[1], first[2] + 1) if first else (at, path, 1)
    for (kind, text), (at, path, count) in list(distinct.items())[:5]:
        print(f"  first at +{(at - began) / 1000:.1f} s on {path}, {count}×: {kind}: "
              f"{text[:200]!r}")
    if len(distinct) > 5:
        print(f"  … {len(distinct) - 5} more distinct messages")
    ignored = [text for watch in watches for text in watch.ignored_console]
    print(f"  also: console errors about /_stcore/ requests (not counted) {len(ignored)}"
          + (f", e.g. {ignored[0]!r}" if ignored else "") + "; websocket disconnects while "
          f"watching {figures.disconnects}; server tracebacks {tracebacks}")
    if tracebacks:
        traces = tracebacks_of(server_log)
        endings: dict[str, int] = {}
        for trace in traces:
            ending = trace.splitlines()[-1]
            endings[ending] = endings.get(ending, 0) + 1
        print("  server tracebacks by their last line:", *(f"{count}× {ending[:200]}" for
                                                          ending, count in endings.items()),
              sep="\n    ")
        lines = traces[0].splitlines() if traces else []
        print("  the first in full" + (f" (its last 60 of {len(lines)} lines)"
                                         if len(lines) > 60 else "") + ":",
              *lines[-60:], sep="\n    ")
    print(f"server peak RSS: {result.rss:.0f} MB")
    if result.cpu_s is not None:
        cores = os.cpu_count() or 1
        print(f"server CPU from the pages opening to the last closing: {result.cpu_s:.0f} s "
              f"= {share_of_cores(result):.0%} of {cores} cores over {result.elapsed:.0f} s "
              f"(whole machine busy {result.busy:.0%})")

    renders = [watch.first_render_s for watch in watches if watch.first_render_s is not None]
    if renders:
        print(f"first render with all pages opening at once: median "
              f"{statistics.median(renders):.1f} s, slowest {max(renders):.1f} s "
              f"({len(renders)} of {len(watches)} pages rendered)")
    print(f"ticks measured: {figures.ticks} (a tick = a fragment auto-rerun request, rerun_script "
          f"with fragment_id and is_auto_rerun, sent by a browser while it was watched)")
    answered = len(figures.rendered)
    print("tick -> rendered (until the 'As of' stamp shows a run that started at or after the "
          "tick): " + (f"{spread(figures.rendered)} over {answered} ticks"
                       if answered else "no tick answered")
          + f"; {figures.unanswered} unanswered")
    print("tick -> run finished (until script_finished of the first run begun after the tick): "
          + (f"{spread(figures.finished)} over {len(figures.finished)} ticks"
             if figures.finished else "no run finished") + f"; {figures.unfinished} unfinished")
    tiles = ", ".join(sorted({watch.label for watch in watches}))
    print(f"tick -> new KPI value (the page's watched tile: {tiles}): "
          f"{len(figures.new_value)} of {figures.ticks} ticks brought one"
          + (f"; {spread(figures.new_value)}" if figures.new_value else ""))
    rows = sum(weight for _, weight in figures.insert_lags)
    if rows:
        lags = [lag for lag, _ in figures.insert_lags]
        print(f"insert -> visible (a contact committed while watching, to '{INSERT_TILE}' "
              f"including it, per row and overview page, ±{POLL_S / 2:g} s): p50 "
              f"{weighted_percentile(figures.insert_lags, 0.5) / 1000:.2f} s, p95 "
              f"{weighted_percentile(figures.insert_lags, 0.95) / 1000:.2f} s (max "
              f"{max(lags) / 1000:.2f} s) over {rows} rows on {figures.insert_pages} pages")
    else:
        print(f"insert -> visible: no new row seen on {figures.insert_pages} overview pages"
              + ("" if figures.insert_pages else " (needs --pages ≥ 1 on '/')"))
    if figures.insert_unshown:
        print(f"  {figures.insert_unshown} rows committed while watching were not shown before "
              "the pages closed (left out)")
    if figures.insert_mismatches:
        print(f"  warning: {figures.insert_mismatches} '{INSERT_TILE}' values did not match the "
              "contacts committed (a new day or another writer?); those changes are left out")
    if clock.failure:
        print(f"  warning: the insert clock stopped: {clock.failure}")
    print("feed:", feed_log.strip().splitlines()[-1:])


def grace_seconds(refresh: float) -> float:
    return max(30.0, 6 * refresh)


def share_of_cores(result: Result) -> float:
    return result.cpu_s / (result.elapsed * (os.cpu_count() or 1)) if result.elapsed else 0.0


def seconds(values: list[float], shares: tuple[float, ...] = (0.5, 0.95)) -> str:
    """'p50 / p95' of millisecond values, in seconds."""
    return " / ".join(f"{percentile(values, share) / 1000:.2f} s" for share in shares)


def table(results: list[Result]) -> None:
    """Every figure of every run, a column per SERVICEPULSE_VERSION_SHARE_S value (Markdown)."""
    kinds = sorted({kind for result in results for watch in result.watches
                    for _, kind, _ in watch.errors})
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, value) -> None:
        cells = []
        for result in results:
            if result.failure is not None or result.figures is None:
                cells.append("run failed")
                continue
            try:
                cells.append(value(result, result.figures))
            except (ValueError, IndexError, ZeroDivisionError, TypeError):  # nothing measured
                cells.append("–")
        rows.append((label, cells))

    def errors(result: Result) -> list[str]:
        return [kind for watch in result.watches for _, kind, _ in watch.errors]

    def renders(result: Result) -> list[float]:
        return [watch.first_render_s for watch in result.watches
                if watch.first_render_s is not None]

    row("errors seen in the browsers (target 0)", lambda r, f: str(len(errors(r))))
    for kind in kinds:
        row(f"… {kind}", lambda r, f, kind=kind: str(errors(r).count(kind)))
    row("console errors about /_stcore/ requests (not counted)",
        lambda r, f: str(sum(len(watch.ignored_console) for watch in r.watches)))
    row("websocket disconnects while watching", lambda r, f: str(f.disconnects))
    row("server tracebacks", lambda r, f: str(r.tracebacks))
    row("server peak RSS", lambda r, f: f"{r.rss:.0f} MB")
    row(f"server CPU, pages opening to last closing (share of {os.cpu_count()} cores)",
        lambda r, f: f"{r.cpu_s:.0f} s of {r.elapsed:.0f} s ({share_of_cores(r):.0%})")
    row("whole machine CPU busy, same time", lambda r, f: f"{r.busy:.0%}")
    row("first render median / slowest",
        lambda r, f: f"{statistics.median(renders(r)):.1f} s / {max(renders(r)):.1f} s")
    row("pages rendered", lambda r, f: f"{len(renders(r))} of {len(r.watches)}")
    row("ticks measured", lambda r, f: str(f.ticks))
    row("tick -> rendered p50 / p95", lambda r, f: seconds(f.rendered))
    row("… unanswered ticks", lambda r, f: str(f.unanswered))
    row("tick -> run finished p50 / p95", lambda r, f: seconds(f.finished))
    row("… unfinished ticks", lambda r, f: str(f.unfinished))
    row("tick -> new KPI value p50 / p95", lambda r, f: seconds(f.new_value))
    row("… ticks that brought one", lambda r, f: f"{len(f.new_value)} of {f.ticks}")
    row("insert -> visible p50 / p95", lambda r, f: " / ".join(
        f"{weighted_percentile(f.insert_lags, share) / 1000:.2f} s" for share in (0.5, 0.95)))
    row("… rows measured (overview pages)", lambda r, f: (
        f"{sum(rows for _, rows in f.insert_lags)} ({f.insert_pages} pages)"))
    row("… rows not shown before the pages closed", lambda r, f: str(f.insert_unshown))

    header = ["figure", *(f"share {result.share:g} s" for result in results)]
    widths = [max(len(cells[index]) for cells in [header, *([label, *values]
                                                            for label, values in rows)])
              for index in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width)
                                 for cell, width in zip(cells, widths, strict=True)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for label, values in rows:
        print(line([label, *values]))
    for result in results:
        if result.failure is not None:
            print(f"share {result.share:g} s: the run failed: {result.failure}")


def measure_once(args, source: str, result: Result) -> None:
    """One full measurement with SERVICEPULSE_VERSION_SHARE_S = result.share."""
    workdir = Path(tempfile.mkdtemp(prefix="servicepulse-load-"))
    database = workdir / "load.db"
    server = feed = None
    clock = InsertClock(database)
    finished = False
    try:
        shutil.copy(source, database)
        offset, _ = tile_offset(database)
        url = f"sqlite:///{database}"
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url,
               "SERVICEPULSE_REFRESH_S": f"{args.refresh:g}",
               "SERVICEPULSE_VERSION_SHARE_S": f"{result.share:g}"}
        server = start([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port",
                        str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
                       env, workdir / "server.log")
        wait_healthy(port, server)
        clock.start()
        feed = start([sys.executable, "-m", "data_access", "feed", "--rate", f"{args.rate:g}",
                      "--db", url], env, workdir / "feed.log")
        result.watches = [Watch(list(WATCHED)[index % len(WATCHED)])
                          for index in range(args.pages)]
        cpu_before, machine_before = cpu_seconds(server.pid), machine_ticks()
        began, started = time.time() * 1000, time.monotonic()
        asyncio.run(drive(f"http://127.0.0.1:{port}", result.watches, args.seconds,
                          grace_seconds(args.refresh), clock, offset))
        result.elapsed = time.monotonic() - started
        result.cpu_s = cpu_seconds(server.pid) - cpu_before
        busy, total = (after - before
                       for after, before in zip(machine_ticks(), machine_before, strict=True))
        result.busy = busy / total if total else 0.0
        result.rss = peak_rss_mb(server.pid)
        finished = True
    finally:
        if feed is not None:
            stop(feed, signal.SIGINT)
        if server is not None:
            stop(server)
        clock.stopping.set()
        if clock.is_alive():
            clock.join(timeout=5)
        for leftover in workdir.glob("load.db*"):
            leftover.unlink(missing_ok=True)
        if not finished:
            print(f"the run failed; logs kept in {workdir}", file=sys.stderr)
    result.figures = measure(result.watches, clock, offset)
    report(args, result, clock, began, (workdir / "server.log").read_text(errors="replace"),
           (workdir / "feed.log").read_text(errors="replace"))
    shutil.rmtree(workdir, ignore_errors=True)


def share_setting(text: str) -> float:
    value = float(text)
    if not 1 <= value <= 3600:
        raise argparse.ArgumentTypeError("SERVICEPULSE_VERSION_SHARE_S is 1..3600 seconds")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--refresh", type=float, default=5)
    parser.add_argument("--rate", type=float, default=20, help="feed events per second")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--version-share", type=share_setting, nargs="+", default=[1.0, 5.0],
                        metavar="S", help="SERVICEPULSE_VERSION_SHARE_S values, one run each "
                        "(default: 1 5)")
    args = parser.parse_args()

    def terminate(signum, _frame) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    source = demo_database(args.scale).removeprefix("sqlite:///")
    results = []
    for index, share in enumerate(args.version_share):
        print(f"{chr(10) if index else ''}=== run {index + 1} of {len(args.version_share)}: "
              f"SERVICEPULSE_VERSION_SHARE_S={share:g} ===", flush=True)
        result = Result(share)
        results.append(result)
        try:
            measure_once(args, source, result)
        except Exception as error:  # reported in the table; Ctrl-C and SIGTERM end it all
            result.failure = repr(error)[:300]
            print(f"the run with SERVICEPULSE_VERSION_SHARE_S={share:g} failed: {error!r}",
                  file=sys.stderr)
        sys.stdout.flush()
    print(f"\n=== side by side: {args.pages} pages × {args.seconds:g} s, refresh "
          f"{args.refresh:g} s, feed {args.rate:g} events/s, scale {args.scale:g}; a column per "
          "SERVICEPULSE_VERSION_SHARE_S ===")
    table(results)
    if any(result.failure is not None for result in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
