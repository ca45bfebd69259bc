"""Channels and agent-performance data: rollup sums in, small Polars frames out.

Same rules as `queries`: the caller owns the Connection, figures come from the rollups, user
values are bound parameters, row-level expressions sit in a subquery so GROUP BY never repeats
a parameterised expression.
The pure transforms next to each query turn its counts into shares, percentiles and ranks, so
that they can be checked on hand-made frames.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl
from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Select,
    Table,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)

from data_access import rollups
from data_access.dates import first_of_month, month_end
from data_access.metrics import with_bucket_percentiles
from data_access.rollup_reads import (
    CONTACTS,
    RATINGS,
    Filters,
    in_range,
    int_schema,
    period_start,
    ranged_rows,
    ratings_table,
    read_frame,
    rollup_rows,
    summed,
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
        return rollup_rows(table, [*columns, *[table.c[name] for name in _WAIT_SUMS]],
                            joins, [])

    rows = ranged_rows(connection, CONTACTS, filters, rows_of).subquery()
    keys = ["channel"] if by_channel else []
    return read_frame(connection, summed(rows, keys, _WAIT_SUMS),
                  {name: pl.String for name in keys} | int_schema(_WAIT_SUMS))


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
    return with_bucket_percentiles(
        sums, rollups.WAIT_COLUMNS, rollups.WAIT_EDGES_S,
        {"median_wait_s": 50, "p90_wait_s": 90},
    ).select(
        *keys,
        contacts.cast(pl.Int64).alias("contacts"),
        pl.when(contacts > 0).then(pl.col("operator_wait_s") / contacts).cast(pl.Float64)
        .alias("mean_wait_s"),
        "median_wait_s", "p90_wait_s",
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
    rows = rollup_rows(
        CONTACTS,
        [weekday_number(CONTACTS.c.day, connection.dialect.name).label("dow"),
         *[CONTACTS.c[name] for name in hours]],
        [(Channel, Channel.id == CONTACTS.c.channel_id)],
        [*in_range(CONTACTS, filters), *([Channel.is_24x7] if only_24x7 else [])],
    ).subquery()
    sums = read_frame(connection, summed(rows, ["dow"], hours),
                  {"dow": pl.Int64} | int_schema(hours))
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

def _rating_source(connection: Connection, filters: Filters,
                   rows_of: Callable[[Table], Select]) -> Select:
    """`rows_of(table)` over the range, from the rollup the filters need: whole months from
    the monthly rollup where there is one."""
    table = ratings_table(filters)
    if table is RATINGS:
        return rows_of(table).where(*in_range(table, filters))
    return whole_month_rows(connection, table, filters, rows_of)


def _rating_sums(connection: Connection, filters: Filters, measures: list[str], *,
                 monthly: bool = False, per_operator: bool = False,
                 condition: Callable[[Table], list[ColumnElement]] = lambda table: []
                 ) -> pl.DataFrame:
    """Rating sums [per month] [per operator id].

    Filtered by the rated contact's channel/region/service type, and by `condition(table)`
    (operators, for one operator or one page of them).
    """
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

    rows = _rating_source(connection, filters, lambda source: select(
        *columns_of(source)).where(*condition(source))).subquery()
    keys = {**({"period": pl.Date} if monthly else {}),
            **({"operator_id": pl.Int64} if per_operator else {})}
    return read_frame(connection, summed(rows, list(keys), measures,
                                      "month" if two_level else None, dialect),
                  keys | int_schema(measures))


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


OPERATORS_PER_PAGE = 50
OPERATOR_ORDERS: tuple[str, ...] = ("best", "worst")
OPERATOR_COLUMNS = ["operator", "name", "team", "region", "ratings", "mean_score", "trend",
                    "monthly_means", "rank", "ranked"]


@dataclass(frozen=True)
class OperatorPage:
    """One page of the operator ranking, and what a pager and its caption need.

    `rows` columns: operator (external id), name, team, region (the operator's), ratings,
    mean_score, trend, monthly_means, rank, ranked. `page` is the page returned: the last one
    when a later one was asked for. `matching` counts the rated operators the search matched,
    `rated` all operators rated in the range.
    """

    rows: pl.DataFrame
    page: int
    pages: int
    matching: int
    rated: int


def _operator_ranking(connection: Connection, filters: Filters, min_ratings: int) -> Select:
    """Every operator rated in the range, ranked in SQL: one row each, nothing to Python.

    `rank` is dense by mean score (1 = best) among operators with at least `min_ratings`
    ratings (fewer is noise, and ratings feed pay); the others have none. `trend` is the mean
    of the range's last month minus the month before, null unless both have ratings.
    """
    rows = _rating_source(connection, filters, lambda source: select(
        source.c.day, source.c.operator_id, source.c.ratings, source.c.score_sum)).subquery()
    # Days and months (a monthly row's day is its first) summed as they come: no per-month
    # grouping, and no date function per row.
    last = first_of_month(filters.end)
    before = first_of_month(last - dt.timedelta(days=1))

    def in_month(month: dt.date, measure: str) -> ColumnElement:
        inside = and_(rows.c.day >= month, rows.c.day <= month_end(month))
        return func.sum(case((inside, rows.c[measure]), else_=0))

    sums = (select(rows.c.operator_id,
                   func.sum(rows.c.ratings).label("ratings"),
                   func.sum(rows.c.score_sum).label("score_sum"),
                   in_month(last, "ratings").label("last_ratings"),
                   in_month(last, "score_sum").label("last_sum"),
                   in_month(before, "ratings").label("before_ratings"),
                   in_month(before, "score_sum").label("before_sum"))
            .group_by(rows.c.operator_id).having(func.sum(rows.c.ratings) > 0)).subquery()

    def mean(score_sum: ColumnElement, ratings: ColumnElement) -> ColumnElement:
        return cast(score_sum, Float) / ratings

    ranked = sums.c.ratings >= min_ratings
    mean_score = mean(sums.c.score_sum, sums.c.ratings)
    return (
        select(sums.c.operator_id, Operator.external_id.label("operator"), Operator.name,
               Operator.team, Region.code.label("region"), sums.c.ratings,
               mean_score.label("mean_score"),
               case((and_(sums.c.last_ratings > 0, sums.c.before_ratings > 0),
                     mean(sums.c.last_sum, sums.c.last_ratings)
                     - mean(sums.c.before_sum, sums.c.before_ratings))).label("trend"),
               case((ranked, func.dense_rank().over(partition_by=ranked,
                                                    order_by=mean_score.desc()))
                    ).label("rank"),
               ranked.label("ranked"), func.count().over().label("rated"))
        .join(Operator, Operator.id == sums.c.operator_id)
        .join(Region, Region.id == Operator.region_id)
    )


def operator_table(connection: Connection, filters: Filters, min_ratings: int,
                   search: str = "", order: str = "best", page: int = 1,
                   per_page: int = OPERATORS_PER_PAGE) -> OperatorPage:
    """One page of the operators rated in the range, ranked (see `_operator_ranking`).

    Only the page leaves the database, so the cost does not follow how many operators a page
    could list. `search` keeps operators whose id or name contains it (any case; on SQLite
    only ASCII letters fold); ranks stay those among all operators. "best" lists rank 1 first,
    "worst" the lowest rank first; unranked operators come last either way, best mean first.
    """
    if order not in OPERATOR_ORDERS:
        raise ValueError(f"order must be one of {OPERATOR_ORDERS}, not {order!r}")
    if page < 1 or per_page < 1:
        raise ValueError(f"page and per_page must be at least 1, not {page!r}, {per_page!r}")
    ranking = _operator_ranking(connection, filters, min_ratings).subquery()
    pattern = f"%{_like_escaped(search)}%"
    matched = [or_(ranking.c.operator.ilike(pattern, escape="\\"),
                   ranking.c.name.ilike(pattern, escape="\\"))] if search else []
    listed = (
        select(ranking, func.count().over().label("matching")).where(*matched)
        .order_by(ranking.c.rank.is_(None),
                  ranking.c.rank if order == "best" else ranking.c.rank.desc(),
                  ranking.c.mean_score.desc(), ranking.c.operator)
    )

    def rows_of(number: int) -> list:
        return connection.execute(listed.limit(per_page).offset((number - 1) * per_page)
                                  ).all()

    def pages_of(matching: int) -> int:
        return max(1, -(-matching // per_page))

    rows = rows_of(page)
    if not rows and page > 1:  # past the end: the last page, if any operator matched
        page = pages_of(connection.scalar(
            select(func.count()).select_from(ranking).where(*matched)))
        rows = rows_of(page)
    matching = int(rows[0].matching) if rows else 0
    rated = int(rows[0].rated) if rows else int(
        connection.scalar(select(func.count()).select_from(ranking)))
    schema = {"operator_id": pl.Int64, "operator": pl.String, "name": pl.String,
              "team": pl.String, "region": pl.String, "ratings": pl.Int64,
              "mean_score": pl.Float64, "trend": pl.Float64, "rank": pl.Int64,
              "ranked": pl.Boolean}
    frame = pl.DataFrame({name: [row._mapping[name] for row in rows] for name in schema},
                         schema=schema, strict=False)
    return OperatorPage(_with_monthly_means(connection, filters, frame), page,
                        pages_of(matching), matching, rated)


def _like_escaped(text: str) -> str:
    """`text` matched literally by LIKE ... ESCAPE '\\': its % and _ are not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _with_monthly_means(connection: Connection, filters: Filters, page: pl.DataFrame
                        ) -> pl.DataFrame:
    """The page's operators get their monthly means in order, for a sparkline."""
    ids = page["operator_id"].to_list()
    months = _rating_sums(connection, filters, ["ratings", "score_sum"], monthly=True,
                          per_operator=True,
                          condition=lambda table: [table.c.operator_id.in_(ids)]
                          ) if ids else pl.DataFrame(schema={
                              "period": pl.Date, "operator_id": pl.Int64,
                              "ratings": pl.Int64, "score_sum": pl.Int64})
    means = (months.filter(pl.col("ratings") > 0).sort("period")
             .group_by("operator_id", maintain_order=True)
             .agg((pl.col("score_sum") / pl.col("ratings")).alias("monthly_means")))
    return page.join(means, on="operator_id", how="left", maintain_order="left").select(
        OPERATOR_COLUMNS)


def operator_trend(connection: Connection, filters: Filters, operator: str) -> pl.DataFrame:
    """One operator's monthly ratings, by external id; an unknown id gives an empty frame.

    Columns: period, ratings, mean_score, score_1 … score_5 (counts). Months without ratings
    are absent.
    """
    frame = _rating_sums(connection, filters, ["ratings", "score_sum", *rollups.SCORE_COLUMNS],
                         monthly=True, condition=lambda table: [
                             table.c.operator_id == select(Operator.id).where(
                                 Operator.external_id == operator).scalar_subquery()])
    return frame.filter(pl.col("ratings") > 0).select(
        "period", "ratings", (pl.col("score_sum") / pl.col("ratings")).alias("mean_score"),
        *rollups.SCORE_COLUMNS)


def operator_names(table: pl.DataFrame) -> dict[str, str]:
    """Operator id -> name from `operator_table`, best first, for a picker."""
    return dict(zip(table["operator"].to_list(), table["name"].to_list(), strict=True))
