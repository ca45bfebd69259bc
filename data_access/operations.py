"""Channels and agent-performance data: rollup sums in, small Polars frames out.

Same rules as `queries`: the caller owns the Connection, figures come from the rollups, user
values are bound parameters, row-level expressions sit in a subquery so GROUP BY never repeats
a parameterised expression.
The pure transforms next to each query turn its counts into shares, percentiles and ranks, so
that they can be checked on hand-made frames.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl
from sqlalchemy import ColumnElement, Connection, Select, Table, select

from data_access import rollups
from data_access.dates import first_of_month
from data_access.metrics import percentile_from_buckets
from data_access.queries import (
    CONTACTS,
    RATINGS,
    Filters,
    _frame,
    _in_range,
    _int_schema,
    _rollup_rows,
    _summed,
    period_start,
    ranged_rows,
    ratings_table,
    weekday_number,
    whole_month_rows,
)
from data_access.schema import SERVED_BY, Channel, Operator, Region

WEEKDAY_NAMES: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SCORES: tuple[int, ...] = (1, 2, 3, 4, 5)
# contacts_by_period column holding each served_by value's count.
_SERVED_BY_COLUMNS: dict[str, str] = {"operator": "served_by_operator", "bot": "served_by_bot",
                                      "self_service": "self_service"}


# --- Waits -------------------------------------------------------------------------------------

_WAIT_SUMS = ["by_operator", "operator_wait_s", *rollups.WAIT_COLUMNS]


def wait_histogram(connection: Connection, filters: Filters, by_channel: bool = False
                   ) -> pl.DataFrame:
    """Operator-served contacts, their wait sum and wait buckets (`rollups.WAIT_EDGES_S`).

    Columns: [channel,] by_operator, operator_wait_s, wait_0_10s … wait_3600s_plus.
    """
    def rows_of(table: Table) -> Select:
        columns, joins = [], []
        if by_channel:
            columns = [Channel.code.label("channel")]
            joins = [(Channel, Channel.id == table.c.channel_id)]
        return _rollup_rows(table, [*columns, *[table.c[name] for name in _WAIT_SUMS]],
                            joins, [])

    rows = ranged_rows(connection, CONTACTS, filters, rows_of).subquery()
    keys = ["channel"] if by_channel else []
    return _frame(connection, _summed(rows, keys, _WAIT_SUMS),
                  {name: pl.String for name in keys} | _int_schema(_WAIT_SUMS))


def wait_summary(histogram: pl.DataFrame, by_channel: bool = False) -> pl.DataFrame:
    """Contacts, mean wait (exact) and median/p90 wait (from the buckets) per histogram row.

    Columns: [channel,] contacts, mean_wait_s, median_wait_s, p90_wait_s. Without
    `by_channel` all rows are summed first; an empty histogram then gives one row with 0
    contacts and null waits.
    """
    keys = ["channel"] if by_channel else []
    sums = (histogram.group_by(keys).agg(pl.col(_WAIT_SUMS).sum()).sort(keys) if keys
            else histogram.select(pl.col(_WAIT_SUMS).sum()))
    contacts = pl.col("by_operator")
    return sums.select(
        *keys,
        contacts.cast(pl.Int64).alias("contacts"),
        pl.when(contacts > 0).then(pl.col("operator_wait_s") / contacts).cast(pl.Float64)
        .alias("mean_wait_s"),
        *[percentile_from_buckets(rollups.WAIT_COLUMNS, rollups.WAIT_EDGES_S, percent).alias(name)
          for name, percent in (("median_wait_s", 50), ("p90_wait_s", 90))],
    )


def wait_by_channel(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Per channel: channel, contacts, mean_wait_s, median_wait_s, p90_wait_s."""
    return wait_summary(wait_histogram(connection, filters, by_channel=True), by_channel=True)


def median_wait_s(connection: Connection, filters: Filters) -> float | None:
    """Median wait of operator-served contacts over all channels in the filter (None if none).

    One small rollup sum, so a KPI tile can afford it twice (current and previous period).
    """
    return wait_summary(wait_histogram(connection, filters))["median_wait_s"][0]


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
    hours = list(rollups.HOUR_COLUMNS)
    rows = _rollup_rows(
        CONTACTS,
        [weekday_number(CONTACTS.c.day, connection.dialect.name).label("dow"),
         *[CONTACTS.c[name] for name in hours]],
        [(Channel, Channel.id == CONTACTS.c.channel_id)],
        [*_in_range(CONTACTS, filters), *([Channel.is_24x7] if only_24x7 else [])],
    ).subquery()
    sums = _frame(connection, _summed(rows, ["dow"], hours),
                  {"dow": pl.Int64} | _int_schema(hours))
    counts = sums.unpivot(index="dow", on=hours, variable_name="column",
                          value_name="contacts").select(
        "dow", pl.col("column").str.strip_prefix("hour_").cast(pl.Int64).alias("hour"),
        "contacts")
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

def _rating_sums(connection: Connection, filters: Filters, measures: list[str], *,
                 monthly: bool = False, per_operator: bool = False,
                 operator: str | None = None) -> pl.DataFrame:
    """Rating sums [per month] [per operator id] [of one operator, by external id], filtered
    by the rated contact's channel/region/service type."""
    table = ratings_table(filters)
    dialect = connection.dialect.name
    # Per operator the days do not group any further, so the month is taken row by row;
    # otherwise the days are summed first and only their sums get a month.
    two_level = monthly and not per_operator

    def columns_of(source: Table) -> list[ColumnElement]:
        columns = ([source.c.day] if two_level else
                   [period_start(source.c.day, "month", dialect).label("period")] if monthly
                   else [])
        return [*columns, *([source.c.operator_id] if per_operator else []),
                *[source.c[name] for name in measures]]

    def one_operator(source: Table) -> list[ColumnElement]:
        if operator is None:
            return []
        return [source.c.operator_id == select(Operator.id).where(
            Operator.external_id == operator).scalar_subquery()]

    if table is not RATINGS:  # whole months from the monthly rollup
        rows = whole_month_rows(connection, table, filters, lambda source: select(
            *columns_of(source)).where(*one_operator(source))).subquery()
    else:
        rows = select(*columns_of(table)).where(*_in_range(table, filters),
                                                 *one_operator(table)).subquery()
    keys = (["period"] if monthly else []) + (["operator_id"] if per_operator else [])
    schema = (({"period": pl.Date} if monthly else {})
              | ({"operator_id": pl.Int64} if per_operator else {}))
    return _frame(connection, _summed(rows, keys, measures, "month" if two_level else None,
                                      dialect), schema | _int_schema(measures))


def rating_distribution(connection: Connection, filters: Filters) -> pl.DataFrame:
    """How ratings spread over scores 1..5: all five rows, zeros filled.

    Columns: score, ratings, share (null when the range has no ratings).
    """
    sums = _rating_sums(connection, filters, list(rollups.SCORE_COLUMNS))
    counts = [int(sums[column][0] or 0) if sums.height else 0
              for column in rollups.SCORE_COLUMNS]
    total = sum(counts)
    return pl.DataFrame({"score": list(SCORES), "ratings": counts,
                         "share": [count / total if total else None for count in counts]},
                        schema={"score": pl.Int64, "ratings": pl.Int64, "share": pl.Float64})


def operator_months(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Ratings and score sums per operator and month, the SQL half of `operator_table`.

    Columns: period, operator (external id), name, team, region (operator's), ratings,
    score_sum.
    """
    sums = _rating_sums(connection, filters, ["ratings", "score_sum"], monthly=True,
                        per_operator=True).filter(pl.col("ratings") > 0)
    # Names are joined after the sums: grouping by integers is what scales with the rows.
    operators = _frame(connection, select(
        Operator.id, Operator.external_id, Operator.name, Operator.team, Region.code,
    ).join(Region, Region.id == Operator.region_id), {
        "operator_id": pl.Int64, "operator": pl.String, "name": pl.String, "team": pl.String,
        "region": pl.String})
    return sums.join(operators, on="operator_id", how="inner").select(
        "period", "operator", "name", "team", "region", "ratings", "score_sum",
    ).sort("period", "operator")


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
    frame = _rating_sums(connection, filters, ["ratings", "score_sum", *rollups.SCORE_COLUMNS],
                         monthly=True, operator=operator)
    return frame.filter(pl.col("ratings") > 0).select(
        "period", "ratings", (pl.col("score_sum") / pl.col("ratings")).alias("mean_score"),
        *rollups.SCORE_COLUMNS)


def operator_names(table: pl.DataFrame) -> dict[str, str]:
    """Operator id -> name from `operator_table`, best first, for a picker."""
    return dict(zip(table["operator"].to_list(), table["name"].to_list(), strict=True))
