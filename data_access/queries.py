"""Dashboard queries: they read the daily rollups, and return small Polars frames.

The caller owns the Connection. A page's cost follows the days and segments it shows: every
KPI, trend and breakdown sums rollup rows (see `rollups`), never raw rows. Every value from a
user travels as a bound parameter; row-level expressions sit in a subquery so that GROUP BY
never repeats a parameterised expression (which PostgreSQL would treat as a different one).
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
    and_,
    cast,
    distinct,
    extract,
    func,
    literal,
    or_,
    select,
    union_all,
)

from data_access import rollups
from data_access.config import local_today
from data_access.dates import month_end, month_starts, period_starts
from data_access.metrics import (
    contact_totals,
    monthly_coverage,
    with_backlog,
    with_bucket_percentiles,
    with_nps,
    with_online_share,
)
from data_access.rollups import WAIT_BUCKETS
from data_access.schema import Channel, Operator, Region, ServiceType

Granularity = Literal["day", "week", "month"]
GRANULARITIES: tuple[str, ...] = ("day", "week", "month")
Dimension = Literal["channel", "region", "service_type"]
DIMENSIONS: dict[str, type] = {"channel": Channel, "region": Region, "service_type": ServiceType}
CaseDimension = Literal["category", "channel", "region"]

_MONTHS_PER_QUERY = 240  # SQLite allows 500 terms in one compound SELECT

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




def ratings_table(filters: Filters) -> Table:
    """Ratings by the rated contact's segment only when a filter needs it (twice the rows)."""
    return RATINGS if filters.channels or filters.regions or filters.service_types else (
        OPERATOR_DAYS)


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


def _codes_in(column: ColumnElement, model: type, codes: tuple[str, ...]) -> ColumnElement:
    return column.in_(select(model.id).where(model.code.in_(codes)).scalar_subquery())


def _dimension_filters(filters: Filters, channel_col, region_col, service_col=None
                       ) -> list[ColumnElement]:
    conditions = []
    if filters.channels:
        conditions.append(_codes_in(channel_col, Channel, filters.channels))
    if filters.regions:
        conditions.append(_codes_in(region_col, Region, filters.regions))
    if filters.service_types and service_col is not None:
        conditions.append(_codes_in(service_col, ServiceType, filters.service_types))
    return conditions


def _segment_filters(table: Table, filters: Filters) -> list[ColumnElement]:
    """The dimension filters on a rollup (cases have no service type, operators none)."""
    service = table.c.get("service_type_id")
    return (_dimension_filters(filters, table.c.channel_id, table.c.region_id, service)
            if "channel_id" in table.c else [])


def _in_range(table: Table, filters: Filters) -> list[ColumnElement]:
    """The range's days and the dimension filters on a rollup."""
    return [table.c.day >= filters.start, table.c.day <= filters.end,
            *_segment_filters(table, filters)]


def ranged_rows(connection: Connection, daily: Table, filters: Filters,
                rows_of: Callable[[Table], Select], granularity: str | None = None) -> Select:
    """`rows_of(table)` over the range: by whole months where the rollup has them and the
    periods allow (totals and months), else from the daily rows."""
    if daily.name in rollups.MONTHLY and granularity in (None, "month"):
        return whole_month_rows(connection, daily, filters, rows_of)
    return rows_of(daily).where(*_in_range(daily, filters))


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
        return rows_of(daily).where(*_in_range(daily, filters))
    whole = [month for month in month_starts(filters.start, min(filters.end, latest))
             if month >= filters.start
             and (month_end(month) <= filters.end or latest <= filters.end)]
    if not whole:
        return rows_of(daily).where(*_in_range(daily, filters))
    months = rows_of(monthly).where(monthly.c.day >= whole[0], monthly.c.day <= whole[-1],
                                    *_segment_filters(monthly, filters))
    edges = [(filters.start, whole[0] - dt.timedelta(days=1)),
             (month_end(whole[-1]) + dt.timedelta(days=1), filters.end)]
    days = [rows_of(daily).where(*_in_range(daily, replace(filters, start=first, end=last)))
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


def _frame(connection: Connection, statement: Select, schema: dict[str, pl.DataType]
           ) -> pl.DataFrame:
    rows = connection.execute(statement).all()
    frame = pl.DataFrame([tuple(row) for row in rows], schema=list(schema), orient="row")
    frame = frame.with_columns(
        [pl.col(name).cast(dtype) for name, dtype in schema.items() if dtype != pl.Date]
    )
    if "period" in schema:
        frame = frame.with_columns(pl.col("period").cast(pl.String).str.to_date("%Y-%m-%d"))
    return frame


def _summed(rows, keys: list[str], measures: list[str], granularity: str | None = None,
            dialect: str = "") -> Select:
    """GROUP BY `keys` of a subquery, summing `measures` (ordered by the keys).

    With a `granularity`, `rows` has a `day` column and "period" among `keys`: the days are
    summed first and only their sums get a period, so the date function runs once per day
    and segment, not once per rollup row (about 3× faster on SQLite).
    """
    if granularity is not None:
        others = [name for name in keys if name != "period"]
        daily = _summed(rows, ["day", *others], measures).order_by(None).subquery()
        rows = select(period_start(daily.c.day, granularity, dialect).label("period"),
                      *[daily.c[name] for name in [*others, *measures]]).subquery()
    key_columns = [rows.c[name] for name in keys]
    return (select(*key_columns, *[func.coalesce(func.sum(rows.c[name]), 0).label(name)
                                   for name in measures])
            .group_by(*key_columns).order_by(*key_columns))


def _int_schema(names) -> dict[str, pl.DataType]:
    return {name: pl.Int64 for name in names}


def _segment_code(table: Table, by: str | None) -> tuple[list, list]:
    """(select columns, joins) that name a rollup row's segment by its code, for `by`."""
    if by is None:
        return [], []
    if by == "category" and "category" in table.c:
        return [table.c.category.label(by)], []
    if by not in DIMENSIONS or f"{by}_id" not in table.c:
        raise ValueError(f"by must be one of {tuple(DIMENSIONS)}, not {by!r}")
    model = DIMENSIONS[by]
    return [model.code.label(by)], [(model, model.id == table.c[f"{by}_id"])]


def _rollup_rows(table: Table, columns: list, joins: list, conditions: list) -> Select:
    statement = select(*columns).select_from(table)
    for model, on in joins:
        statement = statement.join(model, on)
    return statement.where(*conditions)


# --- NPS -------------------------------------------------------------------------------------

_NPS_COUNTS = {"surveys_sent": pl.Int64, "responses": pl.Int64, "promoters": pl.Int64,
               "passives": pl.Int64, "detractors": pl.Int64}


def _nps_rows(connection: Connection, filters: Filters, granularity: Granularity | None,
              by: Dimension | None) -> pl.DataFrame:
    def rows_of(table: Table) -> Select:
        segment, joins = _segment_code(table, by)
        return _rollup_rows(table, [*([table.c.day] if granularity else []), *segment,
                                    *[table.c[name] for name in _NPS_COUNTS]], joins, [])

    rows = ranged_rows(connection, SURVEYS, filters, rows_of, granularity).subquery()
    keys = (["period"] if granularity else []) + ([by] if by else [])
    schema = ({"period": pl.Date} if granularity else {}) | ({by: pl.String} if by else {})
    return _frame(connection, _summed(rows, keys, list(_NPS_COUNTS), granularity,
                                      connection.dialect.name), schema | _NPS_COUNTS)


def nps_by_period(connection: Connection, filters: Filters, granularity: Granularity = "month",
                  by: Dimension | None = None) -> pl.DataFrame:
    """Promoters/passives/detractors, answer rate, NPS and its 95% margin per period."""
    return with_nps(_nps_rows(connection, filters, granularity, by))


def nps_total(connection: Connection, filters: Filters) -> pl.DataFrame:
    """One row of NPS over the whole range (not an average of periods)."""
    return with_nps(_nps_rows(connection, filters, None, None))


def automated_nps_counts(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Survey counts of contacts a bot or self-service served, in one row.

    All surveys less the operator-served ones (whose counts the rollup keeps per wait bucket).
    """
    operator = [rollups.wait_bucket_column(measure, bucket)
                for bucket in range(len(WAIT_BUCKETS))
                for measure in ("sent", "responses", "promoters", "detractors")]
    rows = ranged_rows(connection, SURVEYS, filters, lambda table: select(
        *[table.c[name] for name in (*_NPS_COUNTS, *operator)])).subquery()
    sums = _frame(connection, _summed(rows, [], [*_NPS_COUNTS, *operator]),
                  _int_schema([*_NPS_COUNTS, *operator]))

    def operator_sum(measure: str) -> pl.Expr:
        return pl.sum_horizontal(rollups.wait_bucket_column(measure, bucket)
                                 for bucket in range(len(WAIT_BUCKETS)))

    return sums.select(
        (pl.col("surveys_sent") - operator_sum("sent")).alias("surveys_sent"),
        (pl.col("responses") - operator_sum("responses")).alias("responses"),
        (pl.col("promoters") - operator_sum("promoters")).alias("promoters"),
        (pl.col("detractors") - operator_sum("detractors")).alias("detractors"),
    ).with_columns(passives=pl.col("responses") - pl.col("promoters") - pl.col("detractors")
                   ).select(*_NPS_COUNTS)


def nps_by_wait_bucket(connection: Connection, filters: Filters) -> pl.DataFrame:
    """NPS of operator-served contacts by how long they waited: the link to staffing."""
    measures = [rollups.wait_bucket_column(measure, bucket)
                for bucket in range(len(WAIT_BUCKETS)) for measure in rollups.WAIT_MEASURES]
    rows = ranged_rows(connection, SURVEYS, filters, lambda table: select(
        *[table.c[name] for name in measures])).subquery()
    sums = _frame(connection, _summed(rows, [], measures), _int_schema(measures))
    return with_nps(wait_bucket_rows(sums))


def wait_bucket_rows(sums: pl.DataFrame) -> pl.DataFrame:
    """One row per "NPS by wait" bucket with answers, from the rollup's per-bucket sums."""
    def total(measure: str, bucket: int) -> int:
        return int(sums[rollups.wait_bucket_column(measure, bucket)].sum() or 0)

    rows = []
    for bucket, (label, _, _) in enumerate(WAIT_BUCKETS):
        sent = total("sent", bucket)
        if not sent:
            continue
        responses, promoters = total("responses", bucket), total("promoters", bucket)
        detractors = total("detractors", bucket)
        rows.append((bucket, label, sent, responses, promoters,
                     responses - promoters - detractors, detractors,
                     total("wait_s", bucket) / sent))
    schema = ({"bucket": pl.Int64, "wait_bucket": pl.String} | _NPS_COUNTS
              | {"avg_wait_s": pl.Float64})
    return pl.DataFrame(rows, schema=schema, orient="row")


# --- Contacts ----------------------------------------------------------------------------------

_SERVED_SUMS = {"contacts": "contacts", "served_by_operator": "by_operator",
                "served_by_bot": "by_bot", "self_service": "by_self_service",
                "wait_sum_s": "operator_wait_s"}


def contacts_by_period(connection: Connection, filters: Filters,
                       granularity: Granularity = "month") -> pl.DataFrame:
    """Contacts per period and channel, who served them, waits, and the online share."""
    rows = ranged_rows(connection, CONTACTS, filters, lambda table: _rollup_rows(
        table,
        [table.c.day, Channel.code.label("channel"), Channel.is_online.label("is_online"),
         *[table.c[column].label(name) for name, column in _SERVED_SUMS.items()]],
        [(Channel, Channel.id == table.c.channel_id)], []), granularity).subquery()
    statement = _summed(rows, ["period", "channel", "is_online"], list(_SERVED_SUMS),
                        granularity, connection.dialect.name)
    schema = ({"period": pl.Date, "channel": pl.String, "is_online": pl.Boolean}
              | _int_schema(_SERVED_SUMS))
    return with_online_share(_frame(connection, statement, schema))


def latest_contact_date(connection: Connection) -> dt.date | None:
    """The newest contact day up to the project's today (Asia/Almaty), to anchor 'recent'
    windows; an index lookup. A stray future-dated row (say a contact in 2999) must not move
    the simulator's baseline weeks or the wait→NPS window, so days after today are ignored."""
    latest = connection.scalar(select(func.max(CONTACTS.c.day)).where(
        CONTACTS.c.day <= local_today()))
    if isinstance(latest, str):  # SQLite through a bare text expression
        latest = dt.date.fromisoformat(latest)
    return latest


def weekday_number(column: ColumnElement, dialect: str) -> ColumnElement:
    """0 = Sunday … 6 = Saturday on both backends."""
    if dialect == "postgresql":
        return cast(extract("dow", column), Integer)
    return cast(func.strftime("%w", column), Integer)


def arrivals_by_interval(connection: Connection, filters: Filters, weekday: int,
                         interval_minutes: int) -> pl.DataFrame:
    """Mean contacts per channel and interval of the day over the range's days of `weekday`.

    `weekday` follows Python: 0 = Monday … 6 = Sunday. Days without contacts count as zeros.
    Intervals are whole multiples of the rollup's quarter hours.
    """
    if filters.regions or filters.service_types:
        raise ValueError("arrivals_by_interval follows channels only; regions "
                         f"{filters.regions} and service types {filters.service_types} "
                         "cannot be applied")
    if interval_minutes % rollups.QUARTER_MINUTES:
        raise ValueError(f"interval_minutes must be a multiple of {rollups.QUARTER_MINUTES}, "
                         f"not {interval_minutes!r}")
    dialect = connection.dialect.name
    rows = (
        select(Channel.code.label("channel"),
               (QUARTERS.c.quarter // (interval_minutes // rollups.QUARTER_MINUTES)).label(
                   "interval"), QUARTERS.c.contacts)
        .select_from(QUARTERS).join(Channel, Channel.id == QUARTERS.c.channel_id)
        .where(QUARTERS.c.day >= filters.start, QUARTERS.c.day <= filters.end,
               *_dimension_filters(filters, QUARTERS.c.channel_id, None),
               weekday_number(QUARTERS.c.day, dialect) == (weekday + 1) % 7)
        .subquery()
    )
    days = sum(1 for offset in range((filters.end - filters.start).days + 1)
               if (filters.start + dt.timedelta(days=offset)).weekday() == weekday)
    frame = _frame(connection, _summed(rows, ["channel", "interval"], ["contacts"]),
                   {"channel": pl.String, "interval": pl.Int64, "contacts": pl.Int64})
    return frame.with_columns(days=pl.lit(days),
                              mean_contacts=pl.col("contacts") / max(days, 1)).sort(
        "channel", "interval")


HANDLING_SUMS = ("contacts", "by_operator", "by_bot", "by_self_service", "escalated",
                 "operator_handle_s", "automated_handle_s", "bot_handle_s", "escalated_bot_s")


def handling_by_channel(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Per channel: who served the contacts, the bot → human path, and mean handle times.

    See `handling_rates` for the columns.
    """
    measures = list(HANDLING_SUMS)
    rows = ranged_rows(connection, CONTACTS, filters, lambda table: _rollup_rows(
        table, [Channel.code.label("channel"), *[table.c[name] for name in measures]],
        [(Channel, Channel.id == table.c.channel_id)], [])).subquery()
    frame = _frame(connection, _summed(rows, ["channel"], measures),
                   {"channel": pl.String} | _int_schema(measures))
    return handling_rates(frame)


def _mean(total: str, count: pl.Expr | str) -> pl.Expr:
    count = pl.col(count) if isinstance(count, str) else count
    return pl.when(count > 0).then(pl.col(total) / count)


def handling_rates(sums: pl.DataFrame) -> pl.DataFrame:
    """Rates and mean times per channel from its sums (`HANDLING_SUMS`).

    - `contacts`: every served contact; `by_operator`, `by_bot`, `by_self_service` split them
      by who finished them; `escalated` are operator contacts that started in the bot
      (`bot_s` recorded), so the bot answered `by_bot + escalated` and finished `by_bot`;
    - `operator_aht_s`: mean handle_s of operator contacts (escalated included);
      `bot_handle_s`: of bot-finished contacts; `escalated_bot_s`: mean bot time of the
      escalated ones; `automated_handle_s`: of bot and self-service contacts together;
    - `self_service_share` = by_self_service / contacts; `bot_share` = (by_bot + escalated) /
      contacts; `bot_containment` = by_bot / (by_bot + escalated), None without bot contacts;
      `automated_share` = (by_bot + by_self_service) / contacts (the older automated figure).
    Means are None where nothing was counted.
    """
    automated = pl.col("by_bot") + pl.col("by_self_service")
    offered_to_bot = pl.col("by_bot") + pl.col("escalated")
    return sums.select(
        "channel", "contacts", "by_operator", "by_bot", "by_self_service", "escalated",
        automated.alias("automated"),
        _mean("operator_handle_s", "by_operator").alias("operator_aht_s"),
        _mean("automated_handle_s", automated).alias("automated_handle_s"),
        _mean("bot_handle_s", "by_bot").alias("bot_handle_s"),
        _mean("escalated_bot_s", "escalated").alias("escalated_bot_s"),
        (automated / pl.col("contacts")).alias("automated_share"),
        (pl.col("by_self_service") / pl.col("contacts")).alias("self_service_share"),
        (offered_to_bot / pl.col("contacts")).alias("bot_share"),
        _mean("by_bot", offered_to_bot).alias("bot_containment"),
    )


# --- Cases -------------------------------------------------------------------------------------

def _case_segment(table: Table, by: CaseDimension | None) -> tuple[list, list]:
    if by not in (None, "category", "channel", "region"):
        raise ValueError(f"by must be one of ('category', 'channel', 'region', None), not {by!r}")
    return _segment_code(table, by)


def _case_sums(connection: Connection, table: Table, filters: Filters | None,
               conditions_of: Callable[[Table], list[ColumnElement]],
               granularity: Granularity | None, by: CaseDimension | None, measures: list[str],
               ) -> pl.DataFrame:
    """Sums of a case rollup per [period,] kind [, by] (`filters` None: no date range).

    Totals and monthly trends take whole months from the monthly rollup where it has one.
    """
    def rows_of(source: Table) -> Select:
        segment, joins = _case_segment(source, by)
        return _rollup_rows(source, [*([source.c.day] if granularity else []), source.c.kind,
                                     *segment, *[source.c[name] for name in measures]],
                            joins, conditions_of(source))

    rows = (rows_of(table) if filters is None
            else ranged_rows(connection, table, filters, rows_of, granularity))
    keys = (["period"] if granularity else []) + ["kind"] + ([by] if by else [])
    schema = ({"period": pl.Date} if granularity else {}) | {name: pl.String for name in keys
                                                             if name != "period"}
    return _frame(connection, _summed(rows.subquery(), keys, measures, granularity,
                                      connection.dialect.name), schema | _int_schema(measures))


def _none(_table: Table) -> list[ColumnElement]:
    return []


def cases_by_period(connection: Connection, filters: Filters, granularity: Granularity = "month",
                    by: CaseDimension | None = "category") -> pl.DataFrame:
    """Received, closed, resolution-time median/p90 (hours) and open backlog.

    Columns: kind, [by,] period, received, answered, closed, open_backlog,
    median_resolution_h, p90_resolution_h; rows sorted by period, kind[, by]. Percentiles are
    over answered cases received in the period, from the rollup's resolution-time buckets
    (`rollups.RESOLUTION_EDGES_H`, interpolated inside the bucket). `by=None` gives the
    overall trend per kind.
    """
    dims = [by] if by else []
    buckets = list(rollups.RESOLUTION_COLUMNS)
    received = _case_sums(connection, CASES, filters, _none, granularity, by,
                          ["received", "answered", *buckets])
    closed = _case_sums(connection, CLOSURES, filters, _none, granularity, by, ["closed"])
    opening = opening_backlog(connection, filters, by)
    group = ["kind", *dims]
    percentiles = with_bucket_percentiles(
        received, buckets, rollups.RESOLUTION_EDGES_H,
        {"median_resolution_h": 50, "p90_resolution_h": 90},
    ).select("period", *group, "median_resolution_h", "p90_resolution_h")
    return (
        with_backlog(received.select("period", *group, "received", "answered"), closed,
                     opening, group, period_starts(filters.start, filters.end, granularity))
        .join(percentiles, on=["period", *group], how="left")
        .with_columns(pl.col("answered").fill_null(0))
        .sort(["period", *group])
    )


def opening_backlog(connection: Connection, filters: Filters, by: CaseDimension | None
                    ) -> pl.DataFrame:
    """Cases open when the range starts, per kind [and `by`] with any: kind, [by,] opening.

    All cases ever received less those closed, less what was received and plus what was
    closed from the start day on: the cost follows the days since the start.
    """
    dims = [by] if by else []
    from_start = replace(filters, end=dt.date.max)
    totals = _case_sums(connection, CASE_TOTALS, None,
                        lambda table: _segment_filters(table, filters), None, by,
                        ["received", "closed"])
    received = _case_sums(connection, CASES, from_start, _none, None, by, ["received"])
    closed = _case_sums(connection, CLOSURES, from_start, _none, None, by, ["closed"])
    since = received.join(closed, on=["kind", *dims], how="full", coalesce=True)
    return totals.join(since, on=["kind", *dims], how="left", suffix="_since").select(
        "kind", *dims,
        (pl.col("received") - pl.col("received_since").fill_null(0) - pl.col("closed")
         + pl.col("closed_since").fill_null(0)).alias("opening"),
    ).filter(pl.col("opening") > 0)  # a segment with nothing open has no backlog row


def cases_received(connection: Connection, filters: Filters, granularity: Granularity = "month",
                   by: CaseDimension | None = None) -> pl.DataFrame:
    """Cases received per period and kind (and `by`): the cheap count behind trend lines.

    Columns: period, kind, [by,] received. Only periods with cases appear.
    """
    frame = _case_sums(connection, CASES, filters, _none, granularity, by, ["received"])
    return frame.filter(pl.col("received") > 0)


def first_case_day(connection: Connection) -> dt.date | None:
    """The day the first case was received (an index lookup on the rollup)."""
    first = connection.scalar(select(func.min(CASES.c.day)).where(CASES.c.received > 0))
    return dt.date.fromisoformat(first) if isinstance(first, str) else first


def case_counts(connection: Connection, filters: Filters) -> dict[str, int]:
    """Complaints, appeals and e-Otinish appeals received in the range."""
    frame = _case_sums(connection, CASES, filters, _none, None, "channel", ["received"])

    def count(condition: pl.Expr) -> int:
        return int(frame.filter(condition)["received"].sum() or 0)

    return {"complaints": count(pl.col("kind") == "complaint"),
            "appeals": count(pl.col("kind") == "appeal"),
            "e_otinish_appeals": count((pl.col("kind") == "appeal")
                                       & (pl.col("channel") == "e_otinish"))}


# --- Agent ratings -----------------------------------------------------------------------------

def ratings_by_period(connection: Connection, filters: Filters,
                      granularity: Granularity = "month") -> pl.DataFrame:
    """Ratings per operator and period, for the operators table and trends."""
    table = ratings_table(filters)
    period = period_start(table.c.day, granularity, connection.dialect.name)
    rows = _rollup_rows(
        table,
        [period.label("period"), Operator.id.label("operator_id"),
         Operator.external_id.label("operator"), Operator.name.label("name"),
         Operator.team.label("team"), table.c.ratings, table.c.score_sum],
        [(Operator, Operator.id == table.c.operator_id)], _in_range(table, filters),
    ).subquery()
    keys = ["period", "operator_id", "operator", "name", "team"]
    frame = _frame(connection, _summed(rows, keys, ["ratings", "score_sum"]), {
        "period": pl.Date, "operator_id": pl.Int64, "operator": pl.String, "name": pl.String,
        "team": pl.String, "ratings": pl.Int64, "score_sum": pl.Int64})
    return frame.with_columns(mean_score=pl.col("score_sum") / pl.col("ratings"))


def _month_windows(windows: list[tuple[dt.date, dt.date, dt.date]]):
    """(period, window_start, window_end) rows as a subquery, one per month of the range."""
    return union_all(*[
        select(literal(month.isoformat()).label("period"),
               literal(first).label("window_start"), literal(last).label("window_end"))
        for month, first, last in windows
    ]).subquery()


def _active_front_line(months, filters: Filters) -> ColumnElement:
    """A front-line operator of the filtered regions, active in some day of `months`' window."""
    return and_(Operator.team == "front_line",
                *_dimension_filters(Filters(filters.start, filters.end, regions=filters.regions),
                                    None, Operator.region_id),
                Operator.active_from <= months.c.window_end,
                or_(Operator.active_to.is_(None), Operator.active_to >= months.c.window_start))


def front_line_coverage(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Per month: front-line operators active, how many of them were rated, and the share.

    The share is (rated ∩ active front-line) ÷ active front-line, so it never exceeds 1: an
    operator rated in a month counts only if they are front-line and active in that month's
    window (`active_from` ≤ window end, `active_to` empty or ≥ window start), the same test
    that makes them active. A rating that arrives after the operator left, or before they
    joined, does not count. A month cut by the range counts only its days inside the range,
    on both sides, so a range that starts or ends mid-month is not read as a coverage drop.
    Region filters apply (the operator's region); channel and service filters do not.
    """
    windows = [(month, max(month, filters.start), min(month_end(month), filters.end))
               for month in month_starts(filters.start, filters.end)]
    dialect = connection.dialect.name
    active_frames, rated_frames = [], []
    for offset in range(0, len(windows), _MONTHS_PER_QUERY):
        chunk = windows[offset:offset + _MONTHS_PER_QUERY]
        months = _month_windows(chunk)
        active = (
            select(months.c.period, func.count(distinct(Operator.id)).label("active_operators"))
            .select_from(months).join(Operator, _active_front_line(months, filters))
            .group_by(months.c.period)
        )
        active_frames.append(_frame(connection, active, {"period": pl.Date,
                                                         "active_operators": pl.Int64}))

        # Rated operators per month, counted in SQL: a monthly rollup row is already one
        # operator in one month, so whole months count rows; the edge days count distinct
        # operators. Each is joined to its month's window to keep the active ones only.
        def rated_of(table: Table, chunk=chunk) -> Select:
            period = period_start(table.c.day, "month", dialect)
            counted = (func.count(distinct(table.c.operator_id)) if table is OPERATOR_DAYS
                       else func.count())
            window = _month_windows(chunk)
            return (select(period.label("period"), counted.label("rated_operators"))
                    .join(Operator, Operator.id == table.c.operator_id)
                    .join(window, window.c.period == period)
                    .where(table.c.ratings > 0, _active_front_line(window, filters))
                    .group_by(period))

        span = replace(filters, start=chunk[0][1], end=chunk[-1][2])
        rated_frames.append(_frame(
            connection, whole_month_rows(connection, OPERATOR_DAYS, span, rated_of),
            {"period": pl.Date, "rated_operators": pl.Int64}))
    partial = pl.DataFrame({"period": [month for month, _, _ in windows],
                            "partial_month": [(first, last) != (month, month_end(month))
                                              for month, first, last in windows]})
    return monthly_coverage(pl.concat(active_frames), pl.concat(rated_frames)).join(
        partial, on="period", how="left")


# --- KPIs for scripts ------------------------------------------------------------------------

def kpis(connection: Connection, filters: Filters, rated_share: bool = True
         ) -> dict[str, float | int | None]:
    """The headline figures over one range, as a flat dict (the `kpis --json` output).

    `rated_share=False` leaves out `operators_rated_share`, the one figure that reads every
    operator: pages without that tile do not pay for it.
    """
    nps = nps_total(connection, filters).row(0, named=True)
    contacts = contact_totals(contacts_by_period(connection, filters, "month"))
    return {
        "from": filters.start.isoformat(),
        "to": filters.end.isoformat(),
        "nps": _rounded(nps["nps"], 2),
        "nps_moe": _rounded(nps["nps_moe"], 2),
        "responses": int(nps["responses"] or 0),
        "surveys_sent": int(nps["surveys_sent"] or 0),
        "answer_rate": _rounded(nps["answer_rate"], 4),
        "promoters": int(nps["promoters"] or 0),
        "passives": int(nps["passives"] or 0),
        "detractors": int(nps["detractors"] or 0),
        **{name: contacts[name] for name in ("contacts_online", "contacts_offline",
                                             "online_share")},
        **case_counts(connection, filters),
        "avg_wait_s": contacts["avg_wait_s"],
    } | ({"operators_rated_share": lowest_rated_share(front_line_coverage(connection, filters))}
         if rated_share else {})


def lowest_rated_share(coverage: pl.DataFrame) -> float | None:
    """The rule is monthly: judge whole months; a range inside one month is judged as it is."""
    whole = coverage.filter(~pl.col("partial_month"))
    shares = (whole if whole.height else coverage)["rated_share"].drop_nulls()
    return _rounded(float(shares.min()), 4) if shares.len() else None


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
