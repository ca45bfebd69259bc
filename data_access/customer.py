"""Queries for the "NPS" and "Complaints & appeals" pages.

Same rules as `queries`: the caller owns the Connection, figures come from the rollups, user
values are bound parameters, and the Polars steps after a query are pure DataFrame ->
DataFrame functions (public where a test or a page needs them on their own). Raw rows are
read only by the two detail lists (latest comments, open e-Otinish appeals), each with LIMIT
and a partial index that holds just the rows such a list can show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace

import polars as pl
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Select,
    and_,
    func,
    literal_column,
    select,
    text,
)

from data_access.config import DEADLINE_KINDS, local_now
from data_access.dates import month_end
from data_access.metrics import censored_resolution
from data_access.queries import cases_received, first_case_day
from data_access.rollup_reads import (
    CASE_TOTALS,
    CASES,
    REASONS,
    STAGES,
    CaseDimension,
    Filters,
    Granularity,
    case_sums,
    dimension_filters,
    no_conditions,
    read_frame,
    segment_filters,
    summed,
    whole_month_rows,
)
from data_access.rollups import (
    NO_REASON_KEY,
    RESOLUTION_COLUMNS,
    RESOLUTION_EDGES_H,
    STAGE_COLUMNS,
)
from data_access.schema import (
    CASE_STAGES,
    CLOSED_STAGES,
    OPEN_CASE,
    WITH_COMPLAINT,
    Case,
    CaseEvent,
    Channel,
    Contact,
    NpsSurvey,
    Region,
    ServiceType,
)

NO_REASON = "not given"  # what a detractor who skipped the reason question is filed under
E_OTINISH = "e_otinish"
CASE_DIMENSIONS: tuple[str, ...] = ("category", "channel", "region")
_DAYS_IN_52_WEEKS = 364  # a year earlier on the same weekday


# --- NPS -------------------------------------------------------------------------------------

def detractor_reasons(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Detractors (answered, score 0-6) per stated reason, largest first, as a Pareto table.

    Columns: reason (none given: "not given"), detractors, share (of all detractors),
    cumulative_share. Contact filters apply: days of the contacts, channels, regions,
    service types.
    """
    rows = whole_month_rows(connection, REASONS, filters, lambda table: select(
        table.c.reason, table.c.detractors)).subquery()
    frame = read_frame(connection, summed(rows, ["reason"], ["detractors"]),
                   {"reason": pl.String, "detractors": pl.Int64})
    frame = frame.filter(pl.col("detractors") > 0).with_columns(
        pl.col("reason").replace(NO_REASON_KEY, NO_REASON))
    return with_pareto_shares(frame, "reason", "detractors")


def with_pareto_shares(frame: pl.DataFrame, label: str, value: str) -> pl.DataFrame:
    """Sort by `value` (largest first, ties by `label`) and add share and cumulative_share."""
    return frame.sort([value, label], descending=[True, False]).with_columns(
        share=pl.col(value) / pl.col(value).sum(),
    ).with_columns(cumulative_share=pl.col("share").cum_sum())


def low_score_comments(connection: Connection, filters: Filters, limit: int = 50
                       ) -> pl.DataFrame:
    """The newest detractor suggestions: what unhappy customers asked for, in their words.

    Columns: answered_at, score, reason ("not given" when skipped), suggestion, channel,
    region, service_type (codes). Newest answer first; at most `limit` rows.
    """
    # Walk the partial index of comments newest first until `limit` match. SQLite would
    # rather scan the contacts of the range and sort them, which grows with the range; a
    # unary + hides that index from it.
    started = (literal_column("+contacts.started_at", DateTime)
               if connection.dialect.name == "sqlite" else Contact.started_at)
    statement = (
        select(NpsSurvey.answered_at.label("answered_at"), NpsSurvey.score.label("score"),
               NpsSurvey.reason.label("reason"), NpsSurvey.suggestion.label("suggestion"),
               Channel.code.label("channel"), Region.code.label("region"),
               ServiceType.code.label("service_type"))
        .select_from(Contact).join(NpsSurvey, NpsSurvey.contact_id == Contact.id)
        .join(Channel, Channel.id == Contact.channel_id)
        .join(Region, Region.id == Contact.region_id)
        .join(ServiceType, ServiceType.id == Contact.service_type_id)
        .where(started >= filters.start_at, started < filters.end_before,
               *dimension_filters(filters, Contact.channel_id, Contact.region_id,
                                   Contact.service_type_id),
               text(WITH_COMPLAINT))
        .order_by(NpsSurvey.answered_at.desc(), NpsSurvey.contact_id.desc())
        .limit(_checked_limit(limit))
    )
    frame = read_frame(connection, statement, {
        "answered_at": pl.Datetime("us"), "score": pl.Int64, "reason": pl.String,
        "suggestion": pl.String, "channel": pl.String, "region": pl.String,
        "service_type": pl.String})
    return frame.with_columns(pl.col("reason").fill_null(NO_REASON))


def _checked_limit(limit: int) -> int:
    """LIMIT is bound, but a negative or non-integer one is a caller bug worth a clear error."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, not {limit!r}")
    return limit


# --- Cases: trend with the year before -------------------------------------------------------

def case_trend_with_yoy(connection: Connection, filters: Filters,
                        granularity: Granularity = "month") -> pl.DataFrame:
    """Cases received per period and kind next to the same period a year earlier.

    Columns: period, kind, received, received_year_before, yoy_change. A year earlier is 12
    months for months and 52 weeks (364 days, same weekday) for weeks and days; the earlier
    window is the filter range shifted back the same way, so partial edge periods compare
    like with like. Channel and region filters apply (cases have no service type).
    """
    current = cases_received(connection, filters, granularity)
    earlier_filters = year_before_filters(filters, granularity)
    earlier = cases_received(connection, earlier_filters, granularity)
    return with_year_before(current, earlier, granularity,
                            data_start=first_case_day(connection),
                            earlier_from=earlier_filters.start)


def year_before_filters(filters: Filters, granularity: Granularity) -> Filters:
    """The filter range moved back one year as `granularity` counts a year (see above)."""
    if granularity == "month":
        return replace(filters, start=_month_year_before(filters.start),
                       end=_month_year_before(filters.end))
    if granularity in ("week", "day"):
        shift = dt.timedelta(days=_DAYS_IN_52_WEEKS)
        return replace(filters, start=filters.start - shift, end=filters.end - shift)
    raise ValueError(f"granularity must be one of ('day', 'week', 'month'), not {granularity!r}")


def _month_year_before(day: dt.date) -> dt.date:
    """Same day 12 months earlier; a month's last day maps to that month's last day."""
    if day == month_end(day):
        return month_end(day.replace(year=day.year - 1, day=1))
    return day.replace(year=day.year - 1)


def with_year_before(current: pl.DataFrame, earlier: pl.DataFrame, granularity: Granularity,
                     data_start: dt.date | None = None, earlier_from: dt.date | None = None
                     ) -> pl.DataFrame:
    """Join year-earlier counts onto each (period, kind) of `current`.

    Both inputs have period, kind, received. Rows: every period of `current` × every kind seen
    in either input (a kind without cases that period counts 0). received_year_before is 0
    when the earlier period had cases of another kind only, null when it had none at all;
    yoy_change = received / received_year_before - 1, null when the earlier count is 0 or null.
    The earlier count is also null when its period began before the data did (`data_start`,
    the first case; the earlier window starts at `earlier_from`): three days of April against
    a whole April would be a change of the data's history, not of the service.
    """
    if granularity == "month":
        moved = pl.col("period").dt.offset_by("1y")
        moved_back = pl.col("period").dt.offset_by("-1y")
    elif granularity in ("week", "day"):
        moved = pl.col("period") + pl.duration(days=_DAYS_IN_52_WEEKS)
        moved_back = pl.col("period") - pl.duration(days=_DAYS_IN_52_WEEKS)
    else:
        raise ValueError(f"granularity must be one of ('day', 'week', 'month'), "
                         f"not {granularity!r}")
    earlier_first_day = (moved_back if earlier_from is None
                         else pl.max_horizontal(moved_back, pl.lit(earlier_from)))
    before_the_data = (earlier_first_day < pl.lit(data_start)) if data_start else pl.lit(False)
    shifted = earlier.select(moved.alias("period"), "kind",
                             pl.col("received").alias("received_year_before"))
    kinds = pl.concat([current.select("kind"), earlier.select("kind")]).unique()
    earlier_periods = shifted.select("period").unique().with_columns(_had_cases=pl.lit(True))
    before = pl.col("received_year_before")
    return (
        current.select("period").unique().join(kinds, how="cross")
        .join(current.select("period", "kind", "received"), on=["period", "kind"], how="left")
        .join(shifted, on=["period", "kind"], how="left")
        .join(earlier_periods, on="period", how="left")
        .with_columns(
            pl.col("received").fill_null(0),
            pl.when(pl.col("_had_cases") & ~before_the_data).then(before.fill_null(0)).alias(
                "received_year_before"),
        )
        .with_columns(
            yoy_change=pl.when(before > 0).then(pl.col("received") / before - 1),
        )
        .select("period", "kind", "received", "received_year_before", "yoy_change")
        .sort("period", "kind")
    )


# --- Cases: breakdown --------------------------------------------------------------------------

def case_breakdown(connection: Connection, filters: Filters, by: CaseDimension
                   ) -> pl.DataFrame:
    """Cases received over the whole range per kind and category, channel or region.

    Columns: kind, <by>, received, share_of_kind (of that kind's cases in the range); sorted
    by kind, then largest first. Channel and region filters apply.
    """
    if by not in CASE_DIMENSIONS:
        raise ValueError(f"by must be one of {CASE_DIMENSIONS}, not {by!r}")
    frame = case_sums(connection, CASES, filters, no_conditions, None, by, ["received"]).filter(
        pl.col("received") > 0)
    return frame.with_columns(
        share_of_kind=pl.col("received") / pl.col("received").sum().over("kind"),
    ).sort(["kind", "received", by], descending=[False, True, False])


# --- Cases: e-Otinish ------------------------------------------------------------------------

def _e_otinish_appeals(table) -> list[ColumnElement]:
    """Appeals that came through e-Otinish, in a table with kind and channel_id. The same
    channel and region filters apply as on `queries.case_counts` (its e-Otinish tile): a
    channel filter without e_otinish leaves none. Cases have no service type.
    """
    e_otinish = select(Channel.id).where(Channel.code == E_OTINISH).scalar_subquery()
    return [table.c.kind == "appeal", table.c.channel_id == e_otinish]


def e_otinish_funnel(connection: Connection, filters: Filters) -> pl.DataFrame:
    """How far the e-Otinish appeals received in the range got, stage by stage.

    Columns: stage (every one of schema.CASE_STAGES, in that order), cases (appeals with an
    event of that stage; "received" is every appeal received), share (of those received,
    null when none were). Channel and region filters apply as on the e-Otinish tile, so the
    "received" count is the tile's count.
    """
    received = case_sums(connection, CASES, filters, _e_otinish_appeals, None, None,
                          ["received"])
    reached = case_sums(connection, STAGES, filters, _e_otinish_appeals, None, None,
                         list(STAGE_COLUMNS))
    counts = pl.DataFrame({"stage": list(CASE_STAGES),
                           "cases": [int(reached[column].sum() or 0)
                                     for column in STAGE_COLUMNS]},
                          schema={"stage": pl.String, "cases": pl.Int64})
    return funnel_shares(counts, int(received["received"].sum() or 0))


def funnel_shares(reached: pl.DataFrame, received: int) -> pl.DataFrame:
    """Every stage in CASE_STAGES order with its count (0 if none) and share of `received`."""
    stages = pl.DataFrame({"stage": list(CASE_STAGES)}, schema={"stage": pl.String})
    return (
        stages.join(reached, on="stage", how="left", maintain_order="left")
        .with_columns(
            cases=pl.when(pl.col("stage") == CASE_STAGES[0]).then(pl.lit(received))
            .otherwise(pl.col("cases").fill_null(0)).cast(pl.Int64),
        )
        .with_columns(share=pl.when(pl.lit(received) > 0).then(pl.col("cases") / received))
    )


def minute_now() -> dt.datetime:
    """Local time to the minute: the open list's ages (and its cache key) move once a minute."""
    return local_now().replace(second=0, microsecond=0)


def open_e_otinish_appeals(connection: Connection, filters: Filters, as_of: dt.datetime,
                           limit: int = 200, deadline_days: float | None = None
                           ) -> pl.DataFrame:
    """e-Otinish appeals open now (status not closed), received up to filters.end, oldest first.

    Columns: external_id, received_at, category, region (code), stage (the current status),
    stage_since (when that stage's event happened; null if it has none), age_days (from
    received_at to `as_of`, fractional). At most `limit` rows; channel and region filters
    apply as in `e_otinish_funnel`, the start of the range does not (an old open appeal is
    exactly what this list is for). With `deadline_days` (the e-Otinish target) two more
    columns: due_at (received_at + the target) and overdue (due_at before `as_of`).
    """
    statement = (
        select(Case.external_id.label("external_id"), Case.received_at.label("received_at"),
               Case.category.label("category"), Region.code.label("region"),
               Case.status.label("stage"), CaseEvent.at.label("stage_since"))
        .select_from(Case).join(Region, Region.id == Case.region_id)
        .outerjoin(CaseEvent, and_(CaseEvent.case_id == Case.id, CaseEvent.stage == Case.status))
        .where(*_e_otinish_appeals(Case.__table__),
               *dimension_filters(filters, Case.channel_id, Case.region_id),
               Case.received_at < filters.end_before, text(OPEN_CASE))
        .order_by(Case.received_at, Case.id)
        .limit(_checked_limit(limit))
    )
    frame = read_frame(connection, statement, {
        "external_id": pl.String, "received_at": pl.Datetime("us"), "category": pl.String,
        "region": pl.String, "stage": pl.String, "stage_since": pl.Datetime("us")})
    frame = frame.with_columns(
        age_days=(pl.lit(as_of, pl.Datetime("us")) - pl.col("received_at")).dt.total_seconds(
            fractional=True) / 86_400,
    )
    if deadline_days is None:
        return frame
    return frame.with_columns(
        due_at=pl.col("received_at") + dt.timedelta(days=deadline_days)).with_columns(
        overdue=pl.col("due_at") < pl.lit(as_of, pl.Datetime("us")))


def _deadline_kind(kind: str) -> pl.Expr:
    """The (kind, channel) rows of a deadline kind (`config.DEADLINE_KINDS`)."""
    if kind == "complaint":
        return pl.col("kind") == "complaint"
    e_otinish = pl.col("channel") == E_OTINISH
    return (pl.col("kind") == "appeal") & (e_otinish if kind == "e_otinish" else ~e_otinish)


def _open_received_between(start: dt.datetime, end: dt.datetime, kind: str,
                           filters: Filters) -> Select:
    """Count the cases of `kind` received in [start, end) that are still open.

    The range is read first, in a materialized CTE, so the cost follows the range's rows
    through the received_at index. Left to itself PostgreSQL may instead walk the whole
    open-cases index, whose size is the backlog, not the range.
    """
    received = (select(Case.status, Case.kind, Case.channel_id)
                .where(Case.received_at >= start, Case.received_at < end,
                       *dimension_filters(filters, Case.channel_id, Case.region_id))
                .cte("received_in_range").prefix_with("MATERIALIZED"))
    open_stage = received.c.status.not_in(CLOSED_STAGES)
    if kind == "complaint":
        of_kind = received.c.kind == "complaint"
    else:
        e_otinish = select(Channel.id).where(Channel.code == E_OTINISH).scalar_subquery()
        of_kind = and_(received.c.kind == "appeal",
                       received.c.channel_id == e_otinish if kind == "e_otinish"
                       else received.c.channel_id != e_otinish)
    return select(func.count()).select_from(received).where(open_stage, of_kind)


def overdue_cases(connection: Connection, filters: Filters, as_of: dt.datetime,
                  deadline_days: Mapping[str, float]) -> dict[str, int]:
    """Cases open at `as_of` and past their target, per deadline kind (`DEADLINE_KINDS`).

    A case is overdue when it is open (not answered or withdrawn) and was received more than
    its kind's target (`deadline_days`, days) before `as_of`: an e-Otinish appeal against the
    e_otinish target, any other appeal against appeal, a complaint against complaint. Like
    the open list, cases received up to filters.end count and the range's start does not
    (an old open case is exactly what this is for); channel and region filters apply, a
    service type filter cannot (cases carry none).

    From the rollups: every open case (all received less all closed, `rollup_case_totals`)
    less those received from the cut-off's day on (received less answered less withdrawn,
    `rollup_cases`), plus the cut-off day's own cases received before the cut-off time (raw
    rows of one day, through the received_at index). The cost follows the days since the
    cut-off, not the history.
    """
    totals = case_sums(connection, CASE_TOTALS, None,
                        lambda table: segment_filters(table, filters), None, "channel",
                        ["received", "closed"])
    counts = dict.fromkeys(DEADLINE_KINDS, 0)
    for kind, days in deadline_days.items():
        cutoff = min(as_of - dt.timedelta(days=days), filters.end_before)
        since = case_sums(connection, CASES, replace(filters, start=cutoff.date(),
                                                       end=dt.date.max),
                           no_conditions, None, "channel", ["received", "answered", "withdrawn"])
        still_open = totals.filter(_deadline_kind(kind)).select(
            pl.col("received").sum() - pl.col("closed").sum()).item()
        open_since = since.filter(_deadline_kind(kind)).select(
            pl.col("received").sum() - pl.col("answered").sum()
            - pl.col("withdrawn").sum()).item()
        same_day = connection.scalar(_open_received_between(
            dt.datetime.combine(cutoff.date(), dt.time()), cutoff, kind, filters))
        counts[kind] = int((still_open or 0) - (open_since or 0) + (same_day or 0))
    return counts


def resolution_estimates(connection: Connection, filters: Filters, granularity: Granularity,
                         as_of: dt.datetime, deadline_days: Mapping[str, float]
                         ) -> pl.DataFrame:
    """Per period and kind, the resolution time of the cases received, open cases included.

    Answered-only percentiles (`queries.cases_by_period`) leave out the cases still open, the
    slow ones, so the latest periods read too fast. Here each case still open at `as_of` is
    censored at its age (see `metrics.censored_resolution`): the median and p90 (hours) of a
    life table over the rollup's resolution-time buckets, and the estimated share answered
    within the kind's target (`deadline_days`: complaint, appeal). Channel and region filters
    apply; a service type filter cannot (cases carry none).

    Columns: period, kind, received, answered, open, median_h, p90_h, within_target.
    """
    buckets = list(RESOLUTION_COLUMNS)
    daily = case_sums(connection, CASES, filters, no_conditions, "day", None,
                       ["received", "answered", "withdrawn", *buckets]).rename({"period": "day"})
    every = {"day": "1d", "week": "1w", "month": "1mo"}[granularity]
    periods = daily.select("day").unique().with_columns(
        period=pl.col("day").dt.truncate(every))
    return censored_resolution(daily, periods, as_of, buckets, RESOLUTION_EDGES_H,
                               {kind: deadline_days[kind] * 24 for kind in ("complaint",
                                                                           "appeal")})
