"""How fast the staffing simulator is, side by side with Ciw, in one run.

1. The same M/M/c workload in Ciw 3.2.7 (a dev dependency, for this benchmark only) and in our
   model with both engines (the reference process model and the default fast engine):
   λ = 100/h, AHT 6 min exponential, c = 12, FCFS, no abandonment. Ciw runs 100 simulated
   hours; ours runs whole days (`simulate_day`, 5 replications = 120 h), so they are compared
   in customers simulated per wall second (records built, best of 3 repeats, one process
   each). The mean wait of each is checked against Erlang C (ASA 80.9 s).
2. One operating day of `sim/examples/baseline_monday.toml` (all channels, default demand) x 20
   replications through `sim.runner.run`: as called (a job this small stays in process; the
   first call is cold) and through the default process pool (cold: workers start; warm).
3. An 11 x 11 sweep of the baseline (pool "digital": operators x 0.6..1.4, extra bot share
   0..0.5), 3 replications per cell, through the same warm pool.

When ours is below 2x Ciw, it also prints where `simulate_day` spends its time.

    python benchmarks/sim_speed.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASELINE = ROOT / "sim" / "examples" / "baseline_monday.toml"
ARRIVALS_PER_HOUR = 100.0
AHT_S = 360.0
AGENTS = 12
CIW_HOURS = 100.0
OUR_DAYS = 5  # 120 simulated hours
REPEATS = 3
SWEEP_REPLICATIONS = 3
SWEEP_FACTORS = [round(0.6 + 0.08 * i, 2) for i in range(11)]  # 0.6 .. 1.4
SWEEP_SHARES = [round(0.05 * i, 2) for i in range(11)]  # 0 .. 0.5
TARGET_RATIO = 2.0
TARGET_DAY_S = 1.0
TARGET_SWEEP_S = 30.0


def mmc_scenario():
    """The M/M/c workload as a scenario: one pool of 12 all day, one channel at 100/h."""
    from sim.config import parse_scenario

    parsed = parse_scenario({
        "name": "mmc-benchmark", "interval_minutes": 60, "warmup_s": 0,
        "pools": [{"name": "agents", "operators": [AGENTS] * 24}],
        "channels": [{"name": "calls", "pool": "agents", "arrivals": [ARRIVALS_PER_HOUR] * 24,
                      "aht_s": AHT_S, "handle_distribution": "exponential"}],
    })
    if not parsed.ok:
        raise SystemExit("M/M/c scenario: " + "; ".join(map(str, parsed.problems)))
    return parsed.scenario


def baseline_scenario():
    from sim.config import parse_scenario

    parsed = parse_scenario(tomllib.loads(BASELINE.read_text(encoding="utf-8")))
    if not parsed.ok:
        raise SystemExit(f"{BASELINE}: " + "; ".join(map(str, parsed.problems)))
    return parsed.scenario


def mean_ci(batch_means: list[float]) -> tuple[float, float]:
    """Mean and 95% half-width (t) over batch means."""
    from scipy import stats

    mean = statistics.fmean(batch_means)
    half = (stats.t.ppf(0.975, len(batch_means) - 1) * statistics.stdev(batch_means)
            / len(batch_means) ** 0.5)
    return mean, half


def bench_ciw() -> dict:
    """Ciw: build, run 100 h and collect the records, per repeat; waits in 20-hour batches."""
    try:
        import ciw
    except ImportError:
        raise SystemExit("Ciw is missing: pip install -r requirements-dev.txt") from None

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=ARRIVALS_PER_HOUR / 3600)],
        service_distributions=[ciw.dists.Exponential(rate=1 / AHT_S)],
        number_of_servers=[AGENTS])
    best, batches, customers = float("inf"), [], 0
    for repeat in range(REPEATS):
        ciw.seed(repeat + 1)
        started = time.perf_counter()
        simulation = ciw.Simulation(network)
        simulation.simulate_until_max_time(CIW_HOURS * 3600)
        records = simulation.get_all_records()
        seconds = time.perf_counter() - started
        if seconds < best:
            best, customers = seconds, len(records)
        by_batch: dict[int, list[float]] = {}
        for record in records:
            by_batch.setdefault(int(record.arrival_date // (20 * 3600)), []).append(
                record.waiting_time)
        batches += [statistics.fmean(waits) for waits in by_batch.values()]
    return {"engine": "Ciw 3.2.7", "customers": customers, "hours": CIW_HOURS, "seconds": best,
            "rate": customers / best, "wait": mean_ci(batches)}


def bench_ours(scenario, engine: str) -> dict:
    """Ours: `simulate_day` for 5 days per repeat (draws, SimPy run, Polars records)."""
    from sim.model import simulate_day

    simulate_day(scenario, 0, 0, engine=engine)  # imports and first-call costs out of timing
    best, batches, customers = float("inf"), [], 0
    for repeat in range(REPEATS):
        started = time.perf_counter()
        days = [simulate_day(scenario, replication, repeat + 1, engine=engine)
                for replication in range(OUR_DAYS)]
        seconds = time.perf_counter() - started
        if seconds < best:
            best, customers = seconds, sum(day.height for day in days)
        batches += [day["wait_s"].mean() for day in days]
    return {"engine": f"ours, {engine}", "customers": customers, "hours": OUR_DAYS * 24.0,
            "seconds": best, "rate": customers / best, "wait": mean_ci(batches)}


def _timed(module, name: str, totals: dict[str, float]) -> Callable:
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - started

    return wrapper


def profile_ours(scenario, days: int = 10) -> list[tuple[str, float, str]]:
    """Where `simulate_day` spends its wall time, and SimPy events per customer.

    The phases are timed by wrapping the module's own functions for the length of this call
    (no profiler overhead); events are counted in a second, untimed pass through
    `Environment.schedule`.
    """
    import simpy

    import sim.model as model

    totals: dict[str, float] = {}
    events = [0]
    names = ("draw_channel", "simulate_pool", "_records")
    originals = {name: getattr(model, name) for name in names}
    schedule = simpy.Environment.schedule

    def counting_schedule(env, event, priority=1, delay=0):
        events[0] += 1
        return schedule(env, event, priority, delay)

    try:
        for name in names:
            setattr(model, name, _timed(model, name, totals))
        started = time.perf_counter()
        customers = sum(model.simulate_day(scenario, r, 99).height for r in range(days))
        total = time.perf_counter() - started
        for name, original in originals.items():
            setattr(model, name, original)
        simpy.Environment.schedule = counting_schedule  # a second, untimed pass
        for replication in range(days):
            model.simulate_day(scenario, replication, 99)
    finally:
        simpy.Environment.schedule = schedule
        for name, original in originals.items():
            setattr(model, name, original)
    other = total - sum(totals.values())
    return [
        ("SimPy run (simulate_pool: events, processes, resource)", totals["simulate_pool"],
         f"{events[0] / customers:.1f} events/customer"),
        ("Polars records (_records)", totals["_records"], ""),
        ("random draws (draw_channel)", totals["draw_channel"], ""),
        ("other (numpy glue, concat)", other, ""),
        ("total", total, f"{customers:,} customers, {days} days"),
    ]


def bench_day(scenario) -> dict:
    """20 replications of the baseline day: as `run()` does it, and through the process pool.

    `run()` keeps a job this small in its own process (the first call is the cold one); the
    pool figures show what the same job costs when a caller hands `run()` the pool.
    """
    from sim.runner import default_executor, run

    def timed(**kwargs) -> float:
        started = time.perf_counter()
        run(scenario, replications=20, seed=len(times), **kwargs)
        return time.perf_counter() - started

    times: list[float] = []
    auto = [timed() for _ in range(REPEATS)]
    times.clear()
    pool_cold = timed(executor=default_executor())
    pool_warm = [timed(executor=default_executor()) for _ in range(REPEATS)]
    result = run(scenario, replications=20, seed=0)
    return {"auto": auto, "pool_cold": pool_cold, "pool_warm": pool_warm,
            "contacts": result.records.height,
            "workers": getattr(default_executor(), "_max_workers", None)}


def bench_sweep(scenario) -> dict:
    from sim.sweep import sweep

    started = time.perf_counter()
    grid = sweep(scenario, "digital", SWEEP_FACTORS, SWEEP_SHARES,
                 replications=SWEEP_REPLICATIONS, seed=0)
    return {"seconds": time.perf_counter() - started, "cells": grid.height}


def main() -> None:
    from sim.erlang import erlang_c_metrics

    cores = os.cpu_count()
    erlang = erlang_c_metrics(ARRIVALS_PER_HOUR, AHT_S, AGENTS)
    print(f"Simulator speed on {cores} cores, Python {sys.version.split()[0]}\n")
    baseline = baseline_scenario()
    day = bench_day(baseline)

    print(f"1. M/M/c: λ = {ARRIVALS_PER_HOUR:.0f}/h, AHT {AHT_S / 60:.0f} min exponential, "
          f"c = {AGENTS}, FCFS, no abandonment; one process; best of {REPEATS} repeats")
    ciw_row = bench_ciw()
    reference_row = bench_ours(mmc_scenario(), "process")
    ours_row = bench_ours(mmc_scenario(), "fast")
    print(f"   {'engine':<18} {'customers':>9} {'sim h':>6} {'wall s':>7} {'customers/s':>12} "
          f"{'mean wait s (95% CI)':>21} {'Erlang C ASA s':>15}")
    for row in (ciw_row, reference_row, ours_row):
        mean, half = row["wait"]
        print(f"   {row['engine']:<18} {row['customers']:>9,} {row['hours']:>6.0f} "
              f"{row['seconds']:>7.3f} {row['rate']:>12,.0f} {mean:>12.1f} ± {half:>5.1f}  "
              f"{erlang.asa_s:>15.1f}")
    ratio = ours_row["rate"] / ciw_row["rate"]
    print(f"   ratio ours (fast engine, the default) / Ciw: {ratio:.2f}x; reference process "
          f"model / Ciw: {reference_row['rate'] / ciw_row['rate']:.2f}x")
    print(f"   (waits: mean of {REPEATS} runs, CI over 20-hour batches for Ciw and days for "
          f"ours)")
    if ratio < TARGET_RATIO:
        print(f"\n   Below {TARGET_RATIO:.0f}x: where simulate_day spends its time (M/M/c day)")
        phases = profile_ours(mmc_scenario())
        total = phases[-1][1]
        for label, seconds, note in phases:
            print(f"   {label:<56} {seconds:>7.3f} s {seconds / total:>5.0%}  {note}")

    print(f"\n2. {BASELINE.relative_to(ROOT)} x 20 replications ({day['contacts']:,} contact "
          f"records), sim.runner.run")
    print("   run() as called (small job, stays in process): "
          + ", ".join(f"{t:.3f}" for t in day["auto"]) + " s (first is cold)")
    print(f"   through the default process pool ({day['workers']} workers): cold "
          f"{day['pool_cold']:.3f} s (workers start), warm "
          + ", ".join(f"{t:.3f}" for t in day["pool_warm"]) + " s")

    print(f"\n3. 11 x 11 sweep: pool 'digital', operator factors {SWEEP_FACTORS[0]}.."
          f"{SWEEP_FACTORS[-1]}, extra bot shares {SWEEP_SHARES[0]}..{SWEEP_SHARES[-1]}, "
          f"replications={SWEEP_REPLICATIONS}, warm pool")
    swept = bench_sweep(baseline)
    print(f"   {swept['cells']} cells in {swept['seconds']:.2f} s")

    rows = [
        ("M/M/c customers/s, ours / Ciw", f"{ratio:.2f}x", f">= {TARGET_RATIO:.0f}x",
         ratio >= TARGET_RATIO),
        ("baseline day x 20 reps, run(), cold", f"{day['auto'][0]:.3f} s",
         f"< {TARGET_DAY_S:.0f} s", day["auto"][0] < TARGET_DAY_S),
        ("baseline day x 20 reps, pool, warm best", f"{min(day['pool_warm']):.3f} s",
         f"< {TARGET_DAY_S:.0f} s", min(day["pool_warm"]) < TARGET_DAY_S),
        ("baseline day x 20 reps, pool, cold (info)", f"{day['pool_cold']:.3f} s", "-", None),
        (f"11x11 sweep, {SWEEP_REPLICATIONS} reps/cell", f"{swept['seconds']:.2f} s",
         f"< {TARGET_SWEEP_S:.0f} s", swept["seconds"] < TARGET_SWEEP_S),
    ]
    print(f"\n{'figure':<42} {'value':>10} {'target':>8}  result")
    for label, value, target, passed in rows:
        verdict = "-" if passed is None else ("PASS" if passed else "FAIL")
        print(f"{label:<42} {value:>10} {target:>8}  {verdict}")


if __name__ == "__main__":
    main()
