"""From flat contact records to per-interval and per-day results with 95% CIs.

Definitions (documented in the README):
- offered: every contact that arrived in the day, bot or not;
- self_served: finished alone in self-service (web cabinet, app); bot_contained: finished by
  the bot; escalated: the bot started them and handed them to the queue;
- queued: contacts that wanted an operator (not self-served, not finished by the bot);
- unserved: queued contacts nobody answered and who never gave up (infinite patience and no
  operator left on duty);
- answered / abandoned: queued contacts that an operator took / that gave up waiting, in the
  queue or while still in the bot (gave_up_in_bot);
- abandoned_share = abandoned / queued; queue_abandoned_share and queue_service_level leave
  out those who gave up in the bot, since more operators cannot help them;
- ASA and wait percentiles: waits of answered contacts;
- service_level = answered within the channel's target T / queued (abandons count as misses);
- occupancy = busy operator places / places on duty (a place is one concurrent contact slot);
- max_queue: the most contacts waiting at once;
- cost = scheduled operator hours x cost per hour + contacts offered to the bot x bot cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

from sim.config import Scenario
from sim.model import PATH_BOT_CONTAINED, PATH_ESCALATED, PATH_SELF_SERVICE

DAY_METRICS = ("offered", "queued", "answered", "abandoned", "unserved", "abandoned_share",
               "gave_up_in_bot", "queue_abandoned_share", "queue_service_level", "asa_s",
               "wait_p50_s", "wait_p90_s", "wait_p95_s", "service_level", "occupancy",
               "max_queue", "self_served", "to_bot", "bot_contained", "escalated",
               "operator_cost", "bot_cost", "cost")

# Counts are signed 64-bit: Polars sums booleans as unsigned 32-bit, and a change between two
# scenarios that lowers a count must come out negative, not wrap round to 4 billion.
COUNTS = ("offered", "queued", "answered", "abandoned", "unserved", "gave_up_in_bot",
          "self_served", "bot_contained", "escalated", "to_bot", "within_target")


def _targets(scenario: Scenario) -> pl.DataFrame:
    return pl.DataFrame({"channel": [c.name for c in scenario.channels],
                         "sl_target_s": [c.sl_target_s for c in scenario.channels]})


def _contact_metrics(records: pl.DataFrame, scenario: Scenario, keys: list[str]
                     ) -> pl.DataFrame:
    queued = ~pl.col("path").is_in([PATH_BOT_CONTAINED, PATH_SELF_SERVICE])
    answered_wait = pl.col("wait_s").filter(pl.col("answered"))
    return (
        _in_day(records).join(_targets(scenario), on="channel", how="left")
        .group_by(keys)
        .agg(
            offered=pl.len(),
            queued=queued.sum(),
            answered=pl.col("answered").sum(),
            abandoned=pl.col("abandoned").sum(),
            gave_up_in_bot=(pl.col("abandoned") & pl.col("queue_join_s").is_null()).sum(),
            self_served=(pl.col("path") == PATH_SELF_SERVICE).sum(),
            bot_contained=(pl.col("path") == PATH_BOT_CONTAINED).sum(),
            escalated=(pl.col("path") == PATH_ESCALATED).sum(),
            to_bot=pl.col("path").is_in([PATH_BOT_CONTAINED, PATH_ESCALATED]).sum(),
            within_target=(pl.col("answered") & (pl.col("wait_s") <= pl.col("sl_target_s")))
            .sum(),
            asa_s=answered_wait.mean(),
            wait_p50_s=answered_wait.quantile(0.5),
            wait_p90_s=answered_wait.quantile(0.9),
            wait_p95_s=answered_wait.quantile(0.95),
        )
        .with_columns(pl.col(name for name in COUNTS if name != "unserved").cast(pl.Int64))
        .with_columns(
            unserved=pl.col("queued") - pl.col("answered") - pl.col("abandoned"),
            abandoned_share=pl.when(pl.col("queued") > 0)
            .then(pl.col("abandoned") / pl.col("queued")).otherwise(0.0),
            # Staffing can only help those who reach the queue, not those who leave the bot.
            queue_abandoned_share=pl.when(pl.col("queued") > pl.col("gave_up_in_bot"))
            .then((pl.col("abandoned") - pl.col("gave_up_in_bot"))
                  / (pl.col("queued") - pl.col("gave_up_in_bot"))).otherwise(0.0),
            queue_service_level=pl.when(pl.col("queued") > pl.col("gave_up_in_bot"))
            .then(pl.col("within_target") / (pl.col("queued") - pl.col("gave_up_in_bot")))
            .otherwise(1.0),
            service_level=pl.when(pl.col("queued") > 0)
            .then(pl.col("within_target") / pl.col("queued")).otherwise(1.0),
        )
    )


def _in_day(records: pl.DataFrame) -> pl.DataFrame:
    """Contacts that arrived during the day (warm-up ones only load operators and queue)."""
    return records.filter(~pl.col("warmup")) if "warmup" in records.columns else records


def _busy_until(starts: np.ndarray, ends: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Total service seconds before each time: sum of clip(t - start, 0, end - start).

    Sorted starts and ends with prefix sums: O((n + m) log n) time, O(n + m) memory.
    """
    def elapsed(points: np.ndarray) -> np.ndarray:
        ordered = np.sort(points)
        prefix = np.concatenate([[0.0], np.cumsum(ordered)])
        count = np.searchsorted(ordered, times, side="left")
        return times * count - prefix[count]
    return elapsed(starts) - elapsed(ends)


def _queue_maxima(joins: np.ndarray, leaves: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The most contacts waiting at once within each interval."""
    times = np.concatenate([joins, leaves])
    deltas = np.concatenate([np.ones(joins.size), -np.ones(leaves.size)])
    order = np.lexsort((deltas, times))  # leaving before joining at equal times
    times, levels = times[order], np.cumsum(deltas[order])
    maxima = np.zeros(edges.size - 1)
    for i in range(edges.size - 1):
        before = np.searchsorted(times, edges[i], side="left")
        inside = slice(before, np.searchsorted(times, edges[i + 1], side="left"))
        level_at_start = levels[before - 1] if before > 0 else 0.0
        within = levels[inside]
        maxima[i] = max(level_at_start, within.max() if within.size else 0.0)
    return maxima


POOL_SCHEMA = {"replication": pl.Int32, "pool": pl.String, "interval": pl.Int32,
               "busy_s": pl.Float64, "capacity_s": pl.Float64, "occupancy": pl.Float64,
               "max_queue": pl.Float64}


def pool_interval_metrics(records: pl.DataFrame, scenario: Scenario) -> pl.DataFrame:
    """Occupancy and max queue per replication, pool and interval.

    Busy time counts every service in the interval, warm-up contacts included. Operators who
    finish a contact after their shift ended count as on duty for that time, so occupancy
    stays within 0..1.
    """
    edges = np.arange(scenario.intervals + 1) * scenario.interval_s
    rows = []
    in_queue = records.filter(pl.col("queue_join_s").is_not_null())  # not bot-only contacts
    for (replication, pool_name), group in in_queue.group_by(["replication", "pool"]):
        pool = scenario.pool(pool_name)
        places = np.asarray(scenario.available(pool), dtype=float) * pool.concurrency
        served = group.filter(pl.col("answered"))
        busy = np.maximum(np.diff(_busy_until(served["service_start_s"].to_numpy(),
                                              served["service_end_s"].to_numpy(), edges)), 0)
        leave = group.select(pl.coalesce("service_start_s", "service_end_s")).to_series()
        maxima = _queue_maxima(group["queue_join_s"].to_numpy(), leave.to_numpy(), edges)
        capacity = np.maximum(places * scenario.interval_s, busy)
        occupancy = np.divide(busy, capacity, out=np.zeros_like(busy), where=capacity > 0)
        rows.append(pl.DataFrame({
            "replication": replication, "pool": pool_name,
            "interval": np.arange(scenario.intervals, dtype=np.int32),
            "busy_s": busy, "capacity_s": capacity, "occupancy": occupancy,
            "max_queue": maxima,
        }))
    if not rows:
        return pl.DataFrame(schema=POOL_SCHEMA)
    return pl.concat(rows).cast(POOL_SCHEMA)


def operator_cost(scenario: Scenario) -> float:
    hours = scenario.interval_minutes / 60
    return sum(sum(scenario.scheduled(pool)) * hours * scenario.operator_cost_per_hour
               for pool in scenario.pools)


def _scheduled(scenario: Scenario) -> pl.DataFrame:
    """Operators scheduled per pool and interval, and what they cost."""
    hours = scenario.interval_minutes / 60
    return pl.DataFrame([
        {"pool": pool.name, "interval": index, "operators": operators,
         "operator_cost": operators * hours * scenario.operator_cost_per_hour}
        for pool in scenario.pools
        for index, operators in enumerate(scenario.scheduled(pool))
    ], schema={"pool": pl.String, "interval": pl.Int32, "operators": pl.Int64,
               "operator_cost": pl.Float64})


def interval_results(records: pl.DataFrame, scenario: Scenario,
                     pools: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per replication, pool and interval of arrival: contact metrics, occupancy, queue, cost."""
    contacts = _contact_metrics(records, scenario, ["replication", "pool", "interval"])
    pools = pool_interval_metrics(records, scenario) if pools is None else pools
    return (contacts.join(pools, on=["replication", "pool", "interval"], how="full",
                          coalesce=True)
            .with_columns(pl.col(COUNTS).fill_null(0))
            .join(_scheduled(scenario), on=["pool", "interval"], how="left")
            .with_columns(bot_cost=pl.col("to_bot") * scenario.bot_cost_per_contact)
            .with_columns(cost=pl.col("operator_cost") + pl.col("bot_cost"))
            .sort("replication", "pool", "interval"))


def day_results(records: pl.DataFrame, scenario: Scenario, by_channel: bool = False,
                pools: pl.DataFrame | None = None,
                replications: Sequence[int] | None = None) -> pl.DataFrame:
    """One row per replication (and channel) with the day's metrics.

    `replications` lists every simulated day, so a day without contacts (a closed pool, say)
    still shows its operator cost and zero counts instead of vanishing from the averages.
    """
    keys = ["replication", "channel"] if by_channel else ["replication"]
    contacts = _contact_metrics(records, scenario, keys)
    if replications is not None and not by_channel:
        contacts = (pl.DataFrame({"replication": list(replications)},
                                 schema={"replication": pl.Int32})
                    .join(contacts, on="replication", how="left")
                    .with_columns(pl.col(COUNTS).fill_null(0),
                                  pl.col("abandoned_share", "queue_abandoned_share")
                                  .fill_null(0.0),
                                  pl.col("service_level", "queue_service_level").fill_null(1.0)))
    pools = pool_interval_metrics(records, scenario) if pools is None else pools
    per_replication = pools.group_by("replication").agg(
        occupancy=pl.when(pl.col("capacity_s").sum() > 0)
        .then(pl.col("busy_s").sum() / pl.col("capacity_s").sum()).otherwise(0.0),
        max_queue=pl.col("max_queue").max())
    bot_cost = pl.col("to_bot") * scenario.bot_cost_per_contact
    frame = contacts.join(per_replication, on="replication", how="left").with_columns(
        pl.col("occupancy", "max_queue").fill_null(0.0),  # nobody queued: idle, no queue
        bot_cost=bot_cost,
        operator_cost=pl.lit(0.0 if by_channel else operator_cost(scenario)),
    ).with_columns(cost=pl.col("operator_cost") + pl.col("bot_cost"))
    return frame.sort(keys)


BOUNDS = {name: (0.0, 1.0) for name in ("abandoned_share", "queue_abandoned_share",
                                        "service_level", "queue_service_level", "occupancy")}


def confidence(frame: pl.DataFrame, metrics: tuple[str, ...] = DAY_METRICS,
               by: list[str] | None = None, bounded: bool = True) -> pl.DataFrame:
    """Mean and t-based 95% CI over replications for each metric.

    Metrics are non-negative (shares within 0..1) and their intervals are clipped to that;
    differences between scenarios (`bounded=False`) may be negative.
    """
    by = by or []
    replications = frame["replication"].n_unique()
    t = stats.t.ppf(0.975, replications - 1) if replications > 1 else math.nan
    aggregations = []
    for metric in metrics:
        if metric not in frame.columns:
            continue
        half = t * pl.col(metric).std(ddof=1) / math.sqrt(replications)
        low, high = BOUNDS.get(metric, (0.0, None)) if bounded else (None, None)
        aggregations += [pl.col(metric).mean().alias(metric),
                         (pl.col(metric).mean() - half).clip(low, high).alias(f"{metric}_ci_low"),
                         (pl.col(metric).mean() + half).clip(low, high).alias(f"{metric}_ci_high")]
    if by:
        return frame.group_by(by).agg(aggregations).sort(by)
    return frame.select(aggregations)


def wait_histogram(records: pl.DataFrame, replications: int, bin_s: int, cap_s: int
                   ) -> tuple[pl.DataFrame, float]:
    """Answered contacts per day by wait bin and channel (waits > 0), and the share answered
    at once; the last bin holds every wait of `cap_s` or more."""
    answered = records.filter(pl.col("answered"))
    at_once = (answered.filter(pl.col("wait_s") <= 0).height / answered.height
               if answered.height else 0.0)
    frame = (
        answered.filter(pl.col("wait_s") > 0)
        .with_columns(wait_from_s=(pl.col("wait_s").clip(upper_bound=cap_s) // bin_s * bin_s))
        .group_by("channel", "wait_from_s")
        .agg((pl.len() / max(replications, 1)).alias("contacts_per_day"))
        .with_columns(wait_to_s=pl.col("wait_from_s") + bin_s)
        .sort("wait_from_s", "channel")
    )
    return frame, at_once
