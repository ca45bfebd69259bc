"""What to generate (DemoConfig), the random streams, the daily calendar plan and the roster."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from data_access.argtypes import MAX_DAY, MIN_DAY
from data_access.config import local_now, local_today
from data_access.dates import month_end, month_starts
from data_access.demo.calibration import (
    DEFAULT_SEED,
    DIGITAL_OPERATORS,
    FIRST_NAMES,
    FRONT_LINE_OPERATORS,
    LAST_NAMES,
    ONLINE_CHANNEL_SHARES,
    REGION_WEIGHTS,
    STORY_DAYS,
    WEEKDAY_WEIGHTS_OFFICE,
    WEEKDAY_WEIGHTS_ONLINE,
)
from data_access.demo.story import (
    MONTHS,
    STORY_END,
    e_otinish_in_month,
    story_month_index,
)
from data_access.holidays import holiday_dates
from data_access.reference import REGIONS

SUNDAY = 6


def day_kinds(days: np.ndarray) -> np.ndarray:
    """0..6 from Monday; a public holiday counts as a Sunday (demand and offices alike)."""
    kinds = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday
    if days.size:
        first, last = days.min().astype(dt.date), days.max().astype(dt.date)
        off = np.array(sorted(holiday_dates(first, last)), dtype="datetime64[D]")
        kinds[np.isin(days, off)] = SUNDAY
    return kinds


class DemoError(RuntimeError):
    """A demo request that cannot be carried out, with a message naming the reason."""


@dataclass(frozen=True)
class DemoConfig:
    """What to generate. The story ends on `end`; `start` defaults to 19 months before it."""

    start: dt.date
    end: dt.date
    scale: float = 1.0
    seed: int = DEFAULT_SEED
    cutoff: dt.datetime | None = None  # nothing is stamped at or after it; default: now/end
    # Operators on the roster relative to the reference's (default: `scale`). A benchmark
    # that grows the rows but not the segments a page ranks sets it apart from `scale`.
    roster_scale: float | None = None

    @classmethod
    def ending(cls, end: dt.date | None = None, start: dt.date | None = None,
               scale: float = 1.0, seed: int = DEFAULT_SEED) -> DemoConfig:
        end = end or local_today()
        start = start or end - dt.timedelta(days=STORY_DAYS)
        return cls(start=start, end=end, scale=scale, seed=seed)

    def problems(self) -> list[str]:
        found = []
        if self.end < self.start:
            found.append(f"end {self.end} is before start {self.start}")
        if (self.end - self.start).days > 3660:
            found.append(f"start {self.start} .. end {self.end} spans more than 10 years")
        if not 0 < self.scale <= 50:
            found.append(f"scale {self.scale} must be > 0 and <= 50")
        if self.roster_scale is not None and not 0 < self.roster_scale <= 50:
            found.append(f"roster_scale {self.roster_scale} must be > 0 and <= 50")
        if self.seed < 0:
            found.append(f"seed {self.seed} must be >= 0")
        for name, day in (("start", self.start), ("end", self.end)):
            if not MIN_DAY <= day <= MAX_DAY:
                found.append(f"{name} {day} must be within {MIN_DAY}..{MAX_DAY}")
        return found

    @property
    def offset(self) -> dt.timedelta:
        return self.end - STORY_END

    def effective_cutoff(self) -> dt.datetime:
        if self.cutoff is not None:
            return self.cutoff
        end_of_range = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())
        now = local_now()
        return min(end_of_range, now)


class Streams:
    """One Generator per purpose and month, so streams never share numbers by accident."""

    PURPOSES = ("calendar", "operators", "contacts", "waits", "surveys", "ratings", "cases",
                "queue")

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def rng(self, purpose: str, *key: int) -> np.random.Generator:
        sequence = np.random.SeedSequence(
            entropy=self.seed, spawn_key=(self.PURPOSES.index(purpose), *key)
        )
        return np.random.default_rng(sequence)


def lognormal(rng: np.random.Generator, mean: float | np.ndarray, cv: float, size: int
               ) -> np.ndarray:
    sigma2 = np.log1p(cv * cv)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size)


def _days(start: dt.date, end: dt.date) -> np.ndarray:
    return np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)


def _allocate_by_story_month(
    config: DemoConfig, days: np.ndarray, weekday_weights: tuple[float, ...],
    monthly_target: Callable[[int], float], rng: np.random.Generator,
) -> np.ndarray:
    """Daily counts: each story month's target split over its days by weekday weight.

    A public holiday (data_access.holidays) takes Sunday's weight: offices are closed, chats
    are quiet, and the month's other days take up its share, so monthly figures stay. Exact
    multinomial totals keep the monthly figures on target at every scale.
    """
    offset = np.timedelta64(config.offset.days, "D")
    story = days - offset
    weights = np.asarray(weekday_weights)[day_kinds(days)]
    story_months = story.astype("datetime64[M]")
    counts = np.zeros(days.size, dtype=np.int64)
    for story_month in np.unique(story_months):
        covered = story_months == story_month
        all_days = np.arange(story_month.astype("datetime64[D]"),
                             (story_month + 1).astype("datetime64[D]"))
        all_weights = np.asarray(weekday_weights)[day_kinds(all_days + offset)]
        month_date = story_month.astype(dt.date)
        expected = monthly_target(story_month_index(month_date)) * config.scale
        share = weights[covered].sum() / all_weights.sum()
        total = round(expected * share)
        if total and weights[covered].sum() > 0:
            counts[covered] = rng.multinomial(total, weights[covered] / weights[covered].sum())
    return counts


@dataclass
class Plan:
    days: np.ndarray
    month_index: np.ndarray  # story month index per day
    office: np.ndarray
    online: dict[str, np.ndarray]
    complaints: np.ndarray
    appeals: np.ndarray
    e_otinish: np.ndarray


def build_plan(config: DemoConfig, streams: Streams) -> Plan:
    days = _days(config.start, config.end)
    rng = streams.rng("calendar")
    story = (days - np.timedelta64(config.offset.days, "D")).astype(dt.date)
    month_index = np.array([story_month_index(d) for d in story], dtype=np.int64)

    office = _allocate_by_story_month(config, days, WEEKDAY_WEIGHTS_OFFICE,
                                      lambda i: MONTHS[i].offline, rng)
    online_total = _allocate_by_story_month(config, days, WEEKDAY_WEIGHTS_ONLINE,
                                            lambda i: MONTHS[i].online, rng)
    progress = np.array([MONTHS[i].progress for i in month_index])
    shares = np.stack([begin + (end - begin) * progress
                       for begin, end in ONLINE_CHANNEL_SHARES.values()], axis=1)
    shares /= shares.sum(axis=1, keepdims=True)
    split = np.array([rng.multinomial(n, p) for n, p in zip(online_total, shares, strict=True)])
    online = {code: split[:, i] for i, code in enumerate(ONLINE_CHANNEL_SHARES)}

    complaints = _allocate_by_story_month(config, days, WEEKDAY_WEIGHTS_ONLINE,
                                          lambda i: MONTHS[i].complaints, rng)
    appeals = _allocate_by_story_month(config, days, WEEKDAY_WEIGHTS_ONLINE,
                                       lambda i: MONTHS[i].appeals, rng)
    # Its own stream: the daily draws above do not move the few e-Otinish appeals around.
    e_otinish = _allocate_e_otinish(config, days, streams.rng("calendar", 2))
    return Plan(days, month_index, office, online, complaints, appeals, e_otinish)


def _allocate_e_otinish(config: DemoConfig, days: np.ndarray, rng: np.random.Generator
                        ) -> np.ndarray:
    """e-Otinish counts are small, so scale them with largest remainders to keep the total exact."""
    story = (days - np.timedelta64(config.offset.days, "D")).astype(dt.date)
    story_months = sorted({(d.year, d.month) for d in story})
    counts = np.zeros(days.size, dtype=np.int64)
    expected = []
    for year, month in story_months:
        first = dt.date(year, month, 1)
        in_month = np.array([(d.year, d.month) == (year, month) for d in story])
        days_in_month = month_end(first).day
        expected.append(e_otinish_in_month(first) * config.scale * in_month.sum() / days_in_month)
    totals = np.floor(expected).astype(np.int64)
    remainder = round(sum(expected)) - int(totals.sum())
    if remainder > 0:
        totals[np.argsort(-(np.asarray(expected) - totals), kind="stable")[:remainder]] += 1
    for (year, month), total in zip(story_months, totals, strict=True):
        in_month = np.flatnonzero([(d.year, d.month) == (year, month) for d in story])
        if total:
            counts[in_month] += rng.multinomial(total, np.full(in_month.size, 1 / in_month.size))
    return counts


def build_operators(config: DemoConfig, streams: Streams) -> pl.DataFrame:
    """A roster with hires and leavers at month boundaries; every region always has someone."""
    rng = streams.rng("operators")
    months = month_starts(config.start, config.end)
    codes = list(REGION_WEIGHTS)
    weights = np.array(list(REGION_WEIGHTS.values()))
    roster = config.scale if config.roster_scale is None else config.roster_scale
    front_line = max(2 * len(codes), round(FRONT_LINE_OPERATORS * roster))
    per_region = np.maximum(2, np.floor(weights / weights.sum() * front_line)).astype(int)
    region_ids = {r.code: r.id for r in REGIONS}
    rows = []
    for code, count in zip(codes, per_region, strict=True):
        rows += [("front_line", region_ids[code], i == 0) for i in range(count)]
    digital = max(6, round(DIGITAL_OPERATORS * roster))
    hubs = [region_ids["almaty_city"], region_ids["astana"], region_ids["karaganda"]]
    rows += [("digital", hubs[i % 3], i < 3) for i in range(digital)]

    records = []
    for number, (team, region_id, permanent) in enumerate(rows, start=1):
        hired_before = permanent or rng.random() < 0.7
        if hired_before:
            active_from = months[0] - dt.timedelta(days=int(rng.integers(30, 1500)))
            active_from = active_from.replace(day=1)
        else:
            active_from = months[int(rng.integers(0, len(months)))]
        active_to = None
        if not permanent and rng.random() < 0.18:
            leave_month = months[int(rng.integers(0, len(months)))]
            if leave_month >= active_from:
                active_to = month_end(leave_month)
        name = f"{FIRST_NAMES[rng.integers(len(FIRST_NAMES))]} " \
               f"{LAST_NAMES[rng.integers(len(LAST_NAMES))]}"
        records.append((number, f"OP{number:05d}", name, team, region_id, active_from, active_to))
    return pl.DataFrame(
        records,
        schema={"id": pl.Int64, "external_id": pl.String, "name": pl.String, "team": pl.String,
                "region_id": pl.Int64, "active_from": pl.Date, "active_to": pl.Date},
        orient="row",
    )
