"""Channels and agent-performance data: SQL aggregates in, small Polars frames out.

Same rules as `queries`: the caller owns the Connection, user values are bound parameters,
row-level expressions sit in a subquery so GROUP BY never repeats a parameterised expression.
The pure transforms next to each query turn its counts into shares, percentiles and ranks, so
that they can be checked on hand-made frames.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl
from sqlalchemy import ColumnElement, Connection, Select, func, select

from data_access.dates import first_of_month
from data_access.queries import (
    Filters,
    _contact_conditions,
    _count_if,
    _dimension_filters,
    _frame,
    minute_of_day,
    period_start,
    weekday_number,
)
from data_access.schema import SERVED_BY, AgentRating, Channel, Contact, Operator, Region

WEEKDAY_NAMES: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SCORES: tuple[int, ...] = (1, 2, 3, 4, 5)
# contacts_by_period column holding each served_by value's count.
_SERVED_BY_COLUMNS: dict[str, str] = {"operator": "served_by_operator", "bot": "served_by_bot",
                                      "self_service": "self_service"}


def _grouped(rows, *measures: ColumnElement) -> Select:
    """Every column of `rows` is a key: GROUP BY and ORDER BY them, with `measures`."""
    keys = list(rows.c)
    return select(*keys, *measures).group_by(*keys).order_by(*keys)


# --- Waits -------------------------------------------------------------------------------------

def wait_distribution(connection: Connection, filters: Filters, by_channel: bool = False
                      ) -> pl.DataFrame:
    """Operator-served contacts per exact wait second: exact percentiles without raw rows.

    Columns: [channel,] wait_s, contacts. Waits are whole seconds and bunch up, so this is a
    few thousand rows however many contacts the range holds.
    """
    columns = [Channel.code.label("channel")] if by_channel else []
    rows = select(*columns, Contact.wait_s.label("wait_s")).select_from(Contact)
    if by_channel:
        rows = rows.join(Channel, Channel.id == Contact.channel_id)
    rows = rows.where(*_contact_conditions(filters), Contact.served_by == "operator").subquery()
    schema = ({"channel": pl.String} if by_channel else {}) | {"wait_s": pl.Int64,
                                                                "contacts": pl.Int64}
    return _frame(connection, _grouped(rows, func.count().label("contacts")), schema)


def _nearest_rank(percent: int) -> pl.Expr:
    """The smallest wait whose running count reaches rank ceil(percent% of all contacts)."""
    rank = (pl.col("total") * percent + 99) // 100
    return pl.col("wait_s").filter(pl.col("running") >= rank).min().cast(pl.Float64)


def wait_summary(distribution: pl.DataFrame, by_channel: bool = False) -> pl.DataFrame:
    """Contacts, mean and nearest-rank median/p90 wait from `wait_distribution` counts.

    Columns: [channel,] contacts, mean_wait_s, median_wait_s, p90_wait_s. Without `by_channel`
    it summarises all rows together (also valid for a by-channel distribution); an empty
    distribution then gives one row with 0 contacts and null waits.
    """
    keys = ["channel"] if by_channel else []
    ordered = distribution.sort([*keys, "wait_s"])
    running, total = pl.col("contacts").cum_sum(), pl.col("contacts").sum()
    ordered = ordered.with_columns(
        running=running.over(keys) if keys else running,
        total=total.over(keys) if keys else total,
    )
    contacts = pl.col("contacts").sum()
    measures = [
        contacts.alias("contacts"),
        pl.when(contacts > 0).then((pl.col("wait_s") * pl.col("contacts")).sum() / contacts)
        .cast(pl.Float64).alias("mean_wait_s"),
        _nearest_rank(50).alias("median_wait_s"),
        _nearest_rank(90).alias("p90_wait_s"),
    ]
    if keys:
        return ordered.group_by(keys).agg(measures).sort(keys)
    return ordered.select(measures)


def wait_by_channel(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Per channel: channel, contacts, mean_wait_s, median_wait_s, p90_wait_s."""
    return wait_summary(wait_distribution(connection, filters, by_channel=True), by_channel=True)


def median_wait_s(connection: Connection, filters: Filters) -> float | None:
    """Median wait of operator-served contacts over all channels in the filter (None if none).

    One grouped scan, so a KPI tile can afford it twice (current and previous period).
    """
    return wait_summary(wait_distribution(connection, filters))["median_wait_s"][0]


# --- Arrival pattern ---------------------------------------------------------------------------

def weekday_days(start: dt.date, end: dt.date) -> pl.DataFrame:
    """How many days of each weekday (0 = Monday) fall in start..end: the mean's divisor."""
    span = max((end - start).days + 1, 0)
    return pl.DataFrame(
        {"weekday": range(7),
         "days": [span // 7 + ((weekday - start.weekday()) % 7 < span % 7)
                  for weekday in range(7)]},
        schema={"weekday": pl.Int64, "days": pl.Int64})


def hour_weekday_grid(counts: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """All 168 weekday × hour cells from SQL counts keyed by `dow` (0 = Sunday) and hour.

    Columns: weekday (0 = Monday), weekday_name, hour, contacts, days, mean_contacts (null for
    a weekday the range does not contain).
    """
    cells = pl.DataFrame({"weekday": range(7), "weekday_name": WEEKDAY_NAMES},
                         schema={"weekday": pl.Int64, "weekday_name": pl.String}).join(
        pl.DataFrame({"hour": range(24)}, schema={"hour": pl.Int64}), how="cross")
    observed = counts.select(weekday=(pl.col("dow") + 6) % 7, hour=pl.col("hour"),
                             contacts=pl.col("contacts"))
    return (
        cells.join(observed, on=["weekday", "hour"], how="left")
        .join(weekday_days(start, end), on="weekday", how="left")
        .with_columns(pl.col("contacts").fill_null(0))
        .with_columns(mean_contacts=pl.when(pl.col("days") > 0).then(
            pl.col("contacts") / pl.col("days")))
        .sort("weekday", "hour")
    )


def contacts_by_hour_weekday(connection: Connection, filters: Filters, only_24x7: bool = True
                             ) -> pl.DataFrame:
    """Mean contacts per day for each weekday × hour, to see when the 24/7 channels are busy.

    Columns: weekday (0 = Monday … 6 = Sunday), weekday_name, hour (0..23), contacts, days
    (that weekday's days in the range), mean_contacts. All 168 cells, zeros filled.
    """
    dialect = connection.dialect.name
    rows = (
        select(weekday_number(Contact.started_at, dialect).label("dow"),
               (minute_of_day(Contact.started_at, dialect) // 60).label("hour"))
        .select_from(Contact).join(Channel, Channel.id == Contact.channel_id)
        .where(*_contact_conditions(filters), *([Channel.is_24x7] if only_24x7 else []))
        .subquery()
    )
    counts = _frame(connection, _grouped(rows, func.count().label("contacts")),
                    {"dow": pl.Int64, "hour": pl.Int64, "contacts": pl.Int64})
    return hour_weekday_grid(counts, filters.start, filters.end)


# --- Channel mix (pure, from queries.contacts_by_period) -------------------------------------

def served_by_share(frame: pl.DataFrame) -> pl.DataFrame:
    """Who served the period's contacts: operator, bot or self-service, as counts and shares.

    Input: `queries.contacts_by_period`. Columns: period, served_by, contacts, share (of the
    period's contacts). Three rows per period, zeros kept.
    """
    totals = frame.group_by("period").agg(pl.col(column).sum()
                                          for column in _SERVED_BY_COLUMNS.values())
    long = totals.unpivot(index="period", on=list(_SERVED_BY_COLUMNS.values()),
                          variable_name="column", value_name="contacts")
    by_column = {column: served for served, column in _SERVED_BY_COLUMNS.items()}
    return (
        long.with_columns(
            served_by=pl.col("column").replace_strict(by_column, return_dtype=pl.String),
            order=pl.col("column").replace_strict(
                {column: SERVED_BY.index(served) for column, served in by_column.items()},
                return_dtype=pl.Int64),
            contacts=pl.col("contacts").cast(pl.Int64),
        )
        .with_columns(share=pl.col("contacts") / pl.col("contacts").sum().over("period"))
        .sort("period", "order")
        .select("period", "served_by", "contacts", "share")
    )


def channel_volume(frame: pl.DataFrame) -> pl.DataFrame:
    """Contacts per period and channel with the channel's share of the period.

    Input: `queries.contacts_by_period` (or this function's own output: it is idempotent).
    Columns: period, channel, contacts, share.
    """
    return (
        frame.group_by("period", "channel").agg(pl.col("contacts").sum().cast(pl.Int64))
        .with_columns(share=pl.col("contacts") / pl.col("contacts").sum().over("period"))
        .sort("period", "channel")
    )


def contacts_served(figures: Mapping[str, float | int | None]) -> int:
    """All contacts served, online and offline, from a `queries.kpis` dict: the volume tile."""
    return int(figures["contacts_online"] or 0) + int(figures["contacts_offline"] or 0)


# --- Agent ratings -----------------------------------------------------------------------------

def _rating_rows(filters: Filters, *columns: ColumnElement,
                 conditions: tuple[ColumnElement, ...] = ()) -> Select:
    """Ratings in the range, filtered by channel/region/service type of the rated contact."""
    return (
        select(*columns).select_from(AgentRating)
        .join(Operator, Operator.id == AgentRating.operator_id)
        .join(Contact, Contact.id == AgentRating.contact_id)
        .where(AgentRating.rated_at >= filters.start_at,
               AgentRating.rated_at < filters.end_before,
               *_dimension_filters(filters, Contact.channel_id, Contact.region_id,
                                   Contact.service_type_id),
               *conditions)
    )


def rating_distribution(connection: Connection, filters: Filters) -> pl.DataFrame:
    """How ratings spread over scores 1..5: all five rows, zeros filled.

    Columns: score, ratings, share (null when the range has no ratings).
    """
    rows = _rating_rows(filters, AgentRating.score.label("score")).subquery()
    counts = _frame(connection, _grouped(rows, func.count().label("ratings")),
                    {"score": pl.Int64, "ratings": pl.Int64})
    total = pl.col("ratings").sum()
    return (
        pl.DataFrame({"score": SCORES}, schema={"score": pl.Int64})
        .join(counts, on="score", how="left")
        .with_columns(pl.col("ratings").fill_null(0))
        .with_columns(share=pl.when(total > 0).then(pl.col("ratings") / total))
    )


def operator_months(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Ratings and score sums per operator and month, the SQL half of `operator_table`.

    Columns: period, operator (external id), name, team, region (operator's), ratings,
    score_sum.
    """
    period = period_start(AgentRating.rated_at, "month", connection.dialect.name)
    rows = (
        _rating_rows(filters, period.label("period"), Operator.external_id.label("operator"),
                     Operator.name.label("name"), Operator.team.label("team"),
                     Region.code.label("region"), AgentRating.score.label("score"))
        .join(Region, Region.id == Operator.region_id)
        .subquery()
    )
    keys = [column for column in rows.c if column.name != "score"]
    statement = (select(*keys, func.count().label("ratings"),
                        func.sum(rows.c.score).label("score_sum"))
                 .group_by(*keys).order_by(*keys))
    return _frame(connection, statement, {
        "period": pl.Date, "operator": pl.String, "name": pl.String, "team": pl.String,
        "region": pl.String, "ratings": pl.Int64, "score_sum": pl.Int64})


def operator_summary(monthly: pl.DataFrame, last_month: dt.date, min_ratings: int
                     ) -> pl.DataFrame:
    """One row per rated operator; only those with enough ratings are ranked (fewer is noise).

    Input: `operator_months`. `trend` is the mean of `last_month` minus the month before (null
    if either has no ratings); `monthly_means` lists the means of rated months in order (for a
    sparkline); `rank` is dense by mean_score, 1 = best, null when not `ranked`.
    Columns: operator, name, team, region, ratings, mean_score, trend, monthly_means, rank,
    ranked.
    """
    keys = ["operator", "name", "team", "region"]
    previous_month = first_of_month(first_of_month(last_month) - dt.timedelta(days=1))

    def month_mean(month: dt.date, name: str) -> pl.DataFrame:
        return monthly.filter(pl.col("period") == month).select(
            "operator", (pl.col("score_sum") / pl.col("ratings")).alias(name))

    month_means = pl.col("score_sum") / pl.col("ratings")
    table = (
        monthly.group_by(keys).agg(
            pl.col("ratings").sum(),
            (pl.col("score_sum").sum() / pl.col("ratings").sum()).alias("mean_score"),
            month_means.sort_by("period").alias("monthly_means"),
        )
        .join(month_mean(first_of_month(last_month), "last_mean"), on="operator", how="left")
        .join(month_mean(previous_month, "previous_mean"), on="operator", how="left")
        .with_columns(trend=pl.col("last_mean") - pl.col("previous_mean"),
                      ranked=pl.col("ratings") >= min_ratings)
        .with_columns(rank=pl.when(pl.col("ranked")).then(pl.col("mean_score"))
                      .rank("dense", descending=True).cast(pl.Int64))
    )
    return table.sort(["rank", "mean_score", "operator"], descending=[False, True, False],
                      nulls_last=True).select(
        *keys, "ratings", "mean_score", "trend", "monthly_means", "rank", "ranked")


def operator_table(connection: Connection, filters: Filters, min_ratings: int) -> pl.DataFrame:
    """Operators rated in the range, best first: see `operator_summary` for the columns.

    The trend compares the range's last month (as far as the range covers it) with the one
    before.
    """
    return operator_summary(operator_months(connection, filters), filters.end, min_ratings)


def operator_trend(connection: Connection, filters: Filters, operator: str) -> pl.DataFrame:
    """One operator's monthly ratings, by external id; an unknown id gives an empty frame.

    Columns: period, ratings, mean_score, score_1 … score_5 (counts). Months without ratings
    are absent.
    """
    period = period_start(AgentRating.rated_at, "month", connection.dialect.name)
    rows = _rating_rows(filters, period.label("period"), AgentRating.score.label("score"),
                        conditions=(Operator.external_id == operator,)).subquery()
    score_counts = {f"score_{score}": pl.Int64 for score in SCORES}
    statement = (
        select(rows.c.period, func.count().label("ratings"),
               func.sum(rows.c.score).label("score_sum"),
               *[_count_if(rows.c.score == score).label(f"score_{score}") for score in SCORES])
        .group_by(rows.c.period).order_by(rows.c.period)
    )
    frame = _frame(connection, statement, {"period": pl.Date, "ratings": pl.Int64,
                                           "score_sum": pl.Int64} | score_counts)
    return frame.select("period", "ratings",
                        (pl.col("score_sum") / pl.col("ratings")).alias("mean_score"),
                        *score_counts)


def operator_names(table: pl.DataFrame) -> dict[str, str]:
    """Operator id -> name from `operator_table`, best first, for a picker."""
    return dict(zip(table["operator"].to_list(), table["name"].to_list(), strict=True))
