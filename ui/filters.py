"""The sidebar's global filters, kept in the URL so that a copied link reproduces the view.

The frame (app.py) draws them on every run, so their widget state survives page switches.
On a session's first run the widgets are seeded from the URL (validated by ui.view_state);
after every run the URL is rewritten from the widgets. Page-level choices (e.g. the NPS split)
use `url_choice`, which follows the same rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from data_access.argtypes import MAX_DAY, MIN_DAY
from data_access.config import local_today
from data_access.queries import GRANULARITIES
from ui.view_state import (
    DEFAULT_GRANULARITY,
    GLOBAL_PARAMS,
    LIST_PARAMS,
    PAGE_PARAMS,
    PRESETS,
    ViewState,
    filters_line,
    fit_periods,
    parse_view,
    preset_range,
    shown,
    view_params,
)

_KEYS = {"preset": "view_preset", "dates": "view_dates", "grain": "view_grain",
         "region": "view_regions", "channel": "view_channels", "service": "view_services"}
_SNAPSHOT = "_url_snapshot"
_WARNINGS = "_url_warnings"
_LAST_RANGE = "_view_last_range"
_PRESET_DAY = "_view_preset_day"  # the day the preset's dates were last worked out for
KEPT_VIEW = "view"
FULL_RUN_NEEDED = "_full_run_needed"
_LIST_LABELS = {"region": "Regions", "channel": "Channels", "service": "Service types"}


def _url_snapshot() -> dict[str, list[str]]:
    return {name: st.query_params.get_all(name) for name in st.query_params}


def _seed_from_url(today: dt.date, page: str | None) -> None:
    """The URL decides the widgets' first values in a session.

    Coming back from a page without these filters (the simulator), the URL holds none of them:
    the view kept in the session is restored instead.
    """
    snapshot = st.session_state[_SNAPSHOT]
    kept: ViewState | None = st.session_state.get(KEPT_VIEW)
    if kept is not None and not any(name in snapshot for name in GLOBAL_PARAMS):
        view, warnings = kept, []
    else:
        view, warnings = parse_view(snapshot, today, page)
    st.session_state[_KEYS["preset"]] = view.preset
    st.session_state[_KEYS["dates"]] = (view.start, view.end)
    st.session_state[_KEYS["grain"]] = view.granularity
    st.session_state[_KEYS["region"]] = list(view.regions)
    st.session_state[_KEYS["channel"]] = list(view.channels)
    st.session_state[_KEYS["service"]] = list(view.service_types)
    st.session_state[_LAST_RANGE] = (view.start, view.end)
    st.session_state[_PRESET_DAY] = today
    st.session_state[_WARNINGS] = warnings


def _clear_warnings() -> None:
    st.session_state[_WARNINGS] = []


def _apply_preset(today: dt.date) -> None:
    """Set the calendar to the preset's dates for `today` (a preset follows the calendar)."""
    preset = st.session_state[_KEYS["preset"]]
    if preset != "custom":
        st.session_state[_KEYS["dates"]] = preset_range(preset, today)
    st.session_state[_PRESET_DAY] = today


def _fit_widgets() -> None:
    """Coarsen (or shorten) a picked range that would be too many points to chart."""
    dates = tuple(st.session_state[_KEYS["dates"]] or ())
    if len(dates) != 2:
        return
    picked = ViewState(st.session_state[_KEYS["preset"]], dates[0], dates[1],
                       st.session_state[_KEYS["grain"]] or DEFAULT_GRANULARITY)
    fitted, warnings = fit_periods(picked)
    if warnings:
        st.session_state[_KEYS["preset"]] = fitted.preset
        st.session_state[_KEYS["dates"]] = (fitted.start, fitted.end)
        st.session_state[_KEYS["grain"]] = fitted.granularity
        st.session_state[_WARNINGS] = warnings


def _preset_changed() -> None:
    _clear_warnings()
    _apply_preset(local_today())
    _fit_widgets()


def _grain_changed() -> None:
    _clear_warnings()
    _fit_widgets()


def _dates_changed() -> None:
    """Any pick in the calendar makes the range custom, also the first click of a new range.

    Otherwise the preset would put its own dates back over a half-picked range on the rerun.
    """
    _clear_warnings()
    dates = tuple(st.session_state[_KEYS["dates"]] or ())
    preset = st.session_state[_KEYS["preset"]]
    if preset != "custom" and preset_range(preset, local_today()) != dates:
        st.session_state[_KEYS["preset"]] = "custom"
    _fit_widgets()


def global_filters(page: str | None = None) -> ViewState:
    """Draw the sidebar filters and return the view they describe; the URL follows them.

    `page` (its URL path) lets a first link name parameters that belong to another page.
    """
    today = local_today()
    st.session_state[_SNAPSHOT] = _url_snapshot()
    if _KEYS["preset"] not in st.session_state:
        _seed_from_url(today, page)
    with st.sidebar:
        st.header("Filters")
        preset = st.selectbox("Date range", list(PRESETS), format_func=PRESETS.get,
                              key=_KEYS["preset"], on_change=_preset_changed)
        if st.session_state.get(_PRESET_DAY) != today:  # past midnight: today moved on
            _apply_preset(today)
        dates = st.date_input("From – to", key=_KEYS["dates"], min_value=MIN_DAY,
                              max_value=MAX_DAY, on_change=_dates_changed, format="YYYY-MM-DD")
        if isinstance(dates, Sequence) and len(dates) == 2:
            st.session_state[_LAST_RANGE] = (dates[0], dates[1])
        else:
            st.caption("Pick the end date; until then the previous range is shown.")
        start, end = st.session_state[_LAST_RANGE]
        granularity = st.segmented_control("Granularity", GRANULARITIES, key=_KEYS["grain"],
                                           on_change=_grain_changed, required=True,
                                           format_func=str.capitalize)
        chosen = {}
        for name, names in LIST_PARAMS.items():
            chosen[name] = st.multiselect(
                _LIST_LABELS[name], list(names), format_func=names.get, key=_KEYS[name],
                placeholder="All", on_change=_clear_warnings)
    view = ViewState(preset, start, end, granularity or DEFAULT_GRANULARITY,
                     regions=tuple(chosen["region"]), channels=tuple(chosen["channel"]),
                     service_types=tuple(chosen["service"]))
    for warning in st.session_state.get(_WARNINGS, []):
        st.warning(warning, icon=":material/link_off:")
    st.query_params.from_dict(view_params(view))
    st.session_state[KEPT_VIEW] = view
    return view


def _page_choice_changed(resets: Mapping[str, Any] | None = None) -> None:
    """A choice made inside a page's live part re-runs only that part; ask for a whole run.

    The whole run redraws *Copy link* (drawn after the page) with the new choice in it.
    `resets` puts other page widgets back to a value (a new search starts on page 1).
    """
    st.session_state[FULL_RUN_NEEDED] = True
    for param, value in (resets or {}).items():
        st.session_state[f"url_{param}"] = value


_REFUSED = object()


def _seeded_key(param: str, default: Any, parse: Callable[[str], Any], rule: str) -> str:
    """The widget key of page parameter `param`, its state seeded once per session.

    The seed is the value kept from an earlier visit, else the link's value when `parse`
    accepts it (a refused one is named with the `rule` it breaks, and ignored), else
    `default`.
    """
    key, kept = f"url_{param}", f"_kept_{param}"
    if key not in st.session_state:
        value = st.session_state.get(kept, default)
        requested = st.session_state.get(_SNAPSHOT, {}).get(param, [])
        if requested:
            parsed = parse(requested[0])
            if parsed is _REFUSED:
                st.warning(f"URL parameter '{param}': {shown(requested[0])} {rule}; ignored.",
                           icon=":material/link_off:")
            else:
                value = parsed
        st.session_state[key] = value
    return key


def _kept(param: str, value: Any, text: str) -> Any:
    """Keep a page widget's value for the session and write it to the URL."""
    st.session_state[f"_kept_{param}"] = value
    if text:
        st.query_params[param] = text
    else:
        st.query_params.pop(param, None)
    return value


def url_choice(label: str, options: Sequence[Any], param: str, default: Any,
               format_func: Callable[[Any], str] = str, widget: str = "selectbox",
               resets: Mapping[str, Any] | None = None, **widget_kwargs: Any) -> Any:
    """A page widget whose value lives in the URL as `param`, validated against `options`.

    An unknown value in the link is ignored with a warning naming the parameter. The choice is
    also kept in the session, so that leaving the page and coming back keeps it.
    """
    text_options = {str(option): option for option in options}
    key = _seeded_key(param, default, lambda raw: text_options.get(raw, _REFUSED),
                      f"is not one of {', '.join(text_options)}")
    changed = {"on_change": _page_choice_changed, "kwargs": {"resets": resets}}
    if widget == "selectbox":
        value = st.selectbox(label, list(options), format_func=format_func, key=key,
                             **changed, **widget_kwargs)
    else:
        value = st.segmented_control(label, list(options), format_func=format_func, key=key,
                                     required=True, **changed, **widget_kwargs)
    if value is None:  # seen under load: a run whose widget state arrived empty
        value = st.session_state.get(f"_kept_{param}", default)
    return _kept(param, value, str(value))


def url_number(label: str, param: str, default: int, low: int, high: int,
               fit: Callable[[int], int] | None = None, **kwargs: Any) -> int:
    """A whole-number setting in the URL, bounded; a bad value is named and ignored.

    `fit` maps the value asked for to the one that holds (a page past the last is the last),
    before the widget is drawn: the widget and the URL then show the value used.
    """
    def parse(raw: str) -> int | object:
        # ASCII digits, and short: str.isdigit() accepts '²', and int() refuses both that
        # and numbers of over 4,300 digits.
        if (raw.isascii() and raw.isdigit() and len(raw) <= len(str(high))
                and low <= int(raw) <= high):
            return int(raw)
        return _REFUSED

    key = _seeded_key(param, default, parse, f"must be a whole number within {low}..{high}")
    if fit is not None:
        st.session_state[key] = fit(int(st.session_state[key]))
    value = int(st.number_input(label, min_value=low, max_value=high, step=1, key=key,
                                on_change=_page_choice_changed, **kwargs))
    return _kept(param, value, str(value))


def url_text(label: str, param: str, max_chars: int, resets: Mapping[str, Any] | None = None,
             **kwargs: Any) -> str:
    """Free text in the URL (a search); a link's value that is too long or holds control
    characters is named and ignored. Blank means none: the URL then leaves `param` out."""
    key = _seeded_key(param, "", lambda raw: raw.strip() if (
        len(raw) <= max_chars and raw.isprintable()) else _REFUSED,
        f"must be printable text of at most {max_chars} characters")
    value = st.text_input(label, max_chars=max_chars, key=key, on_change=_page_choice_changed,
                          kwargs={"resets": resets}, **kwargs).strip()
    return _kept(param, value, value)


LINK_EXACT = ("This exact view: {range}, {grain}, {filters}. The link also keeps the "
              "page's own choices.")
LINK_ROLLING = "Rolling link: always the {preset}, {grain}, {filters}."
GRAIN_PHRASES = {"day": "per day", "week": "per week", "month": "per month"}
COPY_LINK = "Copy link"


def link_texts(view: ViewState) -> tuple[str, str | None]:
    """The exact link of this view (with the page's own choices) and, for a preset, the
    rolling bookmark; None when the range is custom."""
    base = st.context.url or ""
    own = {name: st.query_params.get_all(name) for name in PAGE_PARAMS
           if name in st.query_params}
    exact = f"{base}?{urlencode(view_params(view) | own, doseq=True)}"
    if view.preset == "custom":
        return exact, None
    return exact, f"{base}?{urlencode(view_params(view, rolling=True) | own, doseq=True)}"


def draw_links(view: ViewState) -> None:
    """The links, each under a sentence naming the dates, granularity and active filters."""
    exact, rolling = link_texts(view)
    grain, named_filters = GRAIN_PHRASES[view.granularity], filters_line(view)
    st.caption(LINK_EXACT.format(range=view.label, grain=grain, filters=named_filters))
    st.code(exact, language=None, wrap_lines=True)
    if rolling is not None:
        st.caption(LINK_ROLLING.format(preset=PRESETS[view.preset].lower(), grain=grain,
                                       filters=named_filters))
        st.code(rolling, language=None, wrap_lines=True)


def share_links(view: ViewState) -> None:
    """The 'Copy link' control (drawn where the caller is): the exact view, and a rolling bookmark.

    Drawn after the page has run, so the links carry the page's own choices (the NPS split,
    the chosen operator…) as well as the sidebar's view.
    """
    with st.expander(COPY_LINK, icon=":material/link:"):
        draw_links(view)
