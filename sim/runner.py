"""Replications, comparisons and sweeps, run through a `concurrent.futures.Executor`.

The caller may pass any Executor: the default is a process pool over this machine's cores. For
grids too big for one machine, pass a Dask distributed `client.get_executor()` or Ray's
`RayExecutor` (`ray.util.concurrent.futures`); tasks and results are plain picklable objects.
Work is chunked so that each task simulates several replications, keeping per-task overhead
small.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import polars as pl

from sim.config import Scenario
from sim.model import simulate_day
from sim.nps import WaitNpsCurve, estimate, nps_parts, paired_change
from sim.results import confidence, day_results, interval_results, pool_interval_metrics

Progress = Callable[[float, str], None]
R = TypeVar("R")
# Up to this many simulated contacts, run() works in this process: a process pool takes
# longer to start its workers (about a second) than these take to simulate (about 0.4 s).
IN_PROCESS_CONTACTS = 400_000
_DEFAULT_EXECUTOR: ProcessPoolExecutor | None = None


def default_executor() -> Executor:
    """One process pool per process, reused across calls (pool start-up is not free)."""
    global _DEFAULT_EXECUTOR
    if _DEFAULT_EXECUTOR is not None and getattr(_DEFAULT_EXECUTOR, "_broken", False):
        # A worker died (killed, out of memory): this pool refuses all work from now on.
        _DEFAULT_EXECUTOR.shutdown(wait=False, cancel_futures=True)
        _DEFAULT_EXECUTOR = None
    if _DEFAULT_EXECUTOR is None:
        # Not "fork": a child forked after the parent has used Polars' thread pool hangs.
        _DEFAULT_EXECUTOR = ProcessPoolExecutor(
            max_workers=os.cpu_count() or 1,
            mp_context=multiprocessing.get_context("forkserver"))
        atexit.register(_DEFAULT_EXECUTOR.shutdown, wait=False, cancel_futures=True)
    return _DEFAULT_EXECUTOR


@contextmanager
def workers_import_only_this_module() -> Iterator[None]:
    """Keep new pool workers from running the parent's main script.

    A worker started by a forkserver or spawn pool first re-imports `__main__`. Under
    Streamlit that is the app script, which would connect to the database (and could seed an
    empty one). While workers may start, `__main__` is this module: definitions only.
    """
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = sys.modules[__name__]
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def simulate_replications(scenario: Scenario, replications: Sequence[int], seed: int
                          ) -> pl.DataFrame:
    """A task: several replications in one worker, records with the warm-up contacts."""
    return pl.concat([simulate_day(scenario, r, seed, include_warmup=True)
                      for r in replications])


def summarise(scenario: Scenario, records: pl.DataFrame, replications: int
              ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Day, day-by-channel and interval results; pool metrics are computed once."""
    pools = pool_interval_metrics(records, scenario)
    return (day_results(records, scenario, pools=pools, replications=range(replications)),
            day_results(records, scenario, by_channel=True, pools=pools),
            interval_results(records, scenario, pools=pools))


@dataclass(frozen=True)
class SimulationResult:
    scenario: Scenario
    seed: int
    replications: int
    records: pl.DataFrame  # one row per contact and replication
    day: pl.DataFrame  # one row per replication
    day_by_channel: pl.DataFrame  # one row per replication and channel
    intervals: pl.DataFrame  # one row per replication, pool and interval

    def summary(self) -> pl.DataFrame:
        """The day's metrics with 95% CIs over replications (one row)."""
        return confidence(self.day)

    def summary_by_channel(self) -> pl.DataFrame:
        return confidence(self.day_by_channel, by=["channel"])

    def interval_summary(self) -> pl.DataFrame:
        metrics = ("offered", "queued", "answered", "abandoned", "abandoned_share",
                   "queue_abandoned_share", "queue_service_level", "asa_s",
                   "wait_p50_s", "wait_p90_s", "wait_p95_s", "service_level", "occupancy",
                   "max_queue", "bot_contained", "operators", "cost")
        return confidence(self.intervals, metrics, by=["pool", "interval"])


def _chunks(replications: int, workers: int) -> list[list[int]]:
    count = max(1, min(replications, workers * 2))
    return [list(range(i, replications, count)) for i in range(count)]


def executor_workers(executor: Executor) -> int:
    """How many tasks the executor runs at once: a process pool's workers, or every thread of
    every worker of a Dask cluster (`client.get_executor()`), not this machine's cores."""
    client = getattr(executor, "_client", None)  # dask.distributed's ClientExecutor
    if client is not None and hasattr(client, "nthreads"):
        return max(1, sum(client.nthreads().values()))
    return getattr(executor, "_max_workers", None) or os.cpu_count() or 1


def run(scenario: Scenario, replications: int = 20, seed: int = 0,
        executor: Executor | None = None, progress: Progress | None = None
        ) -> SimulationResult:
    """Simulate `replications` days; seeds are shared across scenarios (common random numbers)."""
    if replications < 1:
        raise ValueError(f"replications must be >= 1, got {replications}")
    if executor is None and expected_contacts(scenario) * replications <= IN_PROCESS_CONTACTS:
        # Small jobs finish here before a process pool could even start its workers.
        records = _simulate_here(scenario, replications, seed, progress)
        return _result(scenario, seed, replications, records)
    chunks = _chunks(replications, executor_workers(executor or default_executor()))
    records = pl.concat(map_tasks(simulate_replications,
                                  [(scenario, chunk, seed) for chunk in chunks], executor,
                                  progress, "Simulating replications"))
    return _result(scenario, seed, replications, records)


def map_tasks(function: Callable[..., R], arguments: Sequence[tuple], executor: Executor | None,
              progress: Progress | None = None, label: str = "Tasks") -> list[R]:
    """Run `function(*args)` for each tuple on the executor, results in order.

    With the shared default pool, a batch that meets a dead worker (killed, out of memory) is
    run again once on a fresh pool, so one crash does not break every later request.
    """
    def attempt(pool: Executor) -> list[R]:
        with workers_import_only_this_module():
            futures = [pool.submit(function, *args) for args in arguments]
        results = []
        for done, future in enumerate(futures, start=1):
            results.append(future.result())
            if progress:
                progress(done / len(futures), f"{label}: {done}/{len(futures)}")
        return results

    if executor is not None:
        return attempt(executor)
    try:
        return attempt(default_executor())
    except BrokenProcessPool:
        return attempt(default_executor())  # default_executor() replaces a broken pool


def _result(scenario: Scenario, seed: int, replications: int, records: pl.DataFrame
            ) -> SimulationResult:
    records = records.sort("replication", "arrival_s")
    day, day_by_channel, intervals = summarise(scenario, records, replications)
    return SimulationResult(
        scenario=scenario, seed=seed, replications=replications,
        records=records.filter(~pl.col("warmup")), day=day, day_by_channel=day_by_channel,
        intervals=intervals,
    )


def expected_contacts(scenario: Scenario) -> float:
    """Contacts one simulated day is expected to hold, warm-up included."""
    return sum(sum(scenario.offered(c)) + scenario.offered(c)[-1] * scenario.warmup_s
               / scenario.interval_s for c in scenario.channels)


def _simulate_here(scenario: Scenario, replications: int, seed: int,
                   progress: Progress | None) -> pl.DataFrame:
    frames = []
    for replication in range(replications):
        frames.append(simulate_replications(scenario, [replication], seed))
        if progress:
            progress((replication + 1) / replications,
                     f"Simulating replications: {replication + 1}/{replications}")
    return pl.concat(frames)


COMPARED = ("service_level", "queue_service_level", "asa_s", "wait_p90_s", "abandoned_share",
            "queue_abandoned_share", "gave_up_in_bot", "occupancy", "cost",
            "operator_cost", "bot_cost", "offered", "answered", "abandoned", "unserved",
            "self_served", "bot_contained", "escalated")


def compare(baseline: Scenario, scenarios: Sequence[Scenario], replications: int = 20,
            seed: int = 0, executor: Executor | None = None, curve: WaitNpsCurve | None = None
            ) -> pl.DataFrame:
    """A baseline against up to 5 scenarios, side by side, with paired deltas.

    Every scenario simulates the same days (same seed: common random numbers), so each delta's
    95% CI comes from the per-day differences, far narrower than two separate intervals. With
    a wait→NPS curve, predicted NPS and its paired change come too.
    """
    if not 1 <= len(scenarios) <= 5:
        raise ValueError(f"compare takes 1 to 5 scenarios, got {len(scenarios)}")
    results = [run(scenario, replications, seed, executor) for scenario in (baseline,
                                                                              *scenarios)]
    parts = [nps_parts(result.records, curve) for result in results] if curve else []
    rows = []
    for index, (scenario, result) in enumerate(zip((baseline, *scenarios), results,
                                                   strict=True)):
        row = pl.concat([result.summary(), paired_changes(results[0].day, result.day)],
                        how="horizontal").with_columns(scenario=pl.lit(scenario.name))
        if parts:
            row = row.with_columns(**{key: pl.lit(value, pl.Float64) for key, value in (
                estimate(parts[index]) | paired_change(parts[0], parts[index], curve)).items()})
        rows.append(row)
    return pl.concat(rows, how="diagonal").select("scenario", pl.exclude("scenario"))


def paired_changes(base_day: pl.DataFrame, other_day: pl.DataFrame,
                   metrics: Sequence[str] = COMPARED) -> pl.DataFrame:
    """Mean change per metric with a 95% CI from day-by-day differences (same seed, same days).

    A day where a metric is undefined (nobody answered, so no ASA) leaves that metric's
    change out for that day rather than failing.
    """
    paired = other_day.select("replication", *metrics).join(
        base_day.select("replication", *metrics), on="replication", suffix="_baseline")
    deltas = paired.select("replication", *[  # signed: a count that falls comes out negative
        (pl.col(metric).cast(pl.Float64) - pl.col(f"{metric}_baseline").cast(pl.Float64))
        .alias(f"{metric}_delta")
        for metric in metrics])
    return confidence(deltas, tuple(f"{metric}_delta" for metric in metrics), bounded=False)
