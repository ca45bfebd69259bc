"""The queue on record (data_access.queue) on a hand-made database, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl
import pytest
from sqlalchemy import insert

from data_access import rollups
from data_access.config import SERVICE_LEVEL_TARGETS
from data_access.engine import create_db_engine
from data_access.queries import Filters
from data_access.queue import (
    PLACES_PER_AGENT,
    POOL_OF,
    abandonment_by_channel_hour,
    abandonment_total,
    automation_by_day,
    occupancy_by_pool_hour,
    queue_by_channel,
    queue_history,
    queue_sums_by_channel,
    service_level_by_channel,
    staffing_by_quarter,
    target_bucket_columns,
)
from data_access.reference import seed_reference
from data_access.rollups import ensure_schema
from data_access.schema import Contact, Operator, Staffing
from sim import backtest, demand

DAY = dt.date(2026, 3, 2)
_ids = itertools.count(1)


def contact(channel: int, hour: int, minute: int, served_by: str, wait_s: int,
            handle_s: int = 0, bot_s: int | None = None) -> dict:
    number = next(_ids)
    return {"id": number, "external_id": f"q-{number}",
            "started_at": dt.datetime.combine(DAY, dt.time(hour, minute)),
            "channel_id": channel, "region_id": 1, "service_type_id": 1,
            "served_by": served_by, "operator_id": 1 if served_by == "operator" else None,
            "wait_s": wait_s, "handle_s": handle_s, "subscriber_key": "s", "bot_s": bot_s}


# WhatsApp (2) at 10:00–10:14: 4 answered (waits 5, 30, 59, 200), 2 abandoned (waits 40, 100);
# a bot-finished chat. Office (1) at 09:30: 2 answered (waits 100, 400), 1 abandoned (wait 50).
ROWS = [
    contact(2, 10, 0, "operator", 5, 300), contact(2, 10, 1, "operator", 30, 300),
    contact(2, 10, 2, "operator", 59, 300, bot_s=20), contact(2, 10, 3, "operator", 200, 300),
    contact(2, 10, 4, "abandoned", 40), contact(2, 10, 5, "abandoned", 100, bot_s=30),
    contact(2, 10, 6, "bot", 0, 90),
    contact(1, 9, 30, "operator", 100, 900), contact(1, 9, 31, "operator", 400, 900),
    contact(1, 9, 32, "abandoned", 50),
]
# Digital: 3 agents 10:00–11:00; office: 2 agents 09:00–10:00.
STAFF = ([{"day": DAY, "quarter": q, "pool": "digital", "agents": 3} for q in range(40, 44)]
         + [{"day": DAY, "quarter": q, "pool": "office", "agents": 2} for q in range(36, 40)])


@pytest.fixture
def queue_url(empty_url) -> str:
    engine = create_db_engine(empty_url)
    ensure_schema(engine)
    with engine.begin() as connection:
        seed_reference(connection)
        connection.execute(insert(Operator), [{"id": 1, "external_id": "op-1", "name": "A",
                                               "team": "digital", "region_id": 1,
                                               "active_from": dt.date(2020, 1, 1)}])
        connection.execute(insert(Contact), ROWS)
        connection.execute(insert(Staffing), STAFF)
    engine.dispose()
    return empty_url


def test_abandonment_per_channel_hour_and_total(queue_url):
    engine = create_db_engine(queue_url)
    with engine.connect() as connection:
        hours = abandonment_by_channel_hour(connection, Filters(DAY, DAY))
        queue = queue_by_channel(connection, Filters(DAY, DAY))
        only_office = queue_by_channel(connection, Filters(DAY, DAY, channels=("office",)))
    engine.dispose()
    whatsapp = hours.filter(pl.col("channel") == "whatsapp").row(0, named=True)
    assert (whatsapp["hour"], whatsapp["queued"], whatsapp["abandoned"]) == (10, 6, 2)
    assert whatsapp["abandonment_rate"] == pytest.approx(2 / 6)
    office = hours.filter(pl.col("channel") == "office").row(0, named=True)
    assert (office["hour"], office["abandonment_rate"]) == (9, pytest.approx(1 / 3))
    total = abandonment_total(queue)
    assert total == {"queued": 9, "abandoned": 3, "abandonment_rate": pytest.approx(3 / 9)}
    assert abandonment_total(only_office)["queued"] == 3


def test_service_level_counts_abandons_as_misses_and_asa_is_of_the_answered(queue_url):
    engine = create_db_engine(queue_url)
    with engine.connect() as connection:
        queue = queue_by_channel(connection, Filters(DAY, DAY))
    engine.dispose()
    levels = {row["channel"]: row for row in service_level_by_channel(
        queue, SERVICE_LEVEL_TARGETS).iter_rows(named=True)}
    # WhatsApp target 60 s: waits 5, 30, 59 of 6 queued.
    assert levels["whatsapp"]["service_level"] == pytest.approx(3 / 6)
    assert levels["whatsapp"]["asa_s"] == pytest.approx((5 + 30 + 59 + 200) / 4)
    assert levels["whatsapp"]["meets_target"] is False
    # Offices target 300 s: the 100 s wait of 3 queued.
    assert levels["office"]["service_level"] == pytest.approx(1 / 3)
    assert "e_otinish" not in levels


def test_occupancy_is_work_over_staffed_places(queue_url):
    engine = create_db_engine(queue_url)
    with engine.connect() as connection:
        table = occupancy_by_pool_hour(connection, Filters(DAY, DAY))
        staffing = staffing_by_quarter(connection, DAY, DAY)
    engine.dispose()
    assert staffing.height == 8
    digital = table.filter((pl.col("pool") == "digital") & (pl.col("hour") == 10)).row(
        0, named=True)
    assert digital["work_s"] == 1200 and digital["staffed_s"] == 3 * 2 * 3600
    assert digital["occupancy"] == pytest.approx(1200 / 21600)
    assert digital["mean_agents"] == pytest.approx(3)
    office = table.filter((pl.col("pool") == "office") & (pl.col("hour") == 9)).row(
        0, named=True)
    assert office["occupancy"] == pytest.approx(1800 / 7200)


def test_history_for_the_simulator(queue_url):
    engine = create_db_engine(queue_url)
    with engine.connect() as connection:
        history = queue_history(connection, DAY, DAY)
        sums = queue_sums_by_channel(connection, DAY, DAY)
        automation = automation_by_day(connection, DAY, DAY)
    engine.dispose()
    quarter = history.filter(pl.col("channel") == "whatsapp").row(0, named=True)
    assert (quarter["quarter"], quarter["answered"], quarter["abandoned"]) == (40, 4, 2)
    assert quarter["contacts"] == 5  # served only: 4 by operators, 1 by the bot
    assert quarter["answered_wait_0_10s"] == 1 and quarter["answered_wait_180_240s"] == 1
    whatsapp = sums.filter(pl.col("channel") == "whatsapp").row(0, named=True)
    assert whatsapp["answered_wait_s"] == 294 and whatsapp["abandoned_wait_s"] == 140
    day = automation.filter(pl.col("channel") == "whatsapp").row(0, named=True)
    assert (day["abandoned_after_bot"], day["escalated"], day["by_bot"]) == (1, 1, 1)


def test_target_must_be_a_recorded_edge():
    assert len(target_bucket_columns(60)) == 5
    with pytest.raises(ValueError, match="target_s 75"):
        target_bucket_columns(75)


def test_pools_and_edges_agree_with_the_simulator():
    assert POOL_OF == demand.POOL_OF
    assert PLACES_PER_AGENT["digital"] == demand.DIGITAL_CONCURRENCY
    assert backtest.WAIT_EDGES_S == rollups.WAIT_EDGES_S
    assert {code: (share, float(s)) for code, (share, s) in SERVICE_LEVEL_TARGETS.items()} \
        == demand.SL_TARGETS
