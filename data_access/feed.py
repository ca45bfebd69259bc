"""`python -m data_access feed`: a live stream of contacts, cases, stage changes and ratings.

Rows are stamped now (local time, as stored) and drawn from the demo generator's distributions
for the last story month, the one the default demo ends in today, so dashboards left open next
to the feed move the way the story says they would. Each tick is one transaction, so a
dashboard never sees a contact without its survey; database outages are waited out with
backoff instead of ending in a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine, func, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from data_access import rollups
from data_access.argtypes import MIN_DAY, int_arg, number_arg
from data_access.bulk import advance_sequences
from data_access.config import local_now, mask_url, scrub
from data_access.demo.calibration import (
    APPEAL_CATEGORIES,
    APPEAL_CATEGORY_WEIGHTS,
    CASE_CHANNEL_SHARES,
    COMPLAINT_CATEGORIES,
    COMPLAINT_CATEGORY_WEIGHTS,
    HOURLY_CHAT,
    HOURLY_OFFICE,
    HOURLY_OFFICE_SATURDAY,
    ONLINE_CHANNEL_SHARES,
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
    draw_waits,
    hourly_profile,
    solve_month_level,
    subscriber_keys,
    survey_penalty,
)
from data_access.demo.plan import DemoConfig, Streams
from data_access.demo.story import MONTHS
from data_access.engine import (
    DatabaseUnavailable,
    create_db_engine,
    first_line,
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
)

DEFAULT_RATE = 5.0
MAX_RATE = 10_000.0
TICK_S = 1.0
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 10.0
# Exit code when the database never answered during the whole run (usage errors are 2).
EXIT_NEVER_REACHED = 1
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


@dataclass
class StopFlag:
    """Set by SIGINT/SIGTERM (or a test); the loop finishes its tick and stops."""

    requested: bool = False


@dataclass
class TickCounts:
    contacts: int = 0
    answered: int = 0
    cases: int = 0
    stage_changes: int = 0
    ratings: int = 0


@dataclass
class FeedSummary:
    """What a run wrote, by event type; printed as one line when it stops."""

    run_id: str
    contacts: int = 0
    answered: int = 0
    cases: int = 0
    stage_changes: int = 0
    ratings: int = 0
    ticks: int = 0
    retries: int = 0
    skipped_ticks: int = 0
    seconds: float = 0.0
    reached_database: bool = False

    def add(self, counts: TickCounts) -> None:
        self.ticks += 1
        for name in ("contacts", "answered", "cases", "stage_changes", "ratings"):
            setattr(self, name, getattr(self, name) + getattr(counts, name))

    def line(self) -> str:
        return (f"feed {self.run_id} stopped after {self.seconds:.1f} s: "
                f"contacts {self.contacts} (surveys {self.contacts}, answered {self.answered}), "
                f"cases {self.cases}, stage changes {self.stage_changes}, "
                f"ratings {self.ratings}; retries {self.retries}, skipped ticks "
                f"{self.skipped_ticks}")


# --- The demo's distributions at one moment ----------------------------------------------------

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


def reference_level(streams: Streams) -> float:
    """The latent NPS mean for the last story month, solved once over a synthetic week.

    The demo solves it over a month of answered surveys; a tick's few contacts cannot, and
    solving per tick would cancel the wait effect that the score model is about.
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
    penalty = survey_penalty(draw_waits(skeleton, served, rng), served)
    answered = rng.random(picked.size) < answer_rates(skeleton["channel"])
    return solve_month_level(penalty[answered], NOW_MONTH.nps_target)


# --- Set-up ------------------------------------------------------------------------------------

@dataclass
class _Model:
    streams: Streams
    level: float
    operators: pl.DataFrame
    skill: np.ndarray
    subscribers: pl.Series


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


def _prepare(engine: Engine, seed: int, today: dt.date, where: str) -> _Model:
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
    return _Model(streams, reference_level(streams), operators, skill, subscribers)


# --- One tick ----------------------------------------------------------------------------------

def _new_contacts(connection: Connection, model: _Model, tick: int, now: dt.datetime,
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
    wait = draw_waits(skeleton, served, model.streams.rng("feed_waits", tick))
    handle = draw_handle_times(channel, served, model.streams.rng("feed_waits", tick, 1))
    escalated, bot = draw_bot_handovers(skeleton, served,
                                        model.streams.rng("feed_contacts", tick, 1))
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
    # The survey goes out as the contact ends; an answer, if any, is stamped the same moment.
    surveys = draw_surveys(contact_ids, skeleton, served, wait, handle, NEVER,
                       model.streams.rng("feed_surveys", tick), level=model.level, bot=bot
                       ).with_columns(answered_at=pl.when("answered").then("sent_at"))
    connection.execute(insert(NpsSurvey), surveys.to_dicts())
    ratings = draw_ratings(contact_ids, operator, rated_service, ended, wait, model.skill, NEVER,
                       model.streams.rng("feed_ratings", tick))
    return int(surveys["answered"].sum()), ratings.select(
        "operator_id", "contact_id", "score").to_dicts()


def _new_cases(connection: Connection, model: _Model, tick: int, now: dt.datetime, count: int,
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


def _advance_cases(connection: Connection, model: _Model, tick: int, now: dt.datetime,
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


def _write_ratings(connection: Connection, pending: list[dict], now: dt.datetime,
                   next_id: Callable[[], str]) -> int:
    if pending:
        connection.execute(insert(AgentRating), [
            {**rating, "external_id": next_id(), "rated_at": now} for rating in pending])
    return len(pending)


# --- The loop ----------------------------------------------------------------------------------

def is_outage(error: BaseException) -> bool:
    """Errors that a database coming back would cure: worth waiting for, not worth a crash."""
    if isinstance(error, DatabaseUnavailable | OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _reason(error: BaseException) -> str:
    """The driver's own first line: the part that says what is wrong."""
    if isinstance(error, DatabaseUnavailable) and error.__cause__ is not None:
        error = error.__cause__
    return first_line(error)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def new_run_id(moment: dt.datetime) -> str:
    """Unique per run whatever --seed says: the time plus fresh OS entropy."""
    return f"{moment:%Y%m%d%H%M%S}-{np.random.SeedSequence().entropy % 16**6:06x}"


@dataclass
class LiveFeed:
    """The feed's loop; clock, sleep, now and stop are injectable so tests run it instantly."""

    engine: Engine
    rate: float = DEFAULT_RATE
    duration: float | None = None
    seed: int | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] | None = None
    now: Callable[[], dt.datetime] = local_now
    stop: StopFlag = field(default_factory=StopFlag)
    log: Callable[[str], None] = _stderr
    run_id: str | None = None
    tick_s: float = TICK_S

    def __post_init__(self) -> None:
        if self.seed is None:
            self.seed = int(np.random.SeedSequence().entropy)
        self.run_id = self.run_id or new_run_id(self.now())
        self.summary = FeedSummary(self.run_id)
        self.url = self.engine.url.render_as_string(hide_password=False)
        self._counter = itertools.count(1)
        self._pending: list[dict] = []  # ratings of the last tick's contacts, due next tick
        self._pending_since: dt.datetime | None = None  # when those contacts ended
        self._delay = FIRST_RETRY_S
        self.last_outage: str | None = None  # why the database last failed, scrubbed
        if self.sleep is None:
            self.sleep = self._interruptible_sleep

    def next_id(self) -> str:
        return f"feed-{self.run_id}-{next(self._counter)}"

    def run(self) -> FeedSummary:
        """Write ticks until stopped or --duration is up; returns what was written."""
        self._started = self.clock()
        self._deadline = math.inf if self.duration is None else self._started + self.duration
        try:
            model = self._set_up()
            if model is not None:
                self._loop(model)
                self._write_pending_ratings()
        except SQLAlchemyError as error:
            raise FeedError(f"database error: {scrub(_reason(error), self.url)}") from None
        finally:
            self.summary.seconds = self.clock() - self._started
        return self.summary

    def _set_up(self) -> _Model | None:
        while not self.stop.requested and self.clock() < self._deadline:
            try:
                model = _prepare(self.engine, self.seed, self.now().date(), mask_url(self.url))
            except (SQLAlchemyError, DatabaseUnavailable) as error:
                if not is_outage(error):
                    raise
                self.sleep(max(0.0, min(self._wait_out(error), self._deadline - self.clock())))
                continue
            self.summary.reached_database = True
            self._delay = FIRST_RETRY_S
            return model
        return None

    def _loop(self, model: _Model) -> None:
        origin = self.clock()
        drawn = 0
        next_at = origin + self.tick_s
        for tick in itertools.count(1):
            if self.stop.requested:
                return
            wait = min(next_at, self._deadline) - self.clock()
            if wait > 0:
                self.sleep(wait)
            if self.stop.requested:
                return
            moment = self.clock()
            # Events due so far at --rate, fractions carried: about `rate` a second.
            due = math.floor(self.rate * (moment - origin))
            events, drawn = due - drawn, due
            try:
                self._tick(model, tick, events)
                self._delay = FIRST_RETRY_S
                next_at = max(next_at + self.tick_s, self.clock())
            except IntegrityError as error:  # e.g. a second feed took the same case
                self.summary.skipped_ticks += 1
                self._pending.clear()
                self.log(f"tick skipped: {scrub(_reason(error), self.url)}")
                next_at = max(next_at + self.tick_s, self.clock())
            except SQLAlchemyError as error:
                if not is_outage(error):
                    raise
                next_at = self.clock() + self._wait_out(error)
            if self.clock() >= self._deadline:
                return

    def _tick(self, model: _Model, tick: int, events: int) -> None:
        """One transaction: due ratings, stage changes, new cases, new contacts with surveys."""
        now = self.now()
        contacts, cases, stages = model.streams.rng("feed_mix", tick).multinomial(
            events, event_mix(now))
        counts = TickCounts()
        with self.engine.begin() as connection:
            counts.ratings = _write_ratings(connection, self._pending, now, self.next_id)
            counts.stage_changes = _advance_cases(connection, model, tick, now, stages)
            counts.cases = _new_cases(connection, model, tick, now, cases, self.next_id)
            counts.answered, pending = _new_contacts(connection, model, tick, now, contacts,
                                                     self.next_id)
        counts.contacts = int(contacts)
        self._pending = pending  # ratings arrive a tick after their contact, never with it
        self._pending_since = now
        self.summary.add(counts)

    def _write_pending_ratings(self) -> None:
        """On a clean stop, write the ratings the next tick would have written: the last
        tick's contacts keep theirs, and the summary counts them."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        now = self.now()
        if self._pending_since is not None:
            now = max(now, self._pending_since + RATING_AFTER)
        try:
            with self.engine.begin() as connection:
                written = _write_ratings(connection, pending, now, self.next_id)
        except SQLAlchemyError as error:
            if not (is_outage(error) or isinstance(error, IntegrityError)):
                raise
            self.log(f"{len(pending)} ratings of the last tick not written: "
                     f"{scrub(_reason(error), self.url)}")
            return
        self.summary.ratings += written  # counted once committed

    def _wait_out(self, error: BaseException) -> float:
        """Say why and when the next try is: 0.5 s, doubling up to 10 s. Returns the delay."""
        delay, self._delay = self._delay, min(self._delay * 2, MAX_RETRY_S)
        self.last_outage = scrub(_reason(error), self.url)
        if self.stop.requested or self.clock() + delay >= self._deadline:
            return delay  # no retry before the run ends: the final line says the rest
        self.summary.retries += 1
        self.log(f"database unreachable ({mask_url(self.url)}): {self.last_outage}; "
                 f"retrying in {delay:g} s")
        return delay

    def _interruptible_sleep(self, seconds: float) -> None:
        """Sleep in short slices so a stop request is honoured within 0.1 s."""
        end = time.monotonic() + seconds
        while not self.stop.requested and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))


# --- Command line ------------------------------------------------------------------------------

def register(commands: argparse._SubParsersAction) -> None:
    """Add `feed` to `python -m data_access`."""
    parser = commands.add_parser(
        "feed", help="write live contacts, cases, stage changes and ratings stamped now",
        description="Write a live stream of events stamped now, from the demo's distributions. "
                    "Stops on Ctrl-C, SIGTERM or after --duration; waits out database outages.")
    parser.add_argument("--rate", type=number_arg("--rate", low=0, high=MAX_RATE, low_open=True),
                        default=DEFAULT_RATE, metavar="EVENTS_PER_S",
                        help=f"new contacts, cases and stage changes per second "
                             f"(default {DEFAULT_RATE:g}; surveys and ratings come with them)")
    parser.add_argument("--duration", type=number_arg("--duration", low=0, low_open=True),
                        metavar="S", help="stop after S seconds (default: run until Ctrl-C)")
    parser.add_argument("--db", help="database URL (default: DATABASE_URL, secrets, or SQLite)")
    parser.add_argument("--seed", type=int_arg("--seed", low=0),
                        help="make the drawn events reproducible (ids stay unique per run)")
    parser.error = _one_line_error(parser)
    parser.set_defaults(handler=run_feed)


def _one_line_error(parser: argparse.ArgumentParser) -> Callable[[str], NoReturn]:
    def error(message: str) -> NoReturn:
        # "argument --rate: --rate: -1 must be > 0" names the option twice; once is enough.
        message = re.sub(r"^argument (\S+): (?=\1)", "", message)
        parser.exit(2, f"error: {message}\n")
    return error


def _on_signals(stop: StopFlag) -> dict[int, object]:
    """First SIGINT/SIGTERM: finish the tick and stop. A second one interrupts the tick."""
    def handle(_signum: int, _frame: object) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {number: signal.signal(number, handle) for number in (signal.SIGINT, signal.SIGTERM)}


def run_feed(args: argparse.Namespace) -> int:
    """The `feed` command: 0 when stopped, 1 if the database never answered, 2 on errors."""
    engine = create_db_engine(args.db)
    stop = StopFlag()
    previous = _on_signals(stop)
    feed = LiveFeed(engine, rate=args.rate, duration=args.duration, seed=args.seed, stop=stop)
    where = mask_url(feed.url)
    _stderr(f"feed {feed.run_id}: about {args.rate:g} events/s into {where}; Ctrl-C stops")
    try:
        feed.run()
    except KeyboardInterrupt:  # a second Ctrl-C: the open transaction was rolled back
        pass
    except FeedError as error:
        if feed.summary.ticks:
            print(feed.summary.line())
        _stderr(f"error: {error}")
        return 2
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        engine.dispose()
    if not feed.summary.reached_database:
        why = (f"database {where} was unreachable for the whole run "
               f"({feed.summary.seconds:.1f} s): {feed.last_outage}" if feed.last_outage
               else "stopped before the database answered")
        _stderr(f"error: {why}; nothing written")
        return EXIT_NEVER_REACHED
    print(feed.summary.line(), flush=True)
    return 0
