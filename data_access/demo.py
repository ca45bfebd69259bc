"""Deterministic demo data that tells the story of shared/domain.md.

Scenario: a national telecom operator serves subscribers in offices (offline) and through
WhatsApp, Telegram, the TELECOM.KZ web cabinet and the mobile app (online, 24/7). Every contact
gets an NPS survey; some are answered. The score falls with the wait, so the 2022 rise of NPS
comes partly from shorter waits as online channels, bots and self-service grow. Complaints and
appeals fall; e-Otinish appeals start in February 2022.

The story runs 2021-01-01..2022-07-31 and is shifted so that it ends on `end` (default today).
Units: seconds for waits and handle times, hours for case stage durations.

The bot → human path (issue 13): on WhatsApp and Telegram the bot answers a chat first and
finishes `bot_share` of all chats (8% → 14% → 30%, story.py). Of the chats it answers it
finishes `bot_containment` (57% in January 2021, 60% by December 2021, 63% by July 2022), so
for every chat it finishes (1 − c) / c ≈ 0.75 → 0.59 more are handed to a person: those are
operator-served contacts with `bot_s`, the time spent with the bot first, 15 s plus an
exponential of mean 90 s (mean 105 s). They are drawn from the operator-served chats, so the
served counts per channel do not change; their `wait_s` is the wait for the person after the
handover, and the contact (its survey, its rating) ends bot_s + wait_s + handle_s after it
started. No extra score penalty for a handover: the wait carries the score model as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sqlalchemy import (
    Connection,
    Engine,
    ForeignKeyConstraint,
    Index,
    delete,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.schema import AddConstraint, DropConstraint

from data_access import rollups
from data_access.argtypes import MAX_DAY, MIN_DAY
from data_access.bulk import advance_sequences, bulk_insert
from data_access.config import local_now, local_today
from data_access.dates import month_end, month_starts
from data_access.reference import CHANNEL_BY_CODE, REGIONS, SERVICE_TYPES, seed_reference
from data_access.rollups import ensure_schema
from data_access.schema import (
    AgentRating,
    Case,
    CaseEvent,
    Contact,
    DemoLoad,
    NpsSurvey,
    Operator,
)
from data_access.story import MONTHS, STORY_END, STORY_START, e_otinish_in_month, story_month_index

DEFAULT_SEED = 20220731
STORY_DAYS = (STORY_END - STORY_START).days
ProgressCallback = Callable[[float, str], None]

# --- Unpublished distributions, chosen to be plausible (documented in the README) -------------
# Region weights of subscribers: Almaty and Astana are the biggest.
REGION_WEIGHTS = {
    "almaty_city": 0.145, "astana": 0.105, "shymkent": 0.060, "abai": 0.032, "akmola": 0.040,
    "aktobe": 0.045, "almaty_region": 0.062, "atyrau": 0.035, "east_kazakhstan": 0.045,
    "jambyl": 0.040, "jetisu": 0.030, "karaganda": 0.068, "kostanay": 0.045, "kyzylorda": 0.032,
    "mangystau": 0.038, "north_kazakhstan": 0.030, "pavlodar": 0.043, "turkistan": 0.055,
    "ulytau": 0.012, "west_kazakhstan": 0.038,
}
ONLINE_CHANNEL_SHARES = {  # at the start and at the end of the story
    "whatsapp": (0.30, 0.27), "telegram": (0.10, 0.13),
    "web_cabinet": (0.38, 0.30), "mobile_app": (0.22, 0.30),
}
WEEKDAY_WEIGHTS_ONLINE = (1.12, 1.06, 1.03, 1.00, 0.97, 0.85, 0.75)  # Monday first
WEEKDAY_WEIGHTS_OFFICE = (1.15, 1.10, 1.05, 1.05, 1.00, 0.55, 0.0)  # offices closed on Sunday
HOURLY_OFFICE = np.array([0] * 9 + [0.8, 1.2, 1.3, 1.1, 0.9, 1.1, 1.2, 1.1, 0.8] + [0] * 6, float)
HOURLY_OFFICE_SATURDAY = np.array([0] * 10 + [1.0, 1.2, 1.2, 1.0, 0.8] + [0] * 9, float)
HOURLY_CHAT = np.array([0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.30, 0.60, 0.90, 1.20, 1.40, 1.40,
                        1.30, 1.30, 1.30, 1.30, 1.30, 1.30, 1.40, 1.50, 1.50, 1.30, 0.90, 0.50])
HOURLY_SELF_SERVICE = np.array([0.30, 0.20, 0.12, 0.10, 0.10, 0.15, 0.35, 0.70, 1.00, 1.10, 1.20,
                                1.20, 1.30, 1.20, 1.10, 1.10, 1.20, 1.30, 1.50, 1.70, 1.80, 1.60,
                                1.10, 0.60])
BASE_WAIT_S = {"office": 600.0, "whatsapp": 200.0, "telegram": 190.0, "web_cabinet": 300.0,
               "mobile_app": 280.0}
ZERO_WAIT_SHARE = 0.15
BOT_HANDOVER_S = (15.0, 90.0)  # escalated chats' bot time: this floor + an exponential mean
MAX_WAIT_S = 4 * 3600
HANDLE_S = {  # (mean seconds, coefficient of variation), lognormal
    ("office", "operator"): (720, 0.6), ("chat", "operator"): (540, 0.8),
    ("web", "operator"): (420, 0.8), ("chat", "bot"): (150, 0.6), ("web", "bot"): (150, 0.6),
    ("web", "self_service"): (180, 0.9),
}
SERVICE_MIX = {  # service type shares in SERVICE_TYPES order
    "office": (0.20, 0.08, 0.08, 0.14, 0.10, 0.40),
    "online_operator": (0.16, 0.04, 0.06, 0.16, 0.08, 0.50),
    "bot": (0.10, 0.0, 0.0, 0.15, 0.0, 0.75),
    "self_service": (0.30, 0.0, 0.0, 0.25, 0.0, 0.45),
}
ANSWER_RATE = {"office": 0.24, "whatsapp": 0.31, "telegram": 0.29, "web_cabinet": 0.20,
               "mobile_app": 0.26}
# Score model: latent z = mu_month - WAIT_EFFECT * ln(1 + wait_min) - served_by_penalty + logistic
# noise; detractor if z < 0, promoter if z > PROMOTER_GAP. mu is solved per month for the target.
WAIT_EFFECT = 0.45
PROMOTER_GAP = 1.7
SERVED_BY_PENALTY = {"operator": 0.0, "bot": 0.25, "self_service": 0.05}
DETRACTOR_SCORES = (0.12, 0.04, 0.05, 0.07, 0.10, 0.22, 0.40)  # P(score = 0..6 | detractor)
DETRACTOR_REASONS = ("long_wait", "problem_not_solved", "operator_competence",
                     "operator_politeness", "price_tariff", "technical_quality", "other")
OTHER_REASON_WEIGHTS = (0.30, 0.14, 0.08, 0.18, 0.20, 0.10)
SUGGESTIONS = (
    "Please add more operators in the evening, I waited too long.",
    "The chat bot should hand over to a person sooner.",
    "Let me change the tariff in the app without visiting an office.",
    "The office queue ticket system does not show the real waiting time.",
    "Call back when the technician is on the way.",
    "Explain the bill in plain words, the charges are confusing.",
    "Open the office on Sundays.",
    "The operator was polite but could not solve my problem.",
    "Internet drops every evening, please fix the line instead of apologising.",
    "Re-registration took three visits, make it possible online.",
    "Send an SMS when my request changes status.",
    "Reduce the price of the home internet package.",
)
SUGGESTION_RATE_DETRACTOR = 0.25
SUGGESTION_RATE_OTHERS = 0.03
RATING_RESPONSE_RATE = 0.38
BACK_OFFICE_MONTH_SHARE = 0.05  # front-line operator-months spent off the rated services
FRONT_LINE_OPERATORS = 260
DIGITAL_OPERATORS = 90
SUBSCRIBERS = 900_000
COMPLAINT_CATEGORIES = ("Long waiting time", "Operator behaviour", "Billing error",
                        "Service not working after repair", "Installation delay",
                        "Wrong information given")
COMPLAINT_CATEGORY_WEIGHTS = (0.24, 0.12, 0.22, 0.18, 0.14, 0.10)
APPEAL_CATEGORIES = ("No internet connection", "Low internet speed", "TV service fault",
                     "Landline fault", "Billing question", "Equipment replacement",
                     "Line damage", "Contract documents")
APPEAL_CATEGORY_WEIGHTS = (0.24, 0.18, 0.10, 0.08, 0.14, 0.10, 0.08, 0.08)
CASE_CHANNEL_SHARES = {
    "complaint": {"office": 0.35, "whatsapp": 0.20, "telegram": 0.08, "web_cabinet": 0.20,
                  "mobile_app": 0.17},
    "appeal": {"office": 0.30, "whatsapp": 0.20, "telegram": 0.07, "web_cabinet": 0.23,
               "mobile_app": 0.20},
}
RESOLUTION_DAYS = {"complaint": (4.0, 2.5), "appeal": (5.5, 3.0), "e_otinish": (6.0, 6.0)}
WITHDRAW_SHARE = {"complaint": 0.03, "appeal": 0.04, "e_otinish": 0.08}
FIRST_NAMES = ("Aigerim", "Dana", "Aruzhan", "Madina", "Aliya", "Zhanna", "Gulnara", "Saule",
               "Askar", "Nurlan", "Yerlan", "Daniyar", "Arman", "Bauyrzhan", "Timur", "Olga",
               "Irina", "Sergey", "Dmitry", "Aizhan", "Kairat", "Marat", "Asel", "Dinara")
LAST_NAMES = ("Abenov", "Zhaksylykov", "Nurpeisov", "Seitkali", "Omarov", "Tulegenov",
              "Kassymov", "Ivanov", "Petrov", "Akhmetov", "Bekov", "Sadykov", "Mukanov",
              "Iskakov", "Zhumabayev", "Serikbayev")


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


@dataclass
class DemoSummary:
    contacts: int = 0
    surveys: int = 0
    responses: int = 0
    ratings: int = 0
    operators: int = 0
    cases: int = 0
    case_events: int = 0
    seconds: float = 0.0
    months: list[str] = field(default_factory=list)

    def add(self, batch: _MonthBatch, cases: pl.DataFrame, events: pl.DataFrame) -> None:
        self.contacts += batch.contacts.height
        self.surveys += batch.surveys.height
        self.responses += int(batch.surveys["answered"].sum())
        self.ratings += batch.ratings.height
        self.cases += cases.height
        self.case_events += events.height if cases.height else 0


class _Streams:
    """One Generator per purpose and month, so streams never share numbers by accident."""

    PURPOSES = ("calendar", "operators", "contacts", "waits", "surveys", "ratings", "cases")

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def rng(self, purpose: str, *key: int) -> np.random.Generator:
        sequence = np.random.SeedSequence(
            entropy=self.seed, spawn_key=(self.PURPOSES.index(purpose), *key)
        )
        return np.random.default_rng(sequence)


def _logistic(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def _lognormal(rng: np.random.Generator, mean: float | np.ndarray, cv: float, size: int
               ) -> np.ndarray:
    sigma2 = np.log1p(cv * cv)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size)


def solve_month_level(penalty: np.ndarray, target_nps: float) -> float:
    """The latent mean that makes the expected NPS of these answered surveys equal the target."""
    if penalty.size == 0:
        return 0.0
    low, high = -8.0, 12.0
    for _ in range(50):
        mid = (low + high) / 2
        promoters = _logistic(mid - penalty - PROMOTER_GAP)
        detractors = 1 - _logistic(mid - penalty)
        if 100 * float(np.mean(promoters - detractors)) < target_nps:
            low = mid
        else:
            high = mid
    return (low + high) / 2


# --- Calendar plan -------------------------------------------------------------------------

def _days(start: dt.date, end: dt.date) -> np.ndarray:
    return np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)


def _allocate_by_story_month(
    config: DemoConfig, days: np.ndarray, weekday_weights: tuple[float, ...],
    monthly_target: Callable[[int], float], rng: np.random.Generator,
) -> np.ndarray:
    """Daily counts: each story month's target split over its days by weekday weight.

    Exact multinomial totals keep the monthly figures on target at every scale.
    """
    offset = np.timedelta64(config.offset.days, "D")
    story = days - offset
    weights = np.asarray(weekday_weights)[(days.astype("int64") + 3) % 7]  # 1970-01-01 = Thu
    story_months = story.astype("datetime64[M]")
    counts = np.zeros(days.size, dtype=np.int64)
    for story_month in np.unique(story_months):
        covered = story_months == story_month
        all_days = np.arange(story_month.astype("datetime64[D]"),
                             (story_month + 1).astype("datetime64[D]"))
        all_weights = np.asarray(weekday_weights)[((all_days + offset).astype("int64") + 3) % 7]
        month_date = story_month.astype(dt.date)
        expected = monthly_target(story_month_index(month_date)) * config.scale
        share = weights[covered].sum() / all_weights.sum()
        total = round(expected * share)
        if total and weights[covered].sum() > 0:
            counts[covered] = rng.multinomial(total, weights[covered] / weights[covered].sum())
    return counts


@dataclass
class _Plan:
    days: np.ndarray
    month_index: np.ndarray  # story month index per day
    office: np.ndarray
    online: dict[str, np.ndarray]
    complaints: np.ndarray
    appeals: np.ndarray
    e_otinish: np.ndarray


def build_plan(config: DemoConfig, streams: _Streams) -> _Plan:
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
    e_otinish = _allocate_e_otinish(config, days, rng)
    return _Plan(days, month_index, office, online, complaints, appeals, e_otinish)


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


# --- Operators -------------------------------------------------------------------------------

def build_operators(config: DemoConfig, streams: _Streams) -> pl.DataFrame:
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


# --- Contacts, surveys and ratings for one calendar month -----------------------------------

@dataclass
class _MonthBatch:
    contacts: pl.DataFrame
    surveys: pl.DataFrame
    ratings: pl.DataFrame


def _hours(rng: np.random.Generator, profile: np.ndarray, size: int) -> np.ndarray:
    return rng.choice(24, size=size, p=profile / profile.sum())


def _channel_group(code: str) -> str:
    return {"office": "office", "whatsapp": "chat", "telegram": "chat"}.get(code, "web")


def _hourly_profile(code: str) -> np.ndarray:
    """Relative volume by hour of a weekday: offices keep opening hours, chats run late."""
    if code == "office":
        return HOURLY_OFFICE
    return HOURLY_CHAT if _channel_group(code) == "chat" else HOURLY_SELF_SERVICE


def _contact_skeleton(plan: _Plan, in_month: np.ndarray, rng: np.random.Generator
                      ) -> dict[str, np.ndarray]:
    """Start times and channels for every contact of the month, before who served them."""
    parts = {"day": [], "hour": [], "channel": []}
    days = plan.days[in_month]
    weekday = (days.astype("int64") + 3) % 7
    counts_by_channel = {"office": plan.office[in_month]} | {
        code: counts[in_month] for code, counts in plan.online.items()
    }
    for code, counts in counts_by_channel.items():
        day_index = np.repeat(np.arange(days.size), counts)
        hours = np.empty(day_index.size, dtype=np.int64)
        if code == "office":
            saturday = weekday[day_index] == 5
            hours[~saturday] = _hours(rng, HOURLY_OFFICE, int((~saturday).sum()))
            hours[saturday] = _hours(rng, HOURLY_OFFICE_SATURDAY, int(saturday.sum()))
        else:
            hours[:] = _hours(rng, _hourly_profile(code), day_index.size)
        parts["day"].append(day_index)
        parts["hour"].append(hours)
        parts["channel"].append(np.full(day_index.size, CHANNEL_BY_CODE[code].id))
    skeleton = {key: np.concatenate(value) for key, value in parts.items()}
    seconds = skeleton["hour"] * 3600 + rng.integers(0, 3600, skeleton["hour"].size)
    started = days[skeleton["day"]].astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    order = np.argsort(started, kind="stable")
    skeleton = {key: value[order] for key, value in skeleton.items()}
    skeleton["started"] = started[order]
    skeleton["weekday"] = weekday[skeleton["day"]]
    skeleton["month_index"] = plan.month_index[in_month][skeleton["day"]]
    return skeleton


def _served_by(skeleton: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    channel = skeleton["channel"]
    months = skeleton["month_index"]
    bot_share = np.array([m.bot_share for m in MONTHS])[months]
    self_share = np.array([m.self_service_share for m in MONTHS])[months]
    draw = rng.random(channel.size)
    chat = np.isin(channel, [CHANNEL_BY_CODE["whatsapp"].id, CHANNEL_BY_CODE["telegram"].id])
    web = np.isin(channel, [CHANNEL_BY_CODE["web_cabinet"].id, CHANNEL_BY_CODE["mobile_app"].id])
    served = np.full(channel.size, "operator", dtype=object)
    served[chat & (draw < bot_share)] = "bot"
    served[web & (draw < self_share)] = "self_service"
    return served


def _escalated(skeleton: dict[str, np.ndarray], served: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """Which operator-served chats started in the bot, and their bot time (0 elsewhere).

    The bot finishes `bot_share` of the chats (served_by = 'bot'); for a containment c it
    handed over (1 − c) / c as many, drawn from the operator-served chats.
    """
    months = skeleton["month_index"]
    finished = np.array([m.bot_share for m in MONTHS])[months]
    containment = np.array([m.bot_containment for m in MONTHS])[months]
    handed_over = finished * (1 - containment) / containment  # share of all chats
    chat = np.isin(skeleton["channel"],
                   [CHANNEL_BY_CODE["whatsapp"].id, CHANNEL_BY_CODE["telegram"].id])
    draw = rng.random(served.size)
    escalated = chat & (served == "operator") & (draw < handed_over / (1 - finished))
    floor, mean = BOT_HANDOVER_S
    seconds = np.round(floor + rng.exponential(mean, served.size)).astype(np.int64)
    return escalated, np.where(escalated, seconds, 0)


def _service_types(served: np.ndarray, office: np.ndarray, rng: np.random.Generator
                   ) -> np.ndarray:
    result = np.empty(served.size, dtype=np.int64)
    ids = np.array([s.id for s in SERVICE_TYPES])
    groups = {
        "office": office,
        "online_operator": (served == "operator") & ~office,
        "bot": served == "bot",
        "self_service": served == "self_service",
    }
    for name, mask in groups.items():
        mix = np.asarray(SERVICE_MIX[name])
        result[mask] = rng.choice(ids, size=int(mask.sum()), p=mix / mix.sum())
    return result


def _waits(skeleton: dict[str, np.ndarray], served: np.ndarray, rng: np.random.Generator
           ) -> np.ndarray:
    """Operator-served contacts queue; busier hours and weekdays queue longer."""
    channel, hours = skeleton["channel"], skeleton["hour"]
    level = np.array([m.wait_level for m in MONTHS])[skeleton["month_index"]]
    base = np.zeros(channel.size)
    congestion = np.ones(channel.size)
    for code, mean in BASE_WAIT_S.items():
        mask = channel == CHANNEL_BY_CODE[code].id
        base[mask] = mean
        profile = _hourly_profile(code)
        congestion[mask] = 0.4 + 0.8 * profile[hours[mask]] / profile.max()
    weekday_factor = np.asarray(WEEKDAY_WEIGHTS_ONLINE)[skeleton["weekday"]] / np.mean(
        WEEKDAY_WEIGHTS_ONLINE)
    mean = base * level * congestion * weekday_factor / (1 - ZERO_WAIT_SHARE)
    wait = rng.exponential(1.0, channel.size) * mean
    wait[rng.random(channel.size) < ZERO_WAIT_SHARE] = 0
    wait[served != "operator"] = 0
    return np.minimum(np.round(wait), MAX_WAIT_S).astype(np.int64)


def _handle_times(channel: np.ndarray, served: np.ndarray, rng: np.random.Generator
                  ) -> np.ndarray:
    handle = np.zeros(channel.size)
    groups = np.array([_channel_group(c.code) for c in sorted(CHANNEL_BY_CODE.values(),
                                                             key=lambda c: c.id)])
    channel_group = groups[channel - 1]
    for (group, who), (mean, cv) in HANDLE_S.items():
        mask = (channel_group == group) & (served == who)
        handle[mask] = _lognormal(rng, mean, cv, int(mask.sum()))
    return np.maximum(np.round(handle), 20).astype(np.int64)


def _assign_operators(
    operators: pl.DataFrame, month_start: dt.date, last_day: dt.date, region: np.ndarray,
    office: np.ndarray, online_operator: np.ndarray, rated_service: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Office contacts go to that region's front line; chats to the digital team."""
    active = operators.filter(
        (pl.col("active_from") <= last_day)
        & (pl.col("active_to").is_null() | (pl.col("active_to") >= month_start))
    )
    assigned = np.zeros(region.size, dtype=np.int64)
    back_office = rng.random(active.height) < BACK_OFFICE_MONTH_SHARE
    active = active.with_columns(back_office=pl.Series(back_office))
    front = active.filter(pl.col("team") == "front_line")
    for region_id in np.unique(region[office]):
        staff = front.filter(pl.col("region_id") == region_id)
        if staff.is_empty():
            staff = front
        everyone = staff["id"].to_numpy()
        rated_staff = staff.filter(~pl.col("back_office"))["id"].to_numpy()
        if rated_staff.size == 0:
            rated_staff = everyone
        mask = office & (region == region_id)
        rated = mask & rated_service
        assigned[rated] = rng.choice(rated_staff, size=int(rated.sum()))
        other = mask & ~rated_service
        assigned[other] = rng.choice(everyone, size=int(other.sum()))
    digital = active.filter(pl.col("team") == "digital")["id"].to_numpy()
    assigned[online_operator] = rng.choice(digital, size=int(online_operator.sum()))
    return assigned


def _answer_rates(channel: np.ndarray) -> np.ndarray:
    """The chance that a contact's survey is answered, by its channel id."""
    answer_rate = np.zeros(channel.size)
    for code, rate in ANSWER_RATE.items():
        answer_rate[channel == CHANNEL_BY_CODE[code].id] = rate
    return answer_rate


def _survey_penalty(wait: np.ndarray, served: np.ndarray) -> np.ndarray:
    """What a wait and a non-human server take off the latent score (the story's NPS lever)."""
    penalty = WAIT_EFFECT * np.log1p(wait / 60.0)
    for who, extra in SERVED_BY_PENALTY.items():
        penalty[served == who] += extra
    return penalty


def _surveys(contact_ids: np.ndarray, skeleton: dict[str, np.ndarray], served: np.ndarray,
             wait: np.ndarray, handle: np.ndarray, cutoff: np.datetime64,
             rng: np.random.Generator, level: float | None = None,
             bot: np.ndarray | None = None) -> pl.DataFrame:
    """Survey rows, sent as each contact ends (after `bot` seconds in the bot, if any, the
    wait and the handling); `level` fixes the latent mean (a live feed's few contacts cannot
    solve it)."""
    channel = skeleton["channel"]
    spent = wait + handle if bot is None else bot + wait + handle
    sent = skeleton["started"] + spent.astype("timedelta64[s]")
    answer_rate = _answer_rates(channel)
    answered_at = sent + _lognormal(rng, 50 * 60, 1.2, channel.size).astype("timedelta64[s]")
    answered = (rng.random(channel.size) < answer_rate) & (answered_at < cutoff)

    penalty = _survey_penalty(wait, served)
    levels = np.zeros(channel.size)
    if level is not None:
        levels[:] = level
    else:
        for month_index in np.unique(skeleton["month_index"]):
            in_month = skeleton["month_index"] == month_index
            levels[in_month] = solve_month_level(penalty[in_month & answered],
                                                 MONTHS[month_index].nps_target)
    uniform = rng.random(channel.size).clip(1e-12, 1 - 1e-12)
    latent = levels - penalty + np.log(uniform / (1 - uniform))
    detractor, promoter = latent < 0, latent > PROMOTER_GAP
    score = np.where(
        detractor, rng.choice(7, size=channel.size, p=DETRACTOR_SCORES),
        np.where(promoter, 9 + (rng.random(channel.size) < 0.65),
                 7 + (rng.random(channel.size) < 0.55)),
    )
    wait_reason = rng.random(channel.size) < _logistic(-2.2 + 1.1 * np.log1p(wait / 60.0))
    other_reason = rng.choice(len(OTHER_REASON_WEIGHTS), size=channel.size,
                              p=np.asarray(OTHER_REASON_WEIGHTS) / sum(OTHER_REASON_WEIGHTS))
    reason_codes = np.asarray(DETRACTOR_REASONS, dtype=object)
    reason = np.where(wait_reason & (wait > 0), reason_codes[0], reason_codes[1 + other_reason])
    suggests = rng.random(channel.size) < np.where(detractor, SUGGESTION_RATE_DETRACTOR,
                                                   SUGGESTION_RATE_OTHERS)
    suggestion = np.asarray(SUGGESTIONS, dtype=object)[rng.integers(0, len(SUGGESTIONS),
                                                                    channel.size)]
    return pl.DataFrame({
        "contact_id": contact_ids,
        "sent_at": _us(sent),
        "answered": answered,
        "score": pl.Series(score).cast(pl.Int16),
        "reason": pl.Series(reason, dtype=pl.String),
        "suggestion": pl.Series(suggestion, dtype=pl.String),
        "answered_at": _us(answered_at),
        "detractor": detractor,
        "suggests": suggests,
    }).with_columns(
        score=pl.when("answered").then("score"),
        reason=pl.when(pl.col("answered") & pl.col("detractor")).then("reason"),
        suggestion=pl.when(pl.col("answered") & pl.col("suggests")).then("suggestion"),
        answered_at=pl.when("answered").then("answered_at"),
    ).drop("detractor", "suggests")


def _us(values: np.ndarray) -> np.ndarray:
    """Polars takes microsecond datetimes, not seconds."""
    return values.astype("datetime64[us]")


def _prefixed_ids(prefix: str, ids: pl.Expr) -> pl.Expr:
    return pl.format(prefix + "{}", ids.cast(pl.String).str.zfill(10))


def _operator_skill(operator_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each operator's mean rating, indexed by operator id (index 0: no operator)."""
    skill = np.zeros(int(operator_ids.max()) + 1)
    skill[operator_ids] = rng.normal(4.35, 0.25, operator_ids.size)
    return skill


def _ratings(contact_ids: np.ndarray, operator: np.ndarray, rated_service: np.ndarray,
             end_times: np.ndarray, wait: np.ndarray, skill: np.ndarray, cutoff: np.datetime64,
             rng: np.random.Generator) -> pl.DataFrame:
    rated_at = end_times + _lognormal(rng, 30 * 60, 1.0, end_times.size).astype(
        "timedelta64[s]")
    responds = (operator > 0) & rated_service & (rng.random(end_times.size)
                                                 < RATING_RESPONSE_RATE) & (rated_at < cutoff)
    raw = skill[operator] + rng.normal(0, 0.7, end_times.size) - 0.15 * np.log1p(wait / 60.0)
    score = np.clip(np.round(raw), 1, 5).astype(np.int16)
    chosen = np.flatnonzero(responds)
    return pl.DataFrame({
        "operator_id": operator[chosen],
        "contact_id": contact_ids[chosen],
        "score": score[chosen],
        "rated_at": _us(rated_at[chosen]),
    }).with_columns(external_id=_prefixed_ids("AR", pl.col("contact_id")))


def build_month(
    config: DemoConfig, plan: _Plan, operators: pl.DataFrame, subscriber_keys: pl.Series,
    streams: _Streams, month_start: dt.date, first_contact_id: int,
) -> _MonthBatch:
    last_day = month_end(month_start)
    in_month = (plan.days >= np.datetime64(month_start)) & (plan.days <= np.datetime64(last_day))
    key = month_start.year * 12 + month_start.month
    cutoff = np.datetime64(config.effective_cutoff(), "s")

    skeleton = _contact_skeleton(plan, in_month, streams.rng("contacts", key))
    keep = skeleton["started"] < cutoff
    skeleton = {name: values[keep] for name, values in skeleton.items()}
    size = skeleton["started"].size
    rng = streams.rng("contacts", key, 1)
    served = _served_by(skeleton, rng)
    office = skeleton["channel"] == CHANNEL_BY_CODE["office"].id
    service = _service_types(served, office, rng)
    region_ids = np.array([r.id for r in REGIONS])
    region_p = np.array([REGION_WEIGHTS[r.code] for r in REGIONS])
    region = rng.choice(region_ids, size=size, p=region_p / region_p.sum())
    rated_types = np.array([s.id for s in SERVICE_TYPES if s.triggers_agent_rating])
    rated_service = np.isin(service, rated_types)
    operator = _assign_operators(operators, month_start, last_day, region, office,
                                 (served == "operator") & ~office, rated_service, rng)
    wait = _waits(skeleton, served, streams.rng("waits", key))
    handle = _handle_times(skeleton["channel"], served, streams.rng("waits", key, 1))
    # A contact is recorded when it ends (its survey goes out then): none may end after cutoff.
    ended = skeleton["started"] + (wait + handle).astype("timedelta64[s]") < cutoff
    if not ended.all():
        skeleton = {name: values[ended] for name, values in skeleton.items()}
        served, office, service, region, rated_service, operator, wait, handle = (
            values[ended] for values in (served, office, service, region, rated_service,
                                         operator, wait, handle))
        size = int(ended.sum())
    # Chats the bot handed over; one still running at the cutoff stays a direct chat (rare).
    escalated, bot = _escalated(skeleton, served, streams.rng("contacts", key, 2))
    escalated &= skeleton["started"] + (bot + wait + handle).astype("timedelta64[s]") < cutoff
    bot[~escalated] = 0
    contact_ids = np.arange(first_contact_id, first_contact_id + size, dtype=np.int64)
    subscriber = rng.integers(0, subscriber_keys.len(), size)

    contacts = pl.DataFrame({
        "id": contact_ids,
        "started_at": _us(skeleton["started"]),
        "channel_id": skeleton["channel"],
        "region_id": region,
        "service_type_id": service,
        "served_by": pl.Series(served, dtype=pl.String),
        "operator_id": operator,
        "wait_s": wait,
        "handle_s": handle,
        "subscriber_key": subscriber_keys.gather(subscriber),
        "bot_s": bot,
    }).with_columns(
        external_id=_prefixed_ids("CT", pl.col("id")),
        operator_id=pl.when(pl.col("operator_id") > 0).then("operator_id"),
        bot_s=pl.when(pl.Series(escalated)).then("bot_s"),
    )
    surveys = _surveys(contact_ids, skeleton, served, wait, handle, cutoff,
                       streams.rng("surveys", key), bot=bot)
    skill = _operator_skill(operators["id"].to_numpy(), streams.rng("operators", 1))
    end_times = skeleton["started"] + (bot + wait + handle).astype("timedelta64[s]")
    ratings = _ratings(contact_ids, operator, rated_service, end_times, wait, skill, cutoff,
                       streams.rng("ratings", key))
    return _MonthBatch(contacts, surveys, ratings)


# --- Cases -------------------------------------------------------------------------------------

CASE_FLOW = ("received", "assigned", "under_review", "answer_prepared", "answered")


def build_cases(config: DemoConfig, plan: _Plan, month_start: dt.date, first_case_id: int,
                streams: _Streams) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Complaints and appeals received this month, with their stage history up to the cutoff."""
    last_day = month_end(month_start)
    in_month = (plan.days >= np.datetime64(month_start)) & (plan.days <= np.datetime64(last_day))
    rng = streams.rng("cases", month_start.year * 12 + month_start.month)
    cutoff = np.datetime64(config.effective_cutoff(), "s")
    days = plan.days[in_month]
    month_index = plan.month_index[in_month]

    kinds, channels, day_index = [], [], []
    for kind, counts in (("complaint", plan.complaints[in_month]),
                         ("appeal", plan.appeals[in_month])):
        index = np.repeat(np.arange(days.size), counts)
        if kind == "appeal":
            # e-Otinish appeals come on top of the planned appeals; their own total is exact.
            e_index = np.repeat(np.arange(days.size), plan.e_otinish[in_month])
            index = np.concatenate([index, e_index])
        shares = CASE_CHANNEL_SHARES[kind]
        codes = rng.choice(list(shares), size=index.size - (
            plan.e_otinish[in_month].sum() if kind == "appeal" else 0),
            p=np.asarray(list(shares.values())) / sum(shares.values()))
        if kind == "appeal":
            codes = np.concatenate([codes, np.full(plan.e_otinish[in_month].sum(), "e_otinish")])
        kinds.append(np.full(index.size, kind, dtype=object))
        channels.append(codes.astype(object))
        day_index.append(index)
    kind = np.concatenate(kinds)
    channel_code = np.concatenate(channels)
    day_index = np.concatenate(day_index)
    size = kind.size
    if size == 0:
        return _empty_cases(), _empty_events()

    office = channel_code == "office"
    hours = np.where(office, _hours(rng, HOURLY_OFFICE, size), _hours(rng, HOURLY_CHAT, size))
    received = days[day_index].astype("datetime64[s]") + (
        hours * 3600 + rng.integers(0, 3600, size)).astype("timedelta64[s]")
    keep = received < cutoff
    kind, channel_code, day_index, received = (kind[keep], channel_code[keep], day_index[keep],
                                               received[keep])
    size = kind.size
    order = np.argsort(received, kind="stable")
    kind, channel_code, day_index, received = (kind[order], channel_code[order],
                                               day_index[order], received[order])
    case_ids = np.arange(first_case_id, first_case_id + size, dtype=np.int64)
    flavour = np.where(channel_code == "e_otinish", "e_otinish", kind)
    progress = np.array([MONTHS[i].progress for i in month_index[day_index]])
    resolution_days = np.zeros(size)
    withdraw_share = np.zeros(size)
    for name, (begin, end) in RESOLUTION_DAYS.items():
        mask = flavour == name
        resolution_days[mask] = begin + (end - begin) * progress[mask]
        withdraw_share[mask] = WITHDRAW_SHARE[name]

    step_hours = np.stack([
        np.zeros(size),
        rng.exponential(3.0, size),
        rng.exponential(10.0, size),
        _lognormal(rng, resolution_days * 24 * 0.8, 0.9, size),
        rng.exponential(4.0, size),
    ], axis=1)
    stage_times = received[:, None] + (np.cumsum(step_hours, axis=1) * 3600).astype(
        "timedelta64[s]")
    withdrawn = rng.random(size) < withdraw_share
    withdraw_after = rng.integers(1, 4, size)  # withdrawn after received/assigned/under review
    withdraw_time = stage_times[np.arange(size), withdraw_after - 1] + (
        rng.exponential(6.0, size) * 3600).astype("timedelta64[s]")

    events_case, events_stage, events_at = [], [], []
    status = np.full(size, "received", dtype=object)
    resolved = np.full(size, np.datetime64("NaT"), dtype="datetime64[s]")
    for step, stage in enumerate(CASE_FLOW):
        reached = stage_times[:, step] < cutoff
        reached &= ~withdrawn | (step < withdraw_after)
        events_case.append(case_ids[reached])
        events_stage.append(np.full(int(reached.sum()), stage, dtype=object))
        events_at.append(stage_times[reached, step])
        status[reached] = stage
        if stage == "answered":
            resolved[reached] = stage_times[reached, step]
    withdrawn_now = withdrawn & (withdraw_time < cutoff)
    events_case.append(case_ids[withdrawn_now])
    events_stage.append(np.full(int(withdrawn_now.sum()), "withdrawn", dtype=object))
    events_at.append(withdraw_time[withdrawn_now])
    status[withdrawn_now] = "withdrawn"
    resolved[withdrawn_now] = withdraw_time[withdrawn_now]

    categories = np.where(
        kind == "complaint",
        rng.choice(COMPLAINT_CATEGORIES, size=size,
                   p=np.asarray(COMPLAINT_CATEGORY_WEIGHTS) / sum(COMPLAINT_CATEGORY_WEIGHTS)),
        rng.choice(APPEAL_CATEGORIES, size=size,
                   p=np.asarray(APPEAL_CATEGORY_WEIGHTS) / sum(APPEAL_CATEGORY_WEIGHTS)),
    )
    region_p = np.array([REGION_WEIGHTS[r.code] for r in REGIONS])
    prefix = np.where(channel_code == "e_otinish", "EOT",
                      np.where(kind == "complaint", "CMP", "APL"))
    cases = pl.DataFrame({
        "id": case_ids,
        "external_id": [f"{p}{i:09d}" for p, i in zip(prefix, case_ids, strict=True)],
        "kind": pl.Series(kind, dtype=pl.String),
        "channel_id": np.array([CHANNEL_BY_CODE[c].id for c in channel_code], dtype=np.int64),
        "category": pl.Series(categories, dtype=pl.String),
        "region_id": rng.choice(np.array([r.id for r in REGIONS]), size=size,
                                p=region_p / region_p.sum()),
        "received_at": _us(received),
        "status": pl.Series(status, dtype=pl.String),
        "resolved_at": _us(resolved),
    })
    events = pl.DataFrame({
        "case_id": np.concatenate(events_case),
        "stage": pl.Series(np.concatenate(events_stage), dtype=pl.String),
        "at": _us(np.concatenate(events_at)),
    }).sort("case_id", "at")
    return cases, events


def _empty_cases() -> pl.DataFrame:
    return pl.DataFrame(schema={"id": pl.Int64})


def _empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema={"case_id": pl.Int64})


# --- Orchestration -----------------------------------------------------------------------------

def subscriber_keys(config: DemoConfig) -> pl.Series:
    """Salted hashes of synthetic subscriber numbers: the DB never sees a phone number."""
    salt = hashlib.sha256(f"servicepulse-demo-{config.seed}".encode()).digest()[:16]
    count = max(1_000, round(SUBSCRIBERS * config.scale))
    return pl.Series("subscriber_key", [
        hashlib.blake2b(b"+7700%07d" % number, key=salt, digest_size=10).hexdigest()
        for number in range(count)
    ])


def _write_month(engine: Engine, batch: _MonthBatch, cases: pl.DataFrame,
                 events: pl.DataFrame) -> None:
    """One committed transaction per month: an interrupted load keeps whole months only."""
    with engine.begin() as connection:
        rollups.bulk_insert_counted(connection, [
            (Contact.__table__, batch.contacts, "id"),
            (NpsSurvey.__table__, batch.surveys, "contact_id"),
            (AgentRating.__table__, batch.ratings, "contact_id"),
            (Case.__table__, cases, "id"),
            (CaseEvent.__table__, events, "case_id"),
        ], monthly=False)  # derived from the daily rollups once, at the end


def _wait_and_report(pending: tuple[Future, str], report: ProgressCallback,
                     fraction: float) -> None:
    future, message = pending
    future.result()
    report(0.02 + 0.98 * fraction, message)


def _unfinished_load(connection: Connection) -> bool:
    return bool(connection.scalar(select(func.count()).select_from(DemoLoad).where(
        DemoLoad.finished_at.is_(None))))


def _purge_demo(connection: Connection) -> None:
    """Remove what an interrupted demo load left, children before parents."""
    for model in (AgentRating, NpsSurvey, CaseEvent, Case, Contact, Operator, DemoLoad):
        connection.execute(delete(model))
    rollups.clear(connection)  # the triggers leave rows of zeros behind


def _deferred_indexes(connection: Connection) -> list[Index]:
    """PostgreSQL builds an index once faster than it maintains it row by row during COPY.

    The demo loads into empty tables, so their non-unique indexes can be dropped first and
    built at the end (an interrupted load is purged and redone, indexes included).
    """
    if connection.dialect.name != "postgresql":
        return []
    return [index for table in (Contact.__table__, Case.__table__, AgentRating.__table__)
            for index in table.indexes if not index.unique]


def _deferred_foreign_keys(connection: Connection) -> list[ForeignKeyConstraint]:
    """PostgreSQL checks a foreign key with one query per inserted row (four per contact):
    most of a COPY's time. The demo's rows refer only to reference rows, operators and rows
    it loaded before, so the loaded tables' keys are dropped with the indexes and added back
    at the end, which checks every row in one pass per key.
    """
    if connection.dialect.name != "postgresql":
        return []
    return [key for model in (Contact, NpsSurvey, AgentRating, Case, CaseEvent)
            for key in model.__table__.foreign_key_constraints]


def _add_missing(connection: Connection, keys: list[ForeignKeyConstraint]) -> None:
    """Add the keys the database lacks (a redone load finds those it dropped gone already)."""
    for key in keys:
        stored = {found["name"] for found in inspect(connection).get_foreign_keys(key.table.name)}
        if key.name not in stored:
            # Not isolated: the shared metadata must keep the key in every CREATE TABLE.
            connection.execute(AddConstraint(key, isolate_from_table=False))


def needs_demo(engine: Engine) -> bool:
    """True for a database without contacts, or whose demo load never finished."""
    if not inspect(engine).has_table(Contact.__tablename__):
        return True
    with engine.connect() as connection:
        has_contact = connection.scalar(select(Contact.id).limit(1)) is not None
        unfinished = (inspect(connection).has_table(DemoLoad.__tablename__)
                      and _unfinished_load(connection))
    return not has_contact or unfinished


def generate_demo(engine: Engine, config: DemoConfig,
                  progress: ProgressCallback | None = None) -> DemoSummary:
    """Create the schema if needed and load the demo story, one committed month at a time."""
    problems = config.problems()
    if problems:
        raise DemoError("; ".join(problems))
    report = progress or (lambda _fraction, _message: None)
    started = time.perf_counter()
    ensure_schema(engine)
    with engine.begin() as connection:
        seed_reference(connection)
        if _unfinished_load(connection):
            _purge_demo(connection)
        for model, what in ((Contact, "contacts"), (Operator, "operators")):
            existing = connection.scalar(select(func.count()).select_from(model))
            if existing:
                raise DemoError(f"the database already holds {existing} {what}; "
                                "demo data goes into an empty database")
        load_id = connection.execute(insert(DemoLoad).values(
            started_at=local_now(), first_day=config.start, last_day=config.end,
            scale=config.scale, seed=config.seed)).inserted_primary_key[0]
        operators = build_operators(config, _Streams(config.seed))
        bulk_insert(connection, Operator.__table__, operators)
        deferred = _deferred_indexes(connection)
        for index in deferred:
            index.drop(connection, checkfirst=True)
        deferred_keys = _deferred_foreign_keys(connection)
        for key in deferred_keys:
            connection.execute(DropConstraint(key, if_exists=True))

    streams = _Streams(config.seed)
    summary = DemoSummary(operators=operators.height)
    report(0.02, "Planning the calendar")
    plan = build_plan(config, streams)
    keys = subscriber_keys(config)
    months = month_starts(config.start, config.end)
    next_contact, next_case = 1, 1
    # Generate month n+1 while a writer thread loads month n: the database works on the
    # second core. Progress is reported from this thread, which Streamlit requires.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-writer") as writer:
        pending: tuple[Future, str] | None = None
        for number, month_start in enumerate(months, start=1):
            batch = build_month(config, plan, operators, keys, streams, month_start, next_contact)
            cases, events = build_cases(config, plan, month_start, next_case, streams)
            if pending is not None:
                _wait_and_report(pending, report, (number - 1) / len(months))
            pending = (writer.submit(_write_month, engine, batch, cases, events),
                       f"Loaded {month_start:%Y-%m}: {summary.contacts + batch.contacts.height:,}"
                       " contacts so far")
            next_contact += batch.contacts.height
            next_case += cases.height
            summary.add(batch, cases, events)
            summary.months.append(month_start.strftime("%Y-%m"))
        if pending is not None:
            _wait_and_report(pending, report, 1.0)
    with engine.begin() as connection:
        advance_sequences(connection, [Contact.__table__, Case.__table__, CaseEvent.__table__,
                                       AgentRating.__table__, Operator.__table__])
        for index in deferred:
            index.create(connection, checkfirst=True)
        _add_missing(connection, deferred_keys)
        rollups.derive_monthly(connection)
        connection.execute(update(DemoLoad).where(DemoLoad.id == load_id)
                           .values(finished_at=local_now()))
    summary.seconds = time.perf_counter() - started
    return summary
