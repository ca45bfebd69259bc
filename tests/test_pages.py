"""Every dashboard page through app.py's frame (AppTest) on a seeded demo database.

The demo story covers 2021-01..2022-07, so every test opens a link with explicit dates.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from sqlalchemy import inspect
from streamlit.testing.v1 import AppTest

from data_access.config import local_today
from data_access.engine import create_db_engine
from tests.conftest import insert_answered_contacts
from ui import cache, filters, settings, simulator
from ui.layout import Tile
from ui.view_state import preset_range

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = {"overview": None, "nps": "pages/nps.py", "complaints": "pages/complaints.py",
         "channels": "pages/channels.py", "agents": "pages/agents.py"}
TITLES = {"overview": "ServicePulse overview", "nps": "NPS",
          "complaints": "Complaints & appeals", "channels": "Channels",
          "agents": "Agent performance"}
# The first tile of each page, which a region filter must change.
FIRST_TILE = {"overview": "NPS", "nps": "NPS", "complaints": "Complaints",
              "channels": "Contacts online", "agents": "Ratings"}
SUMMER = {"from": "2022-06-01", "to": "2022-07-31", "grain": "week"}
HOSTILE = {"region": ["'; DROP TABLE contacts;--"], "channel": ["<script>alert(1)</script>"],
           "from": ["99999-01-01"], "grain": ["<img src=x onerror=alert(1)>"],
           "range": ["forever"], "bogus": ["1"], "split": ["<b>x</b>"],
           "case_by": ["'; --"], "min_ratings": ["-5"], "operator": ["<script>"],
           "find": ["bek\x00"], "order": ["sideways"], "page": ["0"]}


def open_page(monkeypatch, url: str, page: str, params: dict) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    if PAGES[page]:
        # A browser opens the deep link directly; AppTest starts on the default page, whose
        # run rewrites the URL without other pages' parameters. Give them again on the switch.
        at.switch_page(PAGES[page])
        for name, value in params.items():
            at.query_params[name] = value
        at.run()
    return at


def as_list(value: str | list[str]) -> list[str]:
    """AppTest gives a parameter's single value as a string, repeated values as a list."""
    return value if isinstance(value, list) else [value]


def granularity(at: AppTest) -> str:
    return next(group for group in at.get("button_group") if group.key == "view_grain").value


def tiles(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def assert_clean(at: AppTest, page: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    # Threshold alerts are errors too; a database or page failure must not be among them.
    assert not [e.value for e in at.error if "alert" not in e.icon and "warning" not in e.icon]
    assert at.title[0].value == TITLES[page]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_figures_on_both_backends(monkeypatch, seeded_url, page):
    at = open_page(monkeypatch, seeded_url, page, SUMMER)
    assert_clean(at, page)
    values = tiles(at)
    assert values[FIRST_TILE[page]] not in ("—", "0"), values
    assert not at.info, [i.value for i in at.info]  # no empty state on a full range
    assert any("As of" in caption.value for caption in at.caption)


@pytest.mark.parametrize("page", PAGES)
def test_changing_a_filter_changes_a_kpi(monkeypatch, seeded_sqlite_url, page):
    at = open_page(monkeypatch, seeded_sqlite_url, page, SUMMER)
    before = tiles(at)[FIRST_TILE[page]]
    at.multiselect(key="view_regions").set_value(["astana"]).run()
    assert_clean(at, page)
    after = tiles(at)[FIRST_TILE[page]]
    assert after != before
    assert as_list(at.query_params["region"]) == ["astana"]


@pytest.mark.parametrize("page, own", [
    ("overview", {}), ("nps", {"split": "region"}), ("complaints", {"case_by": "channel"}),
    ("channels", {}), ("agents", {"min_ratings": "5"}),
])
def test_query_params_round_trip(monkeypatch, seeded_sqlite_url, page, own):
    params = {"range": "custom", "from": "2022-03-01", "to": "2022-05-31", "grain": "month",
              "region": ["almaty_city", "astana"], "channel": ["telegram", "office"],
              "service": ["connection"], **own}
    at = open_page(monkeypatch, seeded_sqlite_url, page, params)
    assert_clean(at, page)
    assert at.selectbox(key="view_preset").value == "custom"
    assert at.date_input(key="view_dates").value == (dt.date(2022, 3, 1), dt.date(2022, 5, 31))
    assert granularity(at) == "month"
    assert at.multiselect(key="view_regions").value == ["almaty_city", "astana"]
    assert at.multiselect(key="view_channels").value == ["telegram", "office"]
    assert at.multiselect(key="view_services").value == ["connection"]
    for name, value in own.items():
        assert str(at.session_state[f"url_{name}"]) == value
    assert ({name: as_list(at.query_params[name]) for name in params}
            == {name: as_list(value) for name, value in params.items()})
    links = [code.value for code in at.sidebar.code]
    assert len(links) == 1, links
    assert "from=2022-03-01" in links[0] and "region=almaty_city" in links[0]
    assert all(f"{name}={value}" in links[0] for name, value in own.items()), links


@pytest.mark.parametrize("page", PAGES)
def test_hostile_params_warn_and_are_ignored(monkeypatch, seeded_sqlite_url, page):
    at = open_page(monkeypatch, seeded_sqlite_url, page, {**SUMMER, **HOSTILE, "from": "x"})
    assert not at.exception, [e.value for e in at.exception]
    warnings = " ".join(w.value for w in at.warning)
    for name in ("region", "channel", "from", "grain", "range", "bogus"):
        assert f"'{name}'" in warnings, (name, warnings)
    page_params = {"nps": ["split"], "complaints": ["case_by"],
                   "agents": ["min_ratings", "find", "order", "page"]}.get(page, [])
    for page_param in page_params:
        assert f"'{page_param}'" in warnings, (page_param, warnings)
    assert at.multiselect(key="view_regions").value == []
    assert granularity(at) == "week"
    engine = create_db_engine(seeded_sqlite_url)
    assert inspect(engine).has_table("contacts")


@pytest.mark.parametrize("page", PAGES)
def test_filters_that_leave_no_rows_say_so(monkeypatch, seeded_sqlite_url, page):
    at = open_page(monkeypatch, seeded_sqlite_url, page,
                   {"from": "2019-01-01", "to": "2019-03-31"})
    assert_clean(at, page)
    assert at.info, "an empty range must show a friendly message"
    assert all("No " in info.value for info in at.info)


@pytest.mark.parametrize("page", PAGES)
def test_unreachable_database_gives_one_masked_banner_with_retry(monkeypatch, page):
    at = open_page(monkeypatch, "postgresql+psycopg://reader:s3cret@127.0.0.1:1/sp", page, {})
    assert not at.exception
    assert len(at.error) == 1
    assert "reader:***@127.0.0.1:1/sp" in at.error[0].value
    assert "s3cret" not in at.error[0].value
    assert any(button.label == "Retry now" for button in at.button)


@pytest.mark.parametrize("share_s", [1, 1_000_000])  # 11 days: no window ends mid-test
def test_new_rows_show_on_the_next_run(monkeypatch, seeded_sqlite_url, tmp_path, share_s):
    """The caches are keyed by the data version: an insert is not hidden by the TTL.

    A longer SERVICEPULSE_VERSION_SHARE_S keeps one version for that long (shared by viewers).
    """
    monkeypatch.setattr(cache, "VERSION_SHARE_SECONDS", share_s)
    path = tmp_path / "live.db"
    shutil.copy(seeded_sqlite_url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    at = open_page(monkeypatch, url, "overview", SUMMER)
    before = int(tiles(at)["Survey responses"].replace(",", ""))
    insert_answered_contacts(url, 7, dt.datetime(2022, 7, 31, 12, 0))
    time.sleep(1.1)  # the default: the data version is read at most once a second
    at.run()
    shown = int(tiles(at)["Survey responses"].replace(",", ""))
    assert shown == (before + 7 if share_s == 1 else before)
    if share_s > 1:
        cache.shared_data_version.clear()  # as when the shared window ends
        at.run()
        assert int(tiles(at)["Survey responses"].replace(",", "")) == before + 7


def test_copy_link_is_drawn_after_the_page_and_carries_its_choices(monkeypatch,
                                                                   seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, "agents", {**SUMMER, "min_ratings": "7"})
    at.number_input(key="url_min_ratings").set_value(9).run()
    assert_clean(at, "agents")
    links = [code.value for code in at.sidebar.code]
    assert len(links) == 1, links  # custom dates: no rolling link
    assert "min_ratings=9" in links[0] and "from=2022-06-01" in links[0]


@pytest.mark.parametrize("raw", ["²", "9" * 5000, "٣", "1e3", " 7"])
def test_odd_numbers_in_the_link_are_named_and_ignored(monkeypatch, seeded_sqlite_url, raw):
    at = open_page(monkeypatch, seeded_sqlite_url, "agents", {**SUMMER, "min_ratings": raw})
    assert_clean(at, "agents")
    assert any("'min_ratings'" in warning.value for warning in at.warning)
    assert at.number_input(key="url_min_ratings").value == settings.min_ratings_default()


def test_a_calendar_pick_over_a_preset_makes_the_range_custom(monkeypatch, seeded_sqlite_url):
    """The first click of a new range must not be overwritten by the preset's dates."""
    at = open_page(monkeypatch, seeded_sqlite_url, "overview", {"range": "year_to_date"})
    assert at.selectbox(key="view_preset").value == "year_to_date"
    at.date_input(key="view_dates").set_value((dt.date(2022, 6, 1),)).run()
    assert not at.exception
    assert at.selectbox(key="view_preset").value == "custom"
    assert at.date_input(key="view_dates").value == (dt.date(2022, 6, 1),)
    assert any("Pick the end date" in caption.value for caption in at.sidebar.caption)
    at.date_input(key="view_dates").set_value((dt.date(2022, 6, 1), dt.date(2022, 7, 31))).run()
    assert_clean(at, "overview")
    assert (at.query_params["range"], at.query_params["from"], at.query_params["to"]) == (
        "custom", "2022-06-01", "2022-07-31")


def test_a_preset_moves_on_with_the_calendar(monkeypatch, seeded_sqlite_url):
    today = local_today()
    at = open_page(monkeypatch, seeded_sqlite_url, "overview", {"range": "last_30_days"})
    assert at.date_input(key="view_dates").value == preset_range("last_30_days", today)
    tomorrow = today + dt.timedelta(days=1)
    for module in (filters, cache):
        monkeypatch.setattr(module, "local_today", lambda: tomorrow)
    at.run()
    assert at.date_input(key="view_dates").value == preset_range("last_30_days", tomorrow)
    assert at.query_params["to"] == tomorrow.isoformat()
    assert at.session_state["view"].end == tomorrow


def test_live_refresh_and_simulator_inputs_survive_a_round_trip(monkeypatch, seeded_sqlite_url):
    monkeypatch.setenv("SERVICEPULSE_DEMO_SCALE", "0.01")
    at = open_page(monkeypatch, seeded_sqlite_url, "overview", SUMMER)
    at.toggle(key="live_refresh").set_value(False).run()
    at.switch_page("pages/simulator.py")
    at.query_params["reps"] = "3"
    at.query_params["wd"] = "2"
    at.run()
    assert not at.exception
    assert "from" not in at.query_params
    at.switch_page("pages/overview.py").run()
    assert_clean(at, "overview")
    assert at.toggle(key="live_refresh").value is False
    assert at.query_params["from"] == "2022-06-01"  # the dashboards' view came back
    assert "wd" not in at.query_params
    at.switch_page("pages/simulator.py").run()
    assert not at.exception
    assert (at.query_params["reps"], at.query_params["wd"]) == ("3", "2")
    assert at.selectbox(key=simulator.widget_key("wd")).value == 2


def test_a_link_over_centuries_is_charted_per_month_with_a_warning(monkeypatch,
                                                                   seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, "complaints",
                   {"from": "1900-01-01", "to": "2999-12-31", "grain": "day"})
    assert_clean(at, "complaints")
    assert any("'from'" in warning.value and "per chart" in warning.value
               for warning in at.warning)
    assert granularity(at) == "month"
    assert at.query_params["grain"] == "month" and at.query_params["to"] == "2999-12-31"


def test_a_finer_granularity_than_charts_can_carry_is_coarsened(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, "overview",
                   {"from": "2019-01-01", "to": "2022-07-31", "grain": "month"})
    next(group for group in at.get("button_group") if group.key == "view_grain").set_value(
        "day").run()
    assert_clean(at, "overview")
    assert granularity(at) == "week"
    assert any("'grain'" in warning.value for warning in at.warning)


# --- Empty states of fixed grids, the e-Otinish section, the rated-share target -------------

EMPTY_RANGE = {"from": "2019-01-01", "to": "2019-03-31"}  # before the story starts
E_OTINISH_YEARS = {"from": "2022-02-01", "to": "2022-07-31"}  # every e-Otinish appeal


def drawn_charts(at: AppTest) -> dict[str, list[pl.DataFrame]]:
    """Each drawn Altair chart by title, with the data it was given (one frame per dataset)."""
    drawn = {}
    for chart in at.get("vega_lite_chart"):
        title = json.loads(chart.proto.spec).get("title")
        drawn[title["text"] if isinstance(title, dict) else str(title)] = [
            pl.from_arrow(pa.ipc.open_stream(dataset.data.data).read_all())
            for dataset in chart.proto.datasets]
    return drawn


def infos(at: AppTest) -> list[str]:
    return [info.value for info in at.info]


@pytest.mark.parametrize("page", PAGES)
def test_an_empty_range_draws_no_chart_or_table_of_zeros(monkeypatch, seeded_sqlite_url, page):
    """Fixed grids (scores 1-5, funnel stages, weekday x hour) have rows even with no data."""
    at = open_page(monkeypatch, seeded_sqlite_url, page, EMPTY_RANGE)
    assert_clean(at, page)
    assert not drawn_charts(at), list(drawn_charts(at))
    assert not at.dataframe, [table.value.shape for table in at.dataframe]
    assert not at.get("download_button")  # nothing drawn, nothing to download
    assert infos(at) and all(text.startswith("No ") for text in infos(at)), infos(at)


def test_offices_only_leave_the_24x7_heatmap_with_a_message(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, "channels", {**SUMMER, "channel": "office"})
    assert_clean(at, "channels")
    charts = drawn_charts(at)
    assert not [title for title in charts if title.startswith("Contacts per hour and weekday")]
    assert any(title.startswith("Contacts per channel") for title in charts), list(charts)
    assert [text for text in infos(at) if "24/7" in text and text.startswith("No ")], infos(at)


@pytest.mark.parametrize("channel", ["telegram", "e_otinish"])
def test_the_e_otinish_section_follows_the_tiles_filters(monkeypatch, seeded_url, channel):
    """Tile, funnel and open list count the same appeals, on both backends."""
    at = open_page(monkeypatch, seeded_url, "complaints",
                   {**E_OTINISH_YEARS, "grain": "month", "channel": channel})
    assert_clean(at, "complaints")
    tile = int(tiles(at)["e-Otinish appeals"].replace(",", ""))
    funnels = [frames for title, frames in drawn_charts(at).items()
               if title.startswith("Stages reached by e-Otinish appeals")]
    if channel == "telegram":
        assert tile == 0
        assert not funnels
        assert "No e-Otinish appeals for these filters." in infos(at)
        assert "No open e-Otinish appeals for these filters." in infos(at)
        assert not [frame for frame in at.dataframe if "external_id" in frame.value.columns]
        return
    assert len(funnels) == 1
    stages = dict(zip(funnels[0][0]["stage"], funnels[0][0]["cases"], strict=True))
    assert stages["Received"] == tile > 0  # stages by name, not code
    # The range holds every e-Otinish appeal, so the open list is what is neither closed.
    lists = [frame.value for frame in at.dataframe if "external_id" in frame.value.columns]
    still_open = lists[0].shape[0] if lists else 0
    assert still_open == stages["Received"] - stages["Answered"] - stages["Withdrawn"]


def test_the_rated_share_target_must_be_beaten():
    """Domain: "more than 85%" of front-line operators rated; exactly 85% falls short."""
    def note(value: float) -> str | None:
        return Tile("Rated", value, digits=1, percent=True, target=0.85,
                    beat_target=True).target_note

    assert note(0.85) == "Target more than 85.0%: +0.0 pp, off target"
    assert note(0.8512) == "Target more than 85.0%: +0.1 pp, on target"
    assert note(0.80) == "Target more than 85.0%: -5.0 pp, off target"
    reached = Tile("NPS", 40.0, digits=1, target=40)  # other targets are met when reached
    assert reached.target_note == "Target 40.0: +0.0, on target"
    under = Tile("Open", 150, lower_is_better=True, target=150, beat_target=True)
    assert under.target_note == "Target less than 150: +0, off target"


def operator_rows(at: AppTest) -> list[dict]:
    """The operators table of the agents page (the first dataframe with a rank column)."""
    frame = next(table.value for table in at.dataframe if "rank" in table.value.columns)
    return frame.to_dict("records")


def test_a_shared_link_reproduces_the_operator_search_order_and_page(monkeypatch,
                                                                      seeded_sqlite_url):
    monkeypatch.setenv("SERVICEPULSE_OPERATORS_PER_PAGE", "5")
    at = open_page(monkeypatch, seeded_sqlite_url, "agents",
                   {**SUMMER, "find": "A", "order": "worst", "page": "2", "min_ratings": "5"})
    assert_clean(at, "agents")
    rows = operator_rows(at)
    assert len(rows) == 5 and all("a" in row["name"].lower() for row in rows)
    ranks = [int(row["rank"]) for row in rows if row["ranked"]]
    assert ranks == sorted(ranks, reverse=True)
    caption = next(c.value for c in at.caption if c.value.startswith("Page "))
    assert caption.startswith("Page 2 of ") and "matching of" in caption
    link = next(code.value for code in at.sidebar.code)
    assert all(part in link for part in ("find=A", "order=worst", "page=2"))
    # A new search starts on page 1, and the link follows.
    at.text_input(key="url_find").set_value("OP0001").run()
    assert_clean(at, "agents")
    assert at.number_input(key="url_page").value == 1
    assert all(row["operator"].startswith("OP0001") for row in operator_rows(at))
    assert "find=OP0001" in next(code.value for code in at.sidebar.code)
    # So does a new order.
    at.number_input(key="url_page").set_value(2).run()
    at.segmented_control(key="url_order").set_value("best").run()
    assert_clean(at, "agents")
    assert at.number_input(key="url_page").value == 1


def test_a_page_past_the_last_says_so_and_shows_the_last(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, "agents", {**SUMMER, "page": "9999"})
    assert_clean(at, "agents")
    assert any("Page 9999 is past the last page" in info.value for info in at.info)
    assert operator_rows(at)
    # The pager and the link show the page used, so its stepper works from there.
    assert at.number_input(key="url_page").value == 1
    assert "page=1" in next(code.value for code in at.sidebar.code)
    at = open_page(monkeypatch, seeded_sqlite_url, "agents", {**SUMMER, "find": "no-such-x"})
    assert_clean(at, "agents")
    assert any("No rated operator's id or name contains" in info.value for info in at.info)


def test_the_agents_tile_and_caption_state_one_rule(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, "agents", SUMMER)
    assert_clean(at, "agents")
    captions = [caption.value for caption in at.caption]
    assert [text for text in captions if text.startswith("Target more than 85.0%: ")], captions
    assert [text for text in captions if text.startswith("Target: more than 85% ")], captions


@pytest.mark.parametrize("page", PAGES)
def test_no_deltas_against_a_period_before_the_data(monkeypatch, seeded_sqlite_url, page):
    """The story starts in January 2021: December 2020 has nothing to compare with."""
    at = open_page(monkeypatch, seeded_sqlite_url, page, {"from": "2021-01-01",
                                                          "to": "2021-01-31"})
    assert_clean(at, page)
    assert tiles(at)[FIRST_TILE[page]] not in ("—", "0")
    assert all(not metric.delta for metric in at.metric), [m.delta for m in at.metric]
    notes = [c.value for c in at.caption if c.value.startswith("No deltas")]
    assert notes == ["No deltas: the previous 31 days hold no data to compare with."]
    at = open_page(monkeypatch, seeded_sqlite_url, page, SUMMER)
    assert any(metric.delta for metric in at.metric)
    assert not [c.value for c in at.caption if c.value.startswith("No deltas")]


# --- Dashboards that never mislead a reader ---------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_no_deltas_against_a_period_that_begins_before_the_data(monkeypatch, seeded_sqlite_url,
                                                                page):
    """Finding 3: 11–31 January 2021 against 21 Dec 2020 – 10 Jan 2021, of which only ten
    days hold data: that delta would count the data's start. It is dropped, and said why."""
    at = open_page(monkeypatch, seeded_sqlite_url, page, {"from": "2021-01-11",
                                                          "to": "2021-01-31"})
    assert_clean(at, page)
    assert tiles(at)[FIRST_TILE[page]] not in ("—", "0")
    assert all(not metric.delta for metric in at.metric), [m.delta for m in at.metric]
    notes = [c.value for c in at.caption if c.value.startswith("No deltas")]
    assert notes == ["No deltas: the previous 21 days (21 Dec 2020 – 10 Jan 2021) begin "
                     "before the first day with data, so they are not a whole period to "
                     "compare with."], notes


FILTERED = {**SUMMER, "region": ["almaty_city", "astana"], "channel": "whatsapp"}
FILTER_LINE = "Almaty, Astana · WhatsApp"


@pytest.mark.parametrize("page", PAGES)
def test_active_filters_are_named_under_the_title_in_charts_and_in_the_link(
        monkeypatch, seeded_sqlite_url, page):
    """Finding 4: the view's filters, by name, under the title, in every chart's subtitle,
    in the Copy-link text (sidebar and the page's own popover)."""
    at = open_page(monkeypatch, seeded_sqlite_url, page, FILTERED)
    assert_clean(at, page)
    main_captions = [c.value for c in at.main.caption]
    assert "01 Jun 2022 – 31 Jul 2022, per week · Almaty, Astana · WhatsApp" in main_captions
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    assert specs
    for spec in specs:
        assert FILTER_LINE in spec["title"]["subtitle"], spec["title"]
    for captions in (main_captions, [c.value for c in at.sidebar.caption]):
        assert [text for text in captions if text.startswith("This exact view: ")
                and FILTER_LINE in text], captions
    assert len([code.value for code in at.main.code if "region=astana" in code.value]) == 1


def test_contacts_served_help_counts_self_service(monkeypatch, seeded_sqlite_url):
    """Finding 13: the tile counts every contact, self-service included."""
    at = open_page(monkeypatch, seeded_sqlite_url, "overview", SUMMER)
    served = next(metric for metric in at.metric if metric.proto.label == "Contacts served")
    assert "self-service" in served.proto.help and "by operators and bots." not in \
        served.proto.help


def test_the_operator_table_shows_names_and_never_none(monkeypatch, seeded_sqlite_url):
    """Findings 5 and 8: region and team by name; no trend reads "—", not "None"."""
    at = open_page(monkeypatch, seeded_sqlite_url, "agents", SUMMER)
    assert_clean(at, "agents")
    rows = operator_rows(at)
    assert rows and all(isinstance(row["trend"], str) for row in rows), rows[:3]
    assert all(row["trend"] == "—" or row["trend"][0] in "+-" for row in rows)
    assert all(row["team"] in ("Front line", "Digital team") for row in rows)
    assert not [row for row in rows if "_" in row["region"]]


# Figures an active filter cannot reach, by page: (filter parameter, value, tiles labelled).
NOT_REACHED = [
    ("complaints", "service", "consultation",
     ["Complaints", "Appeals", "e-Otinish appeals", "Open appeals", "Overdue"],
     "service type"),
    ("overview", "service", "consultation", ["Complaints", "Appeals"], "service type"),
    ("agents", "channel", "telegram", ["Front line rated (lowest month)"], "channels"),
    ("agents", "service", "consultation", ["Front line rated (lowest month)"], "service type"),
]


def tile_notes(at: AppTest) -> dict[str, tuple[str, str]]:
    """Each tile's help and the captions drawn under it, by label."""
    notes = {}
    for column in at.get("column"):
        metrics = column.get("metric")
        if len(metrics) == 1:
            notes[metrics[0].label] = (metrics[0].proto.help,
                                       " ".join(caption.value for caption in column.caption))
    return notes


@pytest.mark.parametrize("page, name, value, labelled, words", NOT_REACHED)
def test_a_figure_an_active_filter_cannot_reach_says_so(monkeypatch, seeded_sqlite_url, page,
                                                        name, value, labelled, words):
    unfiltered = open_page(monkeypatch, seeded_sqlite_url, page, SUMMER)
    assert_clean(unfiltered, page)
    assert not any("does not apply" in note or "do not apply" in note
                   for help_, caption in tile_notes(unfiltered).values()
                   for note in (help_, caption))
    at = open_page(monkeypatch, seeded_sqlite_url, page, {**SUMMER, name: value})
    assert_clean(at, page)
    notes = tile_notes(at)
    for label in labelled:
        help_, caption = notes[label]
        assert f"all {words}" in caption.lower() and "not apply" in caption, (label, caption)
        assert "not apply" in help_, (label, help_)
    # Tiles the filter does reach carry no such note.
    for label, (help_, caption) in notes.items():
        if label not in labelled:
            assert "not apply" not in caption and "not apply" not in (help_ or ""), label
    if page == "complaints":  # every chart and table of cases says it too
        assert sum("service type filter does not apply" in c.value for c in at.caption) >= 5
    if page == "complaints" and name == "service":  # the case tiles really are unfiltered
        assert tiles(at)["Complaints"] == tiles(unfiltered)["Complaints"]


def test_complaints_page_counts_overdue_cases_and_flags_them(monkeypatch, seeded_sqlite_url):
    """The story ended in 2022: every case still open is years past any target now."""
    monkeypatch.setenv("SERVICEPULSE_DEADLINE_DAYS_E_OTINISH", "12")
    at = open_page(monkeypatch, seeded_sqlite_url, "complaints", SUMMER)
    assert_clean(at, "complaints")
    overdue = int(tiles(at)["Overdue"].replace(",", ""))
    assert overdue > 0
    alerts = [e.value for e in at.error if "past their answer target" in e.value]
    assert len(alerts) == 1 and f"{overdue:,} open cases" in alerts[0]
    assert "target 12 days" in alerts[0]
    table = next(frame.value for frame in at.dataframe
                 if "overdue" in frame.value.columns)
    assert table["overdue"].all() and len(table) > 0
    assert any("e-Otinish target of 12 days" in caption.value for caption in at.caption)


def test_complaints_page_shows_resolution_with_the_open_cases_counted(monkeypatch,
                                                                     seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, "complaints", SUMMER)
    assert_clean(at, "complaints")
    table = next(frame.value for frame in at.dataframe
                 if "within_target" in frame.value.columns)
    assert {"median_h", "p90_h", "open"} <= set(table.columns) and len(table) > 0
    captions = " ".join(caption.value for caption in at.caption)
    assert "counts as not answered up to its age" in captions
    assert "Cases still open are not in it" in captions


# --- The queue on record (issue 16) ----------------------------------------------------------

def chart_titles(at: AppTest) -> list[str]:
    titles = []
    for chart in at.get("vega_lite_chart"):
        title = json.loads(chart.proto.spec).get("title")
        titles.append(title["text"] if isinstance(title, dict) else str(title))
    return titles


def with_abandons(seeded_sqlite_url: str, path: Path, count: int) -> str:
    """A copy of the seeded story with `count` chats that gave up in July 2022."""
    from sqlalchemy import func, insert, select

    from data_access.schema import Contact
    shutil.copy(seeded_sqlite_url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    engine = create_db_engine(url)
    with engine.begin() as connection:
        first = connection.scalar(select(func.max(Contact.id))) + 1
        connection.execute(insert(Contact), [
            {"id": first + n, "external_id": f"gave-up-{n}",
             "started_at": dt.datetime(2022, 7, 20, 12, n % 60), "channel_id": 2,
             "region_id": 1, "service_type_id": 1, "served_by": "abandoned",
             "operator_id": None, "wait_s": 120, "handle_s": 0, "subscriber_key": "q"}
            for n in range(count)])
    engine.dispose()
    return url


def abandoned_in_alert(at: AppTest) -> int | None:
    alerts = [w.value for w in at.warning if w.value.startswith("Abandonment is")]
    return int(alerts[0].split(": ")[1].split(" of ")[0].replace(",", "")) if alerts else None


def test_overview_shows_abandonment_and_service_level_with_an_alert(monkeypatch,
                                                                      seeded_sqlite_url,
                                                                      tmp_path):
    monkeypatch.setenv("SERVICEPULSE_ABANDONMENT_TARGET", "1")  # nothing can be above 100%
    calm = open_page(monkeypatch, seeded_sqlite_url, "overview", SUMMER)
    assert_clean(calm, "overview")
    assert {"Abandonment rate", "Answered within target"} <= set(tiles(calm))
    assert abandoned_in_alert(calm) is None
    monkeypatch.setenv("SERVICEPULSE_ABANDONMENT_TARGET", "0")
    story = abandoned_in_alert(open_page(monkeypatch, seeded_sqlite_url, "overview", SUMMER))
    url = with_abandons(seeded_sqlite_url, tmp_path / "abandons.db", 2_000)
    monkeypatch.setenv("SERVICEPULSE_ABANDONMENT_TARGET", "0.05")
    at = open_page(monkeypatch, url, "overview", SUMMER)
    assert_clean(at, "overview")
    assert float(tiles(at)["Abandonment rate"].rstrip("%")) / 100 > 0.05
    assert abandoned_in_alert(at) == (story or 0) + 2_000
    assert any("above the target of 5.0%" in w.value for w in at.warning)


def test_channels_page_draws_the_queue(monkeypatch, seeded_sqlite_url, tmp_path):
    url = with_abandons(seeded_sqlite_url, tmp_path / "abandons.db", 300)
    at = open_page(monkeypatch, url, "channels", SUMMER)
    assert_clean(at, "channels")
    titles = chart_titles(at)
    assert any(t.startswith("Abandonment rate per hour of arrival") for t in titles), titles
    assert any(t.startswith("Service level per channel against its target") for t in titles)
    assert any(t.startswith("Occupancy per pool and hour of the day") for t in titles)
    regional = open_page(monkeypatch, url, "channels", {**SUMMER, "region": ["almaty_city"]})
    assert_clean(regional, "channels")
    assert any("quarter-hour record of the queue is kept per channel only" in c.value
               for c in regional.caption)
