"""The default scenario: one operating day built from learned demand (pure, no database).

`sim.learn` reads the history from the database; this module turns it into a scenario. Demand
is the mean of the same weekday over the last N weeks, per channel and interval; handle
times, the self-service share, the bot's share and its containment (contacts it finished ÷
contacts it answered first, counting those it handed to a person) come from the same weeks.
Offices form their own pool with their opening hours; chats, the web cabinet and the app share
the digital team, who hold two chats at once. Staffing starts at the Erlang A minimum for the
targets, so the baseline is a sensible plan that planners then change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from sim.config import Channel, Pool, Scenario
from sim.erlang import erlang_a_metrics, min_agents_erlang_a

# Assumptions the database cannot tell (it holds served contacts, not abandoned ones).
PATIENCE_S = {"office": 1_800.0, "whatsapp": 420.0, "telegram": 420.0, "web_cabinet": 600.0,
              "mobile_app": 600.0}
SL_TARGETS = {"office": (0.8, 300.0), "whatsapp": (0.8, 60.0), "telegram": (0.8, 60.0),
              "web_cabinet": (0.8, 120.0), "mobile_app": (0.8, 120.0)}
POOL_OF = {"office": "office", "whatsapp": "digital", "telegram": "digital",
           "web_cabinet": "digital", "mobile_app": "digital"}
OFFICE_HOURS = {0: (9, 18), 1: (9, 18), 2: (9, 18), 3: (9, 18), 4: (9, 18), 5: (10, 15),
                6: (0, 0)}
DIGITAL_CONCURRENCY = 2
DIGITAL_SLOWDOWN = 0.25
SHRINKAGE = 0.3


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def scenario_from_history(arrivals: pl.DataFrame, handling: pl.DataFrame, weekday: int,
                          interval_minutes: int = 60, name: str = "baseline") -> Scenario:
    """Build the baseline day from learned demand (pure: no database access)."""
    intervals = 24 * 60 // interval_minutes
    open_h, close_h = OFFICE_HOURS[weekday]
    channels = []
    for row in handling.iter_rows(named=True):
        code = row["channel"]
        if code not in POOL_OF:
            continue
        per_interval = [0.0] * intervals
        for item in arrivals.filter(pl.col("channel") == code).iter_rows(named=True):
            if 0 <= item["interval"] < intervals:
                per_interval[item["interval"]] = round(float(item["mean_contacts"]), 2)
        target = SL_TARGETS[code]
        channels.append(Channel(
            name=code, pool=POOL_OF[code], arrivals=tuple(per_interval),
            aht_s=round(float(row["operator_aht_s"] or 600.0), 1),
            handle_distribution="lognormal", handle_cv=0.8 if code != "office" else 0.6,
            patience_s=PATIENCE_S[code], sl_target_share=target[0], sl_target_s=target[1],
            **learned_automation(row),
        ))
    pools = (
        Pool("office", operators=(0,) * intervals, shrinkage=SHRINKAGE,
             open_h=float(open_h), close_h=float(close_h)),
        Pool("digital", operators=(0,) * intervals, shrinkage=SHRINKAGE,
             concurrency=DIGITAL_CONCURRENCY, concurrency_slowdown=DIGITAL_SLOWDOWN),
    )
    scenario = Scenario(name=name, interval_minutes=interval_minutes, channels=tuple(channels),
                        pools=pools)
    for pool in pools:
        scenario = scenario.with_pool_operators(pool.name, erlang_plan(scenario, pool.name))
    return scenario


def learned_automation(row: dict) -> dict[str, float]:
    """Self-service share, bot share, containment and bot time measured on one channel.

    The database records the bot → human path: a contact the bot finished is served by the
    bot; one it handed over is served by an operator with its bot time recorded (escalated).
    So the bot answered (finished + escalated) ÷ contacts first, and finished its share.
    """
    contacts = row["contacts"] or 0
    if contacts <= 0:
        return {}
    finished, escalated = row["by_bot"] or 0, row["escalated"] or 0
    answered = finished + escalated
    bot_s = ((finished * (row["bot_handle_s"] or 0.0)
              + escalated * (row["escalated_bot_s"] or 0.0)) / answered if answered else 0.0)
    return {"self_service_share": round((row["by_self_service"] or 0) / contacts, 3),
            "bot_share": round(answered / contacts, 3),
            "bot_containment": round(finished / answered, 3) if answered else 0.0,
            "bot_handle_s": round(float(bot_s), 1)}


@dataclass(frozen=True)
class PoolDemand:
    """One pool's channels merged into one queue for one interval (the Erlang view).

    Rates add up; handle time (slowed by concurrency) and patience are arrival-weighted; the
    strictest service-level target applies; each concurrent place is one server.
    """

    arrivals_per_hour: float
    aht_s: float
    patience_s: float
    sl_share: float
    sl_target_s: float

    @property
    def load_erlangs(self) -> float:
        return self.arrivals_per_hour * self.aht_s / 3600


def pool_demand(scenario: Scenario, pool_name: str) -> list[PoolDemand | None]:
    """Per interval: the pool's merged human demand, or None when nobody needs an operator."""
    pool = scenario.pool(pool_name)
    members = [c for c in scenario.channels if c.pool == pool_name]
    slowdown = 1 + pool.concurrency_slowdown * (pool.concurrency - 1)
    share, target_s = scenario.pool_targets(pool_name)
    offered = [scenario.offered(c) for c in members]
    demand: list[PoolDemand | None] = []
    for index in range(scenario.intervals):
        rates = [o[index] * c.human_share for o, c in zip(offered, members, strict=True)]
        total = sum(rates)
        if total <= 0:
            demand.append(None)
            continue
        aht = sum(r * c.aht_at(index) for r, c in zip(rates, members, strict=True)) / total
        patience = sum(r * (c.patience_s or 1e9) for r, c in zip(rates, members,
                                                                 strict=True)) / total
        demand.append(PoolDemand(total * 60 / scenario.interval_minutes, aht * slowdown,
                                 patience, share, target_s))
    return demand


def agents_on_queue(scenario: Scenario, pool_name: str) -> list[int]:
    """Agents taking contacts per interval (before shrinkage) that Erlang A needs.

    Erlang A can meet targets above 100% load by letting people abandon; a plan should still
    have more places than work in erlangs, or the queue only holds because people leave.
    Chats' places are divided by their concurrency.
    """
    pool = scenario.pool(pool_name)
    agents = []
    for demand in pool_demand(scenario, pool_name):
        if demand is None:
            agents.append(0)
            continue
        places = max(min_agents_erlang_a(demand.arrivals_per_hour, demand.aht_s,
                                         demand.patience_s, demand.sl_share,
                                         demand.sl_target_s, scenario.abandon_cap),
                     math.floor(demand.load_erlangs) + 1)
        agents.append(math.ceil(places / pool.concurrency))
    return agents


def erlang_plan(scenario: Scenario, pool_name: str) -> tuple[int, ...]:
    """Scheduled operators per interval from Erlang A on the pool's merged human demand."""
    shrinkage = scenario.pool(pool_name).shrinkage
    return tuple(math.ceil(agents / (1 - shrinkage) - 1e-9)
                 for agents in agents_on_queue(scenario, pool_name))


def erlang_by_interval(scenario: Scenario) -> pl.DataFrame:
    """Erlang A per pool and interval on each pool's merged demand: the instant preview."""
    rows = []
    for pool in scenario.pools:
        if not any(c.pool == pool.name for c in scenario.channels):
            continue
        scheduled, available = scenario.scheduled(pool), scenario.available(pool)
        share = scenario.pool_targets(pool.name)[0]
        for index, demand in enumerate(pool_demand(scenario, pool.name)):
            row = {"pool": pool.name, "interval": index,
                   "start_h": index * scenario.interval_minutes / 60,
                   "operators": scheduled[index],
                   "human_contacts": (demand.arrivals_per_hour * scenario.interval_minutes / 60
                                      if demand else 0.0),
                   "sl_target": share, "service_level": None, "abandoned_share": None,
                   "occupancy": None}
            if demand is not None:
                try:
                    metrics = erlang_a_metrics(demand.arrivals_per_hour, demand.aht_s,
                                               available[index] * pool.concurrency,
                                               demand.patience_s, demand.sl_target_s)
                    row |= {"service_level": metrics.service_level,
                            "abandoned_share": metrics.p_abandon,
                            "occupancy": metrics.occupancy}
                except (ValueError, RuntimeError):
                    pass  # an interval Erlang A cannot size is left blank, not fatal
            rows.append(row)
    schema = {"pool": pl.String, "interval": pl.Int32, "start_h": pl.Float64,
              "operators": pl.Int64, "human_contacts": pl.Float64, "sl_target": pl.Float64,
              "service_level": pl.Float64, "abandoned_share": pl.Float64,
              "occupancy": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row").with_columns(
        end_h=pl.col("start_h") + scenario.interval_minutes / 60)
