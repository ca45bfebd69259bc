"""The shared pieces of every dashboard query over the daily rollups: the filters, the rollup
tables, the range (whole months from the monthly rollups where they can), period and segment
columns, GROUP BY sums, and reading a statement into a typed Polars frame.

`queries`, `customer`, `operations` and `queue` build their page queries from these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import polars as pl
from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    Table,
    cast,
    extract,
    func,
    select,
    union_all,
)

from data_access import rollups
from data_access.dates import month_end, month_starts
from data_access.schema import Channel, Region, ServiceType

Granularity = Literal["day", "week", "month"]
GRANULARITIES: tuple[str, ...] = ("day", "week", "month")
Dimension = Literal["channel", "region", "service_type"]
DIMENSIONS: dict[str, type] = {"channel": Channel, "region": Region, "service_type": ServiceType}
CaseDimension = Literal["category", "channel", "region"]
CONTACTS = rollups.TABLES["rollup_contacts"]
QUARTERS = rollups.TABLES["rollup_contact_quarters"]
SURVEYS = rollups.TABLES["rollup_surveys"]
REASONS = rollups.TABLES["rollup_detractor_reasons"]
CASES = rollups.TABLES["rollup_cases"]
CLOSURES = rollups.TABLES["rollup_case_closures"]
CASE_TOTALS = rollups.TABLES["rollup_case_totals"]
STAGES = rollups.TABLES["rollup_case_stages"]
RATINGS = rollups.TABLES["rollup_ratings"]
OPERATOR_DAYS = rollups.TABLES["rollup_operator_days"]


@dataclass(frozen=True)
class Filters:
    """Date range (inclusive, local dates) and optional code lists; empty means all."""

    start: dt.date
    end: dt.date
    channels: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    service_types: tuple[str, ...] = ()

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time())

    @property
    def end_before(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())


def ratings_table(filters: Filters) -> Table:
    """Ratings by the rated contact's segment only when a filter needs it (twice the rows)."""
    return RATINGS if filters.channels or filters.regions or filters.service_types else (
        OPERATOR_DAYS)


def _codes_in(column: ColumnElement, model: type, codes: tuple[str, ...]) -> ColumnElement:
    return column.in_(select(model.id).where(model.code.in_(codes)).scalar_subquery())


def dimension_filters(filters: Filters, channel_col, region_col, service_col=None
                       ) -> list[ColumnElement]:
    conditions = []
    if filters.channels:
        conditions.append(_codes_in(channel_col, Channel, filters.channels))
    if filters.regions:
        conditions.append(_codes_in(region_col, Region, filters.regions))
    if filters.service_types and service_col is not None:
        conditions.append(_codes_in(service_col, ServiceType, filters.service_types))
    return conditions


def segment_filters(table: Table, filters: Filters) -> list[ColumnElement]:
    """The dimension filters on a rollup (cases have no service type, operators none)."""
    service = table.c.get("service_type_id")
    return (dimension_filters(filters, table.c.channel_id, table.c.region_id, service)
            if "channel_id" in table.c else [])


def in_range(table: Table, filters: Filters) -> list[ColumnElement]:
    """The range's days and the dimension filters on a rollup."""
    return [table.c.day >= filters.start, table.c.day <= filters.end,
            *segment_filters(table, filters)]


def ranged_rows(connection: Connection, daily: Table, filters: Filters,
                rows_of: Callable[[Table], Select], granularity: str | None = None) -> Select:
    """`rows_of(table)` over the range: by whole months where the rollup has them and the
    periods allow (totals and months), else from the daily rows."""
    if daily.name in rollups.MONTHLY and granularity in (None, "month"):
        return whole_month_rows(connection, daily, filters, rows_of)
    return rows_of(daily).where(*in_range(daily, filters))


def whole_month_rows(connection: Connection, daily: Table, filters: Filters,
                     rows_of: Callable[[Table], Select]) -> Select:
    """`rows_of(table)` over the range, taking whole months from `daily`'s monthly sibling.

    A month whose days holding data all lie in the range (the current month counts once the
    range reaches the newest day) is read from the monthly rollup: one row per segment and
    month instead of one per active day. Only the days at the range's edges come from the
    daily table. Both have the same columns; a monthly row's `day` is its month's first day.
    Segment filters are applied here; `rows_of` adds its own conditions.
    """
    monthly = rollups.TABLES[rollups.MONTHLY[daily.name]]
    latest = connection.scalar(select(func.max(daily.c.day)))
    if isinstance(latest, str):
        latest = dt.date.fromisoformat(latest)
    if latest is None:
        return rows_of(daily).where(*in_range(daily, filters))
    whole = [month for month in month_starts(filters.start, min(filters.end, latest))
             if month >= filters.start
             and (month_end(month) <= filters.end or latest <= filters.end)]
    if not whole:
        return rows_of(daily).where(*in_range(daily, filters))
    months = rows_of(monthly).where(monthly.c.day >= whole[0], monthly.c.day <= whole[-1],
                                    *segment_filters(monthly, filters))
    edges = [(filters.start, whole[0] - dt.timedelta(days=1)),
             (month_end(whole[-1]) + dt.timedelta(days=1), filters.end)]
    days = [rows_of(daily).where(*in_range(daily, replace(filters, start=first, end=last)))
            for first, last in edges if first <= last]
    return union_all(months, *days) if days else months


def period_start(column: ColumnElement, granularity: str, dialect: str) -> ColumnElement:
    """The first day of the day/week (Monday)/month that `column` falls in, as 'YYYY-MM-DD'."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, not {granularity!r}")
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(granularity, column), "YYYY-MM-DD")
    if granularity == "day":
        return func.date(column)
    if granularity == "week":
        return func.date(column, "weekday 0", "-6 days")
    return func.substr(column, 1, 7).concat("-01")  # ISO text: cheaper than strftime


def weekday_number(column: ColumnElement, dialect: str) -> ColumnElement:
    """0 = Sunday … 6 = Saturday on both backends."""
    if dialect == "postgresql":
        return cast(extract("dow", column), Integer)
    return cast(func.strftime("%w", column), Integer)


def read_frame(connection: Connection, statement: Select, schema: dict[str, pl.DataType]
               ) -> pl.DataFrame:
    """The statement's rows with `schema`'s names (by position) and types, whatever the
    driver hands back (PostgreSQL sums are Decimal, an empty result has no types); "period",
    the only date, comes as 'YYYY-MM-DD' text from both backends."""
    frame = pl.read_database(statement, connection, infer_schema_length=None)
    frame = frame.rename(dict(zip(frame.columns, schema, strict=True))).with_columns(
        pl.col(name).cast(dtype) for name, dtype in schema.items() if dtype != pl.Date)
    if "period" in schema:
        frame = frame.with_columns(pl.col("period").cast(pl.String).str.to_date("%Y-%m-%d"))
    return frame


def summed(rows, keys: list[str], measures: list[str], granularity: str | None = None,
            dialect: str = "") -> Select:
    """GROUP BY `keys` of a subquery, summing `measures` (ordered by the keys).

    With a `granularity`, `rows` has a `day` column and "period" among `keys`: the days are
    summed first and only their sums get a period, so the date function runs once per day
    and segment, not once per rollup row (about 3× faster on SQLite).
    """
    if granularity is not None:
        others = [name for name in keys if name != "period"]
        daily = summed(rows, ["day", *others], measures).order_by(None).subquery()
        rows = select(period_start(daily.c.day, granularity, dialect).label("period"),
                      *[daily.c[name] for name in [*others, *measures]]).subquery()
    key_columns = [rows.c[name] for name in keys]
    return (select(*key_columns, *[func.coalesce(func.sum(rows.c[name]), 0).label(name)
                                   for name in measures])
            .group_by(*key_columns).order_by(*key_columns))


def int_schema(names) -> dict[str, pl.DataType]:
    return {name: pl.Int64 for name in names}


def segment_code(table: Table, by: str | None) -> tuple[list, list]:
    """(select columns, joins) that name a rollup row's segment by its code, for `by`."""
    if by is None:
        return [], []
    if by == "category" and "category" in table.c:
        return [table.c.category.label(by)], []
    if by not in DIMENSIONS or f"{by}_id" not in table.c:
        raise ValueError(f"by must be one of {tuple(DIMENSIONS)}, not {by!r}")
    model = DIMENSIONS[by]
    return [model.code.label(by)], [(model, model.id == table.c[f"{by}_id"])]


def rollup_rows(table: Table, columns: list, joins: list, conditions: list) -> Select:
    statement = select(*columns).select_from(table)
    for model, on in joins:
        statement = statement.join(model, on)
    return statement.where(*conditions)


def _case_segment(table: Table, by: CaseDimension | None) -> tuple[list, list]:
    if by not in (None, "category", "channel", "region"):
        raise ValueError(f"by must be one of ('category', 'channel', 'region', None), not {by!r}")
    return segment_code(table, by)


def case_sums(connection: Connection, table: Table, filters: Filters | None,
               conditions_of: Callable[[Table], list[ColumnElement]],
               granularity: Granularity | None, by: CaseDimension | None, measures: list[str],
               ) -> pl.DataFrame:
    """Sums of a case rollup per [period,] kind [, by] (`filters` None: no date range).

    Totals and monthly trends take whole months from the monthly rollup where it has one.
    """
    def rows_of(source: Table) -> Select:
        segment, joins = _case_segment(source, by)
        return rollup_rows(source, [*([source.c.day] if granularity else []), source.c.kind,
                                     *segment, *[source.c[name] for name in measures]],
                            joins, conditions_of(source))

    rows = (rows_of(table) if filters is None
            else ranged_rows(connection, table, filters, rows_of, granularity))
    keys = (["period"] if granularity else []) + ["kind"] + ([by] if by else [])
    schema = ({"period": pl.Date} if granularity else {}) | {name: pl.String for name in keys
                                                             if name != "period"}
    return read_frame(connection, summed(rows.subquery(), keys, measures, granularity,
                                      connection.dialect.name), schema | int_schema(measures))


def no_conditions(_table: Table) -> list[ColumnElement]:
    return []
