"""Glue between the staffing simulator (sim/) and its page: URL state, cached runs, tables.

The page only lays out widgets. Everything it shows comes from here:
- pure functions (no Streamlit) that turn the URL into edits, edits into a scenario, and
  simulation output into the small frames the charts and tables need; they are unit-tested;
- Streamlit glue: widget state synced from the URL, form and preset callbacks, and cached
  (ttl, max_entries) baseline learning, NPS curve fitting, simulations and sweeps.

The URL holds only the edits that differ from the baseline (short keys such as `mult`,
`dig_add`, `auto`), so a shared link reopens the same what-if on the current baseline.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from data_access.engine import DatabaseUnavailable
from sim.config import Parsed, Problem, Scenario, Shift, parse_scenario, scenario_to_dict
from sim.demand import WEEKDAYS, baseline_from_database, erlang_by_interval
from sim.nps import WaitNpsCurve, curve_from_database, predict
from sim.results import wait_histogram
from sim.runner import (
    SimulationResult,
    default_executor,
    expected_contacts,
    paired_changes,
    run,
)
from sim.sweep import sweep
from ui import layout, state

Number = int | float
Kind = Literal["int", "float", "choice"]
Group = Literal["scenario", "sweep", "flag"]

EXAMPLE_TOML = Path(__file__).resolve().parent.parent / "sim" / "examples" / "baseline_monday.toml"
EXAMPLE_DAY = "example Monday"  # the day EXAMPLE_TOML holds
CHAT_CHANNELS = ("whatsapp", "telegram")
WEB_CHANNELS = ("web_cabinet", "mobile_app")
OFFICE_CHANNELS = ("office",)
SWEEP_POOL = "digital"
BASELINE_TTL_S = 600
SIM_TTL_S = 3600
WAIT_BIN_S = 15
WAIT_CAP_S = 600
WIDGET_PREFIX = "sim_"
SIGNATURE_KEY = "_sim_widget_signature"
DEFAULTS_KEY = "_sim_defaults"


# --------------------------------------------------------------------------- form fields


@dataclass(frozen=True)
class Field:
    """One form input and its URL parameter; the bounds are the widget's and the URL's."""

    key: str
    label: str
    kind: Kind
    low: float = 0.0
    high: float = 0.0
    step: float = 1.0
    options: tuple[int, ...] = ()
    default: Number | None = None  # None: taken from the baseline scenario
    help: str | None = None
    group: Group = "scenario"

    @property
    def decimals(self) -> int:
        if self.kind != "float" or self.step >= 1:
            return 0
        return len(f"{self.step:g}".split(".")[1])

    def option_label(self, value: int) -> str:
        if self.key == "wd":
            return WEEKDAYS[value]
        if self.key == "iv":
            return f"{value} min"
        return str(value)


_SHARE = {"kind": "float", "low": 0.0, "high": 1.0, "step": 0.05}
FIELDS: tuple[Field, ...] = (
    Field("wd", "Weekday", "choice", options=tuple(range(7)), default=0,
          help="Whose demand to learn: the mean of this weekday over the last weeks."),
    Field("wk", "Weeks of history", "int", 1, 26, 1, default=8),
    Field("iv", "Interval", "choice", options=(15, 30, 60), default=60),
    Field("mult", "Volume multiplier", "float", 0.1, 5.0, 0.05, default=1.0,
          help="Scales every channel's arrivals, e.g. 1.2 for 20% more contacts."),
    Field("dig_add", "Digital pool: extra operators", "int", -200, 500, 1, default=0,
          help="Added to the scheduled operators between the two hours; negative removes."),
    Field("dig_from", "Digital pool: from hour", "int", 0, 23, 1, default=18),
    Field("dig_to", "Digital pool: to hour", "int", 1, 24, 1, default=23,
          help="Exclusive. A 'to' before 'from' wraps past midnight."),
    Field("off_add", "Offices: extra operators", "int", -500, 500, 1, default=0),
    Field("off_from", "Offices: from hour", "int", 0, 23, 1, default=9),
    Field("off_to", "Offices: to hour", "int", 1, 24, 1, default=18),
    Field("shrink", "Shrinkage", "float", 0.0, 0.95, 0.01,
          help="Share of paid time not spent on contacts (breaks, training), both pools."),
    Field("conc", "Chat concurrency", "int", 1, 10, 1,
          help="Chats one digital operator holds at once."),
    Field("auto", "Chats: automation share", **_SHARE,
          help="WhatsApp and Telegram contacts offered to a bot first."),
    Field("cont", "Chats: bot containment", **_SHARE,
          help="Share of bot contacts the bot finishes; the rest queue for an operator."),
    Field("bot", "Chats: bot handle time (s)", "float", 0.0, 3600.0, 10.0),
    Field("wauto", "Web & app: automation share", **_SHARE,
          help="Web cabinet and mobile app contacts offered to self-service first."),
    Field("wcont", "Web & app: bot containment", **_SHARE),
    Field("wbot", "Web & app: bot handle time (s)", "float", 0.0, 3600.0, 10.0),
    Field("pat", "Chats: patience (s)", "float", 0.0, 7200.0, 30.0,
          help="Mean time a customer waits before giving up; 0 means nobody abandons."),
    Field("wpat", "Web & app: patience (s)", "float", 0.0, 7200.0, 30.0),
    Field("opat", "Offices: patience (s)", "float", 0.0, 7200.0, 30.0),
    Field("sl", "Chats: SL target share", **_SHARE),
    Field("slt", "Chats: SL target (s)", "float", 0.0, 3600.0, 5.0),
    Field("wsl", "Web & app: SL target share", **_SHARE),
    Field("wslt", "Web & app: SL target (s)", "float", 0.0, 3600.0, 5.0),
    Field("osl", "Offices: SL target share", **_SHARE),
    Field("oslt", "Offices: SL target (s)", "float", 0.0, 3600.0, 5.0),
    Field("cap", "Abandonment cap", "float", 0.0, 1.0, 0.01),
    Field("opc", "Operator cost per hour", "float", 0.0, 1_000_000.0, 100.0),
    Field("botc", "Bot cost per contact", "float", 0.0, 100_000.0, 5.0),
    Field("reps", "Replications", "int", 2, 100, 1, default=10,
          help="Simulated days; more give narrower 95% intervals."),
    Field("seed", "Seed", "int", 0, 2**31 - 1, 1, default=0,
          help="Baseline and scenario share it: the same customers (common random numbers)."),
    Field("sw_f0", "Operator factor: from", "float", 0.1, 3.0, 0.05, default=0.7,
          group="sweep"),
    Field("sw_f1", "Operator factor: to", "float", 0.1, 3.0, 0.05, default=1.3, group="sweep"),
    Field("sw_nf", "Operator factor: steps", "int", 2, 15, 1, default=7, group="sweep"),
    Field("sw_a0", "Automation share: from", **_SHARE, default=0.0, group="sweep"),
    Field("sw_a1", "Automation share: to", **_SHARE, default=0.75, group="sweep"),
    Field("sw_na", "Automation share: steps", "int", 2, 15, 1, default=6, group="sweep"),
    Field("sw_r", "Replications per mix", "int", 2, 20, 1, default=3, group="sweep"),
    Field("sweep", "Show the sweep", "choice", options=(0, 1), default=0, group="flag"),
)
FIELD_BY_KEY: dict[str, Field] = {f.key: f for f in FIELDS}
SCENARIO_KEYS = tuple(f.key for f in FIELDS if f.group == "scenario")
SWEEP_KEYS = tuple(f.key for f in FIELDS if f.group == "sweep")
# Edits applied to channels: key -> (channels, Channel attribute).
CHANNEL_EDITS: dict[str, tuple[tuple[str, ...], str]] = {
    "auto": (CHAT_CHANNELS, "automation_share"), "cont": (CHAT_CHANNELS, "bot_containment"),
    "bot": (CHAT_CHANNELS, "bot_handle_s"), "pat": (CHAT_CHANNELS, "patience_s"),
    "sl": (CHAT_CHANNELS, "sl_target_share"), "slt": (CHAT_CHANNELS, "sl_target_s"),
    "wauto": (WEB_CHANNELS, "automation_share"), "wcont": (WEB_CHANNELS, "bot_containment"),
    "wbot": (WEB_CHANNELS, "bot_handle_s"), "wpat": (WEB_CHANNELS, "patience_s"),
    "wsl": (WEB_CHANNELS, "sl_target_share"), "wslt": (WEB_CHANNELS, "sl_target_s"),
    "opat": (OFFICE_CHANNELS, "patience_s"), "osl": (OFFICE_CHANNELS, "sl_target_share"),
    "oslt": (OFFICE_CHANNELS, "sl_target_s"),
}
SETTING_EDITS = {"mult": "volume_multiplier", "cap": "abandon_cap",
                 "opc": "operator_cost_per_hour", "botc": "bot_cost_per_contact"}
# Extra operators in a window of hours: pool -> (count, from, to) keys.
WINDOWS: dict[str, tuple[str, str, str]] = {"digital": ("dig_add", "dig_from", "dig_to"),
                                            "office": ("off_add", "off_from", "off_to")}
# Settings that are not part of a what-if: a preset keeps them.
KEPT_BY_PRESETS = ("wd", "wk", "iv", "reps", "seed", *SWEEP_KEYS)


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    edits: dict[str, Number]
    help: str


PRESETS: tuple[Preset, ...] = (
    Preset("evening", "Add 10 operators in the evening",
           {"dig_add": 10, "dig_from": 18, "dig_to": 23},
           "Digital pool +10 operators from 18:00 to 23:00."),
    Preset("bot", "30% of chats to a bot that resolves 60%", {"auto": 0.3, "cont": 0.6},
           "WhatsApp and Telegram: 30% offered to a bot, which finishes 60% of them."),
    Preset("cheapest", "Cheapest mix for 80% of chats in 60 s",
           {"sl": 0.8, "slt": 60.0, "wsl": 0.8, "wslt": 60.0, "sweep": 1},
           "Sweeps operators × automation for the digital pool and picks the cheapest mix "
           "on the frontier that answers 80% within 60 s."),
)
PRESET_BY_KEY = {p.key: p for p in PRESETS}


def widget_key(key: str) -> str:
    return WIDGET_PREFIX + key


def setting(edits: Mapping[str, Number], key: str) -> Number:
    """An edit, or the field's constant default (weekday, interval, replications, seed…)."""
    value = edits.get(key, FIELD_BY_KEY[key].default)
    if value is None:
        raise KeyError(f"{key} has no constant default")
    return value


# --------------------------------------------------------------------------- URL <-> edits


def parse_value(spec: Field, text: str) -> tuple[Number | None, str]:
    """A URL value for one field, or why it is refused (strict: no rounding, no clamping)."""
    text = text.strip()
    if spec.kind in ("int", "choice"):
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            return None, f"{text!r} is not a whole number"
        value: Number = int(text)
        if spec.kind == "choice":
            if value not in spec.options:
                allowed = ", ".join(str(o) for o in spec.options)
                return None, f"{value} must be one of {allowed}"
            return value, ""
    else:
        try:
            value = float(text)
        except ValueError:
            return None, f"{text!r} is not a number"
        if not math.isfinite(value):
            return None, f"{text!r} is not a finite number"
    if not spec.low <= value <= spec.high:
        return None, f"{text} must be between {spec.low:g} and {spec.high:g}"
    return value, ""


def parse_query(params: Mapping[str, Any]) -> tuple[dict[str, Number], list[str]]:
    """URL parameters -> valid edits, and one warning per parameter that was ignored."""
    edits: dict[str, Number] = {}
    warnings: list[str] = []
    for key, raw in params.items():
        text = raw[-1] if isinstance(raw, list | tuple) and raw else raw
        text = "" if text is None else str(text)
        spec = FIELD_BY_KEY.get(key)
        if spec is None:
            warnings.append(f"URL parameter `{key}` ignored: it is not a simulator setting.")
            continue
        value, reason = parse_value(spec, text)
        if value is None:
            warnings.append(f"URL parameter `{key}={text}` ignored: {reason} "
                            f"({spec.label}).")
            continue
        edits[key] = value
    return edits, warnings


def _text(value: Number) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def to_query(edits: Mapping[str, Number]) -> dict[str, str]:
    """Edits -> URL parameters in a stable order (the form's)."""
    return {f.key: _text(edits[f.key]) for f in FIELDS if f.key in edits}


def _same(a: Number, b: Number | None) -> bool:
    return b is not None and abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))


def normalise(spec: Field, value: Number) -> Number:
    return round(value) if spec.kind in ("int", "choice") else float(value)


def edits_from_values(values: Mapping[str, Number | None], defaults: Mapping[str, Number],
                      keys: tuple[str, ...]) -> dict[str, Number]:
    """Form values -> edits: only what differs from the defaults, windows only with a count."""
    edits = {key: normalise(FIELD_BY_KEY[key], values[key]) for key in keys
             if values.get(key) is not None and not _same(values[key], defaults.get(key))}
    for count, start, end in WINDOWS.values():
        if count in keys and not edits.get(count):
            edits.pop(start, None)
            edits.pop(end, None)
    return edits


# --------------------------------------------------------------------------- baseline


def _weighted(values: list[float], weights: list[float]) -> float:
    total = sum(weights)
    if total <= 0:
        return sum(values) / len(values)
    return sum(v * w for v, w in zip(values, weights, strict=True)) / total


def defaults_for(scenario: Scenario) -> dict[str, Number]:
    """What each input shows before any edit: the baseline's own values, rounded to the step.

    Groups of channels show their arrival-weighted mean; an untouched input is not applied,
    so each channel keeps its exact baseline value.
    """
    raw: dict[str, float] = {f.key: f.default for f in FIELDS if f.default is not None}
    pools = {p.name: p for p in scenario.pools}
    raw["shrink"] = sum(p.shrinkage for p in scenario.pools) / max(len(scenario.pools), 1)
    raw["conc"] = pools["digital"].concurrency if "digital" in pools else 1
    for key, (names, attribute) in CHANNEL_EDITS.items():
        members = [c for c in scenario.channels if c.name in names]
        if not members:
            raw[key] = FIELD_BY_KEY[key].low
            continue
        weights = [sum(scenario.offered(c)) for c in members]
        raw[key] = _weighted([float(getattr(c, attribute) or 0.0) for c in members], weights)
    raw |= {key: getattr(scenario, attribute) for key, attribute in SETTING_EDITS.items()
            if key != "mult"}
    result: dict[str, Number] = {}
    for spec in FIELDS:
        value = float(raw[spec.key])
        if spec.kind != "choice":  # a widget refuses values outside its bounds
            value = round(min(max(value, spec.low), spec.high), spec.decimals)
        result[spec.key] = normalise(spec, value)
    return result


def resample(data: dict[str, Any], minutes: int) -> dict[str, Any]:
    """A day at a finer interval: arrivals split evenly, operators repeated (pure)."""
    current = int(data["interval_minutes"])
    if minutes == current or current % minutes:
        return data
    parts = current // minutes
    data = {**data, "interval_minutes": minutes}
    data["channels"] = [{**c, "arrivals": [round(v / parts, 4) for v in c["arrivals"]
                                           for _ in range(parts)]} for c in data["channels"]]
    data["pools"] = [{**p, "operators": [n for n in p["operators"] for _ in range(parts)]}
                     if "operators" in p else p for p in data["pools"]]
    return data


def example_scenario(interval_minutes: int) -> Scenario:
    """The checked-in example day, at the chosen interval when it divides an hour."""
    data = tomllib.loads(EXAMPLE_TOML.read_text(encoding="utf-8"))
    parsed = parse_scenario(resample(data, interval_minutes))
    if not parsed.ok:  # a broken example is a bug in the repository, not user input
        raise RuntimeError("; ".join(map(str, parsed.problems)))
    return parsed.scenario


def apply_edits(scenario: Scenario, edits: Mapping[str, Number]) -> tuple[dict[str, Any],
                                                                            list[Problem]]:
    """The baseline as plain data with the edits applied, plus problems the edits make."""
    data = scenario_to_dict(scenario)
    data["name"] = "scenario"
    problems: list[Problem] = []
    for key, setting in SETTING_EDITS.items():
        if key in edits:
            data[setting] = edits[key]
    for pool_data in data["pools"]:
        pool = scenario.pool(pool_data["name"])
        window = WINDOWS.get(pool.name)
        if window and edits.get(window[0]):
            count_key, start_key, end_key = window
            count = int(edits[count_key])
            start = edits.get(start_key, FIELD_BY_KEY[start_key].default)
            end = edits.get(end_key, FIELD_BY_KEY[end_key].default)
            operators = list(scenario.scheduled(pool))
            if start == end:
                problems.append(Problem(f"{FIELD_BY_KEY[end_key].label} ({end_key})",
                                        f"{end} equals the 'from' hour; the window needs hours"))
            else:
                for index in range(len(operators)):
                    if Shift(start, end, 0).covers(index * scenario.interval_minutes / 60):
                        operators[index] += count
            pool_data["operators"] = operators
            pool_data.pop("shifts", None)
        if "shrink" in edits:
            pool_data["shrinkage"] = edits["shrink"]
        if pool.name == "digital" and "conc" in edits:
            pool_data["concurrency"] = edits["conc"]
    for channel_data in data["channels"]:
        for key, (names, attribute) in CHANNEL_EDITS.items():
            if key not in edits or channel_data["name"] not in names:
                continue
            if attribute == "patience_s" and edits[key] == 0:
                channel_data.pop("patience_s", None)  # nobody abandons
            else:
                channel_data[attribute] = edits[key]
    return data, problems


def _clock(minutes: float) -> str:
    return f"{int(minutes) // 60:02d}:{int(minutes) % 60:02d}"


def describe_problem(problem: Problem, data: Mapping[str, Any]) -> str:
    """A Problem with indices replaced by names: pools[1].operators[18] -> pool 'digital' …"""
    def name(kind: str, index: str) -> str:
        items = data.get(kind) or []
        position = int(index)
        label = items[position].get("name") if position < len(items) else index
        return f"{kind[:-1]} '{label}'"

    interval = data.get("interval_minutes") or 60
    text = re.sub(r"(pools|channels)\[(\d+)\]", lambda m: name(m[1], m[2]), problem.field)
    text = re.sub(r"\.operators\[(\d+)\]",
                  lambda m: f" operators at {_clock(int(m[1]) * interval)}", text)
    return f"{text}: {problem.message}"


@dataclass
class Built:
    """The edited scenario, or what is wrong with the edits (named fields and values)."""

    data: dict[str, Any]
    parsed: Parsed
    problems: list[str] = field(default_factory=list)
    changed: bool = True

    @property
    def scenario(self) -> Scenario | None:
        return self.parsed.scenario if not self.problems else None


def build_scenario(baseline: Scenario, edits: Mapping[str, Number]) -> Built:
    """Apply the edits to the baseline and validate the result with parse_scenario."""
    data, problems = apply_edits(baseline, edits)
    parsed = parse_scenario(data)
    messages = [str(p) for p in problems] + [describe_problem(p, data) for p in parsed.problems]
    base = scenario_to_dict(baseline)
    changed = {**data, "name": ""} != {**base, "name": ""}
    return Built(data, parsed, messages, changed)


def pool_only(data: Mapping[str, Any], pool: str) -> dict[str, Any]:
    """The scenario restricted to one pool and its channels (for a pool's own sweep)."""
    return {**data, "pools": [p for p in data["pools"] if p["name"] == pool],
            "channels": [c for c in data["channels"] if c["pool"] == pool]}


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


def outcome_of(result: SimulationResult, curve: WaitNpsCurve | None) -> SimOutcome:
    waits, at_once = wait_histogram(result.records, result.replications, WAIT_BIN_S, WAIT_CAP_S)
    nps = predict(result.records, curve) if curve is not None else None
    return SimOutcome(result.summary().row(0, named=True), result.day,
                      result.summary_by_channel(), result.interval_summary(), waits, at_once,
                      nps)


def interval_frame(scenario: Scenario, intervals: pl.DataFrame, series: str) -> pl.DataFrame:
    """Per pool and interval: scheduled operators, simulated SL with its CI and the target."""
    width = scenario.interval_minutes / 60
    targets = {p.name: pool_target(scenario, p.name) for p in scenario.pools}
    operators = pl.DataFrame(
        [{"pool": p.name, "interval": i, "operators": n}
         for p in scenario.pools for i, n in enumerate(scenario.scheduled(p))],
        schema={"pool": pl.String, "interval": pl.Int32, "operators": pl.Int64}, orient="row")
    columns = ["queued", "answered", "service_level", "service_level_ci_low",
               "service_level_ci_high", "abandoned_share", "asa_s", "occupancy", "max_queue"]
    measured = intervals.select("pool", pl.col("interval").cast(pl.Int32),
                                *[c for c in columns if c in intervals.columns])
    served = pl.col("queued") > 0
    return (
        operators.join(measured, on=["pool", "interval"], how="left")
        .with_columns(
            series=pl.lit(series),
            start=pl.col("interval").map_elements(lambda i: _clock(i * width * 60),
                                                  return_dtype=pl.String),
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
    ("abandoned_share", "Abandoned (of queued)", "share"),
    ("service_level", "Service level (within target)", "share"),
    ("asa_s", "Average speed of answer", "seconds"),
    ("wait_p90_s", "90th percentile wait", "seconds"),
    ("occupancy", "Occupancy", "share"),
    ("max_queue", "Longest queue (contacts)", "decimal"),
    ("bot_contained", "Finished by the bot", "count"),
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
    if kind in ("money", "money_short"):
        return f"{delta:+,.0f} {currency}".strip()
    if kind in ("decimal", "nps"):
        return f"{delta:+,.1f}"
    return f"{delta:+,.0f}"


def _with_nps(outcome: SimOutcome) -> dict[str, float]:
    return {**outcome.summary, **(outcome.nps or {})}


def _changes(baseline: SimOutcome, scenario: SimOutcome) -> dict[str, float | None]:
    """Paired day-by-day changes with 95% CIs; predicted NPS as a plain difference."""
    metrics = [key for key, _, _ in KPI_ROWS if key in scenario.day.columns]
    changes = paired_changes(baseline.day, scenario.day, metrics).row(0, named=True)
    if baseline.nps and scenario.nps:
        changes["predicted_nps_delta"] = (scenario.nps["predicted_nps"]
                                          - baseline.nps["predicted_nps"])
    return changes


def kpi_table(baseline: SimOutcome, scenario: SimOutcome, currency: str) -> pl.DataFrame:
    """Baseline vs scenario, the change with its paired 95% CI, and the scenario's own CI."""
    before, after, changes = _with_nps(baseline), _with_nps(scenario), _changes(baseline,
                                                                                scenario)
    rows = []
    for key, label, kind in KPI_ROWS:
        if key not in after:
            continue
        low, high = after.get(f"{key}_ci_low"), after.get(f"{key}_ci_high")
        change_low = changes.get(f"{key}_delta_ci_low")
        change_high = changes.get(f"{key}_delta_ci_high")
        rows.append({
            "Metric": label, "Baseline": fmt(kind, before.get(key), currency),
            "Scenario": fmt(kind, after[key], currency),
            "Change": fmt_delta(kind, changes.get(f"{key}_delta"), currency),
            "Change 95% CI": (f"{fmt_delta(kind, change_low, currency)} – "
                              f"{fmt_delta(kind, change_high, currency)}"
                              if change_low is not None else "—"),
            "Scenario 95% CI": f"{fmt(kind, low, currency)} – {fmt(kind, high, currency)}",
        })
    return pl.DataFrame(rows, schema=["Metric", "Baseline", "Scenario", "Change",
                                      "Change 95% CI", "Scenario 95% CI"], orient="row")


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    delta: str | None
    delta_color: Literal["normal", "inverse", "off"]
    help: str


def kpi_tiles(baseline: SimOutcome, scenario: SimOutcome, currency: str) -> list[Tile]:
    """Headline numbers with their change against the baseline (same seed, same customers)."""
    after, changes = _with_nps(scenario), _changes(baseline, scenario)
    tiles = []
    for key, label, kind, colour in (
            ("service_level", "Service level", "share", "normal"),
            ("asa_s", "Average speed of answer", "seconds", "inverse"),
            ("abandoned_share", "Abandoned", "share", "inverse"),
            ("cost", "Cost per day", "money_short", "inverse"),
            ("predicted_nps", "Predicted NPS", "nps", "normal")):
        if key not in after:
            continue
        low, high = after.get(f"{key}_ci_low"), after.get(f"{key}_ci_high")
        change = changes.get(f"{key}_delta")
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
    targets = {c.name: f"{c.sl_target_share:.0%} in {c.sl_target_s:g} s"
               for c in scenario.channels}
    return outcome.by_channel.select(
        pl.col("channel").alias("Channel"),
        pl.col("offered").round(0).alias("Offered"),
        pl.col("bot_contained").round(0).alias("Bot finished"),
        pl.col("queued").round(0).alias("Queued"),
        (pl.col("service_level") * 100).round(1).alias("SL %"),
        pl.col("channel").replace_strict(targets, default="").alias("Target"),
        pl.col("asa_s").clip(lower_bound=0).round(0).alias("ASA s"),
        (pl.col("abandoned_share") * 100).round(1).alias("Abandoned %"),
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
    wanted = ["operator_factor", "automation_share", "operator_hours", metric,
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
    return _validated(pool_only(scenario_to_dict(scenario), SWEEP_POOL))


def pool_target(scenario: Scenario, pool: str) -> float:
    """The strictest service-level share among a pool's channels."""
    return scenario.pool_targets(pool)[0]


def cheapest_meeting(grid: pl.DataFrame, target: float) -> dict[str, Any] | None:
    """The cheapest frontier mix whose mean service level reaches the target."""
    meeting = grid.filter(pl.col("on_frontier") & (pl.col("service_level") >= target - 1e-12))
    if meeting.is_empty():
        return None
    return meeting.sort("cost").row(0, named=True)


def sweep_answer(best: Mapping[str, Any] | None, target: float, currency: str) -> str:
    if best is None:
        return (f"No mix in this grid reaches a {target:.0%} service level: widen the operator "
                "or automation range.")
    nps = (f", predicted NPS {best['predicted_nps']:.1f} (model estimate)"
           if best.get("predicted_nps") is not None else "")
    return (f"Cheapest mix reaching {target:.0%}: operators × {best['operator_factor']:g} "
            f"({best['operator_hours']:,.0f} operator-hours) with "
            f"{best['automation_share']:.0%} automation — service level "
            f"{fmt('share', best['service_level'])} (95% CI "
            f"{fmt('share', best.get('service_level_ci_low'))}–"
            f"{fmt('share', best.get('service_level_ci_high'))}), ASA "
            f"{fmt('seconds', best.get('asa_s'))}, cost "
            f"{fmt('money', best['cost'], currency)} per day{nps}.")


# --------------------------------------------------------------------------- Streamlit: URL


def read_url() -> tuple[dict[str, Number], list[str]]:
    return parse_query(st.query_params.to_dict())


def write_url(edits: Mapping[str, Number]) -> None:
    st.query_params.from_dict(to_query(edits))


def sync_widgets(edits: Mapping[str, Number], defaults: Mapping[str, Number]) -> None:
    """Show the URL's scenario in the forms whenever the URL (or the baseline) changed.

    Between changes the widgets keep what the user typed, as forms normally do. Back from
    another page, Streamlit has dropped the widgets' state: the URL's scenario is shown again.
    """
    st.session_state[DEFAULTS_KEY] = dict(defaults)
    signature = repr((sorted(to_query(edits).items()), sorted(defaults.items())))
    inputs = [spec for spec in FIELDS if spec.group != "flag"]
    if (st.session_state.get(SIGNATURE_KEY) == signature
            and all(widget_key(spec.key) in st.session_state for spec in inputs)):
        return
    for spec in inputs:
        st.session_state[widget_key(spec.key)] = normalise(
            spec, edits.get(spec.key, defaults[spec.key]))
    st.session_state[SIGNATURE_KEY] = signature


def field_input(key: str) -> None:
    """The widget for one field, with its bounds; its value lives in session state."""
    spec = FIELD_BY_KEY[key]
    name = widget_key(key)
    if spec.kind == "choice":
        st.selectbox(spec.label, spec.options, key=name, format_func=spec.option_label,
                     help=spec.help)
    elif spec.kind == "int":
        st.number_input(spec.label, min_value=int(spec.low), max_value=int(spec.high),
                        step=int(spec.step), key=name, help=spec.help)
    else:
        st.number_input(spec.label, min_value=float(spec.low), max_value=float(spec.high),
                        step=float(spec.step), format=f"%.{spec.decimals}f", key=name,
                        help=spec.help)


def _submit(group: str) -> None:
    current, _ = read_url()
    defaults = st.session_state.get(DEFAULTS_KEY, {})
    keys = SCENARIO_KEYS if group == "scenario" else SWEEP_KEYS
    values = {key: st.session_state.get(widget_key(key)) for key in keys}
    kept = {k: v for k, v in current.items() if FIELD_BY_KEY[k].group != group}
    edits = kept | edits_from_values(values, defaults, keys)
    if group == "sweep":
        edits["sweep"] = 1
    else:
        edits.pop("sweep", None)  # a new scenario does not re-run the grid until asked
    write_url(edits)


def submit_scenario() -> None:
    """Form callback: the submitted inputs become the URL (then the page reruns from it)."""
    _submit("scenario")


def submit_sweep() -> None:
    _submit("sweep")


def apply_preset(key: str) -> None:
    """Button callback: the baseline plus the preset's edits; run settings are kept."""
    current, _ = read_url()
    kept = {k: v for k, v in current.items() if k in KEPT_BY_PRESETS}
    write_url(kept | PRESET_BY_KEY[key].edits)
    st.session_state.pop(SIGNATURE_KEY, None)  # show the preset even over unsaved typing


# --------------------------------------------------------------------------- Streamlit: data


@dataclass(frozen=True)
class Baseline:
    scenario: Scenario
    note: str
    from_database: bool

    @property
    def data(self) -> dict[str, Any]:
        return scenario_to_dict(self.scenario)


@dataclass(frozen=True)
class SimView:
    """What the page's figures cover: the day and interval length every chart title and CSV
    file name carry."""

    day: str
    interval_minutes: int

    def file_name(self, name: str) -> str:
        day = re.sub(r"\W+", "_", self.day.lower()).strip("_")
        return f"servicepulse_simulator_{name}_{day}_{self.interval_minutes}min.csv"


def sim_view(baseline: Baseline, edits: Mapping[str, Number]) -> SimView:
    """The weekday learned from the database, or the example day it fell back to."""
    day = WEEKDAYS[int(setting(edits, "wd"))] if baseline.from_database else EXAMPLE_DAY
    return SimView(day, baseline.scenario.interval_minutes)


def download(frame: pl.DataFrame, name: str, view: SimView, label: str = "CSV",
             help: str = "Download the data behind this view as CSV") -> None:
    """A CSV of `frame`, made when clicked; `name` keys the button and names the file."""
    layout.csv_button(frame, view.file_name(name), f"download_sim_{name}", label, help)


@st.cache_data(ttl=BASELINE_TTL_S, max_entries=32, show_spinner="Learning the baseline day…")
def _learned(url: str, weekday: int, weeks: int, interval_minutes: int
             ) -> tuple[Scenario | None, str]:
    with state.get_engine(url).connect() as connection:
        return baseline_from_database(connection, weekday, weeks, interval_minutes)


def load_baseline(weekday: int, weeks: int, interval_minutes: int) -> Baseline:
    """Learned from the database; the example day when it is unavailable or empty."""
    reason = "the database is unavailable"
    if st.session_state.get("engine_ready"):
        try:
            scenario, reason = _learned(state.database_url(), weekday, weeks, interval_minutes)
        except (DatabaseUnavailable, SQLAlchemyError, ValueError, RuntimeError) as error:
            scenario, reason = None, f"the baseline could not be learned ({type(error).__name__})"
        if scenario is not None:
            return Baseline(scenario, reason, True)
    return Baseline(example_scenario(interval_minutes),
                    f"Using the example Monday from `sim/examples/{EXAMPLE_TOML.name}` as the "
                    f"baseline because {reason}.", False)


@st.cache_data(ttl=BASELINE_TTL_S, max_entries=4, show_spinner=False)
def _curve(url: str) -> tuple[WaitNpsCurve | None, str]:
    with state.get_engine(url).connect() as connection:
        return curve_from_database(connection)


def nps_curve() -> tuple[WaitNpsCurve | None, str]:
    """The wait→NPS curve from the last 90 days of surveys, or why there is none."""
    if not st.session_state.get("engine_ready"):
        return None, "the database is unavailable"
    try:
        return _curve(state.database_url())
    except (DatabaseUnavailable, SQLAlchemyError) as error:
        return None, f"the survey query failed ({type(error).__name__})"


def _progress_bar(label: str) -> Callable[[float, str], None]:
    bar = st.progress(0.0, text=f"{label}…")

    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {message}")
        if fraction >= 1.0:
            bar.empty()

    return report


def _validated(data: dict[str, Any]) -> Scenario:
    parsed = parse_scenario(data)
    if not parsed.ok:  # callers pass validated data; this guards the cache contract
        raise ValueError("; ".join(map(str, parsed.problems)))
    return parsed.scenario


@st.cache_data(ttl=SIM_TTL_S, max_entries=32, show_spinner=False)
def simulate(data: dict[str, Any], replications: int, seed: int, curve: WaitNpsCurve | None,
             label: str) -> SimOutcome:
    """One scenario, `replications` days (small jobs in process); cached by its inputs.

    The progress bar is created here, so a cache hit replays it (already finished).
    """
    scenario, report = _validated(data), _progress_bar(f"Simulating the {label}")
    result = run(scenario, replications, seed, progress=report)  # small jobs stay in process
    return outcome_of(result, curve)


@st.cache_data(ttl=SIM_TTL_S, max_entries=8, show_spinner=False)
def run_sweep(data: dict[str, Any], pool: str, factors: tuple[float, ...],
              shares: tuple[float, ...], replications: int, seed: int,
              curve: WaitNpsCurve | None) -> pl.DataFrame:
    """The operators × automation grid for one pool, cached by its inputs."""
    scenario = _validated(data)
    report = _progress_bar(f"Sweeping {len(factors) * len(shares)} mixes")
    return sweep(scenario, pool, list(factors), list(shares), None, replications, seed,
                 executor=default_executor(), curve=curve, progress=report)


@st.cache_data(ttl=SIM_TTL_S, max_entries=64, show_spinner=False)
def erlang_preview(data: dict[str, Any], series: str) -> pl.DataFrame:
    return erlang_by_interval(_validated(data)).with_columns(series=pl.lit(series)).select(
        "series", pl.exclude("series"))


def preview(baseline: dict[str, Any], scenario: dict[str, Any]) -> pl.DataFrame:
    """Erlang A per interval for baseline and scenario, in one long frame (instant)."""
    return pl.concat([erlang_preview(baseline, "baseline"), erlang_preview(scenario, "scenario")])
