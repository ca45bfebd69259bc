"""Backtest: does the simulator reproduce the days on record? (pure: frames in, frames out)

Each past day becomes one `Scenario` at 15-minute intervals with that day's own record:
arrivals per channel and quarter (every contact that came: served by anyone, or abandoned),
the day's self-service, bot and containment shares per channel, its mean handle time per
channel, the learned patience per channel, and the agents on duty per quarter and pool from
the `staffing` table. The project's simulator runs it with replications, and the simulated
service level, ASA and abandonment are compared with the recorded ones, per day and pool and
per hour and pool.

Definitions are the dashboards' (`data_access.queue`): queued = answered + abandoned in the
queue (the simulator's abandons in the bot are left out: the record has none), service level
= answered within the channel's target ÷ queued, ASA = mean wait of the answered, abandonment
= abandoned ÷ queued. A recorded day is one draw of a random day, so it is checked against the
simulation's 95% prediction interval for one day (mean ± t·sd·√(1 + 1/n) over the n
replications' daily values, not the far narrower interval of their mean).

The verdict: the simulator reproduces the record when the daily service level is off by at
most TARGET_SL_POINTS on average and no figure (SL, ASA, abandonment) is systematically off:
the days are independent, so under a right model the sum of the daily errors (recorded −
simulated) is about normal with the sum of the days' predicted variances, and |z| above Z_MAX
is a bias, not noise. How often the record lies in the 95% interval is reported beside it.

Recorded handle times are the time a contact held a place; with concurrency a chat is slower
than alone, so the scenario's `aht_s` (time with one contact at a time) is the recorded mean
÷ (1 + slowdown × (concurrency − 1)), and the simulator slows it back.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import polars as pl
from scipy import stats

from sim.config import Channel, Pool, Scenario
from sim.demand import DIGITAL_CONCURRENCY, DIGITAL_SLOWDOWN, POOL_OF, SHRINKAGE, SL_TARGETS
from sim.runner import run

INTERVAL_MINUTES = 15
QUARTERS_PER_HOUR = 60 // INTERVAL_MINUTES
WAIT_EDGES_S = (0, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800,
                2700, 3600)  # rollups.WAIT_EDGES_S: the record's answered-wait buckets
# The verdict: daily service level within this many points on average, and no figure off by
# more than Z_MAX standard errors over the days (a systematic error rather than noise).
TARGET_SL_POINTS = 3.0
Z_MAX = 3.0
# Intervals with fewer queued contacts than this are left out of the per-interval errors.
MIN_INTERVAL_QUEUED = 20
HANDLE_CV = {"office": 0.6}  # lognormal, as the default scenario; 0.8 elsewhere
DEFAULT_HANDLE_CV = 0.8

VERDICT_PASS = ("Reproduces the {days} days from {start} to {end} within {sl:.1f} SL points "
                "(abandonment within {abandon:.1f} points, ASA within {asa:.0f} s), with no "
                "systematic error.")
VERDICT_FAIL = ("Does not reproduce the {days} days from {start} to {end}: service level off by "
                "{sl:.1f} points a day (the bar is {sl_target:g}), and systematically off "
                "(recorded − simulated: SL {bias_sl:+.1f} points, ASA {bias_asa:+.0f} s, "
                "abandonment {bias_abandon:+.1f} points; up to {z:.1f} standard errors, the bar "
                "is {z_max:g}).")
NOTHING_TO_TEST = "No day from {start} to {end} has both contacts and staffing on record."


@dataclass(frozen=True)
class PoolRules:
    """How a pool works, beyond who is on duty (the default scenario's rules)."""

    shrinkage: float = SHRINKAGE
    concurrency: int = 1
    concurrency_slowdown: float = 0.0

    @property
    def slowdown_factor(self) -> float:
        return 1 + self.concurrency_slowdown * (self.concurrency - 1)


DEFAULT_RULES: dict[str, PoolRules] = {
    "office": PoolRules(),
    "digital": PoolRules(concurrency=DIGITAL_CONCURRENCY,
                         concurrency_slowdown=DIGITAL_SLOWDOWN),
}


@dataclass(frozen=True)
class History:
    """The record the backtest replays (frames as `data_access.queue` returns them).

    intervals: day, channel, quarter, contacts, abandoned, answered, answered_wait_s, …,
    answered_wait_* buckets; automation: day, channel, DAY_SUMS; staffing: day, quarter,
    pool, agents; patience_s: mean patience per channel (learned).
    """

    intervals: pl.DataFrame
    automation: pl.DataFrame
    staffing: pl.DataFrame
    patience_s: Mapping[str, float | None]
    targets: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(SL_TARGETS))


@dataclass(frozen=True)
class Backtest:
    """Per day and pool, per hour and pool, and the summary (errors, verdict)."""

    days: pl.DataFrame
    hours: pl.DataFrame
    summary: dict[str, float | int | bool | str | None]


def _within_column(target_s: float) -> int:
    """How many answered-wait buckets lie under `target_s` (an edge of WAIT_EDGES_S)."""
    if target_s not in WAIT_EDGES_S[1:]:
        raise ValueError(f"sl_target_s {target_s:g} must be one of the recorded wait edges "
                         f"{WAIT_EDGES_S[1:]}")
    return WAIT_EDGES_S.index(int(target_s))


def recorded_by_quarter(history: History) -> pl.DataFrame:
    """Per day, pool and quarter: queued, answered, abandoned, within target, wait sum."""
    buckets = [c for c in history.intervals.columns if c.startswith("answered_wait_")
               and c != "answered_wait_s"]
    frames = []
    for channel, (_share, target_s) in history.targets.items():
        rows = history.intervals.filter(pl.col("channel") == channel)
        if rows.is_empty():
            continue
        below = buckets[:_within_column(target_s)]
        frames.append(rows.select(
            "day", pl.lit(POOL_OF[channel]).alias("pool"), "quarter",
            pl.col("answered"), pl.col("abandoned"),
            pl.sum_horizontal(below).alias("within_target"),
            pl.col("answered_wait_s").cast(pl.Float64).alias("wait_s")))
    if not frames:
        return pl.DataFrame(schema={"day": pl.Date, "pool": pl.String, "quarter": pl.Int32,
                                    "answered": pl.Int64, "abandoned": pl.Int64,
                                    "within_target": pl.Int64, "wait_s": pl.Float64})
    return pl.concat(frames).cast({"quarter": pl.Int32, "answered": pl.Int64,
                                   "abandoned": pl.Int64, "within_target": pl.Int64})


def day_scenario(history: History, day: dt.date, rules: Mapping[str, PoolRules] = DEFAULT_RULES,
                 patience_scale: float = 1.0, staffing_scale: float = 1.0) -> Scenario | None:
    """One recorded day as a scenario, or None when the day has no contacts or no staffing.

    `patience_scale` and `staffing_scale` deliberately distort the model (tests show that a
    wrong model fails the backtest a right one passes).
    """
    quarters = history.intervals.filter(pl.col("day") == day)
    automation = history.automation.filter(pl.col("day") == day)
    staffing = history.staffing.filter(pl.col("day") == day)
    if quarters.is_empty() or staffing.is_empty():
        return None
    intervals = 24 * QUARTERS_PER_HOUR
    arrivals = quarters.with_columns(offered=pl.col("contacts") + pl.col("abandoned"))
    channels = []
    # Channels in a fixed order: a channel's position picks its random streams.
    for row in automation.sort("channel").iter_rows(named=True):
        code = row["channel"]
        if code not in POOL_OF or code not in history.targets:
            continue
        per_quarter = [0.0] * intervals
        for quarter, offered in arrivals.filter(pl.col("channel") == code).select(
                "quarter", "offered").iter_rows():
            per_quarter[quarter] = float(offered)
        if not any(per_quarter) or not row["by_operator"]:
            continue
        pool_rules = rules[POOL_OF[code]]
        patience = history.patience_s.get(code)
        patience = None if patience is None else patience * patience_scale
        automation, factor = day_automation(row, patience)
        share, target_s = history.targets[code]
        channels.append(Channel(
            name=code, pool=POOL_OF[code], arrivals=tuple(v * factor for v in per_quarter),
            aht_s=row["operator_handle_s"] / row["by_operator"] / pool_rules.slowdown_factor,
            handle_distribution="lognormal", handle_cv=HANDLE_CV.get(code, DEFAULT_HANDLE_CV),
            patience_s=patience, sl_target_share=share, sl_target_s=float(target_s),
            **automation))
    if not channels:
        return None
    pools = []
    for name, pool_rules in rules.items():
        agents = [0] * intervals
        for quarter, count in staffing.filter(pl.col("pool") == name).select(
                "quarter", "agents").iter_rows():
            agents[quarter] = round(count * staffing_scale)
        pools.append(Pool(name, operators=tuple(agents), shrinkage=pool_rules.shrinkage,
                          concurrency=pool_rules.concurrency,
                          concurrency_slowdown=pool_rules.concurrency_slowdown))
    return Scenario(name=f"{day}", interval_minutes=INTERVAL_MINUTES, channels=tuple(channels),
                    pools=tuple(pools))


def day_automation(row: Mapping, patience_s: float | None = None
                   ) -> tuple[dict[str, float], float]:
    """Self-service, bot share, containment and bot time of one channel's day, and the
    factor on its recorded arrivals.

    Everyone recorded was served (by anyone) or abandoned in the queue; the bot started
    those it finished, those it handed to a person (escalated) and those who then gave up
    waiting for one. In the simulator a customer's patience runs from arrival, so some the
    bot hands over give up before reaching the queue (a share b ÷ (b + patience) with
    exponential bot time b and patience), and the record holds only the survivors. The replay
    therefore offers H ÷ (1 − g) handovers for the H recorded, so that as many reach the
    queue as on record, and scales the day's arrivals to match.
    """
    offered = (row["contacts"] or 0) + (row["abandoned"] or 0)
    if offered <= 0:
        return {}, 1.0
    finished = row["by_bot"] or 0
    handed = (row["escalated"] or 0) + (row["abandoned_after_bot"] or 0)
    started = finished + handed
    escalated_mean = (row["escalated_bot_s"] or 0) / row["escalated"] if row["escalated"] else 0.0
    bot_s = (((row["bot_handle_s"] or 0) + handed * escalated_mean) / started if started
             else 0.0)
    lost = bot_s / (bot_s + patience_s) if patience_s and bot_s else 0.0
    handed_before = handed / (1 - lost)
    arrivals = offered - handed + handed_before
    started = finished + handed_before
    return ({"self_service_share": (row["by_self_service"] or 0) / arrivals,
             "bot_share": started / arrivals,
             "bot_containment": finished / started if started else 0.0,
             "bot_handle_s": float(bot_s)}, arrivals / offered)


def simulated_by_quarter(scenario: Scenario, day: dt.date, replications: int, seed: int
                         ) -> pl.DataFrame:
    """Per replication, pool and quarter: the same counts as `recorded_by_quarter`."""
    result = run(scenario, replications, seed)
    return result.intervals.select(
        "replication", pl.lit(day).alias("day"), "pool", pl.col("interval").alias("quarter"),
        pl.col("answered").cast(pl.Int64),
        (pl.col("abandoned") - pl.col("gave_up_in_bot")).cast(pl.Int64).alias("abandoned"),
        pl.col("within_target").cast(pl.Int64),
        (pl.col("asa_s").fill_null(0.0) * pl.col("answered")).alias("wait_s"),
    ).cast({"quarter": pl.Int32})


_MEASURES = ("answered", "abandoned", "within_target", "wait_s")


def _rates(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """Service level, ASA and abandonment from summed counts (None where nothing to divide)."""
    queued = pl.col("answered") + pl.col("abandoned")
    return frame.with_columns(
        queued.alias(f"{prefix}queued"),
        pl.when(queued > 0).then(pl.col("within_target") / queued).alias(f"{prefix}sl"),
        pl.when(pl.col("answered") > 0).then(pl.col("wait_s") / pl.col("answered"))
        .alias(f"{prefix}asa_s"),
        pl.when(queued > 0).then(pl.col("abandoned") / queued).alias(f"{prefix}abandonment"),
    ).drop(_MEASURES)


def compare(recorded: pl.DataFrame, simulated: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Recorded figures beside the simulated mean and 95% prediction interval, per `keys`."""
    record = _rates(recorded.group_by(keys).agg(pl.col(_MEASURES).sum()), "recorded_")
    per_replication = _rates(simulated.group_by(["replication", *keys])
                             .agg(pl.col(_MEASURES).sum()), "")
    metrics = ("sl", "asa_s", "abandonment")
    replications = simulated["replication"].n_unique()
    # A new day's 95% prediction interval from n replications: mean ± t·sd·√(1 + 1/n).
    spread = stats.t.ppf(0.975, max(replications - 1, 1)) * math.sqrt(1 + 1 / replications)
    upper = {"sl": 1.0, "abandonment": 1.0, "asa_s": None}
    summary = per_replication.group_by(keys).agg(
        *[pl.col(m).mean().alias(f"sim_{m}") for m in metrics],
        *[(pl.col(m).mean() - spread * pl.col(m).std().fill_null(0)).clip(0, upper[m])
          .alias(f"sim_{m}_low") for m in metrics],
        *[(pl.col(m).mean() + spread * pl.col(m).std().fill_null(0)).clip(0, upper[m])
          .alias(f"sim_{m}_high") for m in metrics],
        *[(pl.col(m).var().fill_null(0) * (1 + 1 / replications)).alias(f"sim_{m}_var")
          for m in metrics],
        pl.col("queued").mean().alias("sim_queued"))
    joined = record.join(summary, on=keys, how="left")
    return joined.with_columns(
        *[pl.col(f"recorded_{m}").is_between(pl.col(f"sim_{m}_low"), pl.col(f"sim_{m}_high"))
          .alias(f"{m}_inside") for m in metrics]).sort(keys)


def _bias(frame: pl.DataFrame, metric: str, scale: float) -> tuple[float | None, float | None]:
    """Mean signed error (recorded − simulated) and its z: Σ errors ÷ √Σ predicted variances.

    Days are independent, so under a right model the sum of their errors is about normal with
    the sum of each day's predicted variance: |z| above 3 is a systematic error, not noise.
    """
    rows = frame.filter(pl.col(f"recorded_{metric}").is_not_null()
                        & pl.col(f"sim_{metric}").is_not_null())
    if rows.is_empty():
        return None, None
    errors = rows[f"recorded_{metric}"] - rows[f"sim_{metric}"]
    variance = float(rows[f"sim_{metric}_var"].sum())
    z = float(errors.sum()) / math.sqrt(variance) if variance > 0 else None
    return float(errors.mean()) * scale, z


def _mae(frame: pl.DataFrame, metric: str, scale: float) -> float | None:
    errors = frame.select((pl.col(f"recorded_{metric}") - pl.col(f"sim_{metric}")).abs()
                          .mean() * scale).item()
    return None if errors is None else float(errors)


def backtest(history: History, replications: int = 10, seed: int = 0,
             rules: Mapping[str, PoolRules] = DEFAULT_RULES, patience_scale: float = 1.0,
             staffing_scale: float = 1.0) -> Backtest:
    """Simulate every recorded day of `history` and compare it with the record."""
    if replications < 2:
        raise ValueError(f"replications must be at least 2 for a 95% interval, got "
                         f"{replications}")
    recorded = recorded_by_quarter(history)
    simulated, tested = [], []
    for day in sorted(history.intervals["day"].unique().to_list()):
        scenario = day_scenario(history, day, rules, patience_scale, staffing_scale)
        if scenario is None:
            continue
        tested.append(day)
        simulated.append(simulated_by_quarter(scenario, day, replications, seed))
    if not simulated:
        empty = pl.DataFrame()
        return Backtest(empty, empty, {"days": 0, "passes": False})
    sim = pl.concat(simulated)
    recorded = recorded.filter(pl.col("day").is_in(tested))
    hourly = [pl.col("quarter") // QUARTERS_PER_HOUR]
    days = compare(recorded, sim, ["day", "pool"])
    hours = compare(recorded.with_columns(hour=hourly[0]), sim.with_columns(hour=hourly[0]),
                    ["day", "pool", "hour"]).filter(pl.col("recorded_queued")
                                                    >= MIN_INTERVAL_QUEUED)
    return Backtest(days, hours, summarise(days, hours))


def summarise(days: pl.DataFrame, hours: pl.DataFrame) -> dict:
    """Daily and hourly errors (MAE of SL and abandonment in points, ASA in s), how often the
    record lies in the 95% interval, and the verdict that rests on it."""
    summary = {
        "days": days["day"].n_unique(),
        "start": str(days["day"].min()), "end": str(days["day"].max()),
        "mae_sl_points": _mae(days, "sl", 100), "mae_asa_s": _mae(days, "asa_s", 1),
        "mae_abandonment_points": _mae(days, "abandonment", 100),
        "interval_mae_sl_points": _mae(hours, "sl", 100),
        "interval_mae_asa_s": _mae(hours, "asa_s", 1),
        "interval_mae_abandonment_points": _mae(hours, "abandonment", 100),
        "inside_sl": float(days["sl_inside"].mean() or 0.0),
        "inside_asa": float(days["asa_s_inside"].mean() or 0.0),
        "inside_abandonment": float(days["abandonment_inside"].mean() or 0.0),
        "target_sl_points": TARGET_SL_POINTS, "z_max": Z_MAX,
    }
    for metric, scale in (("sl", 100), ("asa_s", 1), ("abandonment", 100)):
        summary[f"bias_{metric}"], summary[f"z_{metric}"] = _bias(days, metric, scale)
    for pool in days["pool"].unique().sort().to_list():
        part = days.filter(pl.col("pool") == pool)
        summary[f"{pool}_mae_sl_points"] = _mae(part, "sl", 100)
        summary[f"{pool}_mae_abandonment_points"] = _mae(part, "abandonment", 100)
    summary["worst_z"] = max(abs(summary[f"z_{m}"] or 0.0) for m in ("sl", "asa_s",
                                                                     "abandonment"))
    summary["passes"] = bool(summary["mae_sl_points"] is not None
                             and summary["mae_sl_points"] <= TARGET_SL_POINTS
                             and summary["worst_z"] <= Z_MAX)
    summary["verdict"] = verdict(summary)
    return summary


def verdict(summary: Mapping) -> str:
    """The answer first: one line a planner reads."""
    if not summary.get("days"):
        return NOTHING_TO_TEST.format(start=summary.get("start"), end=summary.get("end"))
    values = {"days": summary["days"], "start": summary["start"], "end": summary["end"],
              "sl": summary["mae_sl_points"], "abandon": summary["mae_abandonment_points"] or 0,
              "asa": summary["mae_asa_s"] or 0, "sl_target": TARGET_SL_POINTS,
              "bias_sl": summary["bias_sl"] or 0, "bias_asa": summary["bias_asa_s"] or 0,
              "bias_abandon": summary["bias_abandonment"] or 0, "z": summary["worst_z"],
              "z_max": Z_MAX}
    return (VERDICT_PASS if summary["passes"] else VERDICT_FAIL).format(**values)


def with_patience(history: History, patience_s: Mapping[str, float | None]) -> History:
    """The same record with another patience per channel."""
    return replace(history, patience_s=dict(patience_s))
