"""URL parameters -> dashboard view: strict parsing, warnings naming the parameter, round trip."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from data_access.alerts import nps_falling_alert, nps_target_alert, overview_alerts
from data_access.dates import period_of, period_starts
from ui.view_state import (
    DEFAULT_GRANULARITY,
    MAX_PERIODS,
    NO_FILTERS,
    PRESETS,
    ViewState,
    filters_line,
    filters_slug,
    fit_periods,
    named,
    parse_view,
    period_count,
    preset_is_stale,
    preset_range,
    shown,
    view_params,
)

TODAY = dt.date(2026, 11, 25)
HOSTILE = ["'; DROP TABLE contacts;--", "<script>alert(1)</script>", "99999-01-01", "", "%00",
           "2026-02-30", "1e9", "../../etc/passwd"]


@pytest.mark.parametrize("preset, start", [
    ("last_30_days", dt.date(2026, 10, 27)),
    ("quarter_to_date", dt.date(2026, 10, 1)),
    ("year_to_date", dt.date(2026, 1, 1)),
    ("last_12_months", dt.date(2025, 11, 26)),
])
def test_presets_end_today(preset, start):
    assert preset_range(preset, TODAY) == (start, TODAY)


def test_quarter_to_date_on_the_first_day_of_a_quarter():
    assert preset_range("quarter_to_date", dt.date(2026, 4, 1)) == (dt.date(2026, 4, 1),
                                                                   dt.date(2026, 4, 1))
    assert preset_range("last_12_months", dt.date(2024, 2, 29))[0] == dt.date(2023, 3, 2)


def test_empty_url_gives_the_default_view():
    view, warnings = parse_view({}, TODAY)
    assert warnings == []
    assert (view.preset, view.start, view.end) == ("last_30_days", dt.date(2026, 10, 27), TODAY)
    assert view.granularity == DEFAULT_GRANULARITY


def test_full_url_round_trips():
    params = {"range": ["custom"], "from": ["2022-01-01"], "to": ["2022-03-31"],
              "grain": ["month"], "region": ["almaty_city", "astana"],
              "channel": ["telegram"], "service": ["connection"]}
    view, warnings = parse_view(params, TODAY)
    assert warnings == []
    assert view == ViewState("custom", dt.date(2022, 1, 1), dt.date(2022, 3, 31), "month",
                             ("almaty_city", "astana"), ("telegram",), ("connection",))
    assert view_params(view) == params
    assert parse_view(view_params(view), TODAY)[0] == view


def test_exact_link_keeps_its_dates_when_opened_later():
    """A copied 'last 30 days' link shows the same dates tomorrow (as custom)."""
    view, _ = parse_view({"range": ["last_30_days"]}, TODAY)
    link = view_params(view)
    assert link["from"] == ["2026-10-27"]
    same_day, _ = parse_view(link, TODAY)
    assert same_day.preset == "last_30_days"
    next_day, warnings = parse_view(link, TODAY + dt.timedelta(days=1))
    assert warnings == []
    assert (next_day.preset, next_day.start, next_day.end) == (
        "custom", dt.date(2026, 10, 27), TODAY)


def test_rolling_link_follows_the_calendar():
    view, _ = parse_view({"range": ["year_to_date"]}, TODAY)
    rolling = view_params(view, rolling=True)
    assert "from" not in rolling and "to" not in rolling
    later, _ = parse_view(rolling, dt.date(2027, 2, 3))
    assert (later.start, later.end) == (dt.date(2027, 1, 1), dt.date(2027, 2, 3))


@pytest.mark.parametrize("name", ["range", "from", "to", "grain", "region", "channel",
                                  "service"])
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_ignored_with_a_warning_naming_the_parameter(name, value):
    view, warnings = parse_view({name: [value], "region": ["astana"]} if name != "region"
                                else {name: [value]}, TODAY)
    assert len(warnings) == 1, warnings
    assert f"'{name}'" in warnings[0]
    assert view.start <= view.end
    if name != "region":  # the valid parameter next to the bad one still applies
        assert view.regions == ("astana",)


def test_unknown_parameter_and_repeats_are_reported():
    view, warnings = parse_view({"regoin": ["astana"], "grain": ["day", "month"]}, TODAY)
    assert any("'regoin'" in warning for warning in warnings)
    assert any("'grain' is given 2 times" in warning for warning in warnings)
    assert view.granularity == "day"


def test_reversed_dates_are_ignored():
    view, warnings = parse_view({"from": ["2022-03-01"], "to": ["2022-01-01"]}, TODAY)
    assert "wrong order" in warnings[0]
    assert view.preset == "last_30_days"


def test_one_sided_date_is_completed_sensibly():
    view, warnings = parse_view({"from": ["2026-11-01"]}, TODAY)
    assert warnings == []
    assert (view.start, view.end, view.preset) == (dt.date(2026, 11, 1), TODAY, "custom")
    view, _ = parse_view({"to": ["2021-05-01"]}, TODAY)
    assert view.start <= view.end == dt.date(2021, 5, 1)


def test_previous_period_has_the_same_length():
    view, _ = parse_view({"from": ["2022-03-01"], "to": ["2022-03-31"]}, TODAY)
    assert (view.previous.start, view.previous.end) == (dt.date(2022, 1, 29),
                                                        dt.date(2022, 2, 28))


@given(st.dictionaries(st.sampled_from(["range", "from", "to", "grain", "region", "channel",
                                        "service", "x"]),
                       st.lists(st.text(max_size=30), max_size=3), max_size=8))
def test_any_url_parses_to_a_valid_view(params):
    view, _warnings = parse_view(params, TODAY)
    assert view.preset in PRESETS
    assert view.start <= view.end
    assert parse_view(view_params(view), TODAY)[0] == view


def test_alert_rules():
    assert nps_target_alert(42, 3, 40) is None
    assert nps_target_alert(38, 3, 40).level == "warning"
    assert nps_target_alert(30, 3, 40).level == "error"
    import polars as pl
    falling = pl.DataFrame({"period": [1, 2, 3, 4], "nps": [50.0, 48.0, 45.0, 41.0]})
    assert "fallen for 2 weeks" in nps_falling_alert(falling, "week").message
    counted = falling.with_columns(responses=pl.Series([500, 900, 1200, 40]))
    assert "900 → 1,200 → 40 responses" in nps_falling_alert(counted, "week").message
    rising_last = pl.DataFrame({"period": [1, 2, 3], "nps": [50.0, 45.0, 46.0]})
    assert nps_falling_alert(rising_last, "week") is None
    assert nps_falling_alert(falling.head(2), "week") is None
    alerts = overview_alerts(35, 2, 40, falling, "month", 200, 150)
    assert [alert.level for alert in alerts] == ["error", "warning", "error"]
    assert "200 appeals are open" in alerts[2].message
    assert overview_alerts(45, 2, 40, rising_last, "month", 100, 150) == []


@pytest.mark.parametrize("granularity, start, end, expected", [
    ("day", dt.date(2026, 2, 27), dt.date(2026, 3, 2),
     [dt.date(2026, 2, 27), dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2026, 3, 2)]),
    ("week", dt.date(2026, 11, 25), dt.date(2026, 12, 7),  # Wednesday .. Monday
     [dt.date(2026, 11, 23), dt.date(2026, 11, 30), dt.date(2026, 12, 7)]),
    ("month", dt.date(2025, 12, 31), dt.date(2026, 2, 1),
     [dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)]),
])
def test_every_period_of_a_range(granularity, start, end, expected):
    assert period_starts(start, end, granularity) == expected
    assert [period_of(day, granularity) for day in (start, end)] == [expected[0], expected[-1]]


def test_a_preset_left_open_overnight_is_stale():
    start, end = preset_range("last_30_days", TODAY)
    yesterday = ViewState("last_30_days", start - dt.timedelta(days=1), end - dt.timedelta(days=1),
                          "week")
    assert preset_is_stale(yesterday, TODAY)
    assert not preset_is_stale(ViewState("last_30_days", start, end, "week"), TODAY)
    assert not preset_is_stale(ViewState("custom", start, end, "week"), TODAY + dt.timedelta(1))


@pytest.mark.parametrize("value", ["[Sign in](https://evil.example/)", "![x](http://h/p.png)",
                                   ":red[**URGENT**]", "a``b`", "`", "$x$ <b>"])
def test_echoed_values_are_code_spans_the_value_cannot_close(value):
    text = shown(value)
    fence = text.split(" ", 1)[0]
    assert set(fence) == {"`"} and text.endswith(" " + fence)
    inner = text[len(fence) + 1:-len(fence) - 1]
    assert inner == repr(value)
    assert fence not in inner


def test_extreme_ranges_stay_drawable():
    whole = ViewState("custom", dt.date(1900, 1, 1), dt.date(2999, 12, 31), "day")
    fitted, warnings = fit_periods(whole)
    assert (fitted.granularity, fitted.end) == ("month", whole.end)
    assert period_count(fitted.start, fitted.end, "month") == MAX_PERIODS
    assert len(warnings) == 1 and "'from'" in warnings[0] and "401,767 days" in warnings[0]
    decades = ViewState("custom", dt.date(2000, 1, 1), dt.date(2026, 11, 25), "day")
    fitted, warnings = fit_periods(decades)
    assert (fitted.start, fitted.granularity) == (decades.start, "month")
    assert "'grain'" in warnings[0]
    two_years = ViewState("custom", dt.date(2024, 11, 26), dt.date(2026, 11, 25), "day")
    assert fit_periods(two_years) == (two_years, [])
    view, warnings = parse_view({"from": ["1900-01-01"], "to": ["2999-12-31"],
                                 "grain": ["day"]}, TODAY)
    assert view.granularity == "month" and any("'from'" in w for w in warnings)


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_period_count_matches_the_periods(granularity):
    start, end = dt.date(2025, 12, 30), dt.date(2026, 11, 25)
    assert period_count(start, end, granularity) == len(period_starts(start, end, granularity))


def test_another_pages_parameter_is_named_on_a_first_link():
    params = {"split": ["region"], "min_ratings": ["5"]}
    _, on_overview = parse_view(params, TODAY, page="")
    assert any("'split'" in w and "/nps" in w for w in on_overview), on_overview
    assert any("'min_ratings'" in w and "/agents" in w for w in on_overview), on_overview
    _, on_agents = parse_view(params, TODAY, page="agents")
    assert [w for w in on_agents if "'split'" in w] and not [
        w for w in on_agents if "'min_ratings'" in w]
    assert parse_view(params, TODAY)[1] == []  # no page given: nothing to compare with


@pytest.mark.parametrize("today", [dt.date(2026, 12, 3), dt.date(2024, 2, 29),
                                   dt.date(2026, 1, 1)])
def test_last_12_months_is_exactly_the_last_365_days_and_says_so(today):
    """Finding 3: in December it was 1 January – today, the same as year to date."""
    start, end = preset_range("last_12_months", today)
    assert end == today and (end - start).days + 1 == 365
    assert PRESETS["last_12_months"] == "Last 365 days"
    if today.month == 12:
        assert (start, end) != preset_range("year_to_date", today)


def test_active_filters_in_one_line_of_names():
    """Finding 4: "Almaty, Astana · WhatsApp", names not codes; nothing chosen says so."""
    view = ViewState("custom", dt.date(2026, 11, 1), dt.date(2026, 11, 30), "week",
                     regions=("almaty_city", "astana"), channels=("whatsapp",))
    assert filters_line(view) == "Almaty, Astana · WhatsApp"
    assert filters_slug(view) == "almaty_city-astana_whatsapp"
    everything = ViewState("custom", view.start, view.end, "week")
    assert filters_line(everything) == NO_FILTERS == "All regions, channels and service types"
    many = ViewState("custom", view.start, view.end, "week",
                     regions=("abai", "akmola", "aktobe", "atyrau"))
    assert filters_slug(many) == "4-regions"


def test_one_mapping_from_codes_to_names():
    """Finding 5: every code column a dashboard shows goes through one mapping."""
    import polars as pl
    frame = pl.DataFrame({"channel": ["web_cabinet"], "region": ["almaty_city"],
                          "reason": ["long_wait"], "stage": ["under_review"],
                          "served_by": ["self_service"], "kind": ["appeal"],
                          "team": ["front_line"], "reason_unknown": ["x"]})
    assert named(frame).row(0) == ("Web cabinet TELECOM.KZ", "Almaty", "Long wait",
                                   "Under review", "Self-service", "Appeal", "Front line", "x")
    assert named(frame.with_columns(reason=pl.lit("imported_reason")))["reason"][0] == (
        "imported_reason")
