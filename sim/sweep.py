"""Grid sweep of operators × extra bot share around the baseline, and the cost frontier.

Each cell is the baseline day with every interval's scheduled operators in the chosen pool
multiplied by a factor, and the bot answering an extra share of the arrivals on the chosen
channels, on top of what it already takes (self-service is left as it is). Factor 1 with no
extra share is the baseline itself, always on the grid and flagged `is_baseline`. The frontier
marks mixes that no other mix beats on both cost and service level: the answer to "hire or
automate?" for this demand. A best mix on the grid's edge may have a better one beyond it:
`edge_warnings` says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
import polars as pl

from sim.config import Scenario
from sim.nps import WaitNpsCurve, predict
from sim.results import confidence, day_results
from sim.runner import Progress, map_tasks, simulate_replications

SWEEP_METRICS = ("queue_service_level", "service_level", "asa_s", "queue_abandoned_share",
                 "abandoned_share", "gave_up_in_bot", "occupancy", "cost", "operator_cost",
                 "bot_cost", "bot_contained", "self_served")
# The service level a mix is judged by: of the contacts that reached the operators' queue, as
# a contact centre reports it (those who gave up in the bot are `gave_up_in_bot`).
SWEEP_LEVEL = "queue_service_level"


def bot_channels(scenario: Scenario, pool: str) -> tuple[str, ...]:
    """The pool's channels that already have a bot; all of its channels when none has."""
    members = [c for c in scenario.channels if c.pool == pool]
    with_bot = tuple(c.name for c in members if c.bot_share > 0)
    return with_bot or tuple(c.name for c in members)


def scaled(scenario: Scenario, pool: str, operator_factor: float, extra_bot_share: float,
           containment: float | None = None, channels: Sequence[str] | None = None
           ) -> Scenario:
    """The scenario with `pool`'s operators scaled and the bot on `extra_bot_share` more.

    `channels` defaults to `bot_channels`; `containment` (of the extra share) to each
    channel's own.
    """
    base = scenario.scheduled(scenario.pool(pool))
    operators = tuple(math.floor(n * operator_factor + 0.5) for n in base)  # half rounds up
    members = tuple(channels) if channels else bot_channels(scenario, pool)
    return scenario.with_pool_operators(pool, operators).with_extra_bot(
        extra_bot_share, containment, members)


def with_baseline(values: Sequence[float], baseline: float) -> list[float]:
    """The axis with the baseline's own value on it, sorted."""
    axis = sorted({round(float(v), 6) for v in values} | {baseline})
    return axis


def _cell(scenario: Scenario, replications: int, seed: int, curve: WaitNpsCurve | None
          ) -> pl.DataFrame:
    records = simulate_replications(scenario, range(replications), seed)
    summary = confidence(day_results(records, scenario, replications=range(replications)),
                         SWEEP_METRICS)
    if curve is not None:
        in_day = records.filter(~pl.col("warmup"))
        summary = summary.with_columns(**{k: pl.lit(v) for k, v in predict(in_day,
                                                                           curve).items()})
    return summary


def sweep(scenario: Scenario, pool: str, operator_factors: Sequence[float],
          extra_bot_shares: Sequence[float], containment: float | None = None,
          replications: int = 5, seed: int = 0, executor: Executor | None = None,
          curve: WaitNpsCurve | None = None, progress: Progress | None = None,
          channels: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per (operator factor, extra bot share) with CIs, a frontier and baseline flag.

    The baseline (factor 1, extra 0) is added to the axes when they miss it.
    """
    factors = with_baseline(operator_factors, 1.0)
    extras = with_baseline(extra_bot_shares, 0.0)
    cells = [(f, a) for f in factors for a in extras]
    mixes = [scaled(scenario, pool, f, a, containment, channels) for f, a in cells]
    summaries = map_tasks(_cell, [(mix, replications, seed, curve) for mix in mixes],
                          executor, progress, "Sweep mixes")
    rows = [summary.with_columns(
        operator_factor=pl.lit(factor), extra_bot_share=pl.lit(extra),
        is_baseline=pl.lit(factor == 1.0 and extra == 0.0),
        operator_hours=pl.lit(sum(mix.scheduled(mix.pool(pool))) * mix.interval_minutes / 60))
        for (factor, extra), mix, summary in zip(cells, mixes, summaries, strict=True)]
    grid = pl.concat(rows, how="diagonal")
    first = ("operator_factor", "extra_bot_share", "is_baseline", "operator_hours")
    return with_frontier(grid).select(*first, pl.exclude(*first))


def with_frontier(grid: pl.DataFrame, level_column: str = SWEEP_LEVEL) -> pl.DataFrame:
    """Flag mixes on the cost/service-level Pareto frontier (no other mix is cheaper and better)."""
    cost = grid["cost"].to_numpy()
    level = grid[level_column].to_numpy()
    dominated = np.zeros(grid.height, dtype=bool)
    for i in range(grid.height):
        better = (cost <= cost[i]) & (level >= level[i]) & ((cost < cost[i])
                                                            | (level > level[i]))
        dominated[i] = bool(better.any())
    return grid.with_columns(on_frontier=pl.Series(~dominated))


def cheapest_meeting(grid: pl.DataFrame, target: float) -> dict[str, Any] | None:
    """The cheapest frontier mix whose mean service level reaches the target."""
    meeting = grid.filter(pl.col("on_frontier") & (pl.col(SWEEP_LEVEL) >= target - 1e-12))
    if meeting.is_empty():
        return None
    return meeting.sort("cost").row(0, named=True)


EDGE_WARNINGS = {
    "fewest": "The best mix uses the fewest operators on the grid: a cheaper one may lie "
              "below it. Lower the smallest operator factor and sweep again.",
    "most": "The best mix uses the most operators on the grid: a better one may lie above "
            "it. Raise the largest operator factor and sweep again.",
    "extra": "The best mix uses the largest extra bot share on the grid: a better one may "
             "lie beyond it. Raise the largest extra bot share and sweep again.",
}


def edge_warnings(grid: pl.DataFrame, best: Mapping[str, Any] | None) -> list[str]:
    """When the best mix sits on the grid's edge, a better one may lie beyond it: say where."""
    if best is None:
        return []
    factors, extras = grid["operator_factor"], grid["extra_bot_share"]
    sides = {"fewest": best["operator_factor"] <= factors.min() and factors.min() > 0,
             "most": best["operator_factor"] >= factors.max(),
             "extra": best["extra_bot_share"] >= extras.max() > 0}
    return [EDGE_WARNINGS[side] for side, on_edge in sides.items() if on_edge]
