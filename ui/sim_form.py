"""The simulator page's form as pure functions: fields, the URL codec, levers as changes.

No Streamlit here. The URL holds only the edits that differ from the baseline (short keys such
as `mult`, `dig_add`, `bot_add`), so a shared link reopens the same what-if on the current
baseline. Every lever reads as a change from what the baseline already does: extra bot and
self-service shares add to today's, never replace them, and each input shows the baseline's
value beside it (`baseline_notes`).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sim.config import (
    Parsed,
    Problem,
    Scenario,
    Shift,
    clock,
    nearest_key,
    parse_scenario,
    scenario_to_dict,
    unrouted_share,
)
from sim.demand import WEEKDAYS
from ui.view_state import name_of, shown

Number = int | float
Kind = Literal["int", "float", "choice"]
Group = Literal["scenario", "sweep", "flag"]

EXAMPLE_TOML = Path(__file__).resolve().parent.parent / "sim" / "examples" / "baseline_monday.toml"
CHAT_CHANNELS = ("whatsapp", "telegram")
WEB_CHANNELS = ("web_cabinet", "mobile_app")
OFFICE_CHANNELS = ("office",)
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
    Field("bot_add", "Chats: extra share to the bot", **_SHARE, default=0.0,
          help="WhatsApp and Telegram: the bot answers this further share of all chats first, "
               "on top of the share it already answers (never instead of it)."),
    Field("bot_cont", "Chats: containment of the extra share", **_SHARE,
          help="Share of the extra bot chats the bot finishes; the rest queue for a person, "
               "with the time spent in the bot counting against their patience."),
    Field("cont", "Chats: containment of today's bot", **_SHARE,
          help="Share of the chats the bot already answers that it finishes (learned from "
               "the contacts it handed to a person)."),
    Field("bot", "Chats: time in the bot (s)", "float", 0.0, 3600.0, 10.0),
    Field("ss_add", "Web & app: extra self-service share", **_SHARE, default=0.0,
          help="Web cabinet and mobile app: this further share of contacts finishes alone, "
               "on top of today's self-service."),
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
    Field("sw_a0", "Extra bot share: from", **_SHARE, default=0.0, group="sweep"),
    Field("sw_a1", "Extra bot share: to", **_SHARE, default=0.5, group="sweep"),
    Field("sw_na", "Extra bot share: steps", "int", 2, 15, 1, default=6, group="sweep"),
    Field("sw_r", "Replications per mix", "int", 2, 20, 1, default=3, group="sweep"),
    Field("sweep", "Show the sweep", "choice", options=(0, 1), default=0, group="flag"),
)
FIELD_BY_KEY: dict[str, Field] = {f.key: f for f in FIELDS}
SCENARIO_KEYS = tuple(f.key for f in FIELDS if f.group == "scenario")
SWEEP_KEYS = tuple(f.key for f in FIELDS if f.group == "sweep")
# Edits applied to channels: key -> (channels, Channel attribute).
CHANNEL_EDITS: dict[str, tuple[tuple[str, ...], str]] = {
    "cont": (CHAT_CHANNELS, "bot_containment"),
    "bot": (CHAT_CHANNELS, "bot_handle_s"), "pat": (CHAT_CHANNELS, "patience_s"),
    "sl": (CHAT_CHANNELS, "sl_target_share"), "slt": (CHAT_CHANNELS, "sl_target_s"),
    "wpat": (WEB_CHANNELS, "patience_s"),
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
    Preset("evening", "+10 operators, 18–23 h",
           {"dig_add": 10, "dig_from": 18, "dig_to": 23},
           "Hire: the digital pool gets 10 more operators from 18:00 to 23:00."),
    Preset("bot", "Bot on 30% more chats",
           {"bot_add": 0.3, "bot_cont": 0.6},
           "Automate: on WhatsApp and Telegram the bot answers a further 30% of all chats "
           "first, on top of what it answers today, and finishes 60% of those (containment "
           "60%); today's bot is unchanged."),
    Preset("cheapest", "Cheapest mix: operators × bot",
           {"sweep": 1},
           "Sweeps the digital pool's operators × an extra bot share around the baseline and "
           "picks the cheapest mix on the frontier that meets the pool's own target."),
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
            return None, "is not a whole number"
        value: Number = int(text)
        if spec.kind == "choice":
            if value not in spec.options:
                allowed = ", ".join(str(o) for o in spec.options)
                return None, f"must be one of {allowed}"
            return value, ""
    else:
        try:
            value = float(text)
        except ValueError:
            return None, "is not a number"
        if not math.isfinite(value):
            return None, "is not a finite number"
    if not spec.low <= value <= spec.high:
        return None, f"must be between {spec.low:g} and {spec.high:g}"
    return value, ""


UNKNOWN_PARAMETER = "URL parameter {key}: unknown field; did you mean {guess}?"
UNKNOWN_PARAMETER_NO_GUESS = "URL parameter {key}: unknown field; it is not a simulator setting."


# Links made before the levers became changes to the baseline: what to use instead.
RENAMED_PARAMETER = ("URL parameter {key}: no longer a setting (it replaced what the baseline "
                     "automates); use {new}, which adds to it.")
RENAMED_PARAMETERS = {"auto": "bot_add", "wauto": "ss_add", "wcont": "ss_add", "wbot": "ss_add"}


def unknown_parameter(key: str) -> str:
    """An unknown URL key, named with the nearest valid one (as scenario files do)."""
    if key in RENAMED_PARAMETERS:
        return RENAMED_PARAMETER.format(key=shown(key), new=shown(RENAMED_PARAMETERS[key]))
    guess = nearest_key(key, tuple(FIELD_BY_KEY))
    if guess is None:
        return UNKNOWN_PARAMETER_NO_GUESS.format(key=shown(key))
    return UNKNOWN_PARAMETER.format(key=shown(key), guess=shown(guess))


def parse_query(params: Mapping[str, Any]) -> tuple[dict[str, Number], list[str], list[str]]:
    """URL parameters -> valid edits, one warning per bad value (ignored), and one error per
    unknown parameter (a misspelt lever must not quietly simulate something else)."""
    edits: dict[str, Number] = {}
    warnings: list[str] = []
    errors: list[str] = []
    for key, raw in params.items():
        text = raw[-1] if isinstance(raw, list | tuple) and raw else raw
        text = "" if text is None else str(text)
        spec = FIELD_BY_KEY.get(key)
        if spec is None:
            errors.append(unknown_parameter(key))
            continue
        value, reason = parse_value(spec, text)
        if value is None:
            warnings.append(f"URL parameter {shown(key)}: {shown(text)} {reason} "
                            f"({spec.label}); ignored.")
            continue
        edits[key] = value
    return edits, warnings, errors


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
    raw["bot_cont"] = raw["cont"]  # an extra share starts as good as today's bot
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
        _add_automation(channel_data, edits)
    return data, problems


def _add_automation(channel: dict[str, Any], edits: Mapping[str, Number]) -> None:
    """Extra bot and self-service shares go on top of what the channel already does, capped
    by what is left (a channel cannot route more than all of its contacts)."""
    room = unrouted_share(channel.get("self_service_share", 0.0), channel.get("bot_share", 0.0))
    if channel["name"] in CHAT_CHANNELS and edits.get("bot_add"):
        channel["extra_bot_share"] = round(min(float(edits["bot_add"]), room), 6)
        channel["extra_bot_containment"] = float(
            edits.get("bot_cont", channel.get("bot_containment", 0.0)))
    if channel["name"] in WEB_CHANNELS and edits.get("ss_add"):
        channel["self_service_share"] = round(channel.get("self_service_share", 0.0) + min(
            float(edits["ss_add"]), room), 6)


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
                  lambda m: f" operators at {clock(int(m[1]) * interval)}", text)
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


EXTRA_BOT_EDITS = ("bot_add", "bot_cont")


def sweep_data(baseline: Scenario, edits: Mapping[str, Number], pool: str) -> dict[str, Any]:
    """What the sweep varies around: the scenario's pool without the form's extra bot share,
    which is the sweep's own axis (its +0% column is today's bot, as in the baseline)."""
    kept = {key: value for key, value in edits.items() if key not in EXTRA_BOT_EDITS}
    return pool_only(apply_edits(baseline, kept)[0], pool)


def pool_only(data: Mapping[str, Any], pool: str) -> dict[str, Any]:
    """The scenario restricted to one pool and its channels (for a pool's own sweep)."""
    return {**data, "pools": [p for p in data["pools"] if p["name"] == pool],
            "channels": [c for c in data["channels"] if c["pool"] == pool]}


CHANGE_TEMPLATES = {
    "dig_add": "{count:+d} digital operators {start}–{end} h",
    "off_add": "{count:+d} office operators {start}–{end} h",
    "bot_add": "bot on {share:.0%} more of the chats (containment {containment:.0%})",
    "ss_add": "self-service on {share:.0%} more of web and app contacts",
    "other": "{label}: {before} → {after}",
    "many": "{count} changes",
}


def change_summary(edits: Mapping[str, Number], defaults: Mapping[str, Number]) -> str:
    """What the scenario changes, in a planner's words (the answer's subject)."""
    parts = []
    for key, (count, start, end) in (("dig_add", WINDOWS["digital"]),
                                     ("off_add", WINDOWS["office"])):
        if edits.get(count):
            parts.append(CHANGE_TEMPLATES[key].format(
                count=int(edits[count]), start=int(setting(edits, start)),
                end=int(setting(edits, end))))
    if edits.get("bot_add"):
        parts.append(CHANGE_TEMPLATES["bot_add"].format(
            share=float(edits["bot_add"]),
            containment=float(edits.get("bot_cont", defaults.get("bot_cont", 0.0)))))
    if edits.get("ss_add"):
        parts.append(CHANGE_TEMPLATES["ss_add"].format(share=float(edits["ss_add"])))
    shown_keys = {"dig_add", "dig_from", "dig_to", "off_add", "off_from", "off_to", "bot_add",
                  "bot_cont", "ss_add", *KEPT_BY_PRESETS, "sweep"}
    for key in (k for k in SCENARIO_KEYS if k in edits and k not in shown_keys):
        spec = FIELD_BY_KEY[key]
        parts.append(CHANGE_TEMPLATES["other"].format(
            label=spec.label, before=field_text(spec, defaults.get(key)),
            after=field_text(spec, edits[key])))
    if len(parts) > 3:
        return CHANGE_TEMPLATES["many"].format(count=len(parts))
    return "; ".join(parts)


def field_text(spec: Field, value: Number | None) -> str:
    """A field's value as the form shows it: shares in %, the rest as numbers."""
    if value is None:
        return "—"
    if spec.kind == "float" and spec.high <= 1.0 and spec.step < 1:
        return f"{float(value):.0%}"
    return f"{value:g}" if isinstance(value, float) else str(value)


BASELINE_NOTE = "Baseline: {value}"
BASELINE_NOTES_SPECIAL = {
    "bot_add": "Baseline: the bot answers {share:.0%} of chats first",
    "ss_add": "Baseline: {share:.0%} of web and app contacts finish in self-service",
    "dig_add": "Baseline: as scheduled",
    "off_add": "Baseline: as scheduled",
}


def baseline_notes(scenario: Scenario, defaults: Mapping[str, Number]) -> dict[str, str]:
    """The baseline's value of each input, shown beside it: every lever reads as a change."""
    settings = {*KEPT_BY_PRESETS, *(key for window in WINDOWS.values() for key in window[1:])}
    notes = {spec.key: BASELINE_NOTE.format(value=field_text(spec, defaults.get(spec.key)))
             for spec in FIELDS if spec.group == "scenario" and spec.key not in settings}
    for key, names, attribute in (("bot_add", CHAT_CHANNELS, "bot_share"),
                                  ("ss_add", WEB_CHANNELS, "self_service_share")):
        members = [c for c in scenario.channels if c.name in names]
        share = _weighted([getattr(c, attribute) for c in members],
                          [sum(scenario.offered(c)) for c in members]) if members else 0.0
        notes[key] = BASELINE_NOTES_SPECIAL[key].format(share=share)
    notes["dig_add"] = notes["off_add"] = BASELINE_NOTES_SPECIAL["dig_add"]
    notes["bot_cont"] = BASELINE_NOTE.format(value=field_text(FIELD_BY_KEY["cont"],
                                                              defaults.get("cont")))
    return notes


PATIENCE_FIELDS = {"pat": CHAT_CHANNELS, "wpat": WEB_CHANNELS, "opat": OFFICE_CHANNELS}
PATIENCE_NOTE = "{channel}: {source}"


def patience_notes(sources: Mapping[str, tuple[float, str]]) -> dict[str, str]:
    """Under each patience input: what the baseline uses per channel and where it comes from
    ("WhatsApp: learned from 8 weeks: 412 s [398, 427]")."""
    notes = {}
    for key, channels in PATIENCE_FIELDS.items():
        lines = [PATIENCE_NOTE.format(channel=name_of("channel", code), source=sources[code][1])
                 for code in channels if code in sources]
        if lines:
            notes[key] = " · ".join(lines)
    return notes


def comparison_baseline(baseline: Mapping[str, Any], scenario: Mapping[str, Any]
                        ) -> tuple[dict[str, Any], bool]:
    """The baseline measured against the scenario's service-level targets.

    A target is a yardstick, not a change of service: both runs are measured with the same
    one, so a new target alone shows no service-level change. Returns the baseline's data
    and whether any target differed.
    """
    targets = {c["name"]: (c["sl_target_share"], c["sl_target_s"]) for c in scenario["channels"]}
    channels, differed = [], False
    for channel in baseline["channels"]:
        share, seconds = targets.get(channel["name"], (channel["sl_target_share"],
                                                       channel["sl_target_s"]))
        differed |= (share, seconds) != (channel["sl_target_share"], channel["sl_target_s"])
        channels.append({**channel, "sl_target_share": share, "sl_target_s": seconds})
    return {**baseline, "channels": channels}, differed


def validated(data: dict[str, Any]) -> Scenario:
    """Data the page built from a validated baseline; a problem here is a bug, not input."""
    parsed = parse_scenario(data)
    if not parsed.ok:  # callers pass validated data; this guards the cache contract
        raise ValueError("; ".join(map(str, parsed.problems)))
    return parsed.scenario
