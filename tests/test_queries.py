"""Query layer: filters, granularities, NPS statistics and case percentiles, on both backends."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from sqlalchemy import case, func, select

from data_access import queries
from data_access.dates import period_starts
from data_access.metrics import nps_margin_of_error, open_at_end, with_nps
from data_access.queries import Filters
from data_access.rollups import RESOLUTION_EDGES_H
from data_access.schema import Case, Contact, NpsSurvey
from tests.conftest import bucket_percentile

JULY = Filters(dt.date(2022, 7, 1), dt.date(2022, 7, 31))
H1_2022 = Filters(dt.date(2022, 1, 1), dt.date(2022, 6, 30))


def test_margin_of_error_matches_hand_computation():
    # 50 promoters, 30 passives, 20 detractors: p = 0.5, d = 0.2, NPS 30.
    # 1.96 * 100 * sqrt((0.5 + 0.2 - 0.3^2) / 100) = 196 * sqrt(0.0061) = 15.308...
    assert nps_margin_of_error(50, 20, 100) == pytest.approx(15.30807, abs=1e-4)
    frame = with_nps(pl.DataFrame({"surveys_sent": [400], "responses": [100], "promoters": [50],
                                   "passives": [30], "detractors": [20]}))
    row = frame.row(0, named=True)
    assert row["nps"] == pytest.approx(30.0)
    assert row["nps_moe"] == pytest.approx(15.30807, abs=1e-4)
    assert row["answer_rate"] == pytest.approx(0.25)
    assert math.isnan(nps_margin_of_error(0, 0, 0))


def test_nps_counts_add_up(seeded_engine):
    with seeded_engine.connect() as connection:
        monthly = queries.nps_by_period(connection, H1_2022, "month")
        total = queries.nps_total(connection, H1_2022).row(0, named=True)
    assert monthly.height == 6
    assert (monthly["promoters"] + monthly["passives"] + monthly["detractors"]
            == monthly["responses"]).all()
    assert monthly["surveys_sent"].sum() == total["surveys_sent"]
    assert 0.15 < total["answer_rate"] < 0.4


@pytest.mark.parametrize("granularity, periods", [("day", 31), ("week", 5), ("month", 1)])
def test_granularity(seeded_engine, granularity, periods):
    with seeded_engine.connect() as connection:
        frame = queries.nps_by_period(connection, JULY, granularity)
    assert frame.height == periods
    if granularity == "week":  # weeks start on Monday; July 2022 starts on a Friday
        assert frame["period"].to_list()[0] == dt.date(2022, 6, 27)
        assert all(day.weekday() == 0 for day in frame["period"].to_list())


def test_nps_by_dimension_covers_every_value(seeded_engine):
    with seeded_engine.connect() as connection:
        by_channel = queries.nps_by_period(connection, JULY, "month", by="channel")
        by_region = queries.nps_by_period(connection, JULY, "month", by="region")
        total = queries.nps_total(connection, JULY).row(0, named=True)
    assert set(by_channel["channel"]) == {"office", "whatsapp", "telegram", "web_cabinet",
                                          "mobile_app"}
    assert by_region.height == 20
    assert by_channel["responses"].sum() == by_region["responses"].sum() == total["responses"]


def test_channel_filter_changes_results(seeded_engine):
    office_only = Filters(JULY.start, JULY.end, channels=("office",))
    with seeded_engine.connect() as connection:
        everything = queries.contacts_by_period(connection, JULY)
        office = queries.contacts_by_period(connection, office_only)
        office_nps = queries.nps_total(connection, office_only).row(0, named=True)
        all_nps = queries.nps_total(connection, JULY).row(0, named=True)
    assert set(office["channel"]) == {"office"}
    assert office["online_share"].to_list() == [0.0]
    assert office["contacts"].sum() < everything["contacts"].sum()
    # Offices queue longest, so their NPS sits below the all-channel NPS.
    assert office_nps["nps"] < all_nps["nps"]


def test_region_and_service_filters_change_results(seeded_engine):
    almaty = Filters(JULY.start, JULY.end, regions=("almaty_city",))
    consult = Filters(JULY.start, JULY.end, service_types=("consultation",))
    with seeded_engine.connect() as connection:
        total = queries.contacts_by_period(connection, JULY)["contacts"].sum()
        in_almaty = queries.contacts_by_period(connection, almaty)["contacts"].sum()
        consultations = queries.contacts_by_period(connection, consult)["contacts"].sum()
    assert 0.10 * total < in_almaty < 0.20 * total  # Almaty is the biggest region
    assert 0 < consultations < total


def test_hostile_filter_values_are_bound_not_executed(seeded_engine):
    hostile = Filters(JULY.start, JULY.end, channels=("'; DROP TABLE contacts;--",))
    with seeded_engine.connect() as connection:
        assert queries.contacts_by_period(connection, hostile).is_empty()
        assert queries.contacts_by_period(connection, JULY).height > 0  # table still there


def test_online_share_per_period(seeded_engine):
    with seeded_engine.connect() as connection:
        frame = queries.contacts_by_period(connection, H1_2022, "month")
    per_month = frame.group_by("period").agg(pl.col("online_share").first(),
                                             pl.col("contacts").sum())
    assert per_month.height == 6
    assert per_month["online_share"].is_between(0.6, 0.66).all()


def test_nps_falls_with_wait(seeded_engine):
    with seeded_engine.connect() as connection:
        buckets = queries.nps_by_wait_bucket(
            connection, Filters(dt.date(2021, 1, 1), dt.date(2022, 7, 31)))
    assert buckets["wait_bucket"].to_list()[0] == "0-30 s"
    nps = buckets["nps"].to_list()
    assert nps[0] - nps[-1] > 30
    assert nps[0] > nps[3] > nps[-1]


def _nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered)) - 1]


def test_automated_nps_counts_match_raw_surveys(seeded_engine):
    """The simulator's bot/self-service NPS: all surveys less the operator-served buckets."""
    july = Filters(dt.date(2022, 7, 1), dt.date(2022, 7, 31))
    with seeded_engine.connect() as connection:
        automated = queries.automated_nps_counts(connection, july).row(0, named=True)
        raw = connection.execute(
            select(func.count(), func.count(NpsSurvey.score),
                   func.sum(case((NpsSurvey.score >= 9, 1), else_=0)),
                   func.sum(case((NpsSurvey.score.between(7, 8), 1), else_=0)),
                   func.sum(case((NpsSurvey.score <= 6, 1), else_=0)))
            .join(Contact, Contact.id == NpsSurvey.contact_id)
            .where(Contact.served_by != "operator", Contact.started_at >= july.start_at,
                   Contact.started_at < july.end_before)).one()
    assert automated["surveys_sent"] > 0
    assert tuple(automated[name] for name in ("surveys_sent", "responses", "promoters",
                                              "passives", "detractors")) == tuple(raw)


def test_case_percentiles_and_backlog(seeded_engine):
    with seeded_engine.connect() as connection:
        by_category = queries.cases_by_period(connection, H1_2022, "month", by="category")
        by_channel = queries.cases_by_period(connection, H1_2022, "month", by="channel")
        counts = queries.case_counts(connection, H1_2022)
    complaints = by_channel.filter(pl.col("kind") == "complaint")
    assert complaints["received"].sum() == counts["complaints"]
    assert by_category["received"].sum() == counts["complaints"] + counts["appeals"]
    assert "e_otinish" in set(by_channel["channel"])
    assert (by_category["open_backlog"] >= 0).all()

    # Percentiles of the busiest March region, against a nearest-rank oracle on raw rows:
    with seeded_engine.connect() as connection:
        by_kind = queries.cases_by_period(
            connection, Filters(dt.date(2022, 3, 1), dt.date(2022, 3, 31)), "month",
            by="region")
    one = by_kind.filter(pl.col("kind") == "appeal").sort("received", descending=True).row(
        0, named=True)
    with seeded_engine.connect() as connection:
        region_rows = connection.execute(select(Case.received_at, Case.resolved_at).where(
            Case.status == "answered", Case.kind == "appeal",
            Case.received_at >= dt.datetime(2022, 3, 1), Case.received_at < dt.datetime(2022, 4, 1),
            Case.region_id == _region_id(connection, one["region"]))).all()
    hours = [(r.resolved_at - r.received_at).total_seconds() / 3600 for r in region_rows]
    assert one["median_resolution_h"] == pytest.approx(
        bucket_percentile(hours, RESOLUTION_EDGES_H, 0.5), abs=1e-6)
    assert one["p90_resolution_h"] == pytest.approx(
        bucket_percentile(hours, RESOLUTION_EDGES_H, 0.9), abs=1e-6)


def _region_id(connection, code: str) -> int:
    from data_access.schema import Region

    return connection.scalar(select(Region.id).where(Region.code == code))


def test_backlog_equals_open_cases_at_range_end(seeded_engine):
    """Backlog at the last period's end must equal a direct count of cases open at that moment."""
    from sqlalchemy import func, or_

    with seeded_engine.connect() as connection:
        frame = queries.cases_by_period(connection, H1_2022, "month", by="channel")
        end = H1_2022.end_before
        direct = connection.scalar(select(func.count()).select_from(Case).where(
            Case.received_at < end, or_(Case.resolved_at.is_(None), Case.resolved_at >= end)))
    last = frame.filter(pl.col("period") == dt.date(2022, 6, 1))
    assert last["open_backlog"].sum() == direct


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_backlog_carried_into_a_range_without_case_activity(seeded_engine, granularity):
    """Months after the story's last case, the cases still open are the backlog at the end."""
    from sqlalchemy import func

    quiet = Filters(dt.date(2023, 3, 1), dt.date(2023, 3, 31))
    with seeded_engine.connect() as connection:
        frame = queries.cases_by_period(connection, quiet, granularity, by=None)
        still_open = connection.scalar(select(func.count()).select_from(Case).where(
            Case.kind == "appeal", Case.resolved_at.is_(None)))
    assert still_open > 0
    assert frame["received"].sum() == frame["closed"].sum() == 0
    appeals = frame.filter(pl.col("kind") == "appeal")
    assert appeals["period"].to_list() == period_starts(quiet.start, quiet.end, granularity)
    assert (appeals["open_backlog"] == still_open).all()
    assert open_at_end(frame, "appeal") == still_open


def test_ratings_by_operator(seeded_engine):
    with seeded_engine.connect() as connection:
        ratings = queries.ratings_by_period(connection, JULY, "month")
    assert ratings.height > 10
    assert ratings["mean_score"].is_between(1, 5).all()
    assert set(ratings["team"]) <= {"front_line", "digital"}


def test_unknown_granularity_is_refused(seeded_engine):
    with seeded_engine.connect() as connection, pytest.raises(ValueError, match="granularity"):
        queries.nps_by_period(connection, JULY, "year")


def test_demo_load_leaves_every_index_in_place(seeded_engine):
    """PostgreSQL loads build some indexes at the end; they must all be there afterwards."""
    from sqlalchemy import inspect

    from data_access.schema import Base

    inspector = inspect(seeded_engine)
    for table in Base.metadata.sorted_tables:
        present = {ix["name"] for ix in inspector.get_indexes(table.name)}
        expected = {index.name for index in table.indexes if not index.unique}
        assert expected <= present, (table.name, expected - present)


T0 = dt.datetime(2022, 7, 4, 10, 0)
HANDLING_COLUMNS = [
    "channel", "contacts", "by_operator", "by_bot", "by_self_service", "escalated", "automated",
    "operator_aht_s", "automated_handle_s", "bot_handle_s", "escalated_bot_s",
    "automated_share", "self_service_share", "bot_share", "bot_containment"]


@pytest.fixture
def handling_engine(empty_url):
    """Hand-made contacts whose figures are worked out below."""
    from sqlalchemy import insert

    from data_access.cli import main
    from data_access.engine import create_db_engine
    from data_access.reference import CHANNEL_BY_CODE
    from data_access.schema import Operator

    assert main(["init", "--db", empty_url]) == 0
    engine = create_db_engine(empty_url)
    rows = [  # (channel, served_by, handle_s, bot_s)
        ("whatsapp", "bot", 100, None), ("whatsapp", "bot", 120, None),
        ("whatsapp", "bot", 140, None), ("whatsapp", "operator", 500, 60),
        ("whatsapp", "operator", 700, 90), ("whatsapp", "operator", 300, None),
        ("web_cabinet", "self_service", 200, None), ("web_cabinet", "self_service", 400, None),
        ("web_cabinet", "operator", 600, None), ("web_cabinet", "operator", 800, None),
        ("office", "operator", 900, None)]
    with engine.begin() as connection:
        connection.execute(insert(Operator).values(
            id=1, external_id="OP1", name="A", team="digital", region_id=1,
            active_from=dt.date(2020, 1, 1)))
        connection.execute(insert(Contact), [
            {"external_id": f"H{n}", "started_at": T0 + dt.timedelta(minutes=n),
             "channel_id": CHANNEL_BY_CODE[channel].id, "region_id": 1, "service_type_id": 1,
             "served_by": who, "operator_id": 1 if who == "operator" else None,
             "wait_s": 30 if who == "operator" else 0, "handle_s": handle, "bot_s": bot,
             "subscriber_key": "k"} for n, (channel, who, handle, bot) in enumerate(rows)])
    yield engine
    engine.dispose()


def test_handling_by_channel_measures_the_bot_to_human_path(handling_engine):
    with handling_engine.connect() as connection:
        frame = queries.handling_by_channel(connection, Filters(T0.date(), T0.date()))
    assert frame.columns == HANDLING_COLUMNS
    rows = {row["channel"]: row for row in frame.iter_rows(named=True)}
    assert rows["whatsapp"] == pytest.approx({
        "channel": "whatsapp", "contacts": 6, "by_operator": 3, "by_bot": 3,
        "by_self_service": 0, "escalated": 2, "automated": 3, "operator_aht_s": 500.0,
        "automated_handle_s": 120.0, "bot_handle_s": 120.0, "escalated_bot_s": 75.0,
        "automated_share": 0.5, "self_service_share": 0.0, "bot_share": 5 / 6,
        "bot_containment": 3 / 5})
    assert rows["web_cabinet"] == pytest.approx({
        "channel": "web_cabinet", "contacts": 4, "by_operator": 2, "by_bot": 0,
        "by_self_service": 2, "escalated": 0, "automated": 2, "operator_aht_s": 700.0,
        "automated_handle_s": 300.0, "bot_handle_s": None, "escalated_bot_s": None,
        "automated_share": 0.5, "self_service_share": 0.5, "bot_share": 0.0,
        "bot_containment": None})
    assert rows["office"]["bot_containment"] is None and rows["office"]["bot_share"] == 0
    assert frame.schema["contacts"] == pl.Int64 and frame.schema["bot_share"] == pl.Float64


def test_latest_contact_date_ignores_days_after_today(handling_engine):
    from sqlalchemy import insert

    from data_access.config import local_today

    with handling_engine.connect() as connection:
        before = queries.latest_contact_date(connection)
    assert before == T0.date()
    tomorrow = dt.datetime.combine(local_today() + dt.timedelta(days=1), dt.time(9))
    with handling_engine.begin() as connection:
        connection.execute(insert(Contact), [
            {"external_id": f"FUTURE-{n}", "started_at": moment, "channel_id": 2,
             "region_id": 1, "service_type_id": 1, "served_by": "bot", "operator_id": None,
             "wait_s": 0, "handle_s": 60, "subscriber_key": "k"}
            for n, moment in enumerate((dt.datetime(2999, 6, 1, 12, 0), tomorrow))])
    with handling_engine.connect() as connection:
        assert queries.latest_contact_date(connection) == before
        today = dt.datetime.combine(local_today(), dt.time(0, 1))
        connection.execute(insert(Contact).values(
            external_id="TODAY", started_at=today, channel_id=2, region_id=1,
            service_type_id=1, served_by="bot", wait_s=0, handle_s=60, subscriber_key="k"))
        assert queries.latest_contact_date(connection) == local_today()
        connection.rollback()
