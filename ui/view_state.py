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

from data_access.argtypes import MAX_DAY, MIN_DAY
from data_access.dates import period_of
from data_access.queries import GRANULARITIES, Filters
from data_access.reference import CHANNELS, REGIONS, SERVICE_TYPES

PRESETS: dict[str, str] = {
    "last_30_days": "Last 30 days",
    "quarter_to_date": "Quarter to date",
    "year_to_date": "Year to date",
    "last_12_months": "Last 12 months",
    "custom": "Custom",
}
DEFAULT_PRESET = "last_30_days"
DEFAULT_GRANULARITY = "week"
CHANNEL_NAMES: dict[str, str] = {channel.code: channel.name for channel in CHANNELS}
REGION_NAMES: dict[str, str] = {region.code: region.name for region in REGIONS}
SERVICE_TYPE_NAMES: dict[str, str] = {service.code: service.name for service in SERVICE_TYPES}

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
    if preset == "last_12_months":  # whole months, so a monthly chart has no stub first bar
        months = today.year * 12 + today.month - 1 - 11
        return dt.date(months // 12, months % 12 + 1, 1), today
    return today - dt.timedelta(days=29), today


def preset_is_stale(view: ViewState, today: dt.date) -> bool:
    """A preset view whose dates were worked out on an earlier day (a page left open overnight)."""
    return view.preset != "custom" and preset_range(view.preset, today) != (view.start, view.end)


def default_view(today: dt.date) -> ViewState:
    start, end = preset_range(DEFAULT_PRESET, today)
    return ViewState(DEFAULT_PRESET, start, end, DEFAULT_GRANULARITY)


def shown(value: str) -> str:
    """A user-supplied value, quoted and cut short, as a Markdown code span for a warning.

    Streamlit renders warnings as Markdown: as plain text, a link could carry a clickable
    `[Sign in again](https://…)`, an image that the browser fetches, or `:red[…]` styling, and a
    bare URL would still be turned into a link. Inside a code span nothing is interpreted; the
    fence is longer than any run of backticks in the value, so the value cannot close it.
    """
    text = value if len(value) <= MAX_SHOWN_VALUE else value[:MAX_SHOWN_VALUE] + "…"
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
