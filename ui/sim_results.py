"""What the simulator page shows, as pure functions: the answer, KPI tables, frames, sweeps.

No Streamlit here. Every change is paired (baseline and scenario simulate the same days) and
carries its 95% CI; predicted NPS too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import altair as alt
import polars as pl

from sim.config import Scenario, clock_expr, scenario_to_dict
from sim.nps import NpsParts, WaitNpsCurve, estimate, nps_parts, paired_change
from sim.results import wait_histogram
from sim.runner import SimulationResult, expected_contacts, paired_changes
from sim.sweep import cheapest_meeting, edge_warnings
from ui.palette import NEUTRAL_COLOR, POOL_COLORS, TEXT_COLOR
from ui.sim_form import (
    FIELD_BY_KEY,
    SWEEP_KEYS,
    Number,
    change_summary,
    pool_only,
    validated,
)
from ui.view_state import name_of, named

SWEEP_POOL = "digital"
WAIT_BIN_S = 15
WAIT_CAP_S = 600


# --------------------------------------------------------------------------- Erlang preview


def erlang_day_table(frame: pl.DataFrame, interval_minutes: int) -> pl.DataFrame:
    """Per pool and series: the day's Erlang A figures weighted by human contacts (display)."""
    weight = pl.col("human_contacts")
    return (
        frame.group_by("pool", "series", maintain_order=True)
        .agg(
            (pl.col("operators").sum() * interval_minutes / 60).round(0).alias("Op-hours"),
            weight.sum().round(0).alias("To operators"),
            pl.when(weight.sum() > 0)  # a pool closed all day has no figures, not NaN
            .then(((pl.col("service_level") * weight).sum() / weight.sum() * 100).round(1))
            .alias("SL %"),
            pl.when(weight.sum() > 0)
            .then(((pl.col("abandoned_share") * weight).sum() / weight.sum() * 100).round(1))
            .alias("Aband. %"),
            ((pl.col("service_level") < pl.col("sl_target")) & (weight > 0)).sum()
            .alias("Below target"),
        )
        .sort("pool", "series", descending=[False, True])
        .rename({"pool": "Pool", "series": "Series"})
    )


# --------------------------------------------------------------------------- simulation output


@dataclass(frozen=True)
class SimOutcome:
    """What the page shows of one simulated scenario (small: records are not kept)."""

    summary: dict[str, float]
    day: pl.DataFrame  # one row per simulated day, for paired changes against the baseline
    by_channel: pl.DataFrame
    intervals: pl.DataFrame
    waits: pl.DataFrame
    answered_at_once: float
    nps: dict[str, float] | None
    nps_parts: NpsParts | None = None  # for the paired change of predicted NPS
    curve: WaitNpsCurve | None = None


def outcome_of(result: SimulationResult, curve: WaitNpsCurve | None) -> SimOutcome:
    waits, at_once = wait_histogram(result.records, result.replications, WAIT_BIN_S, WAIT_CAP_S)
    parts = nps_parts(result.records, curve) if curve is not None else None
    return SimOutcome(result.summary().row(0, named=True), result.day,
                      result.summary_by_channel(), result.interval_summary(), waits, at_once,
                      estimate(parts) if parts else None, parts, curve)


def interval_frame(scenario: Scenario, intervals: pl.DataFrame, series: str) -> pl.DataFrame:
    """Per pool and interval: scheduled operators, simulated SL with its CI and the target."""
    width = scenario.interval_minutes / 60
    targets = {p.name: pool_target(scenario, p.name) for p in scenario.pools}
    operators = pl.DataFrame(
        [{"pool": p.name, "interval": i, "operators": n}
         for p in scenario.pools for i, n in enumerate(scenario.scheduled(p))],
        schema={"pool": pl.String, "interval": pl.Int32, "operators": pl.Int64}, orient="row")
    columns = ["queued", "answered", "asa_s", "occupancy", "max_queue"]
    # Service level and abandonment of the queue: what the operators on duty deliver.
    queue = {f"queue_{name}{end}": f"{name}{end}" for name in ("service_level",
                                                               "abandoned_share")
             for end in ("", "_ci_low", "_ci_high")}
    measured = intervals.select(
        "pool", pl.col("interval").cast(pl.Int32),
        *[c for c in columns if c in intervals.columns],
        *[pl.col(source).alias(name) for source, name in queue.items()
          if source in intervals.columns])
    served = pl.col("queued") > 0
    return (
        operators.join(measured, on=["pool", "interval"], how="left")
        .with_columns(
            series=pl.lit(series),
            start=clock_expr(pl.col("interval") * width * 60),
            start_h=pl.col("interval") * width,
            end_h=(pl.col("interval") + 1) * width,
            sl_target=pl.col("pool").replace_strict(targets, return_dtype=pl.Float64),
            service_level=pl.when(served).then(pl.col("service_level")),
            service_level_ci_low=pl.when(served).then(pl.col("service_level_ci_low")),
            service_level_ci_high=pl.when(served).then(pl.col("service_level_ci_high")),
        )
        .select("series", "pool", "interval", "start", "start_h", "end_h", "operators",
                pl.exclude("series", "pool", "interval", "start", "start_h", "end_h",
                           "operators"))
        .sort("pool", "interval")
    )


# What the KPI table shows: (summary key, label, kind).
KPI_ROWS: tuple[tuple[str, str, str], ...] = (
    ("offered", "Contacts offered", "count"),
    ("answered", "Answered by operators", "count"),
    ("queue_abandoned_share", "Abandoned in the queue", "share"),
    ("gave_up_in_bot", "Gave up while in the bot", "count"),
    ("abandoned_share", "Abandoned, bot drop-outs included", "share"),
    ("queue_service_level", "Service level (within target)", "share"),
    ("service_level", "Service level, bot drop-outs as misses", "share"),
    ("asa_s", "Average speed of answer", "seconds"),
    ("wait_p90_s", "90th percentile wait", "seconds"),
    ("occupancy", "Occupancy", "share"),
    ("max_queue", "Longest queue (contacts)", "decimal"),
    ("unserved", "Unserved (nobody on duty)", "count"),
    ("self_served", "Finished in self-service", "count"),
    ("bot_contained", "Finished by the bot", "count"),
    ("escalated", "Handed from the bot to a person", "count"),
    ("operator_cost", "Operator cost", "money"),
    ("bot_cost", "Bot cost", "money"),
    ("cost", "Total cost per day", "money"),
    ("predicted_nps", "Predicted NPS (model estimate)", "nps"),
)


def fmt(kind: str, value: float | None, currency: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = round(value, 6) + 0.0  # no "-0 s" from float noise
    if kind == "share":
        return f"{value:.1%}"
    if kind == "seconds":
        return f"{value:,.0f} s"
    if kind == "money":
        return f"{value:,.0f} {currency}".strip()
    if kind == "money_short":  # fits a metric tile
        for size, suffix, digits in ((1e9, "bn", 2), (1e6, "M", 2), (1e3, "k", 1)):
            if abs(value) >= size:
                return f"{value / size:,.{digits}f} {suffix} {currency}".strip()
        return f"{value:,.0f} {currency}".strip()
    if kind in ("decimal", "nps"):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def fmt_delta(kind: str, delta: float | None, currency: str = "") -> str:
    if delta is None or math.isnan(delta):
        return "—"
    delta = round(delta, 6) + 0.0
    if kind == "share":
        return f"{delta * 100:+.1f} pp"
    if kind == "seconds":
        return f"{delta:+,.0f} s"
    if kind == "money_short":
        sign = "+" if delta >= 0 else "-"
        return sign + fmt("money_short", abs(delta), currency)
    if kind == "money":
        return f"{delta:+,.0f} {currency}".strip()
    if kind in ("decimal", "nps"):
        return f"{delta:+,.1f}"
    return f"{delta:+,.0f}"


# The answer the page opens with, one sentence per case (whole sentences translate; pieces
# do not). Each figure is a paired change with its 95% CI.
ANSWER = ("{change}: service level {sl} [{sl_low}, {sl_high}], abandoned {ab} [{ab_low}, "
          "{ab_high}], for {cost} a day.")
ANSWER_WITH_NPS = ("{change}: service level {sl} [{sl_low}, {sl_high}], abandoned {ab} "
                   "[{ab_low}, {ab_high}], predicted NPS {nps} [{nps_low}, {nps_high}], for "
                   "{cost} a day.")
PICK_A_CHANGE = ("Pick a change: a planner question below, or an input in the form. Until "
                 "then the figures below are the baseline alone.")
def answer(edits: Mapping[str, Number], defaults: Mapping[str, Number], baseline: SimOutcome,
           scenario: SimOutcome, currency: str) -> str:
    """The page's first sentence: the change and what it does, each figure with its CI."""
    paired = changes(baseline, scenario)

    def figure(key: str, kind: str) -> tuple[str, str, str]:
        return tuple(fmt_delta(kind, paired.get(f"{key}_delta{end}"), currency)
                     for end in ("", "_ci_low", "_ci_high"))

    sl, ab, cost = figure("queue_service_level", "share"), \
        figure("queue_abandoned_share", "share"), \
        figure("cost", "money_short")
    values = {"change": change_summary(edits, defaults).capitalize(), "sl": sl[0],
              "sl_low": sl[1], "sl_high": sl[2], "ab": ab[0], "ab_low": ab[1],
              "ab_high": ab[2], "cost": cost[0]}
    if paired.get("predicted_nps_delta") is None:
        return ANSWER.format(**values)
    nps = figure("predicted_nps", "nps")
    return ANSWER_WITH_NPS.format(**values, nps=nps[0], nps_low=nps[1], nps_high=nps[2])


def _with_nps(outcome: SimOutcome) -> dict[str, float]:
    return {**outcome.summary, **(outcome.nps or {})}


def changes(baseline: SimOutcome, scenario: SimOutcome) -> dict[str, float | None]:
    """Paired day-by-day changes with 95% CIs, predicted NPS included (same days, one curve)."""
    metrics = [key for key, _, _ in KPI_ROWS if key in scenario.day.columns]
    result = paired_changes(baseline.day, scenario.day, metrics).row(0, named=True)
    if baseline.nps_parts and scenario.nps_parts and scenario.curve is not None:
        result |= paired_change(baseline.nps_parts, scenario.nps_parts, scenario.curve)
    return result


def kpi_table(baseline: SimOutcome, scenario: SimOutcome, currency: str) -> pl.DataFrame:
    """Baseline vs scenario, the change with its paired 95% CI, and the scenario's own CI."""
    before, after, paired = _with_nps(baseline), _with_nps(scenario), changes(baseline,
                                                                              scenario)
    rows = []
    for key, label, kind in KPI_ROWS:
        if key not in after:
            continue
        low, high = after.get(f"{key}_ci_low"), after.get(f"{key}_ci_high")
        change_low = paired.get(f"{key}_delta_ci_low")
        change_high = paired.get(f"{key}_delta_ci_high")
        rows.append({
            "Metric": label, "Baseline": fmt(kind, before.get(key), currency),
            "Scenario": fmt(kind, after[key], currency),
            "Change": fmt_delta(kind, paired.get(f"{key}_delta"), currency),
            "Change 95% CI": (f"{fmt_delta(kind, change_low, currency)} – "
                              f"{fmt_delta(kind, change_high, currency)}"
                              if change_low is not None else "—"),
            "Scenario 95% CI": f"{fmt(kind, low, currency)} – {fmt(kind, high, currency)}",
        })
    return pl.DataFrame(rows, schema=["Metric", "Baseline", "Scenario", "Change",
                                      "Change 95% CI", "Scenario 95% CI"], orient="row")


def baseline_table(baseline: SimOutcome, currency: str) -> pl.DataFrame:
    """The baseline alone with its 95% intervals: what the page shows before any change."""
    values = _with_nps(baseline)
    rows = [{"Metric": label, "Baseline": fmt(kind, values[key], currency),
             "Baseline 95% CI": f"{fmt(kind, values.get(f'{key}_ci_low'), currency)} – "
                                f"{fmt(kind, values.get(f'{key}_ci_high'), currency)}"}
            for key, label, kind in KPI_ROWS if key in values]
    return pl.DataFrame(rows, schema=["Metric", "Baseline", "Baseline 95% CI"], orient="row")


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    delta: str | None
    delta_color: Literal["normal", "inverse", "off"]
    help: str


def kpi_tiles(baseline: SimOutcome, scenario: SimOutcome, currency: str) -> list[Tile]:
    """Headline numbers with their change against the baseline (same seed, same customers)."""
    after, paired = _with_nps(scenario), changes(baseline, scenario)
    tiles = []
    for key, label, kind, colour in (
            ("queue_service_level", "Service level", "share", "normal"),
            ("asa_s", "Average speed of answer", "seconds", "inverse"),
            ("queue_abandoned_share", "Abandoned", "share", "inverse"),
            ("cost", "Cost per day", "money_short", "inverse"),
            ("predicted_nps", "Predicted NPS", "nps", "normal")):
        if key not in after:
            continue
        low, high = after.get(f"{key}_ci_low"), after.get(f"{key}_ci_high")
        change = paired.get(f"{key}_delta")
        tiles.append(Tile(label, fmt(kind, after[key], currency),
                          fmt_delta(kind, change, currency)
                          if change is not None and abs(change) > 1e-9 else None,
                          colour,
                          f"Scenario 95% interval {fmt(kind, low, currency)} – "
                          f"{fmt(kind, high, currency)}; the change is against the baseline "
                          "on the same simulated days."))
    return tiles


def channel_table(outcome: SimOutcome, scenario: Scenario) -> pl.DataFrame:
    """Per channel: what was offered, how fast it was answered and against which target."""
    targets = {name_of("channel", c.name): f"{c.sl_target_share:.0%} in {c.sl_target_s:g} s"
               for c in scenario.channels}
    return named(outcome.by_channel).select(
        pl.col("channel").alias("Channel"),
        pl.col("offered").round(0).alias("Offered"),
        pl.col("bot_contained").round(0).alias("Bot finished"),
        pl.col("queued").round(0).alias("Queued"),
        (pl.col("queue_service_level") * 100).round(1).alias("SL %"),
        pl.col("channel").replace_strict(targets, default="").alias("Target"),
        pl.col("asa_s").clip(lower_bound=0).round(0).alias("ASA s"),
        (pl.col("queue_abandoned_share") * 100).round(1).alias("Abandoned %"),
        pl.col("gave_up_in_bot").round(0).alias("Gave up in the bot"),
    )


def nps_frame(baseline: SimOutcome, scenario: SimOutcome) -> pl.DataFrame:
    rows = [{"series": name, "nps": o.nps["predicted_nps"],
             "low": o.nps["predicted_nps_ci_low"], "high": o.nps["predicted_nps_ci_high"]}
            for name, o in (("baseline", baseline), ("scenario", scenario)) if o.nps]
    return pl.DataFrame(rows, schema={"series": pl.String, "nps": pl.Float64, "low": pl.Float64,
                                      "high": pl.Float64}, orient="row")


def interval_frames(baseline: Scenario, base: SimOutcome, scenario: Scenario,
                    outcome: SimOutcome) -> pl.DataFrame:
    """Baseline and scenario interval results in one long frame (charts and the CSV)."""
    return pl.concat([interval_frame(baseline, base.intervals, "baseline"),
                      interval_frame(scenario, outcome.intervals, "scenario")], how="diagonal")


def pool_intervals(intervals: pl.DataFrame, pool: str) -> pl.DataFrame:
    """One pool's rows of `interval_frames`: the data behind that pool's chart."""
    return intervals.filter(pl.col("pool") == pool)


def sweep_metric(grid: pl.DataFrame, metric: str) -> pl.DataFrame:
    """The data behind one sweep heatmap: each mix with that metric and its 95% CI."""
    wanted = ["operator_factor", "extra_bot_share", "is_baseline", "operator_hours", metric,
              f"{metric}_ci_low", f"{metric}_ci_high", "on_frontier"]
    return grid.select(name for name in wanted if name in grid.columns)


def wait_frames(base: SimOutcome, outcome: SimOutcome) -> pl.DataFrame:
    return pl.concat([base.waits.with_columns(series=pl.lit("baseline")),
                      outcome.waits.with_columns(series=pl.lit("scenario"))])


def pool_names(scenario: Scenario) -> list[str]:
    return [pool.name for pool in scenario.pools]


NPS_ASSUMPTIONS: tuple[str, ...] = (
    "answered contacts score like the surveyed contacts of their wait bucket "
    "(wait→NPS curve, smoothed to never rise with the wait);",
    "contacts the bot finishes score like surveyed bot and self-service contacts;",
    "abandoned contacts score like the longest-wait bucket (they were never answered);",
    "the interval combines the spread over replications with each bucket's survey error.",
)


# --------------------------------------------------------------------------- sweep helpers


@dataclass(frozen=True)
class SweepAxes:
    factors: tuple[float, ...]
    shares: tuple[float, ...]
    replications: int
    problems: tuple[str, ...] = ()


def _steps(low: float, high: float, count: int) -> tuple[float, ...]:
    return tuple(float(round(low + i * (high - low) / (count - 1), 4)) for i in range(count))


def sweep_axes(edits: Mapping[str, Number]) -> SweepAxes:
    """The grid from the sweep inputs; an empty or reversed range is a named problem."""
    value = {key: edits.get(key, FIELD_BY_KEY[key].default) for key in SWEEP_KEYS}
    problems = [f"{FIELD_BY_KEY[high].label} ({high}): {value[high]:g} must be greater than "
                f"'from' {value[low]:g}"
                for low, high in (("sw_f0", "sw_f1"), ("sw_a0", "sw_a1"))
                if value[high] <= value[low]]
    if problems:
        return SweepAxes((), (), int(value["sw_r"]), tuple(problems))
    return SweepAxes(_steps(value["sw_f0"], value["sw_f1"], int(value["sw_nf"])),
                     _steps(value["sw_a0"], value["sw_a1"], int(value["sw_na"])),
                     int(value["sw_r"]))


SWEEP_BUDGET_CONTACTS = 20_000_000  # about a minute of simulation on this machine


def can_sweep(scenario: Scenario) -> bool:
    return any(channel.pool == SWEEP_POOL for channel in scenario.channels)


def sweep_budget_problem(scenario: Scenario, axes: SweepAxes) -> str | None:
    """A grid too big to wait for is refused by name, before anything runs."""
    cells = len(axes.factors) * len(axes.shares)
    contacts = expected_contacts(pool_only_scenario(scenario)) * cells * axes.replications
    if contacts <= SWEEP_BUDGET_CONTACTS:
        return None
    return (f"{cells} mixes × {axes.replications} days would simulate about "
            f"{contacts:,.0f} contacts; the most is {SWEEP_BUDGET_CONTACTS:,}. Use fewer steps "
            "(sw_nf, sw_na) or replications per mix (sw_r).")


def pool_only_scenario(scenario: Scenario) -> Scenario:
    return validated(pool_only(scenario_to_dict(scenario), SWEEP_POOL))


def pool_target(scenario: Scenario, pool: str) -> float:
    """The strictest service-level share among a pool's channels."""
    return scenario.pool_targets(pool)[0]


SWEEP_NONE = ("No mix in this grid reaches a {target:.0%} service level: widen the operator or "
              "extra bot share range.")
SWEEP_BEST = ("Cheapest mix reaching {target:.0%}: operators × {factor:g} ({hours:,.0f} "
              "operator-hours) with the bot on {extra:.0%} more of the chats — service level "
              "{sl} (95% CI {sl_low}–{sl_high}), ASA {asa}, cost {cost} per day.")
SWEEP_BEST_NPS = ("Cheapest mix reaching {target:.0%}: operators × {factor:g} ({hours:,.0f} "
                  "operator-hours) with the bot on {extra:.0%} more of the chats — service "
                  "level {sl} (95% CI {sl_low}–{sl_high}), ASA {asa}, cost {cost} per day, "
                  "predicted NPS {nps:.1f} (model estimate).")
QUEUE_NOTE = ("Service level and abandonment count the contacts that reached the operators' "
              "queue, as a contact centre reports them; contacts who gave up while still in "
              "the bot are counted apart (their time in the bot counts against their "
              "patience), and the table shows both ways.")
RETARGETED = ("Targets differ from the baseline's: both runs are measured against the "
              "scenario's targets, so a new target alone changes no service level.")


def sweep_answer(best: Mapping[str, Any] | None, target: float, currency: str) -> str:
    if best is None:
        return SWEEP_NONE.format(target=target)
    values = {"target": target, "factor": best["operator_factor"],
              "hours": best["operator_hours"], "extra": best["extra_bot_share"],
              "sl": fmt("share", best["queue_service_level"]),
              "sl_low": fmt("share", best.get("queue_service_level_ci_low")),
              "sl_high": fmt("share", best.get("queue_service_level_ci_high")),
              "asa": fmt("seconds", best.get("asa_s")),
              "cost": fmt("money", best["cost"], currency)}
    if best.get("predicted_nps") is None:
        return SWEEP_BEST.format(**values)
    return SWEEP_BEST_NPS.format(**values, nps=best["predicted_nps"])


def sweep_outcome(grid: pl.DataFrame, target: float, currency: str
                  ) -> tuple[dict[str, Any] | None, str, list[str]]:
    """The cheapest frontier mix meeting the target, the sentence saying so, and a warning
    for each grid edge it sits on."""
    best = cheapest_meeting(grid, target)
    return best, sweep_answer(best, target, currency), edge_warnings(grid, best)


# --------------------------------------------------------------------------- backtest

BACKTEST_HEADER = "Does the simulator reproduce your recent days?"
NO_BACKTEST_DAYS = "no recent day has both contacts and staffing on record"
BACKTEST_TITLE = "Backtest: recorded vs simulated service level per day, last {days} days"
BACKTEST_CAPTION = ("Each past day simulated with its own recorded arrivals, automation, handle "
                    "times, learned patience and staffing ({replications} replications a day). "
                    "Band: the simulation's 95% interval for a single day; dots: the record. "
                    "`python -m sim backtest --from D --to D` gives the figures.")
BACKTEST_UNAVAILABLE = "No backtest: {reason}."
POOL_TITLES = {"digital": "Digital team (chats)", "office": "Service offices"}
_POOL_CODES = {title: code for code, title in POOL_TITLES.items()}


def backtest_frame(days: pl.DataFrame) -> pl.DataFrame:
    """The per-day comparison in display form: pool names, shares as shares."""
    return days.select(
        "day", pl.col("pool").replace(POOL_TITLES).alias("pool"),
        "recorded_queued", "recorded_sl", "sim_sl", "sim_sl_low", "sim_sl_high",
        "recorded_asa_s", "sim_asa_s", "recorded_abandonment", "sim_abandonment")


def backtest_chart(days: pl.DataFrame, title: str) -> alt.LayerChart:
    """Recorded SL per day (dots) over the simulation's mean (line) and 95% band, per pool."""
    data = backtest_frame(days)
    present = data["pool"].unique().sort().to_list()
    color = alt.Color("pool:N", title="Pool", scale=alt.Scale(
        domain=present, range=[POOL_COLORS.get(_POOL_CODES.get(name, ""), NEUTRAL_COLOR)
                               for name in present]), legend=alt.Legend(orient="bottom"))
    base = alt.Chart(data).encode(x=alt.X("day:T", title=None), color=color)
    tips = [alt.Tooltip("day:T", title="Day"), alt.Tooltip("pool:N", title="Pool"),
            alt.Tooltip("recorded_sl:Q", format=".1%", title="Recorded SL"),
            alt.Tooltip("sim_sl:Q", format=".1%", title="Simulated SL (mean)"),
            alt.Tooltip("sim_sl_low:Q", format=".1%", title="Simulated 95% low"),
            alt.Tooltip("sim_sl_high:Q", format=".1%", title="Simulated 95% high"),
            alt.Tooltip("recorded_abandonment:Q", format=".1%", title="Recorded abandonment"),
            alt.Tooltip("sim_abandonment:Q", format=".1%", title="Simulated abandonment"),
            alt.Tooltip("recorded_asa_s:Q", format=",.0f", title="Recorded ASA (s)"),
            alt.Tooltip("sim_asa_s:Q", format=",.0f", title="Simulated ASA (s)")]
    lowest = min(float(data.select(pl.min_horizontal("recorded_sl", "sim_sl_low").min())
                       .item() or 0.0), 1.0)
    floor = max(0.0, math.floor((lowest - 0.05) * 10) / 10)  # room below the lowest day
    band = base.mark_area(opacity=0.2).encode(
        y=alt.Y("sim_sl_low:Q", title="Service level", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[floor, 1])),
        y2="sim_sl_high:Q", tooltip=tips)
    line = base.mark_line().encode(y="sim_sl:Q", tooltip=tips)
    points = base.mark_point(filled=True, size=45, stroke=TEXT_COLOR, strokeWidth=1).encode(
        y="recorded_sl:Q", tooltip=tips)
    return alt.layer(band, line, points).properties(title=title, height=300)


STAFFING_REFERENCE_TITLE = "Baseline staffing and the Erlang A minimum per interval, {day}"
STAFFING_REFERENCE_CAPTION = ("Solid: the baseline's scheduled operators (the recorded staffing "
                              "when the database has it). Dashed: the fewest that meet the "
                              "targets by Erlang A on the same demand, the reference.")
STAFFING_SERIES = {"baseline": "Baseline (scheduled)", "erlang": "Erlang A minimum"}


def staffing_reference_frame(scenario: Scenario, minimum: Mapping[str, tuple[int, ...]]
                             ) -> pl.DataFrame:
    """Per pool and interval: the baseline's scheduled operators and the Erlang A minimum."""
    width = scenario.interval_minutes / 60
    rows = [{"pool": pool.name, "start_h": index * width, "series": STAFFING_SERIES[series],
             "operators": count}
            for pool in scenario.pools if pool.name in minimum
            for series, counts in (("baseline", scenario.scheduled(pool)),
                                   ("erlang", minimum[pool.name]))
            for index, count in enumerate(counts)]
    return pl.DataFrame(rows, schema={"pool": pl.String, "start_h": pl.Float64,
                                      "series": pl.String, "operators": pl.Int64},
                        orient="row").with_columns(pool=pl.col("pool").replace(POOL_TITLES))


def staffing_reference_chart(frame: pl.DataFrame, day: str) -> alt.Chart:
    """Scheduled operators against the Erlang A minimum, one step line each, per pool."""
    present = frame["pool"].unique().sort().to_list()
    return alt.Chart(frame).mark_line(interpolate="step-after").encode(
        x=alt.X("start_h:Q", title="Hour of the day", scale=alt.Scale(domain=[0, 24])),
        y=alt.Y("operators:Q", title="Operators"),
        color=alt.Color("pool:N", title="Pool", scale=alt.Scale(
            domain=present, range=[POOL_COLORS.get(_POOL_CODES.get(name, ""), NEUTRAL_COLOR)
                                   for name in present])),
        strokeDash=alt.StrokeDash("series:N", title=None,
                                  sort=list(STAFFING_SERIES.values()),
                                  scale=alt.Scale(domain=list(STAFFING_SERIES.values()),
                                                  range=[[1, 0], [6, 4]])),
        tooltip=[alt.Tooltip("pool:N", title="Pool"), alt.Tooltip("series:N", title="Series"),
                 alt.Tooltip("start_h:Q", format=".2f", title="From (h)"),
                 alt.Tooltip("operators:Q", title="Operators")],
    ).properties(title=STAFFING_REFERENCE_TITLE.format(day=day), height=260)
