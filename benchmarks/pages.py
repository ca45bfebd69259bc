"""How long each dashboard page takes to render on the scale-1 demo: first and cached render.

The demo (about 2.5M contacts, ending today) is generated once and kept under the git-ignored
benchmarks/.cache/. Each page runs through app.py's frame in Streamlit's AppTest, with the
default view (last 30 days, per week) and with the last 12 months per month:
- first render: the page's script with every data cache cleared (all queries hit the DB);
- cached re-render: the same page again, as a refresh tick with unchanged data does.
The figures are medians over --repeats runs, side by side in one table. Targets on the 2-core
reference machine: first render <= 1.5 s, cached re-render <= 0.3 s.

    python benchmarks/pages.py [--scale 1] [--repeats 5] [--db URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "benchmarks" / ".cache"
PAGES = ("overview", "nps", "complaints", "channels", "agents")
VIEWS = {"last 30 days, week": {"range": "last_30_days", "grain": "week"},
         "last 12 months, month": {"range": "last_12_months", "grain": "month"}}
FIRST_TARGET_S, CACHED_TARGET_S = 1.5, 0.3


def demo_database(scale: float) -> str:
    """A demo ending today at `scale`, generated once per day and scale."""
    from data_access.config import local_today
    from data_access.demo import DemoConfig, generate_demo, needs_demo
    from data_access.engine import create_db_engine

    CACHE.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{CACHE / f'pages_scale{scale:g}_{local_today()}.db'}"
    engine = create_db_engine(url)
    if needs_demo(engine):
        started = time.perf_counter()
        print(f"generating the scale-{scale:g} demo (once) …", flush=True)
        generate_demo(engine, DemoConfig.ending(scale=scale))
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    engine.dispose()
    return url


def render_times(page: str, params: dict[str, str]) -> tuple[float, float]:
    """(first render with empty caches, cached re-render) of one page, in seconds."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    for name, value in params.items():
        app.query_params[name] = value
    app.run()  # imports, engine and session state; the overview's data is then dropped
    st.cache_data.clear()
    started = time.perf_counter()
    app.switch_page(f"pages/{page}.py").run()
    first = time.perf_counter() - started
    started = time.perf_counter()
    app.run()
    cached = time.perf_counter() - started
    problems = [e.value for e in app.exception] + [e.value for e in app.error
                                                   if "warning" not in (e.icon or "")]
    if problems:
        raise SystemExit(f"{page} did not render cleanly: {problems}")
    return first, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--db", help="an existing database URL instead of the cached demo")
    args = parser.parse_args()
    import streamlit.logger

    streamlit.logger.set_log_level("error")  # AppTest's bare-mode notices
    os.environ["DATABASE_URL"] = args.db or demo_database(args.scale)
    print(f"{'page':<12} {'view':<24} {'first s':>8} {'cached s':>9}  targets "
          f"{FIRST_TARGET_S} / {CACHED_TARGET_S} s")
    for label, params in VIEWS.items():
        for page in PAGES:
            runs = [render_times(page, params) for _ in range(args.repeats)]
            first = statistics.median(run[0] for run in runs)
            cached = statistics.median(run[1] for run in runs)
            verdict = ("ok" if first <= FIRST_TARGET_S and cached <= CACHED_TARGET_S
                       else "MISSED")
            print(f"{page:<12} {label:<24} {first:>8.2f} {cached:>9.3f}  {verdict}",
                  flush=True)


if __name__ == "__main__":
    main()
