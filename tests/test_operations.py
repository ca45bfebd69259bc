"""Channels and agent-performance data (both backends) and their chart builders."""

from __future__ import annotations

import bisect
import datetime as dt

import polars as pl
import pytest
from sqlalchemy import func, select, update

from data_access import operations, queries
from data_access.queries import Filters
from data_access.reference import CHANNELS, REGIONS
from data_access.rollups import WAIT_COLUMNS, WAIT_EDGES_S
from data_access.schema import AgentRating, Channel, Contact, Operator, Region
from tests.conftest import bucket_percentile
from ui import operations_charts as charts
from ui.layout import nothing_to_show
from ui.palette import CHANNEL_COLORS, RATING_COLORS, SERVED_BY_COLORS, TARGET_COLOR

JULY = Filters(dt.date(2022, 7, 1), dt.date(2022, 7, 31))
H1_2022 = Filters(dt.date(2022, 1, 1), dt.date(2022, 6, 30))
WEEK = Filters(dt.date(2022, 7, 4), dt.date(2022, 7, 10))  # Monday .. Sunday
HOSTILE = "'; DROP TABLE contacts;--"
ALWAYS_OPEN = {channel.code for channel in CHANNELS if channel.is_24x7}


def _histogram(waits_by_channel: dict[str, list[int]]) -> pl.DataFrame:
    """What `wait_histogram` returns for these raw waits (binned independently, by bisect)."""
    rows = []
    for channel, waits in waits_by_channel.items():
        buckets = [0] * len(WAIT_COLUMNS)
        for wait in waits:
            buckets[bisect.bisect_right(WAIT_EDGES_S, wait) - 1] += 1
        rows.append({"channel": channel, "by_operator": len(waits),
                     "operator_wait_s": sum(waits),
                     **dict(zip(WAIT_COLUMNS, buckets, strict=True))})
    return pl.DataFrame(rows, schema={"channel": pl.String, "by_operator": pl.Int64,
                                      "operator_wait_s": pl.Int64}
                        | {column: pl.Int64 for column in WAIT_COLUMNS})


# --- waits -------------------------------------------------------------------------------------

def test_wait_summary_percentiles_by_hand():
    # Office: 10 contacts, 12 s ×1, 25 s ×3, 35 s ×1, 100 s ×5. The median is the 5th value
    # (35 s), in bucket 30-45 s, the first of its 1 value there: 30 + 15 × 1/1 = 45 s. p90 is
    # the 9th (100 s), in 90-120 s, the 4th of 5: 90 + 30 × 4/5 = 114 s. Mean 62.2 s exactly.
    waits = {"office": [12, 25, 25, 25, 35, 100, 100, 100, 100, 100], "telegram": [7]}
    by_channel = operations.wait_summary(_histogram(waits), by_channel=True)
    assert by_channel.columns == ["channel", "contacts", "mean_wait_s", "median_wait_s",
                                  "p90_wait_s"]
    assert by_channel.rows() == [("office", 10, 62.2, 45.0, 114.0),
                                 ("telegram", 1, 7.0, 10.0, 10.0)]
    # Overall: buckets of both channels add up; 11 values, the median is the 6th (35 s).
    overall = operations.wait_summary(_histogram(waits)).row(0, named=True)
    assert overall == {"contacts": 11, "mean_wait_s": pytest.approx(629 / 11),
                       "median_wait_s": 45.0, "p90_wait_s": 114.0}


def test_wait_summary_matches_the_bucket_oracle_and_handles_no_contacts():
    waits = [0, 0, 0, 0, 3, 4, 4, *[9] * 7, 15, 16, 16, 16, 40, 40, 700, 5000]
    row = operations.wait_summary(_histogram({"all": waits})).row(0, named=True)
    assert row["median_wait_s"] == pytest.approx(bucket_percentile(waits, WAIT_EDGES_S, 0.5))
    assert row["p90_wait_s"] == pytest.approx(bucket_percentile(waits, WAIT_EDGES_S, 0.9))
    assert row["mean_wait_s"] == pytest.approx(sum(waits) / len(waits))
    # The open last bucket (3600 s and over) reads as its lower edge.
    top = operations.wait_summary(_histogram({"all": [5000] * 3})).row(0, named=True)
    assert top["median_wait_s"] == 3600.0
    empty = operations.wait_summary(_histogram({"all": []}).clear()).row(0, named=True)
    assert empty == {"contacts": 0, "mean_wait_s": None, "median_wait_s": None,
                     "p90_wait_s": None}
    no_channels = operations.wait_summary(_histogram({"all": []}).clear(), by_channel=True)
    assert no_channels.height == 0 and no_channels["p90_wait_s"].dtype == pl.Float64


def test_wait_figures_agree_with_contacts_by_period(seeded_engine):
    with seeded_engine.connect() as connection:
        contacts = queries.contacts_by_period(connection, H1_2022)
        by_channel = operations.wait_by_channel(connection, H1_2022)
        overall = operations.wait_summary(operations.wait_histogram(connection, H1_2022))
        median = operations.median_wait_s(connection, H1_2022)
    served = contacts["served_by_operator"].sum()
    assert by_channel["contacts"].sum() == overall["contacts"][0] == served
    assert overall["mean_wait_s"][0] == pytest.approx(contacts["wait_sum_s"].sum() / served)
    per_channel = contacts.group_by("channel").agg(pl.col("served_by_operator").sum())
    assert dict(by_channel.select("channel", "contacts").iter_rows()) == {
        channel: count for channel, count in per_channel.iter_rows() if count}
    assert ((by_channel["median_wait_s"] >= 0)
            & (by_channel["median_wait_s"] <= by_channel["p90_wait_s"])).all()
    assert median == overall["median_wait_s"][0]
    assert 0 < median < overall["p90_wait_s"][0]
    # Offices queue longest (the story's premise).
    assert by_channel.sort("median_wait_s")["channel"][-1] == "office"


def test_wait_percentiles_match_raw_waits(seeded_engine):
    telegram = Filters(JULY.start, JULY.end, channels=("telegram",))
    with seeded_engine.connect() as connection:
        row = operations.wait_by_channel(connection, telegram).row(0, named=True)
        waits = connection.scalars(select(Contact.wait_s).join(Channel).where(
            Channel.code == "telegram", Contact.served_by == "operator",
            Contact.started_at >= JULY.start_at, Contact.started_at < JULY.end_before)).all()
    assert row["channel"] == "telegram" and row["contacts"] == len(waits) > 50
    assert row["median_wait_s"] == pytest.approx(bucket_percentile(waits, WAIT_EDGES_S, 0.5))
    assert row["p90_wait_s"] == pytest.approx(bucket_percentile(waits, WAIT_EDGES_S, 0.9))


def test_median_wait_of_an_empty_range_is_none(seeded_engine):
    with seeded_engine.connect() as connection:
        assert operations.median_wait_s(
            connection, Filters(dt.date(2030, 1, 1), dt.date(2030, 1, 31))) is None
        assert operations.wait_by_channel(
            connection, Filters(JULY.start, JULY.end, channels=(HOSTILE,))).is_empty()


# --- hour × weekday ----------------------------------------------------------------------------

def test_weekday_days_counts_each_weekday_in_the_range():
    july = operations.weekday_days(dt.date(2022, 7, 1), dt.date(2022, 7, 31))  # starts on Fri
    assert july["days"].to_list() == [4, 4, 4, 4, 5, 5, 5]
    assert operations.weekday_days(WEEK.start, WEEK.end)["days"].to_list() == [1] * 7
    assert operations.weekday_days(WEEK.start, WEEK.start)["days"].to_list() == [1] + [0] * 6


def test_hour_weekday_grid_turns_sunday_first_into_monday_first():
    counts = pl.DataFrame({"dow": [0, 1], "hour": [23, 0], "contacts": [6, 4]})  # Sun, Mon
    grid = operations.hour_weekday_grid(counts, dt.date(2022, 7, 1), dt.date(2022, 7, 31))
    assert grid.height == 168
    assert grid.columns == ["weekday", "weekday_name", "hour", "contacts", "days",
                            "mean_contacts"]
    sunday = grid.filter((pl.col("weekday") == 6) & (pl.col("hour") == 23)).row(0, named=True)
    monday = grid.filter((pl.col("weekday") == 0) & (pl.col("hour") == 0)).row(0, named=True)
    assert (sunday["weekday_name"], sunday["contacts"], sunday["mean_contacts"]) == (
        "Sun", 6, 6 / 5)
    assert (monday["weekday_name"], monday["contacts"], monday["mean_contacts"]) == (
        "Mon", 4, 4 / 4)
    assert grid["contacts"].sum() == 10


def test_hour_weekday_heatmap_counts_the_24x7_channels(seeded_engine):
    with seeded_engine.connect() as connection:
        grid = operations.contacts_by_hour_weekday(connection, H1_2022)
        every_channel = operations.contacts_by_hour_weekday(connection, H1_2022, only_24x7=False)
        contacts = queries.contacts_by_period(connection, H1_2022)
    assert grid.height == every_channel.height == 168
    assert grid.select("weekday", "hour").unique().height == 168
    always_open = contacts.filter(pl.col("channel").is_in(ALWAYS_OPEN))["contacts"].sum()
    assert grid["contacts"].sum() == always_open < contacts["contacts"].sum()
    assert every_channel["contacts"].sum() == contacts["contacts"].sum()
    assert (grid["mean_contacts"] * grid["days"]).round(6).to_list() == grid["contacts"].to_list()
    assert (grid["days"] == 25).sum() + (grid["days"] == 26).sum() == 168  # 181 days


def test_hour_weekday_matches_raw_timestamps(seeded_engine):
    with seeded_engine.connect() as connection:
        grid = operations.contacts_by_hour_weekday(connection, WEEK, only_24x7=False)
        started = connection.scalars(select(Contact.started_at).where(
            Contact.started_at >= WEEK.start_at, Contact.started_at < WEEK.end_before,
            Contact.served_by != "abandoned")).all()  # served contacts, as the rollups count
    expected: dict[tuple[int, int], int] = {}
    for moment in started:
        key = (moment.weekday(), moment.hour)
        expected[key] = expected.get(key, 0) + 1
    observed = {(weekday, hour): count for weekday, hour, count
                in grid.select("weekday", "hour", "contacts").iter_rows() if count}
    assert observed == expected
    assert (grid["days"] == 1).all()


# --- channel mix -------------------------------------------------------------------------------

def test_served_by_share_and_channel_volume_by_hand():
    contacts = pl.DataFrame({
        "period": [dt.date(2022, 1, 1)] * 2 + [dt.date(2022, 2, 1)],
        "channel": ["office", "whatsapp", "office"],
        "contacts": [6, 4, 5], "served_by_operator": [6, 1, 5], "served_by_bot": [0, 2, 0],
        "self_service": [0, 1, 0]})
    shares = operations.served_by_share(contacts)
    assert shares.rows() == [
        (dt.date(2022, 1, 1), "operator", 7, 0.7), (dt.date(2022, 1, 1), "bot", 2, 0.2),
        (dt.date(2022, 1, 1), "self_service", 1, 0.1),
        (dt.date(2022, 2, 1), "operator", 5, 1.0), (dt.date(2022, 2, 1), "bot", 0, 0.0),
        (dt.date(2022, 2, 1), "self_service", 0, 0.0)]
    volume = operations.channel_volume(contacts)
    assert volume.rows() == [(dt.date(2022, 1, 1), "office", 6, 0.6),
                             (dt.date(2022, 1, 1), "whatsapp", 4, 0.4),
                             (dt.date(2022, 2, 1), "office", 5, 1.0)]
    assert operations.channel_volume(volume).equals(volume)


def test_served_by_shares_sum_to_one_per_period(seeded_engine):
    with seeded_engine.connect() as connection:
        contacts = queries.contacts_by_period(connection, H1_2022, "week")
    shares = operations.served_by_share(contacts)
    per_period = shares.group_by("period").agg(pl.col("share").sum(), pl.col("contacts").sum(),
                                               pl.len())
    assert per_period.height == contacts["period"].n_unique() == 27  # partial weeks at both ends
    assert per_period["share"].is_between(1 - 1e-9, 1 + 1e-9).all()
    assert (per_period["len"] == 3).all()
    assert shares["contacts"].sum() == contacts["contacts"].sum()
    assert set(shares.filter(pl.col("contacts") > 0)["served_by"]) == {
        "operator", "bot", "self_service"}


# --- ratings -----------------------------------------------------------------------------------

def test_rating_distribution_sums_to_the_ratings_count(seeded_engine):
    almaty = Filters(H1_2022.start, H1_2022.end, regions=("almaty_city",))
    with seeded_engine.connect() as connection:
        distribution = operations.rating_distribution(connection, H1_2022)
        ratings = queries.ratings_by_period(connection, H1_2022)["ratings"].sum()
        in_almaty = operations.rating_distribution(connection, almaty)
        nothing = operations.rating_distribution(
            connection, Filters(H1_2022.start, H1_2022.end, channels=(HOSTILE,)))
    assert distribution["score"].to_list() == [1, 2, 3, 4, 5]
    assert distribution["ratings"].sum() == ratings > 1000
    assert distribution["share"].sum() == pytest.approx(1)
    assert 0 < in_almaty["ratings"].sum() < ratings
    assert nothing["ratings"].to_list() == [0] * 5
    assert nothing["share"].is_null().all()


def _raw_ranking(connection, filters: Filters, min_ratings: int) -> list[dict]:
    """The operator ranking recomputed from raw ratings in plain Python: the oracle."""
    statement = (
        select(AgentRating.rated_at, AgentRating.score, Operator.external_id, Operator.name)
        .join(Operator, Operator.id == AgentRating.operator_id)
        .where(AgentRating.rated_at >= filters.start_at,
               AgentRating.rated_at < filters.end_before))
    if filters.regions:  # the rated contact's region
        statement = statement.join(Contact, Contact.id == AgentRating.contact_id).join(
            Region, Region.id == Contact.region_id).where(Region.code.in_(filters.regions))
    raw = connection.execute(statement).all()
    months: dict[str, dict[dt.date, list[int]]] = {}
    names = {}
    for rated_at, score, operator, name in raw:
        sums = months.setdefault(operator, {}).setdefault(rated_at.date().replace(day=1), [0, 0])
        sums[0] += 1
        sums[1] += score
        names[operator] = name
    last = filters.end.replace(day=1)
    before = (last - dt.timedelta(days=1)).replace(day=1)
    rows = []
    for operator, by_month in months.items():
        ratings = sum(count for count, _ in by_month.values())
        means = {month: total / count for month, (count, total) in sorted(by_month.items())}
        trend = (means[last] - means[before] if last in means and before in means else None)
        rows.append({"operator": operator, "name": names[operator], "ratings": ratings,
                     "mean_score": sum(total for _, total in by_month.values()) / ratings,
                     "trend": trend, "monthly_means": list(means.values()),
                     "ranked": ratings >= min_ratings})
    distinct_means = sorted({row["mean_score"] for row in rows if row["ranked"]}, reverse=True)
    for row in rows:
        row["rank"] = distinct_means.index(row["mean_score"]) + 1 if row["ranked"] else None
    return rows


def _listed(connection, filters: Filters, min_ratings: int, **choices) -> list[dict]:
    """Every page of `operator_table`, in order."""
    rows, page = [], 1
    while True:
        listing = operations.operator_table(connection, filters, min_ratings, page=page,
                                            **choices)
        assert listing.rows.columns == operations.OPERATOR_COLUMNS
        rows += listing.rows.to_dicts()
        if listing.page == listing.pages:
            return rows
        assert listing.page == page and listing.rows.height == listing_size(choices)
        page += 1


def listing_size(choices: dict) -> int:
    return choices.get("per_page", operations.OPERATORS_PER_PAGE)


@pytest.mark.parametrize("filters", [
    H1_2022,  # whole months
    Filters(dt.date(2022, 3, 10), dt.date(2022, 6, 20)),  # edge days on both sides
    Filters(dt.date(2022, 7, 5), dt.date(2022, 7, 9)),  # days inside one month
    Filters(dt.date(2022, 1, 1), dt.date(2022, 6, 30), regions=("almaty_city",)),  # by contact
])
def test_operator_table_pages_equal_the_ranking_of_raw_ratings(seeded_engine, filters):
    with seeded_engine.connect() as connection:
        expected = _raw_ranking(connection, filters, min_ratings=20)
        best = _listed(connection, filters, 20, per_page=37)
        worst = _listed(connection, filters, 20, order="worst", per_page=37)
    ranked = [row for row in best if row["ranked"]]
    assert len(best) > 10
    assert [row["rank"] for row in ranked] == sorted(row["rank"] for row in ranked)
    assert {row["rank"] for row in ranked} == set(range(1, len({r["mean_score"]
                                                               for r in ranked}) + 1))
    assert all(row["rank"] is None for row in best[len(ranked):])
    assert [row["mean_score"] for row in best[len(ranked):]] == sorted(
        (row["mean_score"] for row in best[len(ranked):]), reverse=True)
    assert [row["operator"] for row in worst] == [
        row["operator"] for row in sorted(ranked, key=lambda row: (-row["rank"],
                                                                   row["operator"]))
    ] + [row["operator"] for row in best[len(ranked):]]
    by_operator = {row["operator"]: row for row in best}
    assert set(by_operator) == {row["operator"] for row in expected} and len(best) == len(
        by_operator)
    for row in expected:
        got = by_operator[row["operator"]]
        assert (got["name"], got["ratings"], got["ranked"], got["rank"]) == (
            row["name"], row["ratings"], row["ranked"], row["rank"]), row["operator"]
        assert got["mean_score"] == pytest.approx(row["mean_score"])
        assert got["monthly_means"] == pytest.approx(row["monthly_means"])
        assert (got["trend"] is None) == (row["trend"] is None)
        if row["trend"] is not None:
            assert got["trend"] == pytest.approx(row["trend"])


def test_operator_table_ranks_only_operators_with_enough_ratings(seeded_engine):
    with seeded_engine.connect() as connection:
        table = pl.DataFrame(_listed(connection, H1_2022, 20))
        ratings = queries.ratings_by_period(connection, H1_2022)
    assert table["operator"].n_unique() == table.height == ratings["operator"].n_unique()
    assert table["ratings"].sum() == ratings["ratings"].sum()
    assert (table["ranked"] == (table["ratings"] >= 20)).all()
    assert table["region"].null_count() == 0
    assert set(table["region"]) <= {region.code for region in REGIONS}
    assert (table["monthly_means"].list.len() <= 6).all()
    higher = int(table["ratings"].median()) + 1
    with seeded_engine.connect() as connection:
        stricter = pl.DataFrame(_listed(connection, H1_2022, higher))
    assert 0 < stricter["ranked"].sum() < table["ranked"].sum()
    assert (stricter["ranked"] == (stricter["ratings"] >= higher)).all()


def test_operator_search_keeps_ranks_and_matches_literally(seeded_engine):
    with seeded_engine.connect() as connection:
        everyone = {row["operator"]: row for row in _listed(connection, H1_2022, 20)}
        some = next(iter(everyone.values()))
        by_id = operations.operator_table(connection, H1_2022, 20, search=some["operator"]
                                          .lower())
        surname = some["name"].split()[-1]
        by_name = _listed(connection, H1_2022, 20, search=surname.upper(), per_page=7)
        wildcards = [operations.operator_table(connection, H1_2022, 20, search=text)
                     for text in ("%", "_", HOSTILE)]
        nothing = operations.operator_table(connection, Filters(dt.date(2019, 1, 1),
                                                                dt.date(2019, 1, 31)), 20)
    assert by_id.rows["operator"].to_list() == [some["operator"]]
    assert by_id.rows.row(0, named=True)["rank"] == some["rank"]
    assert (by_id.matching, by_id.rated, by_id.pages) == (1, len(everyone), 1)
    assert [row["operator"] for row in by_name] == [
        operator for operator, row in everyone.items() if surname in row["name"]]
    assert all(row["rank"] == everyone[row["operator"]]["rank"] for row in by_name)
    for listing in wildcards:  # % and _ are literal: no operator id or name holds them
        assert (listing.rows.height, listing.matching, listing.page, listing.pages) == (
            0, 0, 1, 1)
        assert listing.rated == len(everyone)
    assert (nothing.rows.height, nothing.matching, nothing.rated) == (0, 0, 0)


def test_search_wildcards_match_only_themselves(seeded_engine):
    """% _ and \\ in a name are found by searching for them, and only then."""
    odd = "Zz_Lit%Ch\\ar"
    with seeded_engine.connect() as connection, connection.begin() as transaction:
        first = operations.operator_table(connection, H1_2022, 20).rows.row(0, named=True)
        connection.execute(update(Operator).where(Operator.external_id == first["operator"])
                           .values(name=odd))
        found = {text: operations.operator_table(connection, H1_2022, 20, search=text).rows[
            "operator"].to_list() for text in ("_lit%", "%CH\\", "\\", "zz_l", "zz%lit",
                                                "Lit_Ch", "%\\a")}
        transaction.rollback()
    assert found == {"_lit%": [first["operator"]], "%CH\\": [first["operator"]],
                     "\\": [first["operator"]], "zz_l": [first["operator"]], "zz%lit": [],
                     "Lit_Ch": [], "%\\a": []}


def test_a_page_past_the_end_gives_the_last_page(seeded_engine):
    with seeded_engine.connect() as connection:
        last = operations.operator_table(connection, H1_2022, 20, per_page=40, page=10_000)
        again = operations.operator_table(connection, H1_2022, 20, per_page=40,
                                          page=last.pages)
        with pytest.raises(ValueError, match="order must be one of"):
            operations.operator_table(connection, H1_2022, 20, order="random")
        with pytest.raises(ValueError, match="at least 1"):
            operations.operator_table(connection, H1_2022, 20, page=0)
    assert last.pages > 1 and last.page == last.pages
    assert last.rows.equals(again.rows)
    assert 0 < last.rows.height <= 40
    assert last.matching == last.rated == (last.pages - 1) * 40 + last.rows.height


def test_operator_trend_matches_the_table_row(seeded_engine):
    with seeded_engine.connect() as connection:
        row = operations.operator_table(connection, H1_2022, min_ratings=20).rows.row(
            0, named=True)
        trend = operations.operator_trend(connection, H1_2022, row["operator"])
    assert trend.columns == ["period", "ratings", "mean_score", "score_1", "score_2",
                             "score_3", "score_4", "score_5"]
    assert trend["ratings"].sum() == row["ratings"]
    assert (trend["mean_score"] * trend["ratings"]).sum() / trend["ratings"].sum() == (
        pytest.approx(row["mean_score"]))
    assert trend["mean_score"].to_list() == pytest.approx(row["monthly_means"])
    score_counts = trend.select(pl.sum_horizontal(pl.col("^score_\\d$")))
    assert score_counts.to_series().to_list() == trend["ratings"].to_list()
    weighted = sum(trend[f"score_{score}"] * score for score in range(1, 6)) / trend["ratings"]
    assert weighted.to_list() == pytest.approx(trend["mean_score"].to_list())


@pytest.mark.parametrize("operator", ["OP-NOBODY", HOSTILE])
def test_unknown_or_hostile_operator_gives_an_empty_trend(seeded_engine, operator):
    with seeded_engine.connect() as connection:
        before = connection.scalar(select(func.count()).select_from(Contact))
        trend = operations.operator_trend(connection, H1_2022, operator)
        after = connection.scalar(select(func.count()).select_from(Contact))
    assert trend.is_empty()
    assert "mean_score" in trend.columns
    assert before == after > 0  # the contacts table is still there, untouched


# --- charts ------------------------------------------------------------------------------------

def _units(spec: dict) -> list[dict]:
    """Every single-mark view inside a (possibly layered) chart spec."""
    if "mark" in spec:
        return [spec]
    return [unit for layer in spec.get("layer", []) for unit in _units(layer)]


def _checked(chart, title: str) -> list[dict]:
    """The chart's units, after the checks every builder must pass: title and tooltips."""
    spec = chart.to_dict()
    assert spec["title"] == title
    units = _units(spec)
    assert units
    for unit in units:
        assert unit["encoding"]["tooltip"], unit["mark"]
    return units


def _y_axis_format(unit: dict) -> str | None:
    return unit["encoding"]["y"].get("axis", {}).get("format")


def _contacts_frame() -> pl.DataFrame:
    rows = [(dt.date(2022, 1, 1), "office", False, 60, 60, 0, 0, 6000),
            (dt.date(2022, 1, 1), "whatsapp", True, 40, 20, 15, 5, 900),
            (dt.date(2022, 2, 1), "office", False, 50, 50, 0, 0, 5000),
            (dt.date(2022, 2, 1), "whatsapp", True, 50, 25, 20, 5, 1000)]
    frame = pl.DataFrame(rows, orient="row", schema={
        "period": pl.Date, "channel": pl.String, "is_online": pl.Boolean, "contacts": pl.Int64,
        "served_by_operator": pl.Int64, "served_by_bot": pl.Int64, "self_service": pl.Int64,
        "wait_sum_s": pl.Int64})
    from data_access.metrics import with_online_share

    return with_online_share(frame)


def test_online_share_and_channel_volume_charts():
    contacts = _contacts_frame()
    online, _points = _checked(charts.online_share_trend(contacts, "Online share"),
                               "Online share")
    assert online["encoding"]["y"]["field"] == "online_share"
    assert _y_axis_format(online) == "%"
    assert len(charts.online_share_trend(contacts, "t").data) == 2  # one row per period

    volume, _points = _checked(
        charts.channel_volume(operations.channel_volume(contacts), "Mix"), "Mix")
    color = volume["encoding"]["color"]
    assert color["field"] == "channel"
    # palette order, present only, by name
    assert color["scale"]["domain"] == ["Service office", "WhatsApp"]
    assert color["scale"]["range"] == [CHANNEL_COLORS["office"], CHANNEL_COLORS["whatsapp"]]
    assert {tip["field"] for tip in volume["encoding"]["tooltip"]} >= {"contacts", "share"}


def test_heatmap_chart_orders_weekdays_monday_first():
    grid = operations.hour_weekday_grid(pl.DataFrame({"dow": [0], "hour": [5], "contacts": [3]}),
                                        WEEK.start, WEEK.end)
    (heatmap,) = _checked(charts.hour_weekday_heatmap(grid, "Busy hours"), "Busy hours")
    encoding = heatmap["encoding"]
    assert heatmap["mark"]["type"] == "rect"
    assert encoding["x"]["field"] == "hour" and encoding["y"]["field"] == "weekday_name"
    assert encoding["y"]["sort"] == {"field": "weekday", "op": "min"}
    assert encoding["opacity"]["field"] == "mean_contacts"


def test_wait_chart_uses_channel_colours_and_seconds():
    summary = pl.DataFrame({"channel": ["office", "telegram"], "contacts": [100, 50],
                            "mean_wait_s": [600.0, 120.0], "median_wait_s": [300.0, 90.0],
                            "p90_wait_s": [1500.0, 400.0]})
    spread, points = _checked(charts.wait_by_channel(summary, "Waits"), "Waits")
    assert spread["encoding"]["x"]["field"] == "median_wait_s"
    assert spread["encoding"]["x"]["title"].endswith("(s)")
    assert spread["encoding"]["x2"]["field"] == "p90_wait_s"
    assert spread["encoding"]["y"]["sort"] == ["Service office", "Telegram"]  # longest p90
    assert points["encoding"]["shape"]["field"] == "statistic"
    for unit in (spread, points):
        assert unit["encoding"]["color"]["scale"]["range"] == [CHANNEL_COLORS["office"],
                                                               CHANNEL_COLORS["telegram"]]


def test_served_by_chart_stacks_to_one_hundred_percent():
    shares = operations.served_by_share(_contacts_frame())
    chart = charts.served_by_share(shares, "Who served")
    (unit,) = _checked(chart, "Who served")
    assert _y_axis_format(unit) == "%"
    assert unit["encoding"]["color"]["scale"]["range"] == list(SERVED_BY_COLORS.values())
    assert unit["encoding"]["y"]["stack"] == "normalize"
    # One bar per period on the one date axis (ui.charts.period_x), labelled by its month.
    assert unit["encoding"]["x"]["field"] == "period_label"
    assert unit["encoding"]["x"]["scale"]["domain"] == ["Jan 2022", "Feb 2022"]
    weekly = shares.with_columns(  # the same rows as weeks starting Jan 3 and Jan 10
        period=pl.col("period").replace_strict({dt.date(2022, 1, 1): dt.date(2022, 1, 3),
                                                dt.date(2022, 2, 1): dt.date(2022, 1, 10)}))
    (unit,) = _checked(charts.served_by_share(weekly, "Weekly"), "Weekly")
    assert unit["encoding"]["x"]["scale"]["domain"] == ["week of 3 Jan", "week of 10 Jan"]


def test_rating_distribution_chart():
    frame = pl.DataFrame({"score": [1, 2, 3, 4, 5], "ratings": [1, 1, 2, 4, 2],
                          "share": [0.1, 0.1, 0.2, 0.4, 0.2]})
    bars, labels = _checked(charts.rating_distribution(frame, "Scores"), "Scores")
    assert bars["encoding"]["color"]["scale"] == {"domain": list(RATING_COLORS),
                                                  "range": list(RATING_COLORS.values())}
    assert labels["encoding"]["text"] == {"field": "share", "format": ".0%",
                                          "type": "quantitative"}


def test_rated_share_chart_marks_partial_months_and_the_target():
    coverage = pl.DataFrame({
        "period": [dt.date(2022, 5, 1), dt.date(2022, 6, 1)], "active_operators": [40, 40],
        "rated_operators": [36, 20], "rated_share": [0.9, 0.5], "partial_month": [False, True]})
    span = charts.Span(dt.date(2022, 5, 1), dt.date(2022, 6, 20), "month")
    line, points, rule = _checked(charts.rated_share_vs_target(coverage, 0.8, "Rated", span),
                                  "Rated")
    assert _y_axis_format(line) == _y_axis_format(points) == "%"
    assert points["encoding"]["fillOpacity"]["field"] == "period_kind"  # hollow: partial
    assert rule["mark"] == {"type": "rule", "color": TARGET_COLOR, "strokeDash": [6, 4]}
    chart = charts.rated_share_vs_target(coverage, 0.8, "Rated", span)
    assert chart.layer[2].data["target"].to_list() == [0.8]
    assert chart.layer[1].data["period_note"].to_list() == ["whole", "partial: 20 of 30 days"]


def test_operator_trend_chart():
    trend = pl.DataFrame({"period": [dt.date(2022, 5, 1), dt.date(2022, 6, 1)],
                          "ratings": [4, 2], "mean_score": [4.25, 3.0], "score_1": [0, 0],
                          "score_2": [0, 1], "score_3": [1, 0], "score_4": [1, 0],
                          "score_5": [2, 1]})
    chart = charts.operator_trend(trend, "OP1")
    bars, line, _points = _checked(chart, "OP1")
    assert line["encoding"]["y"]["scale"]["domain"] == [1, 5]
    assert bars["encoding"]["color"]["scale"]["range"] == list(RATING_COLORS.values())
    assert bars["encoding"]["y"]["stack"] == "zero"
    stacked = chart.layer[0].data
    assert stacked.group_by("period").agg(pl.col("ratings").sum()).sort("period")[
        "ratings"].to_list() == [4, 2]


# --- Fixed grids with nothing in them, and the overview's volume ------------------------------

def test_fixed_grids_of_an_empty_filter_count_nothing_to_show(seeded_engine):
    """The grids keep every cell whatever the filters; the pages test the count's total."""
    offices = Filters(H1_2022.start, H1_2022.end, channels=("office",))
    before_data = Filters(dt.date(2019, 1, 1), dt.date(2019, 3, 31))
    with seeded_engine.connect() as connection:
        office_hours = operations.contacts_by_hour_weekday(connection, offices)
        open_hours = operations.contacts_by_hour_weekday(connection, H1_2022)
        no_ratings = operations.rating_distribution(connection, before_data)
        ratings = operations.rating_distribution(connection, H1_2022)
    assert office_hours.height == 168 and no_ratings.height == 5
    assert nothing_to_show(office_hours, "contacts") and nothing_to_show(no_ratings, "ratings")
    assert not nothing_to_show(office_hours)  # rows alone do not tell
    assert not nothing_to_show(open_hours, "contacts")
    assert not nothing_to_show(ratings, "ratings")
    assert nothing_to_show(ratings.clear(), "ratings")


def test_contacts_served_adds_online_and_offline(seeded_engine):
    with seeded_engine.connect() as connection:
        figures = queries.kpis(connection, H1_2022)
        contacts = queries.contacts_by_period(connection, H1_2022)
    assert operations.contacts_served(figures) == contacts["contacts"].sum() > 0
    assert operations.contacts_served({"contacts_online": 0, "contacts_offline": None}) == 0


@pytest.mark.parametrize("start, end", [
    (dt.date(2022, 3, 10), dt.date(2022, 6, 20)),  # edge days on both sides, 2 whole months
    (dt.date(2022, 7, 1), dt.date(2022, 7, 31)),  # one whole month
    (dt.date(2022, 7, 5), dt.date(2022, 7, 9)),  # days inside one month only
    (None, None),  # up to the newest rating: its month counts as whole
])
def test_operator_ratings_and_coverage_match_raw_ratings(seeded_engine, start, end):
    """Whole months come from the monthly rollup, edge days from the daily one: the same
    figures as grouping the raw ratings by month and operator."""
    with seeded_engine.connect() as connection:
        if start is None:
            newest = connection.scalar(select(func.max(AgentRating.rated_at))).date()
            start, end = newest.replace(day=1) - dt.timedelta(days=20), newest
        filters = Filters(start, end)
        listed = _listed(connection, filters, 20)
        expected = _raw_ranking(connection, filters, 20)
        coverage = queries.front_line_coverage(connection, filters)
        raw = connection.execute(
            select(AgentRating.rated_at, Operator.external_id, Operator.team,
                   Operator.active_from, Operator.active_to)
            .join(Operator, Operator.id == AgentRating.operator_id)
            .where(AgentRating.rated_at >= filters.start_at,
                   AgentRating.rated_at < filters.end_before)).all()
    assert {row["operator"]: (row["ratings"], pytest.approx(row["monthly_means"]))
            for row in listed} == {row["operator"]: (row["ratings"], row["monthly_means"])
                                   for row in expected}
    assert len(listed) > 10
    rated = {}
    for rated_at, operator, team, active_from, active_to in raw:
        month = rated_at.date().replace(day=1)
        first, last = max(month, start), min(_month_end(month), end)
        if team == "front_line" and active_from <= last and (active_to or last) >= first:
            rated.setdefault(month, set()).add(operator)
    assert {month: count for month, count in coverage.select("period", "rated_operators")
            .iter_rows() if count} == {month: len(operators) for month, operators in rated.items()}
    assert coverage["rated_share"].drop_nulls().max() <= 1


def _month_end(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


# Front-line coverage against hand-made raw rows: operators who join, leave or move team
# within February 2023. (team, active_from, active_to, rating days in 2023)
_STAFF = {
    "stays": ("front_line", dt.date(2022, 1, 1), None, [dt.date(2023, 2, 10)]),
    "left_in_january": ("front_line", dt.date(2022, 1, 1), dt.date(2023, 1, 31),
                        [dt.date(2023, 2, 3)]),  # rated after leaving: not active in February
    "joins_mid_month": ("front_line", dt.date(2023, 2, 20), None, [dt.date(2023, 2, 25)]),
    "joins_in_march": ("front_line", dt.date(2023, 3, 5), None, [dt.date(2023, 2, 27)]),
    "leaves_mid_month": ("front_line", dt.date(2022, 1, 1), dt.date(2023, 2, 10),
                         [dt.date(2023, 2, 15)]),  # active in February, rated after leaving
    "moved_to_digital": ("digital", dt.date(2022, 1, 1), None, [dt.date(2023, 2, 12)]),
    "never_rated": ("front_line", dt.date(2022, 1, 1), None, []),
}


@pytest.fixture
def staff_engine(empty_url):
    from data_access.engine import create_db_engine
    from data_access.reference import seed_reference
    from data_access.rollups import ensure_schema
    from data_access.schema import ServiceType

    engine = create_db_engine(empty_url)
    ensure_schema(engine)
    with engine.begin() as connection:
        seed_reference(connection)
        region = connection.scalar(select(Region.id).order_by(Region.id))
        channel = connection.scalar(select(Channel.id).order_by(Channel.id))
        service = connection.scalar(select(ServiceType.id).order_by(ServiceType.id))
        contact = 0
        for number, (name, (team, first, last, days)) in enumerate(_STAFF.items(), start=1):
            connection.execute(Operator.__table__.insert().values(
                id=number, external_id=name, name=name, team=team, region_id=region,
                active_from=first, active_to=last))
            for day in days:
                contact += 1
                moment = dt.datetime.combine(day, dt.time(10))
                connection.execute(Contact.__table__.insert().values(
                    id=contact, external_id=f"c{contact}", started_at=moment,
                    channel_id=channel, region_id=region, service_type_id=service,
                    served_by="operator", operator_id=number, wait_s=5, handle_s=60,
                    subscriber_key="s"))
                connection.execute(AgentRating.__table__.insert().values(
                    id=contact, external_id=f"r{contact}", operator_id=number,
                    contact_id=contact, score=5, rated_at=moment))
    yield engine
    engine.dispose()


@pytest.mark.parametrize("start, end, active, rated", [
    # Whole February from the monthly rollup: active are stays, joins_mid_month,
    # leaves_mid_month, never_rated; rated among them all but never_rated.
    (dt.date(2023, 2, 1), dt.date(2023, 2, 28), 4, 3),
    (dt.date(2023, 1, 1), dt.date(2023, 3, 31), 4, 3),  # whole months on both sides
    # Feb 12-28 from the daily rollup: leaves_mid_month is gone; only joins_mid_month counts.
    (dt.date(2023, 2, 12), dt.date(2023, 2, 28), 3, 1),
])
def test_rated_share_is_rated_among_active_front_line_never_above_one(staff_engine, start,
                                                                      end, active, rated):
    with staff_engine.connect() as connection:
        coverage = queries.front_line_coverage(connection, Filters(start, end))
        share = queries.kpis(connection, Filters(start, end))["operators_rated_share"]
    february = coverage.filter(pl.col("period") == dt.date(2023, 2, 1)).row(0, named=True)
    assert (february["active_operators"], february["rated_operators"]) == (active, rated)
    assert february["rated_share"] == pytest.approx(rated / active)
    assert coverage["rated_share"].drop_nulls().max() <= 1
    assert share <= 1
