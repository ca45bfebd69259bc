"""Validated scenario configuration, kept apart from the runtime objects of the model.

A scenario is one operating day: demand per interval and channel, how contacts are handled, who
is on shift, and what it costs. `parse_scenario` turns plain data (a TOML file, a web form, a URL)
into a frozen `Scenario` or into a list of problems that name the field and the value; it never
raises for bad input.

Units: seconds for times, contacts per interval for demand, a currency unit per hour for
operators and per contact for bots.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

INTERVAL_MINUTES = (15, 30, 60)
DAY_S = 24 * 3600
HANDLE_DISTRIBUTIONS = ("exponential", "lognormal")
# Bounds that keep one simulated day within seconds and memory on one machine.
MAX_OPERATORS = 10_000  # per pool and interval
MAX_ARRIVALS_PER_INTERVAL = 100_000.0
# A day's expected contacts, warm-up included (all channels, after the multiplier). Measured in
# benchmarks/sim_day_bound.py: 20 replications of a day this size take under 10 s and 2 GB on
# one core, so any accepted scenario stays interactive.
MAX_CONTACTS_PER_DAY = 100_000


@dataclass(frozen=True)
class Shift:
    """Operators on duty from `start` to `end` (hours of the day, end may pass midnight)."""

    start_h: float
    end_h: float
    operators: int

    def covers(self, hour: float) -> bool:
        if self.end_h > self.start_h:
            return self.start_h <= hour < self.end_h
        return hour >= self.start_h or hour < self.end_h  # overnight shift


@dataclass(frozen=True)
class Pool:
    """A group of interchangeable operators (e.g. offices, or the digital team)."""

    name: str
    operators: tuple[int, ...] = ()  # scheduled per interval; or derived from shifts
    shifts: tuple[Shift, ...] = ()
    shrinkage: float = 0.0  # share of scheduled time not available for contacts
    concurrency: int = 1  # contacts one operator holds at once (chats)
    concurrency_slowdown: float = 0.0  # per-contact handle time x (1 + slowdown * (k - 1))
    open_h: float = 0.0  # opening hours; arrivals outside them are not offered
    close_h: float = 24.0  # equal to open_h: closed all day


@dataclass(frozen=True)
class Channel:
    name: str
    pool: str
    arrivals: tuple[float, ...]  # expected contacts per interval over the day
    aht_s: float  # mean handle time with one contact at a time
    handle_distribution: str = "exponential"
    handle_cv: float = 1.0  # coefficient of variation for lognormal handle times
    patience_s: float | None = None  # mean, exponential; None means nobody abandons
    self_service_share: float = 0.0  # share of arrivals finished alone (web cabinet, app)
    bot_share: float = 0.0  # share of arrivals the bot answers first (messaging channels)
    bot_containment: float = 0.0  # share of those the bot finishes; the rest go to a human
    bot_handle_s: float = 0.0  # mean time in the bot (exponential)
    # A change on top of what the channel already automates: the bot answers this further
    # share of arrivals first, and finishes `extra_bot_containment` of them.
    extra_bot_share: float = 0.0
    extra_bot_containment: float = 0.0
    # Mean handle time per interval of the day (one per `arrivals` entry), learned per hour;
    # empty means `aht_s` all day. A contact's mean is its arrival interval's value.
    aht_by_interval_s: tuple[float, ...] = ()

    def aht_at(self, interval: int) -> float:
        """The mean handle seconds for a contact arriving in `interval`."""
        return self.aht_by_interval_s[interval] if self.aht_by_interval_s else self.aht_s

    @property
    def human_share(self) -> float:
        """Expected share of arrivals that need an operator (not self-served, not contained)."""
        return (1.0 - self.self_service_share - self.bot_share * self.bot_containment
                - self.extra_bot_share * self.extra_bot_containment)
    sl_target_share: float = 0.8  # X% ...
    sl_target_s: float = 60.0  # ... answered within T seconds


@dataclass(frozen=True)
class Scenario:
    name: str
    interval_minutes: int
    channels: tuple[Channel, ...]
    pools: tuple[Pool, ...]
    volume_multiplier: float = 1.0
    abandon_cap: float = 0.05
    operator_cost_per_hour: float = 2_500.0
    bot_cost_per_contact: float = 60.0
    warmup_s: float = 3_600.0
    currency: str = "KZT"

    @property
    def intervals(self) -> int:
        return DAY_S // (self.interval_minutes * 60)

    @property
    def interval_s(self) -> float:
        return self.interval_minutes * 60.0

    def pool(self, name: str) -> Pool:
        return next(pool for pool in self.pools if pool.name == name)

    def pool_targets(self, name: str) -> tuple[float, float]:
        """The strictest service-level target among a pool's channels: (share, seconds)."""
        members = [c for c in self.channels if c.pool == name]
        return (max((c.sl_target_share for c in members), default=0.8),
                min((c.sl_target_s for c in members), default=60.0))

    def scheduled(self, pool: Pool) -> tuple[int, ...]:
        """Operators scheduled per interval (paid), from the list or from the shifts."""
        if pool.operators:
            return pool.operators
        hours = [i * self.interval_minutes / 60 for i in range(self.intervals)]
        return tuple(sum(s.operators for s in pool.shifts if s.covers(h)) for h in hours)

    def available(self, pool: Pool) -> tuple[int, ...]:
        """Operators actually taking contacts after shrinkage, to the nearest whole operator.

        Rounding down would make small pools fall off a cliff (1 operator at 5% shrinkage
        would leave nobody); rounding to nearest keeps the average right.
        """
        return tuple(math.floor(n * (1 - pool.shrinkage) + 0.5) for n in self.scheduled(pool))

    def offered(self, channel: Channel) -> tuple[float, ...]:
        """Expected arrivals per interval after the multiplier and the pool's opening hours."""
        pool = self.pool(channel.pool)
        result = []
        for index, expected in enumerate(channel.arrivals):
            hour = index * self.interval_minutes / 60
            is_open = pool.open_h <= hour < pool.close_h
            result.append(expected * self.volume_multiplier if is_open else 0.0)
        return tuple(result)

    def with_pool_operators(self, name: str, operators: tuple[int, ...]) -> Scenario:
        pools = tuple(replace(p, operators=operators, shifts=()) if p.name == name else p
                      for p in self.pools)
        return replace(self, pools=pools)

    def with_extra_bot(self, extra_share: float, containment: float | None = None,
                       channels: tuple[str, ...] | None = None) -> Scenario:
        """The same day with the bot answering `extra_share` more of the arrivals first.

        The extra share comes on top of what each channel already sends to its bot (never
        instead of it) and is capped by what is left after self-service and the bot; it is
        finished at `containment` (default: the channel's own containment).
        """
        updated = []
        for channel in self.channels:
            if channels is None or channel.name in channels:
                room = unrouted_share(channel.self_service_share, channel.bot_share)
                channel = replace(channel, extra_bot_share=min(extra_share, room),
                                  extra_bot_containment=channel.bot_containment
                                  if containment is None else containment)
            updated.append(channel)
        return replace(self, channels=tuple(updated))


def unrouted_share(self_service_share: float, bot_share: float) -> float:
    """The share of arrivals neither self-service nor today's bot takes: the most that an
    extra bot or self-service share can add without routing more than every contact."""
    return max(0.0, 1.0 - self_service_share - bot_share)


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class Parsed:
    scenario: Scenario | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.scenario is not None


class _Reader:
    """Reads typed values from nested plain data, collecting problems instead of raising."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def number(self, data: Mapping, key: str, where: str, default: float | None = None, *,
               low: float | None = None, high: float | None = None, low_open: bool = False,
               allow_none: bool = False) -> float | None:
        path = f"{where}.{key}" if where else key
        value = data.get(key, default)
        if value is None:
            if allow_none:
                return None
            self.problems.append(Problem(path, "is required"))
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(str(value))
            except ValueError:
                self.problems.append(Problem(path, f"{value!r} is not a number"))
                return None
        value = float(value)
        if not math.isfinite(value):
            self.problems.append(Problem(path, f"{value} is not a finite number"))
            return None
        if low is not None and (value <= low if low_open else value < low):
            bound = ">" if low_open else ">="
            self.problems.append(Problem(path, f"{_fmt(value)} must be {bound} {_fmt(low)}"))
            return None
        if high is not None and value > high:
            self.problems.append(Problem(path, f"{_fmt(value)} must be <= {_fmt(high)}"))
            return None
        return value

    def integer(self, data: Mapping, key: str, where: str, default: int | None = None, *,
                low: int = 0, high: int | None = None) -> int | None:
        value = self.number(data, key, where, default, low=low, high=high)
        if value is None:
            return None
        if value != int(value):
            self.problems.append(Problem(f"{where}.{key}" if where else key,
                                         f"{_fmt(value)} must be a whole number"))
            return None
        return int(value)

    def choice(self, data: Mapping, key: str, where: str, options: tuple, default=None):
        value = data.get(key, default)
        if value not in options:
            allowed = ", ".join(map(str, options))
            self.problems.append(Problem(f"{where}.{key}" if where else key,
                                         f"{value!r} must be one of {allowed}"))
            return None
        return value

    def series(self, values: Any, path: str, length: int, *, integers: bool,
               high: float) -> tuple | None:
        if not isinstance(values, list | tuple):
            self.problems.append(Problem(path, f"must be a list of {length} numbers"))
            return None
        if len(values) != length:
            self.problems.append(Problem(path, f"has {len(values)} values; the day has "
                                               f"{length} intervals"))
            return None
        parsed = []
        for index, value in enumerate(values):
            reader = (self.integer if integers else self.number)
            number = reader({"v": value}, "v", "", low=0, high=high)
            if number is None:
                last = self.problems.pop()
                self.problems.append(Problem(f"{path}[{index}]", last.message))
                return None
            parsed.append(number)
        return tuple(parsed)


def _fmt(value: float) -> str:
    return f"{value:g}"


# Names that changed meaning: an old file gets told what to write instead of a silent default.
RENAMED = {"automation_share": "bot_share (messaging bot) or self_service_share (web, app)"}
SCENARIO_KEYS = ("name", "interval_minutes", "volume_multiplier", "abandon_cap",
                 "operator_cost_per_hour", "bot_cost_per_contact", "warmup_s", "currency",
                 "pools", "channels")
POOL_KEYS = ("name", "operators", "shifts", "shrinkage", "concurrency", "concurrency_slowdown",
             "open_h", "close_h")
SHIFT_KEYS = ("start_h", "end_h", "operators")
CHANNEL_KEYS = tuple(Channel.__dataclass_fields__)


def nearest_key(key: str, allowed: tuple[str, ...]) -> str | None:
    """The valid name a misspelt one most likely meant, if any is close."""
    matches = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if not matches:  # "patience" for "patience_s": a prefix is a strong hint too
        matches = [name for name in allowed if name.startswith(key) or key.startswith(name)]
    return matches[0] if matches else None


def unknown_key_message(key: str, allowed: tuple[str, ...]) -> str:
    """'unknown field; did you mean `x`?' — one wording for TOML, JSON and URL keys."""
    if key in RENAMED:
        return f"unknown field (renamed); use {RENAMED[key]}"
    guess = nearest_key(key, allowed)
    return "unknown field" + (f"; did you mean `{guess}`?" if guess else
                              f"; valid fields: {', '.join(allowed)}")


def _check_keys(reader: _Reader, raw: Mapping, allowed: tuple[str, ...], where: str) -> None:
    for key in raw:
        if key not in allowed:
            path = f"{where}.{key}" if where else str(key)
            reader.problems.append(Problem(path, unknown_key_message(str(key), allowed)))


def _parse_shifts(reader: _Reader, raw: Any, where: str) -> tuple[Shift, ...]:
    shifts = []
    if not isinstance(raw, list):
        reader.problems.append(Problem(where, "must be a list of {start_h, end_h, operators}"))
        return ()
    for index, item in enumerate(raw):
        path = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            reader.problems.append(Problem(path, "must be a table with start_h, end_h, operators"))
            continue
        _check_keys(reader, item, SHIFT_KEYS, path)
        start = reader.number(item, "start_h", path, low=0, high=24)
        end = reader.number(item, "end_h", path, low=0, high=24)
        count = reader.integer(item, "operators", path, high=MAX_OPERATORS)
        if start is not None and end is not None and start == end:
            reader.problems.append(Problem(f"{path}.end_h",
                                           f"{_fmt(end)} equals start_h; a shift needs hours"))
            continue
        if None not in (start, end, count):
            shifts.append(Shift(start, end, count))
    return tuple(shifts)


def _parse_pool(reader: _Reader, raw: Mapping, index: int, intervals: int) -> Pool | None:
    where = f"pools[{index}]"
    _check_keys(reader, raw, POOL_KEYS, where)
    name = str(raw.get("name", "")).strip()
    if not name:
        reader.problems.append(Problem(f"{where}.name", "is required"))
    operators: tuple = ()
    shifts: tuple = ()
    if "operators" in raw:
        operators = reader.series(raw["operators"], f"{where}.operators", intervals,
                                  integers=True, high=MAX_OPERATORS) or ()
    elif "shifts" in raw:
        shifts = _parse_shifts(reader, raw["shifts"], f"{where}.shifts")
    else:
        reader.problems.append(Problem(where, "needs operators (per interval) or shifts"))
    shrinkage = reader.number(raw, "shrinkage", where, 0.0, low=0, high=0.95)
    concurrency = reader.integer(raw, "concurrency", where, 1, low=1, high=10)
    slowdown = reader.number(raw, "concurrency_slowdown", where, 0.0, low=0, high=2)
    open_h = reader.number(raw, "open_h", where, 0.0, low=0, high=24)
    close_h = reader.number(raw, "close_h", where, 24.0, low=0, high=24)
    if open_h is not None and close_h is not None and close_h < open_h:
        reader.problems.append(Problem(f"{where}.close_h",
                                       f"{_fmt(close_h)} is before open_h {_fmt(open_h)}"))
        return None
    if not name or None in (shrinkage, concurrency, slowdown, open_h, close_h):
        return None
    return Pool(name, operators, shifts, shrinkage, concurrency, slowdown, open_h, close_h)


def _parse_aht_by_interval(reader: _Reader, raw: Mapping, where: str,
                           intervals: int) -> tuple[float, ...] | None:
    """The optional per-interval handle means: absent or empty is (), else one positive
    number per interval; None when a problem was recorded."""
    raw_values = raw.get("aht_by_interval_s")
    if raw_values is None or (isinstance(raw_values, list | tuple) and not raw_values):
        return ()
    path = f"{where}.aht_by_interval_s"
    parsed = reader.series(raw_values, path, intervals, integers=False, high=DAY_S)
    if parsed is None:
        return None
    for index, value in enumerate(parsed):
        if value <= 0:
            reader.problems.append(Problem(f"{path}[{index}]",
                                           f"is {_fmt(value)}; it must be above 0"))
            return None
    return parsed


def _parse_channel(reader: _Reader, raw: Mapping, index: int, intervals: int,
                   pools: set[str]) -> Channel | None:
    where = f"channels[{index}]"
    _check_keys(reader, raw, CHANNEL_KEYS, where)
    name = str(raw.get("name", "")).strip()
    if not name:
        reader.problems.append(Problem(f"{where}.name", "is required"))
    pool = str(raw.get("pool", "")).strip()
    if pool not in pools:
        reader.problems.append(Problem(f"{where}.pool", f"{pool!r} is not one of the pools "
                                                        f"({', '.join(sorted(pools))})"))
    arrivals = reader.series(raw.get("arrivals"), f"{where}.arrivals", intervals,
                             integers=False, high=MAX_ARRIVALS_PER_INTERVAL)
    values = {
        "aht_s": reader.number(raw, "aht_s", where, low=0, low_open=True, high=DAY_S),
        "handle_distribution": reader.choice(raw, "handle_distribution", where,
                                             HANDLE_DISTRIBUTIONS, "exponential"),
        "handle_cv": reader.number(raw, "handle_cv", where, 1.0, low=0, low_open=True, high=5),
        "self_service_share": reader.number(raw, "self_service_share", where, 0.0, low=0,
                                            high=1),
        "bot_share": reader.number(raw, "bot_share", where, 0.0, low=0, high=1),
        "bot_containment": reader.number(raw, "bot_containment", where, 0.0, low=0, high=1),
        "extra_bot_share": reader.number(raw, "extra_bot_share", where, 0.0, low=0, high=1),
        "extra_bot_containment": reader.number(raw, "extra_bot_containment", where, 0.0, low=0,
                                               high=1),
        "bot_handle_s": reader.number(raw, "bot_handle_s", where, 0.0, low=0, high=DAY_S),
        "sl_target_share": reader.number(raw, "sl_target_share", where, 0.8, low=0, high=1),
        "sl_target_s": reader.number(raw, "sl_target_s", where, 60.0, low=0, high=DAY_S),
    }
    patience = reader.number(raw, "patience_s", where, None, low=0, low_open=True,
                             allow_none=True)
    aht_by_interval = _parse_aht_by_interval(reader, raw, where, intervals)
    if aht_by_interval is None:
        return None
    values["aht_by_interval_s"] = aht_by_interval
    if not name or pool not in pools or arrivals is None or None in values.values():
        return None
    routed = (values["self_service_share"] + values["bot_share"] + values["extra_bot_share"])
    if routed > 1 + 1e-9:
        reader.problems.append(Problem(
            f"{where}.extra_bot_share" if values["extra_bot_share"] else f"{where}.bot_share",
            f"self_service_share {_fmt(values['self_service_share'])} + bot_share "
            f"{_fmt(values['bot_share'])} + extra_bot_share {_fmt(values['extra_bot_share'])} "
            f"= {_fmt(routed)}; together they can be at most 1"))
        return None
    return Channel(name=name, pool=pool, arrivals=arrivals, patience_s=patience, **values)


def parse_scenario(data: Mapping[str, Any]) -> Parsed:
    """Plain data -> Scenario, or the list of problems; never raises for bad values."""
    reader = _Reader()
    if not isinstance(data, Mapping):
        return Parsed(None, [Problem("scenario", "must be a table of settings")])
    _check_keys(reader, data, SCENARIO_KEYS, "")
    raw_interval = data.get("interval_minutes", 60)
    if isinstance(raw_interval, float) and raw_interval.is_integer():
        raw_interval = int(raw_interval)  # 60.0 from a form or JSON means 60
    interval = reader.choice({"interval_minutes": raw_interval}, "interval_minutes", "",
                             INTERVAL_MINUTES, 60)
    intervals = DAY_S // (interval * 60) if interval else 24
    pools_raw = data.get("pools", [])
    channels_raw = data.get("channels", [])
    if not isinstance(pools_raw, list) or not pools_raw:
        reader.problems.append(Problem("pools", "at least one pool is required"))
        pools_raw = []
    if not isinstance(channels_raw, list) or not channels_raw:
        reader.problems.append(Problem("channels", "at least one channel is required"))
        channels_raw = []
    pools = [_parse_pool(reader, raw if isinstance(raw, Mapping) else {}, i, intervals)
             for i, raw in enumerate(pools_raw)]
    pool_names = {p.name for p in pools if p is not None}
    if len(pool_names) != len([p for p in pools if p is not None]):
        reader.problems.append(Problem("pools", "pool names must be unique"))
    channels = [_parse_channel(reader, raw if isinstance(raw, Mapping) else {}, i, intervals,
                               pool_names) for i, raw in enumerate(channels_raw)]
    channel_names = [c.name for c in channels if c is not None]
    if len(set(channel_names)) != len(channel_names):
        reader.problems.append(Problem("channels", "channel names must be unique"))
    settings = {
        "volume_multiplier": reader.number(data, "volume_multiplier", "", 1.0, low=0, high=20),
        "abandon_cap": reader.number(data, "abandon_cap", "", 0.05, low=0, high=1),
        "operator_cost_per_hour": reader.number(data, "operator_cost_per_hour", "", 2_500.0,
                                                low=0),
        "bot_cost_per_contact": reader.number(data, "bot_cost_per_contact", "", 60.0, low=0),
        "warmup_s": reader.number(data, "warmup_s", "", 3_600.0, low=0, high=DAY_S),
    }
    if not reader.problems and settings["volume_multiplier"] is not None:
        for index, channel in enumerate(c for c in channels if c is not None):
            peak = max(channel.arrivals, default=0.0) * settings["volume_multiplier"]
            if peak > MAX_ARRIVALS_PER_INTERVAL:
                reader.problems.append(Problem(
                    "volume_multiplier", f"{_fmt(settings['volume_multiplier'])} makes "
                    f"channels[{index}] offer {_fmt(peak)} contacts in one interval; the most "
                    f"is {_fmt(MAX_ARRIVALS_PER_INTERVAL)}"))
    if not reader.problems and settings["volume_multiplier"] is not None:
        reader.problems += day_size_problems(channels, intervals, settings["volume_multiplier"],
                                             settings["warmup_s"])
    if reader.problems or None in settings.values():
        return Parsed(None, reader.problems)
    scenario = Scenario(
        name=str(data.get("name", "scenario")), interval_minutes=interval,
        channels=tuple(channels), pools=tuple(pools), currency=str(data.get("currency", "KZT")),
        **settings,
    )
    return Parsed(scenario, [], stability_warnings(scenario))


def day_size_problems(channels: list[Channel | None], intervals: int, multiplier: float,
                      warmup_s: float) -> list[Problem]:
    """A day bigger than MAX_CONTACTS_PER_DAY is refused by name, before anything runs."""
    interval_s = DAY_S / intervals
    total = sum(sum(c.arrivals) * multiplier + c.arrivals[-1] * multiplier * warmup_s
                / interval_s for c in channels if c is not None)
    if total <= MAX_CONTACTS_PER_DAY:
        return []
    return [Problem("channels", f"the day holds about {total:,.0f} contacts (arrivals x "
                    f"volume_multiplier {_fmt(multiplier)}, warm-up included); the most is "
                    f"{MAX_CONTACTS_PER_DAY:,}, which keeps 20 replications under about 10 s "
                    "and 2 GB")]


def pool_load_erlangs(scenario: Scenario) -> dict[str, list[float]]:
    """Offered human workload per pool and interval, in operator-equivalents (Erlangs)."""
    loads = {pool.name: [0.0] * scenario.intervals for pool in scenario.pools}
    for channel in scenario.channels:
        pool = scenario.pool(channel.pool)
        human_share = channel.human_share
        slowdown = 1 + pool.concurrency_slowdown * (pool.concurrency - 1)
        for index, expected in enumerate(scenario.offered(channel)):
            per_contact_s = channel.aht_at(index) * slowdown
            loads[pool.name][index] += (expected * human_share * per_contact_s
                                        / scenario.interval_s / pool.concurrency)
    return loads


def stability_warnings(scenario: Scenario) -> list[str]:
    """Intervals whose offered load reaches the available capacity: queues grow without end."""
    warnings = []
    for pool in scenario.pools:
        if 1 + pool.concurrency_slowdown * (pool.concurrency - 1) > pool.concurrency:
            warnings.append(f"pool {pool.name!r}: {pool.concurrency} contacts at once with "
                            f"slowdown {pool.concurrency_slowdown:g} make each operator "
                            "slower than with one contact at a time")
        available = scenario.available(pool)
        loads = pool_load_erlangs(scenario)[pool.name]
        unstable = [i for i, (load, agents) in enumerate(zip(loads, available, strict=True))
                    if load > 0 and load >= agents]
        if unstable:
            hours = ", ".join(clock(i * scenario.interval_minutes) for i in unstable[:6])
            more = f" and {len(unstable) - 6} more" if len(unstable) > 6 else ""
            warnings.append(f"unstable: pool {pool.name!r} has more work than operators in "
                            f"{len(unstable)} interval(s) ({hours}{more}); queues will grow")
    return warnings


def clock(minutes: float) -> str:
    """Minutes after midnight as HH:MM."""
    return f"{int(minutes) // 60:02d}:{int(minutes) % 60:02d}"


def clock_expr(minutes: pl.Expr) -> pl.Expr:
    """`clock` for a column of minutes after midnight: the same HH:MM text, as an expression."""
    whole = minutes.floor().cast(pl.Int64)
    return pl.format("{}:{}", (whole // 60).cast(pl.String).str.zfill(2),
                     (whole % 60).cast(pl.String).str.zfill(2))


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The inverse of parse_scenario, for TOML files, URLs and JSON output."""
    def pool_dict(pool: Pool) -> dict[str, Any]:
        result: dict[str, Any] = {"name": pool.name}
        if pool.operators:
            result["operators"] = list(pool.operators)
        else:
            result["shifts"] = [{"start_h": s.start_h, "end_h": s.end_h,
                                 "operators": s.operators} for s in pool.shifts]
        result |= {"shrinkage": pool.shrinkage, "concurrency": pool.concurrency,
                   "concurrency_slowdown": pool.concurrency_slowdown,
                   "open_h": pool.open_h, "close_h": pool.close_h}
        return result

    def channel_dict(channel: Channel) -> dict[str, Any]:
        result = {key: getattr(channel, key) for key in Channel.__dataclass_fields__}
        result["arrivals"] = list(channel.arrivals)
        if channel.aht_by_interval_s:
            result["aht_by_interval_s"] = list(channel.aht_by_interval_s)
        else:
            del result["aht_by_interval_s"]
        if channel.patience_s is None:
            del result["patience_s"]
        return result

    return {
        "name": scenario.name, "interval_minutes": scenario.interval_minutes,
        "volume_multiplier": scenario.volume_multiplier, "abandon_cap": scenario.abandon_cap,
        "operator_cost_per_hour": scenario.operator_cost_per_hour,
        "bot_cost_per_contact": scenario.bot_cost_per_contact, "warmup_s": scenario.warmup_s,
        "currency": scenario.currency,
        "pools": [pool_dict(p) for p in scenario.pools],
        "channels": [channel_dict(c) for c in scenario.channels],
    }
