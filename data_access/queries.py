"""Dashboard queries: aggregation runs in SQL, results come back as small Polars frames.

The caller owns the Connection. Every value from a user travels as a bound parameter; row-level
expressions sit in a subquery so that GROUP BY never repeats a parameterised expression (which
PostgreSQL would treat as a different expression).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import polars as pl
from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    case,
    cast,
    distinct,
    extract,
    func,
    literal,
    or_,
    select,
    union_all,
)

from data_access.dates import month_end, month_starts, period_starts
from data_access.metrics import monthly_coverage, with_backlog, with_nps, with_online_share
from data_access.schema import (
    AgentRating,
    Case,
    Channel,
    Contact,
    NpsSurvey,
    Operator,
    Region,
    ServiceType,
)

Granularity = Literal["day", "week", "month"]
GRANULARITIES: tuple[str, ...] = ("day", "week", "month")
Dimension = Literal["channel", "region", "service_type", "served_by"]
DIMENSIONS: dict[str, type] = {"channel": Channel, "region": Region, "service_type": ServiceType}
CaseDimension = Literal["category", "channel", "region"]

_MONTHS_PER_QUERY = 240  # SQLite allows 500 terms in one compound SELECT

# Wait buckets for "NPS by wait": (label, lower bound s inclusive, upper bound s exclusive).
WAIT_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30 s", 0, 30), ("30-60 s", 30, 60), ("1-2 min", 60, 120), ("2-5 min", 120, 300),
    ("5-10 min", 300, 600), ("10-20 min", 600, 1200), ("20+ min", 1200, None),
)


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


def _contact_conditions(filters: Filters) -> list[ColumnElement]:
    return [
        Contact.started_at >= filters.start_at,
        Contact.started_at < filters.end_before,
        *_dimension_filters(filters, Contact.channel_id, Contact.region_id,
                            Contact.service_type_id),
    ]


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
    return func.strftime("%Y-%m-01", column)


def hours_between(start: ColumnElement, end: ColumnElement, dialect: str) -> ColumnElement:
    if dialect == "postgresql":
        return extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def _count_if(condition: ColumnElement) -> ColumnElement:
    return func.sum(case((condition, 1), else_=0))


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


def _dimension_column(by: str | None) -> tuple[list, list]:
    """(extra select columns, extra joins) for an optional breakdown dimension."""
    if by is None:
        return [], []
    if by == "served_by":
        return [Contact.served_by.label(by)], []
    if by not in DIMENSIONS:
        raise ValueError(f"by must be one of {(*DIMENSIONS, 'served_by')}, not {by!r}")
    model = DIMENSIONS[by]
    foreign_key = {"channel": Contact.channel_id, "region": Contact.region_id,
                   "service_type": Contact.service_type_id}[by]
    return [model.code.label(by)], [(model, model.id == foreign_key)]


# --- NPS -------------------------------------------------------------------------------------

_NPS_COUNTS = {"surveys_sent": pl.Int64, "responses": pl.Int64, "promoters": pl.Int64,
               "passives": pl.Int64, "detractors": pl.Int64}


def _nps_counts(rows) -> list[ColumnElement]:
    """Surveys sent, responses and the three score classes (promoters 9-10, detractors 0-6)."""
    return [
        func.count().label("surveys_sent"),
        _count_if(rows.c.answered).label("responses"),
        _count_if(rows.c.score >= 9).label("promoters"),
        _count_if(rows.c.score.between(7, 8)).label("passives"),
        _count_if(rows.c.score <= 6).label("detractors"),
    ]


def _nps_statement(filters: Filters, period: ColumnElement | None, extra: list, joins: list,
                   extra_conditions: tuple[ColumnElement, ...] = ()) -> Select:
    columns = ([period.label("period")] if period is not None else []) + extra
    rows = select(*columns, NpsSurvey.answered.label("answered"), NpsSurvey.score.label("score"))
    rows = rows.select_from(Contact).join(NpsSurvey, NpsSurvey.contact_id == Contact.id)
    for model, on in joins:
        rows = rows.join(model, on)
    rows = rows.where(*_contact_conditions(filters), *extra_conditions).subquery()
    keys = [column for column in rows.c if column.name not in ("answered", "score")]
    return (
        select(*keys, *_nps_counts(rows))
        .group_by(*keys)
        .order_by(*keys)
    )


def nps_by_period(connection: Connection, filters: Filters, granularity: Granularity = "month",
                  by: Dimension | None = None) -> pl.DataFrame:
    """Promoters/passives/detractors, answer rate, NPS and its 95% margin per period."""
    period = period_start(Contact.started_at, granularity, connection.dialect.name)
    extra, joins = _dimension_column(by)
    statement = _nps_statement(filters, period, extra, joins)
    schema = {"period": pl.Date} | ({by: pl.String} if by else {}) | _NPS_COUNTS
    return with_nps(_frame(connection, statement, schema))


def nps_total(connection: Connection, filters: Filters) -> pl.DataFrame:
    """One row of NPS over the whole range (not an average of periods)."""
    statement = _nps_statement(filters, None, [], [])
    return with_nps(_frame(connection, statement, dict(_NPS_COUNTS)))


def nps_by_wait_bucket(connection: Connection, filters: Filters) -> pl.DataFrame:
    """NPS of operator-served contacts by how long they waited: the link to staffing."""
    bucket = case(
        *[(Contact.wait_s < upper, index) for index, (_, _, upper) in enumerate(WAIT_BUCKETS)
          if upper is not None],
        else_=len(WAIT_BUCKETS) - 1,
    )
    rows = (
        select(bucket.label("bucket"), Contact.wait_s.label("wait_s"),
               NpsSurvey.answered.label("answered"), NpsSurvey.score.label("score"))
        .select_from(Contact).join(NpsSurvey, NpsSurvey.contact_id == Contact.id)
        .where(*_contact_conditions(filters), Contact.served_by == "operator")
        .subquery()
    )
    statement = (
        select(rows.c.bucket, *_nps_counts(rows), func.avg(rows.c.wait_s).label("avg_wait_s"))
        .group_by(rows.c.bucket).order_by(rows.c.bucket)
    )
    frame = _frame(connection, statement, {"bucket": pl.Int64} | _NPS_COUNTS
                   | {"avg_wait_s": pl.Float64})
    labels = pl.DataFrame({"bucket": range(len(WAIT_BUCKETS)),
                           "wait_bucket": [label for label, _, _ in WAIT_BUCKETS]},
                          schema={"bucket": pl.Int64, "wait_bucket": pl.String})
    return with_nps(labels.join(frame, on="bucket", how="inner").sort("bucket"))


# --- Contacts ----------------------------------------------------------------------------------

def contacts_by_period(connection: Connection, filters: Filters,
                       granularity: Granularity = "month") -> pl.DataFrame:
    """Contacts per period and channel, who served them, waits, and the online share."""
    period = period_start(Contact.started_at, granularity, connection.dialect.name)
    rows = (
        select(period.label("period"), Channel.code.label("channel"),
               Channel.is_online.label("is_online"), Contact.served_by.label("served_by"),
               Contact.wait_s.label("wait_s"))
        .select_from(Contact).join(Channel, Channel.id == Contact.channel_id)
        .where(*_contact_conditions(filters))
        .subquery()
    )
    operator = rows.c.served_by == "operator"
    statement = (
        select(rows.c.period, rows.c.channel, rows.c.is_online,
               func.count().label("contacts"),
               _count_if(operator).label("served_by_operator"),
               _count_if(rows.c.served_by == "bot").label("served_by_bot"),
               _count_if(rows.c.served_by == "self_service").label("self_service"),
               func.sum(case((operator, rows.c.wait_s), else_=0)).label("wait_sum_s"))
        .group_by(rows.c.period, rows.c.channel, rows.c.is_online)
        .order_by(rows.c.period, rows.c.channel)
    )
    schema = {"period": pl.Date, "channel": pl.String, "is_online": pl.Boolean,
              "contacts": pl.Int64, "served_by_operator": pl.Int64, "served_by_bot": pl.Int64,
              "self_service": pl.Int64, "wait_sum_s": pl.Int64}
    return with_online_share(_frame(connection, statement, schema))


def latest_contact_date(connection: Connection) -> dt.date | None:
    """The day of the newest contact (an index lookup), to anchor 'recent' windows."""
    latest = connection.scalar(select(func.max(Contact.started_at)))
    if isinstance(latest, str):  # SQLite through a bare text expression
        latest = dt.datetime.fromisoformat(latest)
    return latest.date() if latest else None


def minute_of_day(column: ColumnElement, dialect: str) -> ColumnElement:
    if dialect == "postgresql":
        return cast(extract("hour", column) * 60 + extract("minute", column), Integer)
    return (cast(func.strftime("%H", column), Integer) * 60
            + cast(func.strftime("%M", column), Integer))


def weekday_number(column: ColumnElement, dialect: str) -> ColumnElement:
    """0 = Sunday … 6 = Saturday on both backends."""
    if dialect == "postgresql":
        return cast(extract("dow", column), Integer)
    return cast(func.strftime("%w", column), Integer)


def arrivals_by_interval(connection: Connection, filters: Filters, weekday: int,
                         interval_minutes: int) -> pl.DataFrame:
    """Mean contacts per channel and interval of the day over the range's days of `weekday`.

    `weekday` follows Python: 0 = Monday … 6 = Sunday. Days without contacts count as zeros.
    """
    dialect = connection.dialect.name
    rows = (
        select(Channel.code.label("channel"),
               (minute_of_day(Contact.started_at, dialect) // interval_minutes).label(
                   "interval"))
        .select_from(Contact).join(Channel, Channel.id == Contact.channel_id)
        .where(*_contact_conditions(filters),
               weekday_number(Contact.started_at, dialect) == (weekday + 1) % 7)
        .subquery()
    )
    statement = (select(rows.c.channel, rows.c.interval, func.count().label("contacts"))
                 .group_by(rows.c.channel, rows.c.interval))
    days = sum(1 for offset in range((filters.end - filters.start).days + 1)
               if (filters.start + dt.timedelta(days=offset)).weekday() == weekday)
    frame = _frame(connection, statement, {"channel": pl.String, "interval": pl.Int64,
                                           "contacts": pl.Int64})
    return frame.with_columns(days=pl.lit(days),
                              mean_contacts=pl.col("contacts") / max(days, 1)).sort(
        "channel", "interval")


def handling_by_channel(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Per channel: contacts, who served them, and the mean handle time of operator contacts."""
    rows = (
        select(Channel.code.label("channel"), Contact.served_by.label("served_by"),
               Contact.handle_s.label("handle_s"))
        .select_from(Contact).join(Channel, Channel.id == Contact.channel_id)
        .where(*_contact_conditions(filters)).subquery()
    )
    operator = rows.c.served_by == "operator"
    automated = rows.c.served_by != "operator"
    statement = select(
        rows.c.channel, func.count().label("contacts"), _count_if(operator).label("by_operator"),
        _count_if(automated).label("automated"),
        func.avg(case((operator, rows.c.handle_s))).label("operator_aht_s"),
        func.avg(case((automated, rows.c.handle_s))).label("automated_handle_s"),
    ).group_by(rows.c.channel).order_by(rows.c.channel)
    return _frame(connection, statement, {
        "channel": pl.String, "contacts": pl.Int64, "by_operator": pl.Int64,
        "automated": pl.Int64, "operator_aht_s": pl.Float64, "automated_handle_s": pl.Float64,
    }).with_columns(automated_share=pl.col("automated") / pl.col("contacts"))


# --- Cases -------------------------------------------------------------------------------------

def _case_conditions(filters: Filters, column: ColumnElement) -> list[ColumnElement]:
    """Cases have no service type, so that filter does not apply to them."""
    return [column >= filters.start_at, column < filters.end_before,
            *_dimension_filters(filters, Case.channel_id, Case.region_id)]


def _case_dimension(by: CaseDimension | None) -> tuple[list[ColumnElement], list]:
    """(select columns, joins) for an optional case breakdown; none for the overall trend."""
    if by is None:
        return [], []
    if by == "category":
        return [Case.category.label(by)], []
    if by == "channel":
        return [Channel.code.label(by)], [(Channel, Channel.id == Case.channel_id)]
    if by == "region":
        return [Region.code.label(by)], [(Region, Region.id == Case.region_id)]
    raise ValueError(f"by must be one of ('category', 'channel', 'region', None), not {by!r}")


def _case_rows(columns: list, joins: list, conditions: list) -> Select:
    statement = select(*columns).select_from(Case)
    for model, on in joins:
        statement = statement.join(model, on)
    return statement.where(*conditions)


def cases_by_period(connection: Connection, filters: Filters, granularity: Granularity = "month",
                    by: CaseDimension | None = "category") -> pl.DataFrame:
    """Received, closed, resolution-time median/p90 (hours, nearest rank) and open backlog.

    Columns: kind, [by,] period, received, answered, closed, open_backlog,
    median_resolution_h, p90_resolution_h; rows sorted by period, kind[, by]. Percentiles are
    over answered cases received in the period. `by=None` gives the overall trend per kind.
    """
    dialect = connection.dialect.name
    dimension, joins = _case_dimension(by)
    dims = [by] if by else []
    received_period = period_start(Case.received_at, granularity, dialect)
    closed_period = period_start(Case.resolved_at, granularity, dialect)

    received_rows = _case_rows(
        [received_period.label("period"), Case.kind.label("kind"), *dimension,
         Case.status.label("status"),
         hours_between(Case.received_at, Case.resolved_at, dialect).label("hours")],
        joins, _case_conditions(filters, Case.received_at),
    ).subquery()
    keys = [received_rows.c[name] for name in ("period", "kind", *dims)]
    answered = received_rows.c.status == "answered"
    ranked = select(
        *keys, received_rows.c.hours,
        func.row_number().over(partition_by=keys, order_by=received_rows.c.hours).label("rank"),
        func.count().over(partition_by=keys).label("n"),
    ).where(answered).subquery()
    ranked_keys = [ranked.c[name] for name in ("period", "kind", *dims)]
    percentiles = select(
        *ranked_keys,
        func.max(case((ranked.c.rank == (ranked.c.n * 50 + 99) // 100, ranked.c.hours))).label(
            "median_resolution_h"),
        func.max(case((ranked.c.rank == (ranked.c.n * 90 + 99) // 100, ranked.c.hours))).label(
            "p90_resolution_h"),
    ).group_by(*ranked_keys)
    received = select(*keys, func.count().label("received"),
                      _count_if(answered).label("answered")).group_by(*keys)

    closed_rows = _case_rows([closed_period.label("period"), Case.kind.label("kind"), *dimension],
                             joins, _case_conditions(filters, Case.resolved_at)).subquery()
    closed_keys = [closed_rows.c[name] for name in ("period", "kind", *dims)]
    closed = select(*closed_keys, func.count().label("closed")).group_by(*closed_keys)

    opening_rows = _case_rows(
        [Case.kind.label("kind"), *dimension],
        joins,
        [Case.received_at < filters.start_at,
         or_(Case.resolved_at.is_(None), Case.resolved_at >= filters.start_at),
         *_dimension_filters(filters, Case.channel_id, Case.region_id)],
    ).subquery()
    opening_keys = [opening_rows.c[name] for name in ("kind", *dims)]
    opening = select(*opening_keys, func.count().label("opening")).group_by(*opening_keys)

    group_schema = {"kind": pl.String} | {name: pl.String for name in dims}
    key_schema = {"period": pl.Date} | group_schema
    received_frame = _frame(connection, received,
                            key_schema | {"received": pl.Int64, "answered": pl.Int64})
    percentile_frame = _frame(connection, percentiles, key_schema | {
        "median_resolution_h": pl.Float64, "p90_resolution_h": pl.Float64})
    closed_frame = _frame(connection, closed, key_schema | {"closed": pl.Int64})
    opening_frame = _frame(connection, opening, group_schema | {"opening": pl.Int64})
    return (
        with_backlog(received_frame, closed_frame, opening_frame, list(group_schema),
                     period_starts(filters.start, filters.end, granularity))
        .join(percentile_frame, on=list(key_schema), how="left")
        .with_columns(pl.col("answered").fill_null(0))
        .sort(list(key_schema))
    )


def cases_received(connection: Connection, filters: Filters, granularity: Granularity = "month",
                   by: CaseDimension | None = None) -> pl.DataFrame:
    """Cases received per period and kind (and `by`): the cheap count behind trend lines.

    Columns: period, kind, [by,] received. Only periods with cases appear.
    """
    dimension, joins = _case_dimension(by)
    names = ("period", "kind", *([by] if by else []))
    rows = _case_rows(
        [period_start(Case.received_at, granularity, connection.dialect.name).label("period"),
         Case.kind.label("kind"), *dimension],
        joins, _case_conditions(filters, Case.received_at),
    ).subquery()
    keys = [rows.c[name] for name in names]
    statement = select(*keys, func.count().label("received")).group_by(*keys).order_by(*keys)
    schema = {"period": pl.Date} | {name: pl.String for name in names[1:]}
    return _frame(connection, statement, schema | {"received": pl.Int64})


def case_counts(connection: Connection, filters: Filters) -> dict[str, int]:
    """Complaints, appeals and e-Otinish appeals received in the range."""
    e_otinish = select(Channel.id).where(Channel.code == "e_otinish").scalar_subquery()
    statement = select(
        _count_if(Case.kind == "complaint"),
        _count_if(Case.kind == "appeal"),
        _count_if(and_(Case.kind == "appeal", Case.channel_id == e_otinish)),
    ).where(*_case_conditions(filters, Case.received_at))
    complaints, appeals, e_otinish_appeals = connection.execute(statement).one()
    return {"complaints": int(complaints or 0), "appeals": int(appeals or 0),
            "e_otinish_appeals": int(e_otinish_appeals or 0)}


# --- Agent ratings -----------------------------------------------------------------------------

def ratings_by_period(connection: Connection, filters: Filters,
                      granularity: Granularity = "month") -> pl.DataFrame:
    """Ratings per operator and period, for the operators table and trends."""
    period = period_start(AgentRating.rated_at, granularity, connection.dialect.name)
    rows = (
        select(period.label("period"), Operator.id.label("operator_id"),
               Operator.external_id.label("operator"), Operator.name.label("name"),
               Operator.team.label("team"), AgentRating.score.label("score"))
        .select_from(AgentRating)
        .join(Operator, Operator.id == AgentRating.operator_id)
        .join(Contact, Contact.id == AgentRating.contact_id)
        .where(AgentRating.rated_at >= filters.start_at,
               AgentRating.rated_at < filters.end_before,
               *_dimension_filters(filters, Contact.channel_id, Contact.region_id,
                                   Contact.service_type_id))
        .subquery()
    )
    keys = [rows.c.period, rows.c.operator_id, rows.c.operator, rows.c.name, rows.c.team]
    statement = select(*keys, func.count().label("ratings"),
                       func.sum(rows.c.score).label("score_sum")).group_by(*keys).order_by(*keys)
    frame = _frame(connection, statement, {
        "period": pl.Date, "operator_id": pl.Int64, "operator": pl.String, "name": pl.String,
        "team": pl.String, "ratings": pl.Int64, "score_sum": pl.Int64})
    return frame.with_columns(mean_score=pl.col("score_sum") / pl.col("ratings"))


def front_line_coverage(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Per month: front-line operators active, how many were rated, and the share (target 85%).

    A month cut by the range counts only its days inside the range, on both sides, so a
    range that starts or ends mid-month is not read as a coverage drop.
    """
    windows = [(month, max(month, filters.start), min(month_end(month), filters.end))
               for month in month_starts(filters.start, filters.end)]
    region_filter = _dimension_filters(
        Filters(filters.start, filters.end, regions=filters.regions), None, Operator.region_id)
    active_frames = []
    for offset in range(0, len(windows), _MONTHS_PER_QUERY):
        month_rows = union_all(*[
            select(literal(month.isoformat()).label("period"),
                   literal(first).label("window_start"), literal(last).label("window_end"))
            for month, first, last in windows[offset:offset + _MONTHS_PER_QUERY]
        ]).subquery()
        active = (
            select(month_rows.c.period,
                   func.count(distinct(Operator.id)).label("active_operators"))
            .select_from(month_rows)
            .join(Operator, and_(Operator.active_from <= month_rows.c.window_end,
                                 or_(Operator.active_to.is_(None),
                                     Operator.active_to >= month_rows.c.window_start)))
            .where(Operator.team == "front_line", *region_filter)
            .group_by(month_rows.c.period)
        )
        active_frames.append(_frame(connection, active, {"period": pl.Date,
                                                         "active_operators": pl.Int64}))
    rated_rows = (
        select(period_start(AgentRating.rated_at, "month", connection.dialect.name)
               .label("period"), AgentRating.operator_id.label("operator_id"))
        .join(Operator, Operator.id == AgentRating.operator_id)
        .where(Operator.team == "front_line", *region_filter,
               AgentRating.rated_at >= filters.start_at,
               AgentRating.rated_at < filters.end_before)
        .subquery()
    )
    rated = select(rated_rows.c.period,
                   func.count(distinct(rated_rows.c.operator_id)).label("rated_operators")
                   ).group_by(rated_rows.c.period)
    partial = pl.DataFrame({"period": [month for month, _, _ in windows],
                            "partial_month": [(first, last) != (month, month_end(month))
                                              for month, first, last in windows]})
    return monthly_coverage(
        pl.concat(active_frames),
        _frame(connection, rated, {"period": pl.Date, "rated_operators": pl.Int64}),
    ).join(partial, on="period", how="left")


# --- KPIs for scripts ------------------------------------------------------------------------

def kpis(connection: Connection, filters: Filters) -> dict[str, float | int | None]:
    """The headline figures over one range, as a flat dict (the `kpis --json` output)."""
    nps = nps_total(connection, filters).row(0, named=True)
    contacts = contacts_by_period(connection, filters, "month")
    online = int(contacts.filter(pl.col("is_online"))["contacts"].sum())
    offline = int(contacts.filter(~pl.col("is_online"))["contacts"].sum())
    served = int(contacts["served_by_operator"].sum())
    coverage = front_line_coverage(connection, filters)
    # The rule is monthly: judge whole months; a range inside one month is judged as it is.
    whole = coverage.filter(~pl.col("partial_month"))
    shares = (whole if whole.height else coverage)["rated_share"].drop_nulls()
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
        "contacts_online": online,
        "contacts_offline": offline,
        "online_share": _rounded(online / (online + offline), 4) if online + offline else None,
        **case_counts(connection, filters),
        "avg_wait_s": _rounded(int(contacts["wait_sum_s"].sum()) / served, 1) if served else None,
        "operators_rated_share": _rounded(float(shares.min()), 4) if shares.len() else None,
    }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
