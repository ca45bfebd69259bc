"""Dashboard queries: they read the daily rollups, and return small Polars frames.

The caller owns the Connection. A page's cost follows the days and segments it shows: every
KPI, trend and breakdown sums rollup rows (see `rollups`), never raw rows. Every value from a
user travels as a bound parameter; row-level expressions sit in a subquery so that GROUP BY
never repeats a parameterised expression (which PostgreSQL would treat as a different one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import polars as pl
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    distinct,
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
from data_access.rollup_reads import (
    CASE_TOTALS,
    CASES,
    CLOSURES,
    CONTACTS,
    OPERATOR_DAYS,
    QUARTERS,
    SURVEYS,
    CaseDimension,
    Dimension,
    Filters,
    Granularity,
    case_sums,
    dimension_filters,
    in_range,
    int_schema,
    no_conditions,
    period_start,
    ranged_rows,
    ratings_table,
    read_frame,
    rollup_rows,
    segment_code,
    segment_filters,
    summed,
    weekday_number,
    whole_month_rows,
)
from data_access.rollup_reads import (
    GRANULARITIES as GRANULARITIES,  # re-exported: the pages' filters read it here
)
from data_access.rollups import WAIT_BUCKETS
from data_access.schema import Channel, Operator

_MONTHS_PER_QUERY = 240  # SQLite allows 500 terms in one compound SELECT


# --- NPS -------------------------------------------------------------------------------------

_NPS_COUNTS = {"surveys_sent": pl.Int64, "responses": pl.Int64, "promoters": pl.Int64,
               "passives": pl.Int64, "detractors": pl.Int64}


def _nps_rows(connection: Connection, filters: Filters, granularity: Granularity | None,
              by: Dimension | None) -> pl.DataFrame:
    def rows_of(table: Table) -> Select:
        segment, joins = segment_code(table, by)
        return rollup_rows(table, [*([table.c.day] if granularity else []), *segment,
                                    *[table.c[name] for name in _NPS_COUNTS]], joins, [])

    rows = ranged_rows(connection, SURVEYS, filters, rows_of, granularity).subquery()
    keys = (["period"] if granularity else []) + ([by] if by else [])
    schema = ({"period": pl.Date} if granularity else {}) | ({by: pl.String} if by else {})
    return read_frame(connection, summed(rows, keys, list(_NPS_COUNTS), granularity,
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
    sums = read_frame(connection, summed(rows, [], [*_NPS_COUNTS, *operator]),
                  int_schema([*_NPS_COUNTS, *operator]))

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
    sums = read_frame(connection, summed(rows, [], measures), int_schema(measures))
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
    rows = ranged_rows(connection, CONTACTS, filters, lambda table: rollup_rows(
        table,
        [table.c.day, Channel.code.label("channel"), Channel.is_online.label("is_online"),
         *[table.c[column].label(name) for name, column in _SERVED_SUMS.items()]],
        [(Channel, Channel.id == table.c.channel_id)], []), granularity).subquery()
    statement = summed(rows, ["period", "channel", "is_online"], list(_SERVED_SUMS),
                        granularity, connection.dialect.name)
    schema = ({"period": pl.Date, "channel": pl.String, "is_online": pl.Boolean}
              | int_schema(_SERVED_SUMS))
    return with_online_share(read_frame(connection, statement, schema))


def latest_contact_date(connection: Connection) -> dt.date | None:
    """The newest contact day up to the project's today (Asia/Almaty), to anchor 'recent'
    windows; an index lookup. A stray future-dated row (say a contact in 2999) must not move
    the simulator's baseline weeks or the wait→NPS window, so days after today are ignored."""
    latest = connection.scalar(select(func.max(CONTACTS.c.day)).where(
        CONTACTS.c.day <= local_today()))
    if isinstance(latest, str):  # SQLite through a bare text expression
        latest = dt.date.fromisoformat(latest)
    return latest


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
               *dimension_filters(filters, QUARTERS.c.channel_id, None),
               weekday_number(QUARTERS.c.day, dialect) == (weekday + 1) % 7)
        .subquery()
    )
    days = sum(1 for offset in range((filters.end - filters.start).days + 1)
               if (filters.start + dt.timedelta(days=offset)).weekday() == weekday)
    frame = read_frame(connection, summed(rows, ["channel", "interval"], ["contacts"]),
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
    rows = ranged_rows(connection, CONTACTS, filters, lambda table: rollup_rows(
        table, [Channel.code.label("channel"), *[table.c[name] for name in measures]],
        [(Channel, Channel.id == table.c.channel_id)], [])).subquery()
    frame = read_frame(connection, summed(rows, ["channel"], measures),
                   {"channel": pl.String} | int_schema(measures))
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
    received = case_sums(connection, CASES, filters, no_conditions, granularity, by,
                          ["received", "answered", *buckets])
    closed = case_sums(connection, CLOSURES, filters, no_conditions, granularity, by, ["closed"])
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
    totals = case_sums(connection, CASE_TOTALS, None,
                        lambda table: segment_filters(table, filters), None, by,
                        ["received", "closed"])
    received = case_sums(connection, CASES, from_start, no_conditions, None, by, ["received"])
    closed = case_sums(connection, CLOSURES, from_start, no_conditions, None, by, ["closed"])
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
    frame = case_sums(connection, CASES, filters, no_conditions, granularity, by, ["received"])
    return frame.filter(pl.col("received") > 0)


def first_case_day(connection: Connection) -> dt.date | None:
    """The day the first case was received (an index lookup on the rollup)."""
    first = connection.scalar(select(func.min(CASES.c.day)).where(CASES.c.received > 0))
    return dt.date.fromisoformat(first) if isinstance(first, str) else first


def case_counts(connection: Connection, filters: Filters) -> dict[str, int]:
    """Complaints, appeals and e-Otinish appeals received in the range."""
    frame = case_sums(connection, CASES, filters, no_conditions, None, "channel", ["received"])

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
    rows = rollup_rows(
        table,
        [period.label("period"), Operator.id.label("operator_id"),
         Operator.external_id.label("operator"), Operator.name.label("name"),
         Operator.team.label("team"), table.c.ratings, table.c.score_sum],
        [(Operator, Operator.id == table.c.operator_id)], in_range(table, filters),
    ).subquery()
    keys = ["period", "operator_id", "operator", "name", "team"]
    frame = read_frame(connection, summed(rows, keys, ["ratings", "score_sum"]), {
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
                *dimension_filters(Filters(filters.start, filters.end, regions=filters.regions),
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
        active_frames.append(read_frame(connection, active, {"period": pl.Date,
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
        rated_frames.append(read_frame(
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
        "nps": rounded(nps["nps"], 2),
        "nps_moe": rounded(nps["nps_moe"], 2),
        "responses": int(nps["responses"] or 0),
        "surveys_sent": int(nps["surveys_sent"] or 0),
        "answer_rate": rounded(nps["answer_rate"], 4),
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
    return rounded(float(shares.min()), 4) if shares.len() else None


def rounded(value: float | None, digits: int) -> float | None:
    """`value` to `digits` decimals as a plain float (None stays None), as the KPIs show it."""
    return None if value is None else round(float(value), digits)
