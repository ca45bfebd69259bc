"""The dashboard view as URL parameters: parse strictly, never trust, always round-trip.

A shared link must reproduce the exact view, so the URL carries the page (its path), the dates,
the granularity and every filter. Parsing is pure (no streamlit) so that hostile values can be
tested directly: anything unknown or malformed is dropped with a warning naming the parameter,
and the rest of the link still applies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import polars as pl

from data_access.argtypes import MAX_DAY, MIN_DAY
from data_access.dates import period_of
from data_access.queries import GRANULARITIES, Filters
from data_access.reference import CHANNELS, REGIONS, SERVICE_TYPES

# The key "last_12_months" stays for old links; it means exactly the last 365 days (today
# included), not 1 January to today (that is "year to date").
PRESETS: dict[str, str] = {
    "last_30_days": "Last 30 days",
    "quarter_to_date": "Quarter to date",
    "year_to_date": "Year to date",
    "last_12_months": "Last 365 days",
    "custom": "Custom",
}
PRESET_DAYS: dict[str, int] = {"last_30_days": 30, "last_12_months": 365}
DEFAULT_PRESET = "last_30_days"
DEFAULT_GRANULARITY = "week"
CHANNEL_NAMES: dict[str, str] = {channel.code: channel.name for channel in CHANNELS}
REGION_NAMES: dict[str, str] = {region.code: region.name for region in REGIONS}
SERVICE_TYPE_NAMES: dict[str, str] = {service.code: service.name for service in SERVICE_TYPES}

# --- Display names: the one place a code becomes the name a reader sees ----------------------
# Channels, regions and service types take the reference tables' names (above); the codes
# below have no table. Every chart, table, tooltip and CSV header goes through `named` or
# `csv_frame`; a code missing here (say an imported reason) is shown as it is.
REASON_NAMES: dict[str, str] = {
    "long_wait": "Long wait",
    "problem_not_solved": "Problem not solved",
    "operator_competence": "Operator's competence",
    "operator_politeness": "Operator's politeness",
    "price_tariff": "Price or tariff",
    "technical_quality": "Technical quality",
    "other": "Other",
    "not given": "Not given",
}
STAGE_NAMES: dict[str, str] = {
    "received": "Received",
    "assigned": "Assigned to an executor",
    "under_review": "Under review",
    "answer_prepared": "Answer prepared",
    "answered": "Answered",
    "withdrawn": "Withdrawn",
}
SERVED_BY_NAMES: dict[str, str] = {"operator": "Operator", "bot": "Bot",
                                   "self_service": "Self-service"}
KIND_NAMES: dict[str, str] = {"complaint": "Complaint", "appeal": "Appeal"}
TEAM_NAMES: dict[str, str] = {"front_line": "Front line", "digital": "Digital team"}
MODE_NAMES: dict[str, str] = {"online": "Online", "offline": "Offline"}
SCORE_CLASS_NAMES: dict[str, str] = {"promoters": "Promoters", "passives": "Passives",
                                     "detractors": "Detractors"}
# Column holding codes -> (its header, code -> name). `stage` is a case stage wherever it
# appears (funnel, open appeals).
CODE_COLUMNS: dict[str, tuple[str, dict[str, str]]] = {
    "channel": ("Channel", CHANNEL_NAMES),
    "region": ("Region", REGION_NAMES),
    "service_type": ("Service type", SERVICE_TYPE_NAMES),
    "reason": ("Reason", REASON_NAMES),
    "stage": ("Stage", STAGE_NAMES),
    "served_by": ("Served by", SERVED_BY_NAMES),
    "kind": ("Kind", KIND_NAMES),
    "team": ("Team", TEAM_NAMES),
    "mode": ("Mode", MODE_NAMES),
    "score_class": ("Class", SCORE_CLASS_NAMES),
}
CODE_HEADER = "{column} code"  # the CSV keeps the codes next to the names
# CSV headers of the other columns the dashboards export; any other keeps its name.
COLUMN_HEADERS: dict[str, str] = {
    "period": "Period from", "nps": "NPS", "nps_moe": "NPS margin of error (95%, points)",
    "responses": "Responses", "surveys_sent": "Surveys sent", "answer_rate": "Answer rate",
    "promoters": "Promoters", "passives": "Passives", "detractors": "Detractors",
    "contacts": "Contacts", "share": "Share", "cumulative_share": "Cumulative share",
    "online_share": "Online share", "period_contacts": "Contacts in period",
    "received": "Received", "received_year_before": "Received a year earlier",
    "yoy_change": "Change on a year earlier", "closed": "Closed",
    "open_backlog": "Open at period end", "median_resolution_h": "Median hours to answer",
    "p90_resolution_h": "90th percentile hours to answer", "answered": "Answered",
    "share_of_kind": "Share of its kind", "cases": "Cases", "wait_bucket": "Wait",
    "mean_wait_s": "Mean wait (s)", "median_wait_s": "Median wait (s)",
    "p90_wait_s": "90th percentile wait (s)", "score": "Score", "ratings": "Ratings",
    "mean_score": "Mean rating", "trend": "Trend", "monthly_means": "Monthly means",
    "rank": "Rank", "ranked": "Ranked", "operator": "Operator id", "name": "Name",
    "active_operators": "Operators active", "rated_operators": "Operators rated",
    "rated_share": "Share rated", "partial_month": "Partial month",
    "weekday_name": "Weekday", "hour": "Hour", "mean_contacts": "Contacts per day",
    "days": "Days", "answered_at": "Answered", "suggestion": "Comment",
    "external_id": "Appeal id", "received_at": "Received", "stage_since": "In stage since",
    "age_days": "Age (days)", "category": "Category",
}
FILTER_HEADERS: dict[str, str] = {"from": "Range from", "to": "Range to",
                                  "regions": "Regions filter", "channels": "Channels filter",
                                  "service_types": "Service types filter"}
ALL_VALUES = "All"
NO_FILTERS = "All regions, channels and service types"
FILTER_SEPARATOR = " · "

# URL parameter -> (allowed codes, their display names); lists repeat the parameter.
LIST_PARAMS: dict[str, dict[str, str]] = {
    "region": REGION_NAMES,
    "channel": CHANNEL_NAMES,
    "service": SERVICE_TYPE_NAMES,
}
GLOBAL_PARAMS: tuple[str, ...] = ("range", "from", "to", "grain", *LIST_PARAMS)
# Parameters that belong to one page (validated by that page's widget) and Streamlit's own.
PARAMS_OF_PAGE: dict[str, tuple[str, ...]] = {
    "nps": ("split",), "complaints": ("case_by",),
    "agents": ("operator", "min_ratings", "find", "order", "page")}
PAGE_PARAMS: tuple[str, ...] = tuple(name for names in PARAMS_OF_PAGE.values() for name in names)
STREAMLIT_PARAMS: tuple[str, ...] = ("embed", "embed_options")
DASHBOARD_PARAMS: tuple[str, ...] = (*GLOBAL_PARAMS, *PAGE_PARAMS)
MAX_SHOWN_VALUE = 40
MAX_SHOWN_MESSAGE = 400  # a database's or identity provider's text: longer, still escaped
MAX_PERIODS = 800  # points per chart series: two years per day, 15 per week, 66 per month


@dataclass(frozen=True)
class ViewState:
    """What a dashboard shows: a date range (inclusive), a granularity and code filters."""

    preset: str
    start: dt.date
    end: dt.date
    granularity: str
    regions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    service_types: tuple[str, ...] = ()

    @property
    def filters(self) -> Filters:
        return Filters(self.start, self.end, channels=self.channels, regions=self.regions,
                       service_types=self.service_types)

    @property
    def previous(self) -> Filters:
        """The equal-length period just before, for deltas."""
        length = self.end - self.start + dt.timedelta(days=1)
        return Filters(self.start - length, self.start - dt.timedelta(days=1),
                       channels=self.channels, regions=self.regions,
                       service_types=self.service_types)

    @property
    def label(self) -> str:
        return f"{self.start:%d %b %Y} – {self.end:%d %b %Y}"


def preset_range(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The inclusive dates a preset stands for on `today`."""
    if preset == "quarter_to_date":
        return today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1), today
    if preset == "year_to_date":
        return today.replace(month=1, day=1), today
    days = PRESET_DAYS.get(preset, PRESET_DAYS[DEFAULT_PRESET])
    return today - dt.timedelta(days=days - 1), today


def preset_is_stale(view: ViewState, today: dt.date) -> bool:
    """A preset view whose dates were worked out on an earlier day (a page left open overnight)."""
    return view.preset != "custom" and preset_range(view.preset, today) != (view.start, view.end)


def default_view(today: dt.date) -> ViewState:
    start, end = preset_range(DEFAULT_PRESET, today)
    return ViewState(DEFAULT_PRESET, start, end, DEFAULT_GRANULARITY)


def message_text(value: object) -> str:
    """A database's or identity provider's text (an error line, a user's name) for Markdown:
    the same code span as `shown`, long enough for a whole message."""
    return shown(str(value), MAX_SHOWN_MESSAGE)


def shown(value: str, limit: int = MAX_SHOWN_VALUE) -> str:
    """A user-supplied value, quoted and cut short, as a Markdown code span for a warning.

    Streamlit renders warnings as Markdown: as plain text, a link could carry a clickable
    `[Sign in again](https://…)`, an image that the browser fetches, or `:red[…]` styling, and a
    bare URL would still be turned into a link. Inside a code span nothing is interpreted; the
    fence is longer than any run of backticks in the value, so the value cannot close it.
    """
    text = value if len(value) <= limit else value[:limit] + "…"
    literal = repr(text)
    fence = "`" * (max(map(len, re.findall("`+", literal)), default=0) + 1)
    return f"{fence} {literal} {fence}"


def parse_day(name: str, value: str) -> tuple[dt.date | None, str | None]:
    """A strict ISO date within the supported years, or a warning naming the parameter."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None, f"URL parameter '{name}': {shown(value)} is not a date (YYYY-MM-DD); ignored."
    if len(value) != 10 or not MIN_DAY <= day <= MAX_DAY:
        return None, (f"URL parameter '{name}': {shown(value)} is outside "
                      f"{MIN_DAY}..{MAX_DAY} or not written YYYY-MM-DD; ignored.")
    return day, None


def _codes(name: str, values: Sequence[str], allowed: Mapping[str, str],
           warnings: list[str]) -> tuple[str, ...]:
    kept: list[str] = []
    for value in values:
        if value in allowed:
            if value not in kept:
                kept.append(value)
        else:
            warnings.append(f"URL parameter '{name}': {shown(value)} is not a known {name}; "
                            "ignored.")
    return tuple(kept)


def _single(name: str, values: Sequence[str], warnings: list[str]) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        warnings.append(f"URL parameter '{name}' is given {len(values)} times; "
                        "the first value is used.")
    return values[0]


def parse_view(params: Mapping[str, Sequence[str]], today: dt.date, page: str | None = None
               ) -> tuple[ViewState, list[str]]:
    """The view a URL asks for, plus one warning per ignored parameter value.

    Explicit `from`/`to` dates win over the preset, so that a copied link shows the same dates
    tomorrow; the preset is then kept only if it still means those dates. A link with a preset
    and no dates is a rolling link (e.g. a bookmark for "last 30 days").
    """
    warnings: list[str] = []
    for name in params:
        if name not in (*GLOBAL_PARAMS, *PAGE_PARAMS, *STREAMLIT_PARAMS):
            warnings.append(f"URL parameter {shown(name)} is not known; ignored.")
        elif page is not None and name in PAGE_PARAMS and name not in PARAMS_OF_PAGE.get(page,
                                                                                          ()):
            owner = next(owner for owner, names in PARAMS_OF_PAGE.items() if name in names)
            warnings.append(f"URL parameter '{name}' belongs to the /{owner} page, not this "
                            "one; ignored.")

    preset = _single("range", params.get("range", ()), warnings)
    if preset is not None and preset not in PRESETS:
        warnings.append(f"URL parameter 'range': {shown(preset)} is not one of "
                        f"{', '.join(PRESETS)}; ignored.")
        preset = None
    start = end = None
    for name in ("from", "to"):
        raw = _single(name, params.get(name, ()), warnings)
        if raw is None:
            continue
        day, warning = parse_day(name, raw)
        if warning:
            warnings.append(warning)
        elif name == "from":
            start = day
        else:
            end = day
    if start and end and start > end:
        warnings.append(f"URL parameters 'from' {start} and 'to' {end} are in the wrong order; "
                        "ignored.")
        start = end = None

    if start is not None or end is not None:
        fallback_start, fallback_end = preset_range(preset or DEFAULT_PRESET, today)
        start = start or min(fallback_start, end)
        end = end or max(fallback_end, start)
        if preset is None or preset == "custom" or preset_range(preset, today) != (start, end):
            preset = "custom"
    else:
        preset = DEFAULT_PRESET if preset in (None, "custom") else preset
        start, end = preset_range(preset, today)

    granularity = _single("grain", params.get("grain", ()), warnings)
    if granularity is not None and granularity not in GRANULARITIES:
        warnings.append(f"URL parameter 'grain': {shown(granularity)} is not one of "
                        f"{', '.join(GRANULARITIES)}; ignored.")
        granularity = None
    view, too_long = fit_periods(ViewState(
        preset, start, end, granularity or DEFAULT_GRANULARITY,
        regions=_codes("region", params.get("region", ()), LIST_PARAMS["region"], warnings),
        channels=_codes("channel", params.get("channel", ()), LIST_PARAMS["channel"], warnings),
        service_types=_codes("service", params.get("service", ()), LIST_PARAMS["service"],
                             warnings),
    ))
    return view, warnings + too_long


def period_count(start: dt.date, end: dt.date, granularity: str) -> int:
    """How many day/week/month periods the inclusive range touches."""
    if granularity == "day":
        return (end - start).days + 1
    if granularity == "week":
        return (period_of(end, "week") - period_of(start, "week")).days // 7 + 1
    return (end.year - start.year) * 12 + end.month - start.month + 1


def fit_periods(view: ViewState) -> tuple[ViewState, list[str]]:
    """A view whose charts stay drawable: at most MAX_PERIODS points per series.

    Valid but extreme dates (1900..2999 per day) would otherwise send hundreds of megabytes of
    chart data on every refresh. The granularity coarsens first; past MAX_PERIODS months the
    range keeps its end and starts later. Each change comes with a warning naming the field.
    """
    count = period_count(view.start, view.end, view.granularity)
    if count <= MAX_PERIODS:
        return view, []
    too_many = (f"{view.start} – {view.end} has {count:,} {view.granularity}s, more than "
                f"{MAX_PERIODS} per chart")
    coarser = GRANULARITIES[GRANULARITIES.index(view.granularity) + 1:]
    for granularity in coarser:
        if period_count(view.start, view.end, granularity) <= MAX_PERIODS:
            return replace(view, granularity=granularity), [
                f"Granularity ('grain'): {too_many}; shown per {granularity}."]
    months = view.end.year * 12 + view.end.month - MAX_PERIODS
    start = dt.date(months // 12, months % 12 + 1, 1)
    return replace(view, preset="custom", start=start, granularity="month"), [
        f"Date range ('from'): {too_many}; shown per month from {start}."]


def view_params(view: ViewState, rolling: bool = False) -> dict[str, list[str]]:
    """URL parameters for a view: exact dates, or (rolling) only the preset for a bookmark."""
    params: dict[str, list[str]] = {"range": [view.preset]}
    if view.preset == "custom" or not rolling:
        params["from"] = [view.start.isoformat()]
        params["to"] = [view.end.isoformat()]
    params["grain"] = [view.granularity]
    for name, codes in (("region", view.regions), ("channel", view.channels),
                        ("service", view.service_types)):
        if codes:
            params[name] = list(codes)
    return params


def name_of(column: str, code: str | None) -> str | None:
    """The display name of one code of a code column (the code itself when unknown)."""
    if code is None:
        return None
    return CODE_COLUMNS[column][1].get(code, code) if column in CODE_COLUMNS else code


def named(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every code column's codes replaced by their display names."""
    return frame.with_columns(
        pl.col(column).replace(names) for column, (_, names) in CODE_COLUMNS.items()
        if column in frame.columns and frame.schema[column] == pl.String)


def filters_line(view: ViewState) -> str:
    """The active filters in one line of display names ("Almaty, Astana · WhatsApp")."""
    groups = [", ".join(names[code] for code in codes) for codes, names in (
        (view.regions, REGION_NAMES), (view.channels, CHANNEL_NAMES),
        (view.service_types, SERVICE_TYPE_NAMES)) if codes]
    return FILTER_SEPARATOR.join(groups) if groups else NO_FILTERS


def filters_slug(view: ViewState, most: int = 3) -> str:
    """The filters for a file name: codes joined, a long list counted ("7-regions")."""
    parts = []
    for codes, noun in ((view.regions, "regions"), (view.channels, "channels"),
                        (view.service_types, "services")):
        if codes:
            parts.append("-".join(codes) if len(codes) <= most else f"{len(codes)}-{noun}")
    return "_".join(parts) if parts else "all"


def csv_frame(frame: pl.DataFrame, view: ViewState) -> pl.DataFrame:
    """A frame as its CSV shows it: names under readable headers, each code column kept as
    "<header> code", and the view's range and filters as the last columns (on every row, so
    that a sheet cut from the file still says what it counts)."""
    columns = []
    for column in frame.columns:
        if column in CODE_COLUMNS and frame.schema[column] == pl.String:
            header, names = CODE_COLUMNS[column]
            columns += [pl.col(column).replace(names).alias(header),
                        pl.col(column).alias(CODE_HEADER.format(column=header))]
        else:
            columns.append(pl.col(column).alias(COLUMN_HEADERS.get(column, column)))
    chosen = {
        "from": view.start.isoformat(), "to": view.end.isoformat(),
        "regions": ", ".join(REGION_NAMES[code] for code in view.regions) or ALL_VALUES,
        "channels": ", ".join(CHANNEL_NAMES[code] for code in view.channels) or ALL_VALUES,
        "service_types": ", ".join(SERVICE_TYPE_NAMES[code] for code in view.service_types)
        or ALL_VALUES,
    }
    return frame.select(columns).with_columns(
        pl.lit(value, pl.String).alias(FILTER_HEADERS[key]) for key, value in chosen.items())
