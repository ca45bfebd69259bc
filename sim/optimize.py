"""The cheapest staffing per interval that meets the service level and the abandonment cap.

Erlang A brackets the answer (it is exact for one stationary queue with exponential times),
then the simulation confirms it: intervals that miss a target in simulation get one more
operator and the day is simulated again, until every interval passes or the rounds run out.
Simulation matters because real days are not stationary, chats run concurrently, bots hand
over late, and queues carry from one interval into the next.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import polars as pl

from sim.config import Scenario
from sim.demand import erlang_plan
from sim.results import operator_cost
from sim.runner import run


@dataclass(frozen=True)
class StaffingPlan:
    scenario: Scenario  # with the confirmed operators per interval
    table: pl.DataFrame  # pool, interval, erlang_a, operators, service_level, abandoned_share
    rounds: int
    met: bool  # every interval with demand meets its targets in simulation
    cost: float


def optimize(scenario: Scenario, replications: int = 10, seed: int = 0, max_rounds: int = 12,
             executor: Executor | None = None) -> StaffingPlan:
    """Erlang A plan, then simulation rounds: up where an interval misses, down where it has slack.

    Every round simulates the same days (same seed): differences come from staffing alone.
    Up: an interval that misses gets one more operator, unless its last extra operator did not
    raise its service level (more people cannot help, e.g. customers lost in the bot). Down:
    once all pass, one operator comes off every interval with slack; those that then fail get
    it back and are left alone, the rest keep the saving.
    """
    bracket = {pool.name: erlang_plan(scenario, pool.name) for pool in scenario.pools}
    plan = {name: list(values) for name, values in bracket.items()}
    rounds = 0

    def evaluate(trial: dict[str, list[int]]) -> tuple[Scenario, pl.DataFrame]:
        nonlocal rounds
        rounds += 1
        candidate = scenario
        for name, values in trial.items():
            candidate = candidate.with_pool_operators(name, tuple(values))
        summary = run(candidate, replications, seed, executor).interval_summary()
        table = summary.select(
            "pool", "interval", "queued", "service_level", "queue_service_level",
            "abandoned_share", "queue_abandoned_share", "occupancy",
        ).with_columns(
            erlang_a=pl.struct("pool", "interval").map_elements(
                lambda key: bracket[key["pool"]][key["interval"]], return_dtype=pl.Int64),
            operators=pl.struct("pool", "interval").map_elements(
                lambda key: trial[key["pool"]][key["interval"]], return_dtype=pl.Int64),
            sl_target=pl.col("pool").map_elements(lambda name: scenario.pool_targets(name)[0],
                                                  return_dtype=pl.Float64),
        ).with_columns(
            passes=(pl.col("queued") <= 0)
            | ((pl.col("queue_service_level") >= pl.col("sl_target"))
               & (pl.col("queue_abandoned_share") <= scenario.abandon_cap)),
        ).sort("pool", "interval")
        return candidate, table

    candidate, table = evaluate(plan)
    last_level: dict[tuple[str, int], float] = {}
    while rounds < max_rounds:
        raise_here = []
        for row in table.filter(~pl.col("passes")).iter_rows(named=True):
            key = (row["pool"], row["interval"])
            if key in last_level and row["queue_service_level"] <= last_level[key] + 1e-9:
                continue  # the previous extra operator did not help: stop adding here
            last_level[key] = row["queue_service_level"]
            raise_here.append(key)
        if not raise_here:
            break
        for pool, interval in raise_here:
            plan[pool][interval] += 1
        candidate, table = evaluate(plan)
    met = bool(table["passes"].all())

    settled: set[tuple[str, int]] = set()
    while met and rounds < max_rounds:
        slack = [(row["pool"], row["interval"]) for row in table.iter_rows(named=True)
                 if row["operators"] > 0 and (row["pool"], row["interval"]) not in settled]
        if not slack:
            break
        trial = {name: list(values) for name, values in plan.items()}
        for pool, interval in slack:
            trial[pool][interval] -= 1
        trial_candidate, trial_table = evaluate(trial)
        failing = {(row["pool"], row["interval"])
                   for row in trial_table.filter(~pl.col("passes")).iter_rows(named=True)}
        if not failing:
            plan, candidate, table = trial, trial_candidate, trial_table
            continue
        settled |= failing & set(slack)
        kept = [key for key in slack if key not in failing]
        if not kept or rounds >= max_rounds:
            break
        trial = {name: list(values) for name, values in plan.items()}
        for pool, interval in kept:
            trial[pool][interval] -= 1
        trial_candidate, trial_table = evaluate(trial)
        if trial_table["passes"].all():
            plan, candidate, table = trial, trial_candidate, trial_table
        else:
            settled |= set(kept)  # removals interact through queues carried over: keep these
    return StaffingPlan(candidate, table, rounds, met, operator_cost(candidate))
