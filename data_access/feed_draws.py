"""What one tick of the live feed draws and writes: new contacts (with surveys, and ratings
written a tick later), new cases and stage changes, from the demo's distributions for the last
story month, and the model (operators, subscribers, NPS level) they are drawn with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine, func, insert, inspect, select, text, update

from data_access import rollups
from data_access.argtypes import MIN_DAY
from data_access.bulk import advance_sequences
from data_access.demo.calibration import (
    ABANDON_TARGET,
    APPEAL_CATEGORIES,
    APPEAL_CATEGORY_WEIGHTS,
    CASE_CHANNEL_SHARES,
    COMPLAINT_CATEGORIES,
    COMPLAINT_CATEGORY_WEIGHTS,
    HOURLY_CHAT,
    HOURLY_OFFICE,
    HOURLY_OFFICE_SATURDAY,
    OFFICE_HOURS,
    ONLINE_CHANNEL_SHARES,
    OPERATOR_HANDLE_S,
    REGION_WEIGHTS,
    WEEKDAY_WEIGHTS_OFFICE,
    WEEKDAY_WEIGHTS_ONLINE,
    WITHDRAW_SHARE,
)
from data_access.demo.cases import CASE_FLOW
from data_access.demo.contacts import (
    answer_rates,
    assign_operators,
    draw_bot_handovers,
    draw_handle_times,
    draw_operator_skill,
    draw_ratings,
    draw_served_by,
    draw_service_types,
    draw_surveys,
    hourly_profile,
    solve_month_level,
    subscriber_keys,
    survey_penalty,
)
from data_access.demo.plan import DemoConfig, Streams, day_kinds
from data_access.demo.staffing import (
    POOLS,
    QUARTER_S,
    pool_channels,
    pool_handle_s,
    pool_patience_s,
    required_agents,
)
from data_access.demo.story import MONTHS
from data_access.demo.waits import draw_outcomes, interval_tables
from data_access.engine import (
    DatabaseUnavailable,
    require_schema,
)
from data_access.reference import CHANNEL_BY_CODE, REGIONS, SERVICE_TYPES, seed_reference
from data_access.schema import (
    CLOSED_STAGES,
    TEAMS,
    AgentRating,
    Case,
    CaseEvent,
    Contact,
    DemoLoad,
    NpsSurvey,
    Operator,
    Staffing,
)

# The default demo ends today, so "now" lives in the story's last month.
NOW_MONTH = MONTHS[-1]
REFERENCE_CONTACTS = 20_000  # a synthetic week that pins the NPS model's latent mean
SUBSCRIBER_SCALE_CAP = 0.1  # the demo's first 90k subscribers are customers enough
NEVER = np.datetime64("9999-12-31T00:00:00", "us")
OPEN_STAGES = tuple(stage for stage in CASE_FLOW if stage not in CLOSED_STAGES)
WITHDRAWABLE_STEPS = 3  # the demo withdraws after received, assigned or under review
CANDIDATE_CASES = 500  # stage changes pick among the oldest open cases
# A rating is stamped strictly after its contact, even when the clock has not moved on.
RATING_AFTER = dt.timedelta(microseconds=1)
_MONDAY = dt.datetime(2024, 1, 1)
WEEKS_PER_MONTH = 365.25 / 12 / 7  # contact_weights are a month's volume per weekday and hour
_REGION_IDS = np.array([region.id for region in REGIONS])
_REGION_P = np.array([REGION_WEIGHTS[region.code] for region in REGIONS])
_RATED_TYPES = np.array([service.id for service in SERVICE_TYPES if service.triggers_agent_rating])


class FeedError(RuntimeError):
    """A feed that cannot start or go on, said in one line (printed with exit code 2)."""


class _FeedStreams(Streams):
    """The demo's stream scheme under purposes of the feed's own: the same seed never replays
    the demo's numbers."""

    PURPOSES = (*Streams.PURPOSES, "feed_reference", "feed_mix", "feed_contacts", "feed_waits",
                "feed_surveys", "feed_ratings", "feed_cases", "feed_stages")


def _weekday_share(weights: tuple[float, ...], weekday: int) -> float:
    return weights[weekday] / sum(weights)


def _hour_share(profile: np.ndarray, hour: int) -> float:
    return float(profile[hour] / profile.sum())


def contact_weights(moment: dt.datetime) -> dict[str, float]:
    """Expected contacts per channel in this hour of this weekday (demo volumes, any unit)."""
    weekday, hour = moment.weekday(), moment.hour
    office_profile = HOURLY_OFFICE_SATURDAY if weekday == 5 else HOURLY_OFFICE
    weights = {"office": NOW_MONTH.offline * _weekday_share(WEEKDAY_WEIGHTS_OFFICE, weekday)
               * _hour_share(office_profile, hour)}
    shares = {code: begin + (end - begin) * NOW_MONTH.progress
              for code, (begin, end) in ONLINE_CHANNEL_SHARES.items()}
    for code, share in shares.items():
        weights[code] = (NOW_MONTH.online * share / sum(shares.values())
                         * _weekday_share(WEEKDAY_WEIGHTS_ONLINE, weekday)
                         * _hour_share(hourly_profile(code), hour))
    return weights


def case_weights(moment: dt.datetime) -> dict[tuple[str, str], float]:
    """Expected new cases per (kind, channel) in this hour, on contact_weights' scale."""
    weekday, hour = moment.weekday(), moment.hour
    weights = {}
    for kind, volume in (("complaint", NOW_MONTH.complaints), ("appeal", NOW_MONTH.appeals)):
        shares = CASE_CHANNEL_SHARES[kind]
        for code, share in shares.items():
            profile = HOURLY_OFFICE if code == "office" else HOURLY_CHAT  # as build_cases draws
            weights[(kind, code)] = (volume * share / sum(shares.values())
                                     * _weekday_share(WEEKDAY_WEIGHTS_ONLINE, weekday)
                                     * _hour_share(profile, hour))
    # e-Otinish appeals spread evenly over the days of the month, at chat hours.
    weights[("appeal", "e_otinish")] = NOW_MONTH.e_otinish / 7 * _hour_share(HOURLY_CHAT, hour)
    return weights


def event_mix(moment: dt.datetime) -> np.ndarray:
    """Probabilities of (new contact, new case, stage change) for one event at this moment.

    Every case takes len(CASE_FLOW) - 1 steps to its answer, so stage changes keep pace with
    new cases and the pool of open cases neither drains nor floods.
    """
    contacts = sum(contact_weights(moment).values())
    cases = sum(case_weights(moment).values())
    weights = np.array([contacts, cases, cases * (len(CASE_FLOW) - 1)])
    return weights / weights.sum()


def _skeleton(channel: np.ndarray, hour: np.ndarray, weekday: np.ndarray
              ) -> dict[str, np.ndarray]:
    """The columns the demo's contact functions read, all in the story's last month."""
    return {"channel": channel, "hour": hour, "weekday": weekday,
            "month_index": np.full(channel.size, NOW_MONTH.index)}


def queue_share(code: str) -> float:
    """Share of a channel's contacts that want a person (the rest the bot or self-service
    finish), in the story's last month."""
    if code == "office":
        return 1.0
    if code in ("whatsapp", "telegram"):
        return 1.0 - NOW_MONTH.bot_share
    return 1.0 - NOW_MONTH.self_service_share


def staffed_agents(expected: dict[str, np.ndarray], open_office: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """Per pool and row of expected person-queue contacts per quarter (by channel), the
    agents the demo's roster rule needs there (none in a closed office without contacts)."""
    agents = {}
    for pool in POOLS:
        counts = {code: np.asarray(expected[code], float) for code in pool_channels(pool)}
        target = ABANDON_TARGET[pool] * NOW_MONTH.wait_level
        total = sum(counts.values())
        needed = required_agents(total / QUARTER_S / (1 - target),
                                 pool_handle_s(counts, OPERATOR_HANDLE_S),
                                 pool_patience_s(counts), np.full(total.size, target), pool)
        closed = (pool == "office") & ~open_office & (total == 0)
        agents[pool] = np.where(closed, 0, needed)
    return agents


def reference_level(streams: Streams) -> float:
    """The latent NPS mean for the last story month, solved once over a synthetic week.

    The demo solves it over a month of answered surveys; a tick's few contacts cannot, and
    solving per tick would cancel the wait effect that the score model is about. The week's
    waits come from the demo's staffed queue at the story's scale-1 volumes.
    """
    rng = streams.rng("feed_reference")
    cells = [(day, hour, code, weight)
             for day in range(7) for hour in range(24)
             for code, weight in contact_weights(
                 _MONDAY + dt.timedelta(days=day, hours=hour)).items()]
    p = np.array([cell[3] for cell in cells])
    picked = rng.choice(len(cells), size=REFERENCE_CONTACTS, p=p / p.sum())
    skeleton = _skeleton(np.array([CHANNEL_BY_CODE[cells[i][2]].id for i in picked]),
                         np.array([cells[i][1] for i in picked]),
                         np.array([cells[i][0] for i in picked]))
    served = draw_served_by(skeleton, rng)
    expected = {code: np.array([weight / WEEKS_PER_MONTH / 4 * queue_share(code)
                                for _, _, cell_code, weight in cells if cell_code == code])
                for code in contact_weights(_MONDAY)}
    open_office = np.array([OFFICE_HOURS[day][0] <= hour < OFFICE_HOURS[day][1]
                            for day in range(7) for hour in range(24)])
    queued = served == "operator"
    codes = np.array([cells[i][2] for i in picked])
    rows = np.array([cells[i][0] * 24 + cells[i][1] for i in picked])
    wait, gave_up = np.zeros(picked.size, dtype=np.int64), np.zeros(picked.size, dtype=bool)
    tables = interval_tables(expected, staffed_agents(expected, open_office),
                             NOW_MONTH.wait_level)
    wait[queued], gave_up[queued] = draw_outcomes(codes[queued], rows[queued], tables, rng)
    penalty = survey_penalty(wait, served)
    answered = (rng.random(picked.size) < answer_rates(skeleton["channel"])) & ~gave_up
    return solve_month_level(penalty[answered], NOW_MONTH.nps_target)


@dataclass
class FeedModel:
    streams: Streams
    level: float
    operators: pl.DataFrame
    skill: np.ndarray
    subscribers: pl.Series
    events_per_s: float = 0.0  # the feed's --rate: its queue is staffed for its own load


def _usable_operators(connection: Connection, today: dt.date, where: str) -> pl.DataFrame:
    """Operators active today, per team; a team with nobody active borrows whoever it can."""
    rows = connection.execute(select(Operator.id, Operator.team, Operator.region_id,
                                     Operator.active_from, Operator.active_to)).all()
    if not rows:
        raise FeedError(f"no operators in {where}: the feed needs someone to serve contacts; "
                        "run `python -m data_access demo` or import operators first")
    roster = pl.DataFrame(rows, schema={"id": pl.Int64, "team": pl.String,
                                        "region_id": pl.Int64, "active_from": pl.Date,
                                        "active_to": pl.Date}, orient="row")
    active = roster.filter((pl.col("active_from") <= today)
                           & (pl.col("active_to").is_null() | (pl.col("active_to") >= today)))
    teams = []
    for team in TEAMS:
        for pool in (active, roster):
            staff = pool.filter(pl.col("team") == team)
            if not staff.is_empty():
                break
        else:
            staff = roster.with_columns(team=pl.lit(team))  # the other team stands in
        teams.append(staff)
    # Fixed for the run: the demo's assignment must not filter anyone out at midnight.
    return pl.concat(teams).with_columns(active_from=pl.lit(MIN_DAY),
                                         active_to=pl.lit(None, dtype=pl.Date))


def _subscribers(connection: Connection, seed: int) -> pl.Series:
    """The demo's salted subscriber keys, so feed contacts come from the demo's customers."""
    scale = SUBSCRIBER_SCALE_CAP
    if inspect(connection).has_table(DemoLoad.__tablename__):
        load = connection.execute(
            select(DemoLoad.seed, DemoLoad.scale).where(DemoLoad.finished_at.is_not(None))
            .order_by(DemoLoad.id.desc()).limit(1)).first()
        if load is not None:
            seed, scale = load.seed, min(load.scale, SUBSCRIBER_SCALE_CAP)
    return subscriber_keys(DemoConfig.ending(scale=scale, seed=seed))


def _catch_up_sequences(connection: Connection) -> None:
    """PostgreSQL assigns the ids; a bulk load that left a sequence behind is moved past it."""
    if connection.dialect.name != "postgresql":
        return
    behind = []
    for table in (Contact.__table__, Case.__table__, CaseEvent.__table__, AgentRating.__table__):
        sequence = connection.scalar(text("SELECT pg_get_serial_sequence(:table, 'id')"),
                                     {"table": table.name})
        if sequence is None:
            continue
        last, called = connection.execute(
            text(f"SELECT last_value, is_called FROM {sequence}")).one()
        newest = connection.scalar(select(func.max(table.c.id)))
        if newest is not None and newest >= last + (1 if called else 0):
            behind.append(table)
    advance_sequences(connection, behind)


def prepare_model(engine: Engine, seed: int, today: dt.date, where: str) -> FeedModel:
    try:
        require_schema(engine)
    except DatabaseUnavailable as error:  # the tables are missing: waiting will not help
        raise FeedError(str(error)) from None
    with engine.begin() as connection:
        seed_reference(connection)
        rollups.install(connection)
        _catch_up_sequences(connection)
        operators = _usable_operators(connection, today, where)
        subscribers = _subscribers(connection, seed)
    streams = _FeedStreams(seed)
    skill = draw_operator_skill(operators["id"].unique().sort().to_numpy(),
                            streams.rng("feed_reference", 1))
    return FeedModel(streams, reference_level(streams), operators, skill, subscribers)


def new_contacts(connection: Connection, model: FeedModel, tick: int, now: dt.datetime,
                  count: int, next_id: Callable[[], str]) -> tuple[int, list[dict]]:
    """Contacts that end now, with their surveys; returns (answered, ratings to write later)."""
    if count == 0:
        return 0, []
    rng = model.streams.rng("feed_contacts", tick)
    weights = contact_weights(now)
    p = np.array(list(weights.values()))
    codes = rng.choice(list(weights), size=count, p=p / p.sum())
    channel = np.array([CHANNEL_BY_CODE[code].id for code in codes])
    skeleton = _skeleton(channel, np.full(count, now.hour), np.full(count, now.weekday()))
    served = draw_served_by(skeleton, rng)
    office = channel == CHANNEL_BY_CODE["office"].id
    service = draw_service_types(served, office, rng)
    region = rng.choice(_REGION_IDS, size=count, p=_REGION_P / _REGION_P.sum())
    rated_service = np.isin(service, _RATED_TYPES)
    operator = assign_operators(model.operators, now.date(), now.date(), region, office,
                                 (served == "operator") & ~office, rated_service, rng)
    escalated, bot = draw_bot_handovers(skeleton, served,
                                        model.streams.rng("feed_contacts", tick, 1))
    wait, served = queue_outcomes(connection, model, now, codes, served,
                                  model.streams.rng("feed_waits", tick))
    handle = draw_handle_times(channel, served, model.streams.rng("feed_waits", tick, 1))
    gave_up = served == "abandoned"
    operator[gave_up], handle[gave_up] = 0, 0
    ended = np.full(count, np.datetime64(now, "us"))
    skeleton["started"] = ended - (bot + wait + handle).astype("timedelta64[s]")
    subscriber = model.subscribers.gather(
        rng.integers(0, model.subscribers.len(), count)).to_list()
    rows = [
        {"external_id": next_id(), "started_at": started, "channel_id": int(channel[i]),
         "region_id": int(region[i]), "service_type_id": int(service[i]),
         "served_by": served[i], "operator_id": int(operator[i]) or None,
         "wait_s": int(wait[i]), "handle_s": int(handle[i]), "subscriber_key": subscriber[i],
         "bot_s": int(bot[i]) if escalated[i] else None}
        for i, started in enumerate(skeleton["started"].astype(dt.datetime))
    ]
    contact_ids = np.array(connection.execute(
        insert(Contact).returning(Contact.id, sort_by_parameter_order=True), rows).scalars().all())
    # The survey goes out as a served contact ends; an answer, if any, is stamped the same
    # moment. Nobody served an abandoned one: no survey, no rating.
    kept = ~gave_up
    surveys = draw_surveys(contact_ids[kept], {name: values[kept] for name, values in
                                               skeleton.items()}, served[kept], wait[kept],
                           handle[kept], NEVER, model.streams.rng("feed_surveys", tick),
                           level=model.level, bot=bot[kept]
                           ).with_columns(answered_at=pl.when("answered").then("sent_at"))
    if surveys.height:
        connection.execute(insert(NpsSurvey), surveys.to_dicts())
    ratings = draw_ratings(contact_ids, operator, rated_service & kept, ended, wait,
                           model.skill, NEVER, model.streams.rng("feed_ratings", tick))
    return int(surveys["answered"].sum()), ratings.select(
        "operator_id", "contact_id", "score").to_dicts()


def feed_staffing(connection: Connection, now: dt.datetime, needed: dict[str, int]
                  ) -> dict[str, int]:
    """Agents on duty now per pool: the stored row (the demo's roster), raised to what the
    feed's own load needs, so the record stays consistent with the queue drawn from it."""
    day = now.date()
    quarter = (now.hour * 60 + now.minute) // 15
    stored = dict(connection.execute(select(Staffing.pool, Staffing.agents).where(
        Staffing.day == day, Staffing.quarter == quarter)).all())
    agents = {pool: max(count, stored.get(pool, 0)) for pool, count in needed.items()}
    for pool, count in agents.items():
        if pool not in stored:
            connection.execute(insert(Staffing).values(day=day, quarter=quarter, pool=pool,
                                                       agents=count))
        elif stored[pool] < count:
            connection.execute(update(Staffing).where(
                Staffing.day == day, Staffing.quarter == quarter, Staffing.pool == pool)
                .values(agents=count))
    return agents


def queue_outcomes(connection: Connection, model: FeedModel, now: dt.datetime,
                   codes: np.ndarray, served: np.ndarray, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Waits of the contacts that wanted a person, and which of them gave up: Erlang A with
    the feed's expected load now and the agents on record (written or raised for it)."""
    weights = contact_weights(now)
    contacts_per_s = model.events_per_s * event_mix(now)[0]
    expected = {code: np.array([contacts_per_s * QUARTER_S * weight / sum(weights.values())
                                * queue_share(code)]) for code, weight in weights.items()}
    kind = int(day_kinds(np.array([np.datetime64(now.date(), "D")]))[0])
    opening, closing = OFFICE_HOURS[kind]
    needed = staffed_agents(expected, np.array([opening <= now.hour < closing]))
    agents = feed_staffing(connection, now, {pool: int(count[0]) for pool, count in
                                             needed.items()})
    tables = interval_tables(expected, {pool: np.array([agents[pool]]) for pool in POOLS},
                             NOW_MONTH.wait_level)
    queued = served == "operator"
    wait = np.zeros(served.size, dtype=np.int64)
    outcome = served.copy()
    if queued.any():
        wait[queued], gave_up = draw_outcomes(codes[queued], np.zeros(int(queued.sum()),
                                                                      dtype=np.int64),
                                              tables, rng)
        outcome[np.flatnonzero(queued)[gave_up]] = "abandoned"
    return wait, outcome


def new_cases(connection: Connection, model: FeedModel, tick: int, now: dt.datetime, count: int,
               next_id: Callable[[], str]) -> int:
    """Complaints and appeals received now, each with its 'received' stage event."""
    if count == 0:
        return 0
    rng = model.streams.rng("feed_cases", tick)
    weights = case_weights(now)
    keys = list(weights)
    p = np.array(list(weights.values()))
    picked = [keys[i] for i in rng.choice(len(keys), size=count, p=p / p.sum())]
    categories = {
        "complaint": rng.choice(COMPLAINT_CATEGORIES, size=count, p=np.asarray(
            COMPLAINT_CATEGORY_WEIGHTS) / sum(COMPLAINT_CATEGORY_WEIGHTS)),
        "appeal": rng.choice(APPEAL_CATEGORIES, size=count, p=np.asarray(
            APPEAL_CATEGORY_WEIGHTS) / sum(APPEAL_CATEGORY_WEIGHTS)),
    }
    region = rng.choice(_REGION_IDS, size=count, p=_REGION_P / _REGION_P.sum())
    rows = [{"external_id": next_id(), "kind": kind, "channel_id": CHANNEL_BY_CODE[code].id,
             "category": str(categories[kind][i]), "region_id": int(region[i]),
             "received_at": now, "status": "received", "resolved_at": None}
            for i, (kind, code) in enumerate(picked)]
    case_ids = connection.execute(
        insert(Case).returning(Case.id, sort_by_parameter_order=True), rows).scalars().all()
    connection.execute(insert(CaseEvent), [{"case_id": case_id, "stage": "received", "at": now}
                                           for case_id in case_ids])
    return count


def advance_cases(connection: Connection, model: FeedModel, tick: int, now: dt.datetime,
                   count: int) -> int:
    """Move open cases one stage on (or withdraw them, at the demo's rates)."""
    if count == 0:
        return 0
    oldest = connection.scalars(
        select(Case.id).where(Case.status.in_(OPEN_STAGES), Case.received_at <= now)
        .order_by(Case.id).limit(CANDIDATE_CASES)).all()
    if not oldest:
        return 0
    rng = model.streams.rng("feed_stages", tick)
    picked = sorted(rng.choice(oldest, size=min(count, len(oldest)), replace=False).tolist())
    # PostgreSQL: skip a case another feed is moving right now (the status check below is the
    # same guard on SQLite, whose writers take turns anyway).
    candidates = connection.execute(
        select(Case.id, Case.kind, Case.channel_id, Case.status)
        .where(Case.id.in_(picked), Case.status.in_(OPEN_STAGES))
        .order_by(Case.id).with_for_update(skip_locked=True)).all()
    reached = {(row.case_id, row.stage) for row in connection.execute(
        select(CaseEvent.case_id, CaseEvent.stage)
        .where(CaseEvent.case_id.in_([case.id for case in candidates])))}
    draws = rng.random(len(candidates))
    advanced = 0
    for case, draw in zip(candidates, draws, strict=True):
        step = CASE_FLOW.index(case.status)
        flavour = "e_otinish" if case.channel_id == CHANNEL_BY_CODE["e_otinish"].id else case.kind
        share = WITHDRAW_SHARE[flavour] / WITHDRAWABLE_STEPS
        # The chance to withdraw now, given the case was not withdrawn at an earlier step.
        withdraws = step < WITHDRAWABLE_STEPS and draw < share / (1 - share * step)
        stage = "withdrawn" if withdraws else CASE_FLOW[step + 1]
        if (case.id, stage) in reached:
            continue  # history and status disagree (hand-edited data): leave that case alone
        moved = connection.execute(
            update(Case).where(Case.id == case.id, Case.status == case.status)
            .values(status=stage, resolved_at=now if stage in CLOSED_STAGES else None))
        if moved.rowcount == 1:
            connection.execute(insert(CaseEvent).values(case_id=case.id, stage=stage, at=now))
            advanced += 1
    return advanced


def write_ratings(connection: Connection, pending: list[dict], now: dt.datetime,
                   next_id: Callable[[], str]) -> int:
    if pending:
        connection.execute(insert(AgentRating), [
            {**rating, "external_id": next_id(), "rated_at": now} for rating in pending])
    return len(pending)
