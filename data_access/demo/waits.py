"""Waits and abandoned contacts from the staffing on record (the demo's queue, per interval).

The served contacts of the seed table are fixed; the queue decides how long each operator-served
one waited and how many gave up meanwhile. Per pool and 15-minute interval, Erlang A
(`queueing`) with the agents on duty gives the state an arrival meets and so its offered wait V;
each arrival's patience T is exponential with its channel's mean (PATIENCE_S). Arrivals are
drawn in order until the interval's served count is reached: those with T >= V were answered
after V, the others abandoned after T. So the served counts stay exactly the seed's and the
abandoned ones come in addition, as many as the queue loses on the way (a negative binomial).
The arrival rate used for the state is the served count grossed up by the abandonment it
implies (a fixed point of a few steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from data_access.demo.calibration import (
    ABANDON_TARGET,
    OPERATOR_HANDLE_S,
    PATIENCE_S,
)
from data_access.demo.plan import day_kinds
from data_access.demo.queueing import draw_offered_waits, erlang_a, state_probabilities
from data_access.demo.staffing import (
    POOLS,
    QUARTER_S,
    daily_agents,
    month_roster,
    places,
    pool_channels,
    pool_handle_s,
    pool_patience_s,
    staffing_frame,
)
from data_access.reference import CHANNEL_BY_CODE
from data_access.schema import QUARTERS_PER_DAY

_FIXED_POINT_STEPS = 4
_MAX_ABANDON = 0.95


@dataclass
class QueueOutcome:
    """Operator-served contacts' waits (0 for the others), the abandoned contacts (day index,
    quarter, channel id, wait_s) and the staffing rows."""

    wait: np.ndarray
    abandoned: dict[str, np.ndarray]
    staffing: pl.DataFrame


def quarters_of(started: np.ndarray) -> np.ndarray:
    seconds = (started - started.astype("datetime64[D]")).astype("timedelta64[s]").astype(
        np.int64)
    return seconds // QUARTER_S


def _counts(interval: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(interval[mask], minlength=size).astype(float)


def expected_counts(counts: dict[str, np.ndarray], kinds: np.ndarray
                    ) -> dict[str, np.ndarray]:
    """The served contacts each interval expects (the rate the queue runs at, of which the
    recorded count is one draw): its kind of day's mean hour in the month, spread evenly over
    the hour's quarters and scaled by that day's own volume. Sizing and queueing on the
    realised quarter counts instead would let a chance burst above the pool's capacity read
    as a flood of abandons."""
    days = kinds.size
    hourly = {code: values.reshape(days, 24, -1).sum(axis=2) for code, values in counts.items()}
    daily = sum(values.sum(axis=1) for values in hourly.values())
    expected = {code: np.zeros((days, 24)) for code in counts}
    for kind in np.unique(kinds):
        same = kinds == kind
        mean_day = daily[same].mean()
        factor = np.where(mean_day > 0, daily[same] / max(mean_day, 1e-12), 1.0)[:, None]
        for code, values in hourly.items():
            expected[code][same] = values[same].mean(axis=0)[None, :] * factor
    quarters = QUARTERS_PER_DAY // 24
    return {code: np.repeat(values / quarters, quarters, axis=1).ravel()
            for code, values in expected.items()}


def _select(served: np.ndarray, starts: np.ndarray, group: np.ndarray, needed: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrivals taken in order until each group's `needed` served: (served kept, abandoned
    kept, groups short of served arrivals)."""
    before = np.cumsum(served) - served
    within = before - before[starts][group]
    taken = within < needed[group]
    got = np.add.reduceat(served.astype(np.int64), starts) if starts.size else starts
    return served & taken, ~served & taken, got < needed


def _draw_channel(needed: np.ndarray, rows: np.ndarray, table: dict, patience_s: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For the intervals `rows` with `needed` served each: served waits in interval order,
    and the abandoned ones' (interval, seconds waited)."""
    share = np.minimum(_MAX_ABANDON, table["abandons"][rows] * table["patience_s"][rows]
                       / patience_s)
    size = np.ceil((needed + 2) * 1.3 / (1 - share)).astype(np.int64) + 3
    served_waits = np.zeros(0)
    done_rows, done_needed = np.zeros(0, np.int64), np.zeros(0, np.int64)
    gave_up_rows, gave_up_s = np.zeros(0, np.int64), np.zeros(0)
    while rows.size:
        group = np.repeat(np.arange(rows.size), size)
        starts = np.cumsum(size) - size
        offered = draw_offered_waits(table["probabilities"], table["service"],
                                     table["abandon"], table["places"], rows[group], rng)
        patience = rng.exponential(patience_s, group.size)
        answered, abandoned, short = _select(patience >= offered, starts, group, needed)
        fine = ~short[group]
        served_waits = np.concatenate([served_waits, offered[answered & fine]])
        done_rows = np.concatenate([done_rows, rows[group[answered & fine]]])
        done_needed = np.concatenate([done_needed, needed[~short]])
        gave_up_rows = np.concatenate([gave_up_rows, rows[group[abandoned & fine]]])
        gave_up_s = np.concatenate([gave_up_s, patience[abandoned & fine]])
        rows, needed, size = rows[short], needed[short], size[short] * 2
    order = np.argsort(done_rows, kind="stable")
    return served_waits[order], np.column_stack([gave_up_rows, gave_up_s])


def _interval_table(counts: dict[str, np.ndarray], agents: np.ndarray, pool: str,
                    target: float) -> dict:
    """The pool's Erlang A per interval from its expected served `counts`: places, rates,
    abandonment and state probabilities."""
    served = sum(counts.values())
    handle_s = pool_handle_s(counts, OPERATOR_HANDLE_S)
    patience_s = pool_patience_s(counts)
    seats = places(agents, pool)
    service, abandon = 1 / handle_s, 1 / patience_s
    abandons = np.full(served.size, target)
    for _ in range(_FIXED_POINT_STEPS):
        arrivals = served / QUARTER_S / (1 - np.minimum(abandons, _MAX_ABANDON))
        abandons = erlang_a(arrivals, service, abandon, seats).abandons
    arrivals = served / QUARTER_S / (1 - np.minimum(abandons, _MAX_ABANDON))
    return {"probabilities": state_probabilities(np.maximum(arrivals, 1e-12), service, abandon,
                                                 seats),
            "service": service, "abandon": abandon, "places": seats, "abandons": abandons,
            "patience_s": patience_s}


def draw_queue(skeleton: dict[str, np.ndarray], served: np.ndarray, days: np.ndarray,
               wait_level: float, rng: np.random.Generator) -> QueueOutcome:
    """Staffing for the month's `days` and, from it, every operator-served contact's wait and
    the contacts that abandoned (see the module docstring)."""
    day, quarter = skeleton["day"], quarters_of(skeleton["started"])
    interval = day * QUARTERS_PER_DAY + quarter
    size = days.size * QUARTERS_PER_DAY
    operator = served == "operator"
    kinds = day_kinds(days)
    wait = np.zeros(served.size)
    gave_up = []
    agents_by_pool = {}
    for pool in POOLS:
        codes = pool_channels(pool)
        channel_ids = {code: CHANNEL_BY_CODE[code].id for code in codes}
        counts = {code: _counts(interval, operator & (skeleton["channel"] == channel_ids[code]),
                                size) for code in codes}
        target = ABANDON_TARGET[pool] * wait_level
        expected = expected_counts(counts, kinds)
        hourly = {code: values.reshape(days.size, 24, -1).sum(axis=2) / (1 - target)
                  for code, values in expected.items()}
        roster = month_roster(hourly, kinds, wait_level, OPERATOR_HANDLE_S, pool)
        agents = daily_agents(roster, kinds, rng).ravel()
        agents = np.where((agents == 0) & (sum(counts.values()) > 0), 1, agents)
        agents_by_pool[pool] = agents.reshape(days.size, QUARTERS_PER_DAY)
        table = _interval_table(expected, agents, pool, target)
        for code in codes:
            rows = np.flatnonzero(counts[code])
            waits, abandoned = _draw_channel(counts[code][rows].astype(np.int64), rows, table,
                                             PATIENCE_S[code], rng)
            mine = np.flatnonzero(operator & (skeleton["channel"] == channel_ids[code]))
            mine = mine[np.argsort(interval[mine], kind="stable")]
            wait[mine] = waits
            gave_up.append((channel_ids[code], abandoned))
    abandoned = {
        "interval": np.concatenate([rows[:, 0] for _, rows in gave_up]).astype(np.int64),
        "channel": np.concatenate([np.full(len(rows), channel) for channel, rows in gave_up]),
        "wait_s": np.concatenate([rows[:, 1] for _, rows in gave_up]),
    }
    return QueueOutcome(np.round(wait).astype(np.int64), abandoned,
                        staffing_frame(days, agents_by_pool))


def interval_tables(expected: dict[str, np.ndarray], agents: dict[str, np.ndarray],
                    wait_level: float) -> dict[str, dict]:
    """Per pool, Erlang A for intervals (rows) with these expected served contacts per
    interval by channel code and these agents: what a live writer draws outcomes from."""
    tables = {}
    for pool in POOLS:
        counts = {code: np.asarray(expected[code], float) for code in pool_channels(pool)}
        tables[pool] = _interval_table(counts, np.asarray(agents[pool]), pool,
                                       ABANDON_TARGET[pool] * wait_level)
    return tables


def draw_outcomes(codes: np.ndarray, rows: np.ndarray, tables: dict[str, dict],
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each queued contact's (seconds waited, abandoned?) in its interval row: answered after
    its offered wait, or abandoned after its patience when that ran out first."""
    wait = np.zeros(codes.size)
    abandoned = np.zeros(codes.size, dtype=bool)
    for pool, table in tables.items():
        for code in pool_channels(pool):
            mine = np.flatnonzero(codes == code)
            if mine.size == 0:
                continue
            offered = draw_offered_waits(table["probabilities"], table["service"],
                                         table["abandon"], table["places"], rows[mine], rng)
            patience = rng.exponential(PATIENCE_S[code], mine.size)
            abandoned[mine] = patience < offered
            wait[mine] = np.where(abandoned[mine], np.maximum(1, patience), offered)
    return np.round(wait).astype(np.int64), abandoned
