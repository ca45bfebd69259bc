"""The demo's staffing on record: a roster per month and kind of day, sized by Erlang A.

Pools are the simulator's (sim/demand.py POOL_OF): "digital" takes the four chat channels,
"office" every service office in total (the simulator models offices as one pool). A pool's
places are its agents after shrinkage (to the nearest whole agent) times the contacts an agent
holds at once, as the simulator counts them (sim/config.py `available`, sim/demand.py).

How the roster is made, per story month and kind of day (the weekday, or Sunday for a public
holiday): the expected queue arrivals per hour (that kind of day's mean in the month) give each
hour's required agents, the fewest whose Erlang A abandonment stays under the pool's target
(scaled by the month's wait level, so waits and abandonment shrink in 2022 as the story's waits
do). Digital agents then work 8-hour shifts starting 07:00 .. 15:00 (the last ends at 23:00):
hour by hour, a shortfall starts that many shifts at the latest start that still covers the
hour (the greedy that covers with the fewest shifts), plus a night shift 23:00-07:00; offices
staff one shift over their opening hours. On each day a few rostered agents are absent
(ATTENDANCE), so some days run short: that is where abandonment rises.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from data_access.demo.calibration import (
    ABANDON_TARGET,
    ATTENDANCE,
    DIGITAL_SHIFT_H,
    DIGITAL_SHIFT_STARTS_H,
    OFFICE_HOURS,
    PATIENCE_S,
    PLACES_PER_AGENT,
    POOL_OF,
    SHRINKAGE,
)
from data_access.demo.queueing import erlang_a
from data_access.schema import QUARTERS_PER_DAY, STAFFING_POOLS

QUARTER_S = 900
POOLS = STAFFING_POOLS


def places(agents: np.ndarray, pool: str) -> np.ndarray:
    """Contacts a pool can hold at once: agents after shrinkage x contacts per agent."""
    return np.floor(np.asarray(agents) * (1 - SHRINKAGE) + 0.5).astype(np.int64) * \
        PLACES_PER_AGENT[pool]


def pool_channels(pool: str) -> list[str]:
    return [code for code, owner in POOL_OF.items() if owner == pool]


def required_agents(arrivals_per_s: np.ndarray, handle_s: np.ndarray, patience_s: np.ndarray,
                    target: np.ndarray, pool: str) -> np.ndarray:
    """The fewest agents (at least 1) whose Erlang A abandonment is at most `target`.

    Vectorised bisection over the rows; arrivals of 0 need 1 agent.
    """
    service, abandon = 1 / handle_s, 1 / patience_s
    low = np.ones(arrivals_per_s.size, dtype=np.int64)  # invariant: low - 1 is too few
    high = np.maximum(2, np.ceil(arrivals_per_s * handle_s / (1 - SHRINKAGE)
                                 / PLACES_PER_AGENT[pool]) * 2 + 4).astype(np.int64)
    while np.any(low < high):
        middle = (low + high) // 2
        figures = erlang_a(arrivals_per_s, service, abandon, places(middle, pool))
        enough = figures.abandons <= target
        high = np.where(enough & (low < high), middle, high)
        low = np.where(~enough & (low < high), middle + 1, low)
    return low


def shift_cover(required: np.ndarray, pool: str, kind: int) -> np.ndarray:
    """Agents per hour (24) from whole shifts that cover every hour's requirement."""
    agents = np.zeros(24, dtype=np.int64)
    if pool == "office":
        opening, closing = OFFICE_HOURS[kind]
        if closing > opening:
            agents[opening:closing] = required[opening:closing].max()
        return agents
    day_hours = range(DIGITAL_SHIFT_STARTS_H[0], DIGITAL_SHIFT_STARTS_H[-1] + DIGITAL_SHIFT_H)
    for hour in day_hours:  # a shortfall starts shifts as late as still covers the hour
        start = max(start for start in DIGITAL_SHIFT_STARTS_H if start <= hour)
        agents[start:start + DIGITAL_SHIFT_H] += max(0, int(required[hour] - agents[hour]))
    night = [*range(DIGITAL_SHIFT_STARTS_H[-1] + DIGITAL_SHIFT_H, 24),
             *range(DIGITAL_SHIFT_STARTS_H[0])]
    agents[night] = required[night].max()
    return agents


def pool_handle_s(counts: dict[str, np.ndarray], handle_by_channel: dict[str, float]
                  ) -> np.ndarray:
    """Mean handle seconds of a pool's contacts, weighted by each channel's count."""
    total = sum(counts.values())
    work = sum(counts[code] * handle_by_channel[code] for code in counts)
    fallback = np.mean([handle_by_channel[code] for code in counts])
    return np.where(total > 0, work / np.maximum(total, 1e-12), fallback)


def pool_patience_s(counts: dict[str, np.ndarray]) -> np.ndarray:
    """The pool's mean patience as 1 / (mean abandonment rate of its arrivals)."""
    total = sum(counts.values())
    rate = sum(counts[code] / PATIENCE_S[code] for code in counts)
    fallback = 1 / np.mean([1 / PATIENCE_S[code] for code in counts])
    return np.where(total > 0, total / np.maximum(rate, 1e-12), fallback)


def month_roster(hourly: dict[str, np.ndarray], kinds: np.ndarray, wait_level: float,
                 handle_by_channel: dict[str, float], pool: str) -> np.ndarray:
    """Rostered agents per kind of day (7) and hour (24) for one pool and month.

    `hourly[code]` is the queue's arrivals per day (rows, the month's days) and hour.
    """
    roster = np.zeros((7, 24), dtype=np.int64)
    for kind in np.unique(kinds):
        mean = {code: counts[kinds == kind].mean(axis=0) for code, counts in hourly.items()}
        total = sum(mean.values())
        needed = required_agents(total / 3600, pool_handle_s(mean, handle_by_channel),
                                 pool_patience_s(mean), np.full(24, ABANDON_TARGET[pool]
                                                                * wait_level), pool)
        roster[kind] = shift_cover(needed, pool, int(kind))
    return roster


def daily_agents(roster: np.ndarray, kinds: np.ndarray, rng: np.random.Generator
                 ) -> np.ndarray:
    """Agents on duty per day and quarter: the roster less the day's absentees (each rostered
    hour keeps at least one agent)."""
    rostered = roster[kinds]  # days x 24
    absent = rng.binomial(rostered, 1 - ATTENDANCE)
    on_duty = np.where(rostered > 0, np.maximum(rostered - absent, 1), 0)
    return np.repeat(on_duty, QUARTERS_PER_DAY // 24, axis=1)


def staffing_frame(days: np.ndarray, agents: dict[str, np.ndarray]) -> pl.DataFrame:
    """Rows of the `staffing` table: every day x quarter x pool (0 agents when closed)."""
    parts = []
    for pool, per_day in agents.items():
        parts.append(pl.DataFrame({
            "day": np.repeat(days, QUARTERS_PER_DAY).astype("datetime64[D]"),
            "quarter": np.tile(np.arange(QUARTERS_PER_DAY), days.size).astype(np.int16),
            "pool": [pool] * (days.size * QUARTERS_PER_DAY),
            "agents": per_day.ravel().astype(np.int32),
        }))
    return pl.concat(parts).with_columns(pl.col("day").cast(pl.Date))
