"""Queries for the "NPS" and "Complaints & appeals" pages.

Same rules as `queries`: the caller owns the Connection, aggregation runs in SQL, user values
are bound parameters, and the Polars steps after a query are pure DataFrame -> DataFrame
functions (public where a test or a page needs them on their own).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import polars as pl
from sqlalchemy import ColumnElement, Connection, and_, func, select

from data_access.config import local_now
from data_access.dates import month_end
from data_access.queries import (
    CaseDimension,
    Filters,
    Granularity,
    _case_conditions,
    _case_dimension,
    _case_rows,
    _contact_conditions,
    _dimension_filters,
    _frame,
    cases_received,
)
from data_access.schema import (
    CASE_STAGES,
    CLOSED_STAGES,
    Case,
    CaseEvent,
    Channel,
    Contact,
    NpsSurvey,
    Region,
    ServiceType,
)

NO_REASON = "not given"  # what a detractor who skipped the reason question is filed under
DETRACTOR_MAX_SCORE = 6
E_OTINISH = "e_otinish"
CASE_DIMENSIONS: tuple[str, ...] = ("category", "channel", "region")
_DAYS_IN_52_WEEKS = 364  # a year earlier on the same weekday


# --- NPS -------------------------------------------------------------------------------------

def detractor_reasons(connection: Connection, filters: Filters) -> pl.DataFrame:
    """Detractors (answered, score 0-6) per stated reason, largest first, as a Pareto table.

    Columns: reason (null stored as "not given"), detractors, share (of all detractors),
    cumulative_share. Contact filters apply: dates of contacts.started_at, channels, regions,
    service types.
    """
    statement = (
        select(NpsSurvey.reason.label("reason"), func.count().label("detractors"))
        .select_from(Contact).join(NpsSurvey, NpsSurvey.contact_id == Contact.id)
        .where(*_contact_conditions(filters), *_detractor_conditions())
        .group_by(NpsSurvey.reason)
    )
    frame = _frame(connection, statement, {"reason": pl.String, "detractors": pl.Int64})
    return with_pareto_shares(frame.with_columns(pl.col("reason").fill_null(NO_REASON)),
                              "reason", "detractors")


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
    statement = (
        select(NpsSurvey.answered_at.label("answered_at"), NpsSurvey.score.label("score"),
               NpsSurvey.reason.label("reason"), NpsSurvey.suggestion.label("suggestion"),
               Channel.code.label("channel"), Region.code.label("region"),
               ServiceType.code.label("service_type"))
        .select_from(Contact).join(NpsSurvey, NpsSurvey.contact_id == Contact.id)
        .join(Channel, Channel.id == Contact.channel_id)
        .join(Region, Region.id == Contact.region_id)
        .join(ServiceType, ServiceType.id == Contact.service_type_id)
        .where(*_contact_conditions(filters), *_detractor_conditions(),
               NpsSurvey.suggestion.is_not(None))
        .order_by(NpsSurvey.answered_at.desc(), NpsSurvey.contact_id.desc())
        .limit(_checked_limit(limit))
    )
    frame = _frame(connection, statement, {
        "answered_at": pl.Datetime("us"), "score": pl.Int64, "reason": pl.String,
        "suggestion": pl.String, "channel": pl.String, "region": pl.String,
        "service_type": pl.String})
    return frame.with_columns(pl.col("reason").fill_null(NO_REASON))


def _detractor_conditions() -> list[ColumnElement]:
    return [NpsSurvey.answered.is_(True), NpsSurvey.score <= DETRACTOR_MAX_SCORE]


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
    first_case = connection.scalar(select(func.min(Case.received_at)))  # an index lookup
    return with_year_before(current, earlier, granularity,
                            data_start=first_case.date() if first_case else None,
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
    dimension, joins = _case_dimension(by)
    rows = _case_rows([Case.kind.label("kind"), *dimension], joins,
                      _case_conditions(filters, Case.received_at)).subquery()
    keys = [rows.c.kind, rows.c[by]]
    statement = select(*keys, func.count().label("received")).group_by(*keys)
    frame = _frame(connection, statement,
                   {"kind": pl.String, by: pl.String, "received": pl.Int64})
    return frame.with_columns(
        share_of_kind=pl.col("received") / pl.col("received").sum().over("kind"),
    ).sort(["kind", "received", by], descending=[False, True, False])


# --- Cases: e-Otinish ------------------------------------------------------------------------

def _e_otinish_appeals(filters: Filters) -> list[ColumnElement]:
    """Appeals that came through e-Otinish, under the same channel and region filters as
    `queries.case_counts` (its e-Otinish tile): a channel filter without e_otinish leaves
    none. Cases have no service type, so that filter applies to neither.
    """
    e_otinish = select(Channel.id).where(Channel.code == E_OTINISH).scalar_subquery()
    return [Case.kind == "appeal", Case.channel_id == e_otinish,
            *_dimension_filters(filters, Case.channel_id, Case.region_id)]


def e_otinish_funnel(connection: Connection, filters: Filters) -> pl.DataFrame:
    """How far the e-Otinish appeals received in the range got, stage by stage.

    Columns: stage (every one of schema.CASE_STAGES, in that order), cases (appeals with an
    event of that stage; "received" is every appeal received), share (of those received,
    null when none were). Channel and region filters apply as on the e-Otinish tile, so the
    "received" count is the tile's count.
    """
    received_in_range = [Case.received_at >= filters.start_at,
                         Case.received_at < filters.end_before, *_e_otinish_appeals(filters)]
    received = connection.scalar(select(func.count()).select_from(Case)
                                 .where(*received_in_range)) or 0
    statement = (
        select(CaseEvent.stage.label("stage"),
               func.count(func.distinct(CaseEvent.case_id)).label("cases"))
        .select_from(CaseEvent).join(Case, Case.id == CaseEvent.case_id)
        .where(*received_in_range)
        .group_by(CaseEvent.stage)
    )
    reached = _frame(connection, statement, {"stage": pl.String, "cases": pl.Int64})
    return funnel_shares(reached, int(received))


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
                           limit: int = 200) -> pl.DataFrame:
    """e-Otinish appeals open now (status not closed), received up to filters.end, oldest first.

    Columns: external_id, received_at, category, region (code), stage (the current status),
    stage_since (when that stage's event happened; null if it has none), age_days (from
    received_at to `as_of`, fractional). At most `limit` rows; channel and region filters
    apply as in `e_otinish_funnel`, the start of the range does not (an old open appeal is
    exactly what this list is for).
    """
    statement = (
        select(Case.external_id.label("external_id"), Case.received_at.label("received_at"),
               Case.category.label("category"), Region.code.label("region"),
               Case.status.label("stage"), CaseEvent.at.label("stage_since"))
        .select_from(Case).join(Region, Region.id == Case.region_id)
        .outerjoin(CaseEvent, and_(CaseEvent.case_id == Case.id, CaseEvent.stage == Case.status))
        .where(*_e_otinish_appeals(filters), Case.received_at < filters.end_before,
               Case.status.not_in(CLOSED_STAGES))
        .order_by(Case.received_at, Case.id)
        .limit(_checked_limit(limit))
    )
    frame = _frame(connection, statement, {
        "external_id": pl.String, "received_at": pl.Datetime("us"), "category": pl.String,
        "region": pl.String, "stage": pl.String, "stage_since": pl.Datetime("us")})
    return frame.with_columns(
        age_days=(pl.lit(as_of, pl.Datetime("us")) - pl.col("received_at")).dt.total_seconds(
            fractional=True) / 86_400,
    )
