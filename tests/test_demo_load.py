"""The demo load's shortcuts leave the schema as they found it.

To load fast it pauses the rollup insert triggers inside each month's transaction and, on
PostgreSQL, drops the loaded tables' foreign keys until the end. Whether it finishes or is
interrupted and redone, the database must end with every key and trigger, and the shared
metadata must still create the keys for the next database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Connection, Engine, inspect, select, text
from sqlalchemy.schema import CreateTable

from data_access import rollups
from data_access.config import local_today
from data_access.demo import DemoConfig, calibration, generate_demo, needs_demo, queueing
from data_access.engine import create_db_engine
from data_access.holidays import holiday_dates
from data_access.schema import (
    STAFFING_POOLS,
    AgentRating,
    Base,
    Case,
    CaseEvent,
    Contact,
    NpsSurvey,
    Staffing,
)
from sim import demand
from tests.test_rollups import MEASURES, assert_matches_rebuild

MEASURE_INDEX = MEASURES["rollup_contacts"].index("abandoned")

LOADED = (Contact, NpsSurvey, AgentRating, Case, CaseEvent)


def foreign_keys(connection: Connection) -> set[tuple[str, tuple[str, ...], str]]:
    found = inspect(connection)
    return {(model.__tablename__, tuple(key["constrained_columns"]), key["referred_table"])
            for model in LOADED for key in found.get_foreign_keys(model.__tablename__)}


def rollup_triggers(connection: Connection) -> set[str]:
    if connection.dialect.name == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'rollup%'"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rollup%'"
    return set(connection.scalars(text(query)))


def test_an_interrupted_load_redone_keeps_every_key_and_trigger(empty_url):
    engine = create_db_engine(empty_url)
    Base.metadata.create_all(engine)
    rollups.ensure_schema(engine)
    with engine.connect() as connection:
        keys, triggers = foreign_keys(connection), rollup_triggers(connection)
    assert len(keys) >= 9 and len(triggers) >= len(rollups.ROLLUPS) * 3

    def interrupt(fraction: float, _message: str) -> None:
        if fraction > 0.5:
            raise KeyboardInterrupt

    end = local_today()
    config = DemoConfig(end - dt.timedelta(days=75), end, scale=0.003)
    with pytest.raises(KeyboardInterrupt):
        generate_demo(engine, config, interrupt)
    assert needs_demo(engine)
    generate_demo(engine, config)
    assert not needs_demo(engine)
    with engine.connect() as connection:
        assert foreign_keys(connection) == keys
        assert rollup_triggers(connection) == triggers
        assert connection.scalar(select(Contact.id).limit(1)) is not None
    assert_matches_rebuild(engine)
    engine.dispose()
    for model in LOADED:  # the keys still belong to CREATE TABLE for the next database
        ddl = str(CreateTable(model.__table__).compile(engine))
        assert ddl.count("FOREIGN KEY") == len(model.__table__.foreign_key_constraints)


# --- The queue on record (issue 16): staffing, waits and abandons drawn from it ---------------

QUEUE_DAYS = (dt.date(2021, 10, 1), dt.date(2022, 1, 31))


@pytest.fixture(scope="module")
def queue_demo(tmp_path_factory) -> Iterator[Engine]:
    """Four months at a scale where every channel abandons a few hundred times."""
    path = tmp_path_factory.mktemp("queue") / "queue.db"
    engine = create_db_engine(f"sqlite:///{path}")
    generate_demo(engine, DemoConfig(*QUEUE_DAYS, scale=0.12,
                                     cutoff=dt.datetime(2022, 8, 1)))
    yield engine
    engine.dispose()


def test_the_demo_speaks_for_the_simulators_pools_patience_and_shrinkage():
    assert calibration.POOL_OF == demand.POOL_OF
    assert calibration.PATIENCE_S == demand.PATIENCE_S
    assert calibration.SHRINKAGE == demand.SHRINKAGE
    assert calibration.PLACES_PER_AGENT == {"digital": demand.DIGITAL_CONCURRENCY, "office": 1}
    assert set(calibration.POOL_OF.values()) == set(STAFFING_POOLS)
    for pool, (opening, closing) in calibration.OFFICE_HOURS.items():
        assert (opening, closing) == demand.OFFICE_HOURS[pool]


def test_erlang_a_matches_the_reference_figures_and_its_draws_match_it():
    """recipes.md: λ = 100/h, AHT 6 min, patience 180 s: P(abandon) 0.1460, 0.1016, 0.0676
    for c = 10, 11, 12; P(wait) of Erlang C (no abandons) 0.4494 at c = 12."""
    rates = np.full(3, 100 / 3600), np.full(3, 1 / 360), np.full(3, 1 / 180)
    places = np.array([10, 11, 12])
    figures = queueing.erlang_a(*rates, places)
    assert figures.abandons == pytest.approx([0.1460, 0.1016, 0.0676], abs=5e-4)
    no_patience = queueing.erlang_a(rates[0][:1], rates[1][:1], np.array([1e-9]),
                                    np.array([12]))
    assert no_patience.waits[0] == pytest.approx(0.4494, abs=5e-4)
    rng = np.random.default_rng(np.random.SeedSequence(16))
    probabilities = queueing.state_probabilities(*rates, places)
    interval = np.repeat(np.arange(3), 100_000)
    offered = queueing.draw_offered_waits(probabilities, rates[1], rates[2], places, interval,
                                          rng)
    gave_up = rng.exponential(180, interval.size) < offered
    for row, expected in enumerate(figures.abandons):  # within 4 standard errors
        drawn = gave_up[interval == row].mean()
        assert abs(drawn - expected) < 4 * np.sqrt(expected * (1 - expected) / 100_000)


def _queue_by_channel(connection: Connection) -> dict[str, tuple[int, int, int]]:
    """Per channel: (abandoned, queued, seconds waited by every queued contact)."""
    rows = connection.execute(text(
        "SELECT ch.code, sum(CASE WHEN c.served_by = 'abandoned' THEN 1 ELSE 0 END), count(*), "
        "sum(c.wait_s) FROM contacts c JOIN channels ch ON ch.id = c.channel_id "
        "WHERE c.served_by IN ('operator', 'abandoned') GROUP BY ch.code")).all()
    return {code: (int(abandoned), int(queued), int(waited))
            for code, abandoned, queued, waited in rows}


def test_abandonment_is_plausible_and_patience_can_be_learned_back(queue_demo):
    with queue_demo.connect() as connection:
        queue = _queue_by_channel(connection)
    rates = {code: abandoned / queued for code, (abandoned, queued, _) in queue.items()}
    for code in ("whatsapp", "telegram", "web_cabinet", "mobile_app"):
        assert 0.01 < rates[code] < 0.08, (code, rates[code])
    assert 0.005 < rates["office"] < min(rates["whatsapp"], rates["telegram"])
    # The censored exponential estimate (abandons / seconds waited) gives the patience back.
    for codes in (("whatsapp", "telegram"), ("web_cabinet", "mobile_app"), ("office",)):
        abandoned = sum(queue[code][0] for code in codes)
        waited = sum(queue[code][2] for code in codes)
        assert abandoned > 150, codes
        learned = waited / abandoned
        truth = calibration.PATIENCE_S[codes[0]]
        assert abs(learned / truth - 1) < 4 / np.sqrt(abandoned), (codes, learned, truth)


def test_staffing_follows_the_roster_and_the_opening_hours(queue_demo):
    with queue_demo.connect() as connection:
        rows = pl.DataFrame(connection.execute(select(
            Staffing.day, Staffing.quarter, Staffing.pool, Staffing.agents)).all(),
            schema=["day", "quarter", "pool", "agents"], orient="row")
        busiest_quarters = connection.execute(text(
            "SELECT count(*) FROM contacts WHERE served_by IN ('operator', 'abandoned')")
        ).scalar()
    days = (QUEUE_DAYS[1] - QUEUE_DAYS[0]).days + 1
    assert rows.height == days * 96 * 2 and busiest_quarters > 0
    digital = rows.filter(pl.col("pool") == "digital")
    assert digital["agents"].min() >= 1  # around the clock
    day_shift = digital.filter(pl.col("quarter").is_between(40, 80))["agents"].mean()
    night = digital.filter(pl.col("quarter") < 24)["agents"].mean()
    assert day_shift > 2 * night
    office = rows.filter(pl.col("pool") == "office").with_columns(
        weekday=pl.col("day").dt.weekday(), hour=pl.col("quarter") // 4)
    holidays = holiday_dates(*QUEUE_DAYS)
    assert holidays  # 25 October, 1 and 16-17 December, 1-2 and 7 January...
    closed = office.filter((pl.col("weekday") == 7) | pl.col("day").is_in(list(holidays))
                           | (pl.col("hour") < 9) | (pl.col("hour") >= 18))
    assert closed["agents"].max() == 0
    weekdays = office.filter(pl.col("weekday").is_between(1, 5)
                             & ~pl.col("day").is_in(list(holidays))
                             & pl.col("hour").is_between(9, 17))
    assert weekdays["agents"].min() >= 1
    # Offices are closed on holidays: no contacts there, served or abandoned.
    with queue_demo.connect() as connection:
        on_holidays = connection.execute(text(
            "SELECT count(*) FROM contacts c JOIN channels ch ON ch.id = c.channel_id "
            "WHERE ch.code = 'office' AND date(c.started_at) IN "
            f"({', '.join(repr(day.isoformat()) for day in holidays)})")).scalar()
    assert on_holidays == 0


def test_abandoned_rows_follow_the_rules_and_the_rollups_count_them(queue_demo):
    with queue_demo.connect() as connection:
        wrong = connection.execute(text(
            "SELECT count(*) FROM contacts WHERE served_by = 'abandoned' AND (operator_id IS "
            "NOT NULL OR handle_s <> 0 OR wait_s < 1 OR id IN (SELECT contact_id FROM "
            "nps_surveys) OR id IN (SELECT contact_id FROM agent_ratings))")).scalar()
        after_bot = connection.execute(text(
            "SELECT count(*) FROM contacts c JOIN channels ch ON ch.id = c.channel_id "
            "WHERE c.served_by = 'abandoned' AND c.bot_s IS NOT NULL AND ch.code IN "
            "('whatsapp', 'telegram')")).scalar()
        elsewhere = connection.execute(text(
            "SELECT count(*) FROM contacts c JOIN channels ch ON ch.id = c.channel_id "
            "WHERE c.served_by = 'abandoned' AND c.bot_s IS NOT NULL AND ch.code NOT IN "
            "('whatsapp', 'telegram')")).scalar()
    assert wrong == 0 and after_bot > 0 and elsewhere == 0
    kept = assert_matches_rebuild(queue_demo)
    assert sum(values[MEASURE_INDEX] for values in kept["rollup_contacts"].values()) > 0
