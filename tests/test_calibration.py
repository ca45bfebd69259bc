"""The demo reproduces every figure of shared/domain.md's table (counts scale, ratios hold).

These run at a small scale on both backends. NPS tolerances add the sampling margin that a small
sample brings (the query's own 95% margin of error) to the published ±2 points.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from data_access.demo import (
    DemoConfig,
    Streams,
    build_cases,
    build_month,
    build_operators,
    build_plan,
    subscriber_keys,
)
from data_access.demo.story import MONTHS
from data_access.queries import Filters, front_line_coverage, kpis, nps_by_period
from tests.conftest import SMALL_SCALE, STORY


def _kpis(engine, start: str, end: str) -> dict:
    with engine.connect() as connection:
        return kpis(connection, Filters(dt.date.fromisoformat(start), dt.date.fromisoformat(end)))


def test_h1_2022_contact_volumes(seeded_engine):
    figures = _kpis(seeded_engine, "2022-01-01", "2022-06-30")
    assert figures["contacts_online"] == pytest.approx(506_000 * SMALL_SCALE, rel=0.01)
    assert figures["contacts_offline"] == pytest.approx(303_500 * SMALL_SCALE, rel=0.01)


def test_july_2022_contact_volumes(seeded_engine):
    figures = _kpis(seeded_engine, "2022-07-01", "2022-07-31")
    assert figures["contacts_online"] == pytest.approx(73_200 * SMALL_SCALE, rel=0.015)
    assert figures["contacts_offline"] == pytest.approx(39_400 * SMALL_SCALE, rel=0.015)


def test_online_share_2021(seeded_engine):
    assert _kpis(seeded_engine, "2021-01-01", "2021-12-31")["online_share"] == pytest.approx(
        0.58, abs=0.01)


def test_complaints_and_appeals_fall_year_over_year(seeded_engine):
    h1_2021 = _kpis(seeded_engine, "2021-01-01", "2021-06-30")
    h1_2022 = _kpis(seeded_engine, "2022-01-01", "2022-06-30")
    complaints = h1_2022["complaints"] / h1_2021["complaints"] - 1
    appeals = h1_2022["appeals"] / h1_2021["appeals"] - 1
    assert complaints == pytest.approx(-0.26, abs=0.02)
    assert appeals == pytest.approx(-0.68, abs=0.02)


def test_e_otinish_count_scales_and_starts_in_february_2022(seeded_engine):
    assert _kpis(seeded_engine, "2022-02-01", "2022-07-31")["e_otinish_appeals"] == round(
        137 * SMALL_SCALE)
    assert _kpis(seeded_engine, "2021-01-01", "2022-01-31")["e_otinish_appeals"] == 0


def test_exactly_137_e_otinish_appeals_at_scale_1():
    """Full scale, without a database: the generator's own case frames for the whole story."""
    config = DemoConfig(scale=1.0, **STORY)
    streams = Streams(config.seed)
    plan = build_plan(config, streams)
    counts, first_day = 0, None
    next_id = 1
    month = STORY["start"]
    while month <= STORY["end"]:
        cases, _events = build_cases(config, plan, month, next_id, streams)
        next_id += cases.height
        e_otinish = cases.filter(cases["external_id"].str.starts_with("EOT"))
        counts += e_otinish.height
        if e_otinish.height and first_day is None:
            first_day = e_otinish["received_at"].min().date()
        month = (month + dt.timedelta(days=32)).replace(day=1)
    assert counts == 137
    assert first_day >= dt.date(2022, 2, 1)


def test_nps_path(seeded_engine):
    with seeded_engine.connect() as connection:
        monthly = nps_by_period(connection, Filters(STORY["start"], STORY["end"]), "month")
    nps = dict(zip(monthly["period"].to_list(), monthly["nps"].to_list(), strict=True))
    moe = dict(zip(monthly["period"].to_list(), monthly["nps_moe"].to_list(), strict=True))
    january, july = dt.date(2022, 1, 1), dt.date(2022, 7, 1)
    assert abs(nps[january] - 38) <= 2 + moe[january]
    assert abs(nps[july] - 55) <= 2 + moe[july]
    for month in (dt.date(2022, m, 1) for m in range(2, 7)):
        assert nps[month] >= 36 - moe[month], month
    for month in (dt.date(2021, m, 1) for m in range(1, 13)):
        assert 33 - moe[month] <= nps[month] <= 38 + moe[month], month
    # The rise is real, not noise: July beats January by far more than both margins.
    assert nps[july] - nps[january] > 10


def test_every_month_more_than_85_percent_of_front_line_rated(seeded_engine):
    with seeded_engine.connect() as connection:
        coverage = front_line_coverage(connection, Filters(STORY["start"], STORY["end"]))
    assert coverage.height == 19
    assert coverage["rated_share"].min() > 0.85
    assert coverage["rated_share"].mean() < 1.0  # some operator-months are off rated services


def test_story_targets_are_the_published_figures():
    h1 = MONTHS[12:18]
    assert sum(m.online for m in h1) == pytest.approx(506_000)
    assert sum(m.offline for m in h1) == pytest.approx(303_500)
    assert MONTHS[18].online == 73_200 and MONTHS[18].offline == 39_400
    online_2021 = sum(m.online for m in MONTHS[:12])
    assert online_2021 / sum(m.online + m.offline for m in MONTHS[:12]) == pytest.approx(0.58)
    assert sum(m.e_otinish for m in MONTHS) == 137


def _generated_month(seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    config = DemoConfig(scale=0.01, seed=seed, **STORY)
    streams = Streams(config.seed)
    plan = build_plan(config, streams)
    operators = build_operators(config, streams)
    batch = build_month(config, plan, operators, subscriber_keys(config), streams,
                        dt.date(2022, 3, 1), 1)
    return batch.contacts, batch.surveys


def test_generation_is_deterministic():
    contacts, surveys = _generated_month(7)
    again_contacts, again_surveys = _generated_month(7)
    other_contacts, _ = _generated_month(8)
    assert contacts.equals(again_contacts) and surveys.equals(again_surveys)
    assert not contacts.equals(other_contacts)


def test_the_roster_follows_roster_scale_when_given():
    """The scale benchmark grows rows without growing the operators a page ranks."""
    def roster(**sizes: float) -> pl.DataFrame:
        config = DemoConfig(seed=3, **STORY, **sizes)
        return build_operators(config, Streams(config.seed))

    reference, grown = roster(scale=1.0), roster(scale=10.0)
    assert grown.height > 9 * reference.height
    assert roster(scale=10.0, roster_scale=1.0).equals(reference)
    config = DemoConfig(scale=10.0, roster_scale=0.0, **STORY)
    assert config.problems() == ["roster_scale 0.0 must be > 0 and <= 50"]


def test_default_story_ends_today_with_nothing_in_the_future(tmp_path):
    from sqlalchemy import func, select

    from data_access.config import local_now
    from data_access.demo import generate_demo
    from data_access.engine import create_db_engine
    from data_access.schema import Case, Contact, NpsSurvey

    engine = create_db_engine(f"sqlite:///{tmp_path / 'today.db'}")
    before = local_now()
    config = DemoConfig.ending(scale=0.005)
    generate_demo(engine, config)
    with engine.connect() as connection:
        newest = connection.scalar(select(func.max(Contact.started_at)))
        oldest = connection.scalar(select(func.min(Contact.started_at)))
        answered = connection.scalar(select(func.max(NpsSurvey.answered_at)))
        sent = connection.scalar(select(func.max(NpsSurvey.sent_at)))
        received = connection.scalar(select(func.max(Case.received_at)))
    now = local_now()
    assert before.date() <= config.end <= now.date()  # robust to a run across midnight
    assert newest <= now and answered <= now and received <= now and sent <= now
    assert (now - newest) < dt.timedelta(days=2)
    assert oldest.date() == config.start == config.end - dt.timedelta(days=576)


def test_chats_record_the_bot_to_human_path(seeded_engine):
    """On WhatsApp and Telegram the bot contains 55–65% of the chats it answers; the rest
    reach a person after about 90–120 s in the bot (domain: bot containment is measured)."""
    from data_access.queries import handling_by_channel

    with seeded_engine.connect() as connection:
        handling = handling_by_channel(connection, Filters(STORY["start"], STORY["end"]))
    chats = handling.filter(pl.col("channel").is_in(["whatsapp", "telegram"]))
    assert chats.height == 2
    for row in chats.iter_rows(named=True):
        assert 0.55 <= row["bot_containment"] <= 0.65, row
        assert 0.6 <= row["escalated"] / row["by_bot"] <= 0.8, row
        assert 90 <= row["escalated_bot_s"] <= 120, row
        assert row["escalated"] < row["by_operator"]
    others = handling.filter(~pl.col("channel").is_in(["whatsapp", "telegram"]))
    assert (others["escalated"] == 0).all() and others["bot_containment"].is_null().all()
