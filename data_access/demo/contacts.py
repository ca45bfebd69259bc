"""Contacts, their surveys and their ratings for one calendar month (also drawn one tick at a
time by the live feed, which uses the public draw_* functions)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from data_access.dates import month_end
from data_access.demo.calibration import (
    ANSWER_RATE,
    BACK_OFFICE_MONTH_SHARE,
    BASE_WAIT_S,
    BOT_HANDOVER_S,
    DETRACTOR_REASONS,
    DETRACTOR_SCORES,
    HANDLE_S,
    HOURLY_CHAT,
    HOURLY_OFFICE,
    HOURLY_OFFICE_SATURDAY,
    HOURLY_SELF_SERVICE,
    LONG_WAIT_LOGIT,
    MAX_WAIT_S,
    OTHER_REASON_WEIGHTS,
    PROMOTER_GAP,
    RATING_RESPONSE_RATE,
    REGION_WEIGHTS,
    SERVED_BY_PENALTY,
    SERVICE_MIX,
    SUBSCRIBERS,
    SUGGESTION_RATE_DETRACTOR,
    SUGGESTION_RATE_OTHERS,
    SUGGESTIONS,
    WAIT_EFFECT,
    WEEKDAY_WEIGHTS_ONLINE,
    ZERO_WAIT_SHARE,
)
from data_access.demo.plan import (
    DemoConfig,
    Plan,
    Streams,
    lognormal,
)
from data_access.demo.staffing import QUARTER_S
from data_access.demo.story import (
    MONTHS,
)
from data_access.demo.waits import draw_queue
from data_access.reference import CHANNEL_BY_CODE, REGIONS, SERVICE_TYPES
from data_access.schema import QUARTERS_PER_DAY


@dataclass
class MonthBatch:
    contacts: pl.DataFrame  # served and abandoned ones (served_by = 'abandoned')
    surveys: pl.DataFrame
    ratings: pl.DataFrame
    staffing: pl.DataFrame


def draw_hours(rng: np.random.Generator, profile: np.ndarray, size: int) -> np.ndarray:
    return rng.choice(24, size=size, p=profile / profile.sum())


def _channel_group(code: str) -> str:
    return {"office": "office", "whatsapp": "chat", "telegram": "chat"}.get(code, "web")


def hourly_profile(code: str) -> np.ndarray:
    """Relative volume by hour of a weekday: offices keep opening hours, chats run late."""
    if code == "office":
        return HOURLY_OFFICE
    return HOURLY_CHAT if _channel_group(code) == "chat" else HOURLY_SELF_SERVICE


def _contact_skeleton(plan: Plan, in_month: np.ndarray, rng: np.random.Generator
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
            hours[~saturday] = draw_hours(rng, HOURLY_OFFICE, int((~saturday).sum()))
            hours[saturday] = draw_hours(rng, HOURLY_OFFICE_SATURDAY, int(saturday.sum()))
        else:
            hours[:] = draw_hours(rng, hourly_profile(code), day_index.size)
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


def draw_served_by(skeleton: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
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


def draw_bot_handovers(skeleton: dict[str, np.ndarray], served: np.ndarray, rng: np.random.Generator
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


def draw_service_types(served: np.ndarray, office: np.ndarray, rng: np.random.Generator
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


def draw_waits(skeleton: dict[str, np.ndarray], served: np.ndarray, rng: np.random.Generator
           ) -> np.ndarray:
    """Operator-served contacts queue; busier hours and weekdays queue longer."""
    channel, hours = skeleton["channel"], skeleton["hour"]
    level = np.array([m.wait_level for m in MONTHS])[skeleton["month_index"]]
    base = np.zeros(channel.size)
    congestion = np.ones(channel.size)
    for code, mean in BASE_WAIT_S.items():
        mask = channel == CHANNEL_BY_CODE[code].id
        base[mask] = mean
        profile = hourly_profile(code)
        congestion[mask] = 0.4 + 0.8 * profile[hours[mask]] / profile.max()
    weekday_factor = np.asarray(WEEKDAY_WEIGHTS_ONLINE)[skeleton["weekday"]] / np.mean(
        WEEKDAY_WEIGHTS_ONLINE)
    mean = base * level * congestion * weekday_factor / (1 - ZERO_WAIT_SHARE)
    wait = rng.exponential(1.0, channel.size) * mean
    wait[rng.random(channel.size) < ZERO_WAIT_SHARE] = 0
    wait[served != "operator"] = 0
    return np.minimum(np.round(wait), MAX_WAIT_S).astype(np.int64)


def draw_handle_times(channel: np.ndarray, served: np.ndarray, rng: np.random.Generator
                  ) -> np.ndarray:
    handle = np.zeros(channel.size)
    groups = np.array([_channel_group(c.code) for c in sorted(CHANNEL_BY_CODE.values(),
                                                             key=lambda c: c.id)])
    channel_group = groups[channel - 1]
    for (group, who), (mean, cv) in HANDLE_S.items():
        mask = (channel_group == group) & (served == who)
        handle[mask] = lognormal(rng, mean, cv, int(mask.sum()))
    return np.maximum(np.round(handle), 20).astype(np.int64)


def assign_operators(
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


def answer_rates(channel: np.ndarray) -> np.ndarray:
    """The chance that a contact's survey is answered, by its channel id."""
    answer_rate = np.zeros(channel.size)
    for code, rate in ANSWER_RATE.items():
        answer_rate[channel == CHANNEL_BY_CODE[code].id] = rate
    return answer_rate


def survey_penalty(wait: np.ndarray, served: np.ndarray) -> np.ndarray:
    """What a wait and a non-human server take off the latent score (the story's NPS lever)."""
    penalty = WAIT_EFFECT * np.log1p(wait / 60.0)
    for who, extra in SERVED_BY_PENALTY.items():
        penalty[served == who] += extra
    return penalty


def _logistic(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


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


def draw_surveys(contact_ids: np.ndarray, skeleton: dict[str, np.ndarray], served: np.ndarray,
             wait: np.ndarray, handle: np.ndarray, cutoff: np.datetime64,
             rng: np.random.Generator, level: float | None = None,
             bot: np.ndarray | None = None) -> pl.DataFrame:
    """Survey rows, sent as each contact ends (after `bot` seconds in the bot, if any, the
    wait and the handling); `level` fixes the latent mean (a live feed's few contacts cannot
    solve it)."""
    channel = skeleton["channel"]
    spent = wait + handle if bot is None else bot + wait + handle
    sent = skeleton["started"] + spent.astype("timedelta64[s]")
    answer_rate = answer_rates(channel)
    answered_at = sent + lognormal(rng, 50 * 60, 1.2, channel.size).astype("timedelta64[s]")
    answered = (rng.random(channel.size) < answer_rate) & (answered_at < cutoff)

    penalty = survey_penalty(wait, served)
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
    intercept, slope = LONG_WAIT_LOGIT
    wait_reason = rng.random(channel.size) < _logistic(intercept + slope * np.log1p(wait / 60.0))
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
        "sent_at": as_datetime_us(sent),
        "answered": answered,
        "score": pl.Series(score).cast(pl.Int16),
        "reason": pl.Series(reason, dtype=pl.String),
        "suggestion": pl.Series(suggestion, dtype=pl.String),
        "answered_at": as_datetime_us(answered_at),
        "detractor": detractor,
        "suggests": suggests,
    }).with_columns(
        score=pl.when("answered").then("score"),
        reason=pl.when(pl.col("answered") & pl.col("detractor")).then("reason"),
        suggestion=pl.when(pl.col("answered") & pl.col("suggests")).then("suggestion"),
        answered_at=pl.when("answered").then("answered_at"),
    ).drop("detractor", "suggests")


def as_datetime_us(values: np.ndarray) -> np.ndarray:
    """Polars takes microsecond datetimes, not seconds."""
    return values.astype("datetime64[us]")


def _prefixed_ids(prefix: str, ids: pl.Expr) -> pl.Expr:
    return pl.format(prefix + "{}", ids.cast(pl.String).str.zfill(10))


def draw_operator_skill(operator_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each operator's mean rating, indexed by operator id (index 0: no operator)."""
    skill = np.zeros(int(operator_ids.max()) + 1)
    skill[operator_ids] = rng.normal(4.35, 0.25, operator_ids.size)
    return skill


def draw_ratings(contact_ids: np.ndarray, operator: np.ndarray, rated_service: np.ndarray,
             end_times: np.ndarray, wait: np.ndarray, skill: np.ndarray, cutoff: np.datetime64,
             rng: np.random.Generator) -> pl.DataFrame:
    rated_at = end_times + lognormal(rng, 30 * 60, 1.0, end_times.size).astype(
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
        "rated_at": as_datetime_us(rated_at[chosen]),
    }).with_columns(external_id=_prefixed_ids("AR", pl.col("contact_id")))


def subscriber_keys(config: DemoConfig) -> pl.Series:
    """Salted hashes of synthetic subscriber numbers: the DB never sees a phone number."""
    salt = hashlib.sha256(f"servicepulse-demo-{config.seed}".encode()).digest()[:16]
    count = max(1_000, round(SUBSCRIBERS * config.scale))
    return pl.Series("subscriber_key", [
        hashlib.blake2b(b"+7700%07d" % number, key=salt, digest_size=10).hexdigest()
        for number in range(count)
    ])


def build_month(
    config: DemoConfig, plan: Plan, operators: pl.DataFrame, subscriber_keys: pl.Series,
    streams: Streams, month_start: dt.date, first_contact_id: int,
) -> MonthBatch:
    last_day = month_end(month_start)
    in_month = (plan.days >= np.datetime64(month_start)) & (plan.days <= np.datetime64(last_day))
    key = month_start.year * 12 + month_start.month
    cutoff = np.datetime64(config.effective_cutoff(), "s")

    skeleton = _contact_skeleton(plan, in_month, streams.rng("contacts", key))
    keep = skeleton["started"] < cutoff
    skeleton = {name: values[keep] for name, values in skeleton.items()}
    size = skeleton["started"].size
    rng = streams.rng("contacts", key, 1)
    served = draw_served_by(skeleton, rng)
    office = skeleton["channel"] == CHANNEL_BY_CODE["office"].id
    service = draw_service_types(served, office, rng)
    region_ids = np.array([r.id for r in REGIONS])
    region_p = np.array([REGION_WEIGHTS[r.code] for r in REGIONS])
    region = rng.choice(region_ids, size=size, p=region_p / region_p.sum())
    rated_types = np.array([s.id for s in SERVICE_TYPES if s.triggers_agent_rating])
    rated_service = np.isin(service, rated_types)
    operator = assign_operators(operators, month_start, last_day, region, office,
                                 (served == "operator") & ~office, rated_service, rng)
    days = plan.days[in_month]
    level = float(np.mean([MONTHS[index].wait_level for index in plan.month_index[in_month]]))
    queue = draw_queue(skeleton, served, days, level, streams.rng("queue", key))
    wait = queue.wait
    handle = draw_handle_times(skeleton["channel"], served, streams.rng("waits", key, 1))
    # A contact is recorded when it ends (its survey goes out then): none may end after cutoff.
    ended = skeleton["started"] + (wait + handle).astype("timedelta64[s]") < cutoff
    if not ended.all():
        skeleton = {name: values[ended] for name, values in skeleton.items()}
        served, office, service, region, rated_service, operator, wait, handle = (
            values[ended] for values in (served, office, service, region, rated_service,
                                         operator, wait, handle))
        size = int(ended.sum())
    # Chats the bot handed over; one still running at the cutoff stays a direct chat (rare).
    escalated, bot = draw_bot_handovers(skeleton, served, streams.rng("contacts", key, 2))
    escalated &= skeleton["started"] + (bot + wait + handle).astype("timedelta64[s]") < cutoff
    bot[~escalated] = 0
    contact_ids = np.arange(first_contact_id, first_contact_id + size, dtype=np.int64)
    subscriber = rng.integers(0, subscriber_keys.len(), size)

    contacts = pl.DataFrame({
        "id": contact_ids,
        "started_at": as_datetime_us(skeleton["started"]),
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
    surveys = draw_surveys(contact_ids, skeleton, served, wait, handle, cutoff,
                       streams.rng("surveys", key), bot=bot)
    skill = draw_operator_skill(operators["id"].to_numpy(), streams.rng("operators", 1))
    end_times = skeleton["started"] + (bot + wait + handle).astype("timedelta64[s]")
    ratings = draw_ratings(contact_ids, operator, rated_service, end_times, wait, skill, cutoff,
                       streams.rng("ratings", key))
    abandoned = abandoned_contacts(queue.abandoned, plan, in_month, subscriber_keys, cutoff,
                                   first_contact_id + size, streams.rng("queue", key, 1))
    return MonthBatch(pl.concat([contacts, abandoned], how="diagonal_relaxed")
                      .select(contacts.columns), surveys, ratings, queue.staffing)


def abandoned_contacts(drawn: dict[str, np.ndarray], plan: Plan, in_month: np.ndarray,
                       subscriber_keys: pl.Series, cutoff: np.datetime64, first_id: int,
                       rng: np.random.Generator) -> pl.DataFrame:
    """Rows for the contacts the queue lost: a start inside their interval, no operator, no
    handle time, and bot time when a chat came through the bot (as often as served chats do).
    One still waiting at the cutoff is left out, as a served one still running is."""
    day = drawn["interval"] // QUARTERS_PER_DAY
    seconds = (drawn["interval"] % QUARTERS_PER_DAY) * QUARTER_S + rng.integers(
        0, QUARTER_S, day.size)
    started = plan.days[in_month][day].astype("datetime64[s]") + seconds.astype(
        "timedelta64[s]")
    skeleton = {"channel": drawn["channel"], "month_index": plan.month_index[in_month][day]}
    queued = np.full(day.size, "operator", dtype=object)
    escalated, bot = draw_bot_handovers(skeleton, queued, rng)
    wait = np.maximum(1, np.round(drawn["wait_s"])).astype(np.int64)
    keep = started + (bot + wait).astype("timedelta64[s]") < cutoff
    office = drawn["channel"] == CHANNEL_BY_CODE["office"].id
    service = draw_service_types(queued, office, rng)
    region_ids = np.array([r.id for r in REGIONS])
    region_p = np.array([REGION_WEIGHTS[r.code] for r in REGIONS])
    region = rng.choice(region_ids, size=day.size, p=region_p / region_p.sum())
    subscriber = rng.integers(0, subscriber_keys.len(), day.size)
    order = np.argsort(started[keep], kind="stable")
    ids = np.arange(first_id, first_id + int(keep.sum()), dtype=np.int64)
    return pl.DataFrame({
        "id": ids,
        "started_at": as_datetime_us(started[keep][order]),
        "channel_id": drawn["channel"][keep][order],
        "region_id": region[keep][order],
        "service_type_id": service[keep][order],
        "served_by": pl.Series(["abandoned"] * ids.size, dtype=pl.String),
        "operator_id": pl.Series([None] * ids.size, dtype=pl.Int64),
        "wait_s": wait[keep][order],
        "handle_s": np.zeros(ids.size, dtype=np.int64),
        "subscriber_key": subscriber_keys.gather(subscriber[keep][order]),
        "bot_s": pl.Series(np.where(escalated, bot, -1)[keep][order]).replace(-1, None),
    }).with_columns(external_id=_prefixed_ids("CT", pl.col("id")))
