"""Forecast + backtest for all channels: times against the 30 s target, and the accuracy.

Reads 420 days of arrivals per quarter hour from a demo database (made here in a temporary
SQLite file at --scale unless --db is given), then times: the history read, a 4-week
forecast, the 8-week rolling-origin backtest, and the required agents for one week. It prints
the backtest's WAPE and bias per channel for the model and both baselines side by side, with
the model's gain over each, and times the plan simulated (the required agents' week through
the simulator, 20 replications a day; target 10 s). With statsforecast installed (it is not
a dependency) it also times its AutoETS on the same daily totals, first call and second, the
measurement behind choosing statsmodels.

    python benchmarks/forecast.py [--scale 1.0] [--db URL] [--weeks 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

TARGET_S = 30.0
PLAN_TARGET_S = 10.0
PLAN_REPLICATIONS = 20
HISTORY_DAYS = 420


def demo_database(scale: float, folder: str) -> str:
    """A demo story of HISTORY_DAYS days ending 2022-07-31 at `scale`, in SQLite."""
    from data_access.demo import DemoConfig, generate_demo
    from data_access.engine import create_db_engine

    url = f"sqlite:///{folder}/forecast_bench.db"
    engine = create_db_engine(url)
    end = dt.date(2022, 7, 31)
    generate_demo(engine, DemoConfig(scale=scale, start=end - dt.timedelta(days=HISTORY_DAYS),
                                     end=end))
    engine.dispose()
    return url


def timed(label: str, times: dict[str, float], function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    times[label] = time.perf_counter() - started
    print(f"{label:>34}: {times[label]:7.2f} s", flush=True)
    return result


def statsforecast_times(history: pl.DataFrame) -> None:
    """AutoETS (weekly season) on each channel's daily totals: first and second call."""
    try:
        import pandas as pd
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS
    except ImportError:
        print("statsforecast not installed: its comparison is skipped")
        return
    daily = (history.group_by("channel", "day").agg(pl.col("arrivals").sum())
             .sort("channel", "day")
             .select(unique_id="channel", ds="day", y=pl.col("arrivals").cast(pl.Float64)))
    frame = pd.DataFrame({name: daily[name].to_list() for name in daily.columns})
    frame["ds"] = pd.to_datetime(frame["ds"])
    for attempt in ("first call (numba compiles)", "second call"):
        started = time.perf_counter()
        StatsForecast(models=[AutoETS(season_length=7)], freq="D").forecast(df=frame, h=28)
        print(f"{'statsforecast AutoETS, ' + attempt:>34}: "
              f"{time.perf_counter() - started:7.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--db", help="an existing database (default: a fresh demo)")
    parser.add_argument("--weeks", type=int, default=8, help="backtest weeks (default 8)")
    args = parser.parse_args()

    from data_access.engine import create_db_engine
    from data_access.history import arrivals_by_quarter
    from data_access.holidays import holiday_dates
    from data_access.queries import Filters, handling_by_channel, latest_contact_date

    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or timed(f"demo at scale {args.scale:g} (setup)", {}, demo_database,
                               args.scale, folder)
        engine = create_db_engine(url)
        with engine.connect() as connection:
            origin = latest_contact_date(connection)
            history = timed("history read", times, arrivals_by_quarter, connection,
                            origin - dt.timedelta(days=HISTORY_DAYS - 1), origin)
            handling = handling_by_channel(connection, Filters(origin - dt.timedelta(days=55),
                                                               origin))
        engine.dispose()

    started = time.perf_counter()
    import statsmodels.tsa.statespace.structural  # noqa: F401

    from sim.forecast import forecast_intervals
    from sim.forecast_backtest import backtest
    from sim.plan import simulate_plan
    from sim.required import required_agents
    times["imports"] = time.perf_counter() - started
    print(f"{'imports (statsmodels, scipy)':>34}: {times['imports']:7.2f} s")
    holidays = holiday_dates()
    forecast = timed("forecast, 4 weeks", times, forecast_intervals, history, origin, 4,
                     holidays)
    result = timed(f"backtest, {args.weeks} weekly origins", times, backtest, history,
                   holidays, args.weeks)
    week = forecast.filter(pl.col("day") <= origin + dt.timedelta(days=7))
    required = timed("required agents, 1 week", {}, required_agents, week, handling)
    staffing = required.select("date", "quarter", "pool", agents="required_agents")
    plan_times: dict[str, float] = {}
    plan = timed(f"plan simulated, 1 week x {PLAN_REPLICATIONS}", plan_times, simulate_plan,
                 week, handling, staffing, PLAN_REPLICATIONS)
    total = times["imports"] + times["forecast, 4 weeks"] + times[
        f"backtest, {args.weeks} weekly origins"]
    verdict = "meets" if total < TARGET_S else "misses"
    print(f"forecast + backtest: {total:.2f} s ({total / TARGET_S:.0%} of the {TARGET_S:.0f} s "
          f"target: {verdict}); {history['channel'].n_unique()} channels, "
          f"{history.height:,} history rows, {history['arrivals'].sum():,} arrivals")

    with pl.Config(tbl_rows=40, tbl_cols=12, tbl_width_chars=160, float_precision=3):
        for name in ("wape", "bias"):
            print(f"{name} per channel, per quarter hour:")
            print(result.by_channel.pivot("method", index="channel", values=name))
        print("wape on holidays and other days:")
        print(result.by_holiday.pivot("method", index="holiday", values="wape"))
        print(result.total)
    print(f"model's WAPE is {result.improvement('seasonal_naive'):.1%} lower than the "
          f"seasonal naive's and {result.improvement('weekday_mean_8w'):.1%} lower than the "
          "8-week weekday mean's")
    plan_s = next(iter(plan_times.values()))
    print(f"plan simulated: {plan_s:.2f} s for 7 days x {PLAN_REPLICATIONS} replications "
          f"({plan_s / PLAN_TARGET_S:.0%} of the {PLAN_TARGET_S:.0f} s target), "
          f"{plan.week['offered'][0]:,.0f} arrivals a simulated week, queue service level "
          f"{plan.week['queue_service_level'][0]:.1%}")
    statsforecast_times(history)


if __name__ == "__main__":
    main()
