"""The frame's building blocks without a page: overview chart builders, CSV export, KPI tiles."""

from __future__ import annotations

import datetime as dt
import io
import re

import polars as pl
import pytest

from data_access.metrics import (
    automated_share,
    online_offline_totals,
    open_at_end,
    period_has_data,
    rating_summary,
)
from ui import charts, customer_charts, layout, operations_charts
from ui.charts import Span
from ui.layout import Tile, csv_bytes
from ui.palette import ONLINE_COLORS, TARGET_COLOR
from ui.view_state import ViewState, csv_frame

PERIODS = [dt.date(2022, 5, 1), dt.date(2022, 6, 1)]
MAY_JUNE = Span(dt.date(2022, 5, 1), dt.date(2022, 6, 30), "month")


def marks(spec: dict) -> list[dict]:
    return [layer for layer in spec.get("layer", [spec]) if "mark" in layer]


def test_nps_trend_has_band_line_target_and_tooltips():
    frame = pl.DataFrame({"period": PERIODS, "nps": [41.0, 45.5], "nps_moe": [2.0, 1.5],
                          "responses": [900, 1000]})
    spec = charts.nps_trend(frame, 40, "NPS per month, May–June 2022", MAY_JUNE).to_dict()
    assert spec["title"] == "NPS per month, May–June 2022"
    layers = marks(spec)
    assert [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
            for layer in layers] == ["area", "line", "point", "rule"]
    assert all("tooltip" in layer["encoding"] for layer in layers)
    assert layers[0]["encoding"]["y2"]["field"] == "high"
    assert layers[3]["mark"]["color"] == TARGET_COLOR
    target_data = spec["datasets"][layers[3]["data"]["name"]]
    assert target_data == [{"target": 40}]


def test_online_offline_mix_uses_the_palette_and_shares():
    contacts = pl.DataFrame({"period": PERIODS * 2, "is_online": [True, True, False, False],
                             "contacts": [60, 70, 40, 30]})
    totals = online_offline_totals(contacts)
    assert totals.filter(pl.col("mode") == "online")["share"].to_list() == [0.6, 0.7]
    spec = charts.online_offline_mix(totals, "Contacts per month", MAY_JUNE).to_dict()
    assert spec["encoding"]["color"]["scale"]["range"] == list(ONLINE_COLORS.values())
    assert spec["encoding"]["color"]["scale"]["domain"] == ["Online", "Offline"]
    assert {t["field"] for t in spec["encoding"]["tooltip"]} >= {"contacts", "share", "mode"}
    assert spec["title"] == "Contacts per month"


def test_csv_export_flattens_sparkline_lists():
    frame = pl.DataFrame({"operator": ["OP1"], "monthly_means": [[4.5, 4.25]],
                          "comment": ['He said "no", then <b>left</b>']})
    text = csv_bytes(frame).decode()
    back = pl.read_csv(io.StringIO(text))
    assert back["monthly_means"].to_list() == ["4.5;4.25"]
    assert back["comment"].to_list() == ['He said "no", then <b>left</b>']


def test_tile_deltas_and_target_notes():
    nps = Tile("NPS", 38.25, 36.0, digits=1, target=40)
    assert (nps.formatted(nps.value), nps.delta) == ("38.2", "+2.2")
    assert nps.target_note == "Target 40.0: -1.8, off target"
    share = Tile("Online share", 0.655, 0.640, digits=1, percent=True)
    assert (share.formatted(share.value), share.delta) == ("65.5%", "+1.5 pp")
    wait = Tile("Median wait", 120, 150, unit=" s", lower_is_better=True, target=130)
    assert (wait.delta, wait.target_note) == ("-30 s", "Target 130 s: -10 s, on target")
    empty = Tile("Appeals", None, 4)
    assert (empty.formatted(empty.value), empty.delta, empty.target_note) == ("—", None, None)


def test_page_summaries():
    contacts = pl.DataFrame({"contacts": [100, 50], "served_by_operator": [70, 50]})
    assert automated_share(contacts) == pytest.approx(0.2)
    assert automated_share(contacts.clear()) is None
    scores = pl.DataFrame({"score": [1, 2, 3, 4, 5], "ratings": [0, 0, 1, 1, 2]})
    assert rating_summary(scores) == (4, 4.25)
    cases = pl.DataFrame({"period": PERIODS * 2, "kind": ["appeal"] * 2 + ["complaint"] * 2,
                          "open_backlog": [10, 12, 3, 4]})
    assert open_at_end(cases, "appeal") == 12
    assert open_at_end(cases.filter(pl.col("kind") == "complaint"), "appeal") is None


def test_a_period_with_no_rows_has_no_data_to_compare_with():
    empty = {"contacts_online": 0, "contacts_offline": 0, "surveys_sent": 0, "complaints": 0,
             "appeals": 0, "nps": None}
    assert not period_has_data(empty)
    assert period_has_data({**empty, "appeals": 1})
    assert period_has_data({**empty, "contacts_offline": 3})


def test_sweep_charts_title_the_day_and_tip_every_mark_with_units():
    grid = pl.DataFrame({
        "operator_factor": [0.8, 1.0, 0.8, 1.0], "extra_bot_share": [0.0, 0.0, 0.3, 0.3],
        "operator_hours": [40.0, 50.0, 40.0, 50.0], "queue_service_level": [0.7, 0.85, 0.8, 0.9],
        "asa_s": [40.0, 12.0, 20.0, 8.0], "cost": [100.0, 125.0, 110.0, 135.0],
        "on_frontier": [True, True, True, True], "is_baseline": [False, True, False, False]})
    best = grid.row(2, named=True)
    specs = [chart.to_dict() for chart in [
        *charts.sweep_heatmaps(grid, best, "digital", "Monday", "KZT").values(),
        charts.cost_frontier(grid, 0.8, "KZT", best, "digital", "Monday")]]
    for spec in specs:
        title = spec["title"]
        assert "Monday" in f"{title['text']} {title['subtitle']}" and "digital" in str(title)
        for layer in marks(spec):
            assert all(tip.get("title") for tip in layer["encoding"]["tooltip"]), layer
    frontier = specs[-1]
    rule = next(layer for layer in marks(frontier) if layer["mark"]["type"] == "rule")
    assert frontier["datasets"][rule["data"]["name"]] == [{"sl_target": 0.8, "pools": "digital"}]
    assert {"field": "sl_target", "format": ".0%", "type": "quantitative"}.items() <= \
        rule["encoding"]["tooltip"][0].items()
    assert "Cost per day (KZT)" in {tip["title"] for tip in marks(frontier)[0]["encoding"]
                                    ["tooltip"]}


# --- Dashboards that never mislead a reader ---------------------------------------------------

DEC_4 = Span(dt.date(2026, 11, 5), dt.date(2026, 12, 4), "month")  # a 4-day December


def dataset(spec: dict, layer: dict | None = None) -> list[dict]:
    name = (layer or spec).get("data", spec.get("data", {})).get("name")
    return spec["datasets"][name]


def all_rows(spec: dict) -> list[dict]:
    return [row for rows in spec["datasets"].values() for row in rows]


def test_partial_periods_are_flagged_from_the_range_and_the_grain():
    """Finding 2: the flag is pure (range, period start, grain); tooltips say how partial."""
    assert charts.period_coverage(dt.date(2026, 12, 1), "month", DEC_4.start, DEC_4.end) == (4, 31)
    assert charts.period_coverage(dt.date(2026, 11, 1), "month", DEC_4.start, DEC_4.end) == (26, 30)
    assert charts.period_coverage(dt.date(2026, 11, 30), "week", dt.date(2026, 11, 1),
                                  dt.date(2026, 12, 31)) == (7, 7)
    assert charts.period_coverage(dt.date(2026, 12, 3), "day", DEC_4.start, DEC_4.end) == (1, 1)
    assert charts.partial_periods(DEC_4) == [(dt.date(2026, 11, 1), 26, 30),
                                             (dt.date(2026, 12, 1), 4, 31)]
    frame = pl.DataFrame({"period": [dt.date(2026, 11, 1), dt.date(2026, 12, 1)],
                          "nps": [50.0, 20.0], "nps_moe": [2.0, 9.0], "responses": [900, 90]})
    spec = charts.nps_trend(frame, 40, "NPS", DEC_4).to_dict()
    rows = {row["period_label"]: row for row in all_rows(spec) if "period_label" in row}
    assert rows["Dec 2026"]["period_note"] == "partial: 4 of 31 days"
    assert rows["Dec 2026"]["partial"] and rows["Nov 2026"]["partial"]
    points = next(layer for layer in marks(spec) if layer["mark"]["type"] == "point")
    assert points["encoding"]["fillOpacity"]["scale"]["range"] == [1, 0]  # hollow = partial
    assert {"field": "period_note", "title": "Days in range"}.items() <= {
        **points["encoding"]["tooltip"][1]}.items()
    whole = Span(dt.date(2026, 10, 1), dt.date(2026, 11, 30), "month")
    assert charts.partial_periods(whole) == []
    assert layout.partial_note(whole) is None
    assert layout.partial_note(Span(dt.date(2026, 10, 1), dt.date(2026, 12, 4), "month")) == (
        "The last period (Dec 2026) has only 4 of its 31 days in this range: it is drawn "
        "hollow or pale, and a smaller value there is not a drop.")
    assert "(Nov 2026, 26 of 30 days)" in layout.partial_note(DEC_4)


def period_frame(periods: list[dt.date], **columns) -> pl.DataFrame:
    return pl.DataFrame({"period": periods, **columns})


def test_every_trend_has_one_date_axis_per_grain_within_the_range():
    """Finding 7: "3 Nov" / "week of 3 Nov" / "Nov 2026", ticks on the points, nothing past
    the range's end (an operator with 4 days of December gets December's point, no more)."""
    days = Span(dt.date(2026, 11, 3), dt.date(2026, 11, 9), "day")
    weeks = Span(dt.date(2026, 11, 3), dt.date(2026, 11, 30), "week")
    assert list(charts.period_labels(days).values())[:2] == ["3 Nov", "4 Nov"]
    assert list(charts.period_labels(weeks).values()) == [
        "week of 2 Nov", "week of 9 Nov", "week of 16 Nov", "week of 23 Nov", "week of 30 Nov"]
    assert list(charts.period_labels(DEC_4).values()) == ["Nov 2026", "Dec 2026"]
    long_days = Span(dt.date(2025, 11, 1), dt.date(2026, 11, 30), "day")
    assert next(iter(charts.period_labels(long_days).values())) == "1 Nov 2025"  # no repeats
    operator = period_frame([dt.date(2026, 10, 1), dt.date(2026, 12, 1)], ratings=[3, 4],
                            mean_score=[4.0, 4.5], score_1=[0, 0], score_2=[0, 0],
                            score_3=[1, 0], score_4=[1, 2], score_5=[1, 2])
    contacts = period_frame([dt.date(2026, 11, 1)] * 2 + [dt.date(2026, 12, 1)] * 2,
                            channel=["whatsapp", "web_cabinet"] * 2, contacts=[5, 6, 1, 2],
                            share=[0.4, 0.6, 0.3, 0.7], online_share=[0.9] * 4,
                            period_contacts=[11, 11, 3, 3], served_by=["operator", "bot"] * 2)
    built = [
        operations_charts.operator_trend(operator, "One operator", DEC_4),
        operations_charts.channel_volume(contacts, "Volume", DEC_4),
        operations_charts.online_share_trend(contacts, "Online", DEC_4),
        operations_charts.served_by_share(contacts, "Who served", DEC_4),
    ]
    for chart in built:
        spec = chart.to_dict()
        layers = [layer for layer in marks(spec) if "x" in layer.get("encoding", {})]
        for layer in layers:
            x = layer["encoding"]["x"]
            assert x["field"] == "period_label", x
            if "scale" in x:
                assert x["scale"]["domain"] == ["Nov 2026", "Dec 2026"]
        labels = {row["period_label"] for row in all_rows(spec) if "period_label" in row}
        assert labels <= {"Nov 2026", "Dec 2026"}, labels  # October is outside the range


def test_waits_are_in_seconds_on_the_axis_and_in_tooltips():
    """Finding 6: one unit per measure (waits in seconds), and axis titles name it."""
    waits = pl.DataFrame({"channel": ["office", "whatsapp"], "contacts": [10, 20],
                          "mean_wait_s": [150.0, 40.0], "median_wait_s": [140.0, 30.0],
                          "p90_wait_s": [400.0, 90.0]})
    spec = operations_charts.wait_by_channel(waits, "Per channel").to_dict()
    titles = re.findall(r"'title': '([^']*)'", str(spec))
    assert not [title for title in titles if re.search(r"\bmin\b", title)], titles
    waited = [title for title in titles if "wait" in title.lower()]
    assert len(waited) >= 4 and all(title.endswith("(s)") for title in waited), waited
    assert marks(spec)[0]["encoding"]["x"]["title"] == "Wait of operator-served contacts (s)"
    assert {row.get("median_wait_s") for row in all_rows(spec)} >= {140.0}
    buckets = customer_charts.wait_bucket_names()
    assert buckets["1-2 min"] == "60–120" and buckets["20+ min"] == "1,200 or more"


def test_charts_and_csv_show_names_not_codes():
    """Finding 5: web_cabinet, almaty_city, long_wait, under_review never reach a reader."""
    reasons = pl.DataFrame({"reason": ["long_wait", "other"], "detractors": [8, 2],
                            "share": [0.8, 0.2], "cumulative_share": [0.8, 1.0]})
    funnel = pl.DataFrame({"stage": ["received", "under_review"], "cases": [5, 2],
                           "share": [1.0, 0.4]})
    breakdown = pl.DataFrame({"kind": ["appeal"], "region": ["almaty_city"], "received": [3],
                              "share_of_kind": [1.0]})
    volume = period_frame([dt.date(2026, 11, 1)], channel=["web_cabinet"], contacts=[4],
                          share=[1.0])
    specs = [customer_charts.detractor_pareto(reasons, "Why").to_dict(),
             customer_charts.stage_funnel(funnel, "Stages").to_dict(),
             customer_charts.case_breakdown(breakdown, "region", "Where").to_dict(),
             operations_charts.channel_volume(volume, "Volume", DEC_4).to_dict()]
    shown = " ".join(str(all_rows(spec)) + str(spec.get("encoding", "")) for spec in specs)
    for code in ("web_cabinet", "almaty_city", "long_wait", "under_review", "'appeal'"):
        assert code not in shown, code
    for name in ("Web cabinet TELECOM.KZ", "Almaty", "Long wait", "Under review", "Appeal"):
        assert name in shown, name
    view = ViewState("custom", dt.date(2026, 11, 1), dt.date(2026, 11, 30), "week",
                     regions=("almaty_city", "astana"), channels=("whatsapp",))
    out = pl.read_csv(io.StringIO(csv_bytes(csv_frame(breakdown, view)).decode()))
    assert out.columns[:3] == ["Kind", "Kind code", "Region"]
    assert {"Region": "Almaty", "Region code": "almaty_city"}.items() <= out.row(
        0, named=True).items()


def test_filters_are_named_in_the_csv_and_its_file_name():
    """Finding 4: the CSV says which view it holds, in columns and in its name."""
    view = ViewState("custom", dt.date(2026, 11, 1), dt.date(2026, 11, 30), "week",
                     regions=("almaty_city", "astana"), channels=("whatsapp",))
    frame = pl.DataFrame({"period": [dt.date(2026, 11, 2)], "nps": [50.0]})
    out = pl.read_csv(io.StringIO(csv_bytes(csv_frame(frame, view)).decode()))
    assert out.row(0, named=True) == {
        "Period from": "2026-11-02", "NPS": 50.0, "Range from": "2026-11-01",
        "Range to": "2026-11-30", "Regions filter": "Almaty, Astana",
        "Channels filter": "WhatsApp", "Service types filter": "All"}
    assert layout.csv_file_name("nps_trend", view) == (
        "servicepulse_nps_trend_2026-11-01_2026-11-30_almaty_city-astana_whatsapp.csv")
    everything = ViewState("custom", view.start, view.end, "week")
    assert layout.csv_file_name("x", everything).endswith("_all.csv")


def test_operator_table_shows_no_none_and_no_stub_sparklines():
    """Finding 8: no trend reads "—"; one or two months draw no sparkline."""
    rows = pl.DataFrame({"operator": ["OP1", "OP2", "OP3"], "team": ["front_line"] * 3,
                         "region": ["almaty_city"] * 3, "trend": [None, 0.25, -0.5],
                         "monthly_means": [[4.0], [4.0, 4.25], [4.0, 4.5, 4.0]],
                         "rank": [None, 2, 1]}, schema_overrides={"rank": pl.Int64})
    shown = layout.operator_rows(rows)
    assert shown["trend"].to_list() == ["—", "+0.25", "-0.50"]
    assert shown["rank"].to_list() == ["—", "2", "1"]
    assert shown["monthly_means"].to_list() == [None, None, [4.0, 4.5, 4.0]]
    assert shown["team"].to_list() == ["Front line"] * 3
    assert shown["region"].to_list() == ["Almaty"] * 3


def test_lowest_month_is_judged_on_whole_months_or_named_as_partial():
    """Finding 13: on 1 December the last 30 days hold 30 days of November (96%) and one
    Sunday of December (0%): the tile must not read 0%."""
    coverage = pl.DataFrame({"period": [dt.date(2026, 11, 1), dt.date(2026, 12, 1)],
                             "rated_share": [0.96, 0.0], "partial_month": [True, True],
                             "active_operators": [100, 100], "rated_operators": [96, 0]})
    value, note = layout.rated_share_tile(coverage, dt.date(2026, 11, 2), dt.date(2026, 12, 1))
    assert value == 0.96
    assert note == ("No whole month in this range: this is Nov 2026, a partial month "
                    "(29 of its 30 days).")
    whole = coverage.with_columns(partial_month=pl.Series([False, True]))
    assert layout.rated_share_tile(whole, dt.date(2026, 11, 1), dt.date(2026, 12, 1)) == (
        0.96, None)
    assert layout.rated_share_tile(coverage.clear(), dt.date(2026, 11, 1),
                                   dt.date(2026, 12, 1)) == (None, None)


def test_resolution_estimates_show_a_dash_not_none():
    """The open-cases table read "None" where a cohort is still open to tell."""
    from ui.layout import estimate_rows

    frame = pl.DataFrame({"kind": ["appeal", "complaint"], "median_h": [42.0, None],
                          "p90_h": [84.0, None], "within_target": [1.0, None]})
    rows = estimate_rows(frame)
    assert rows["median_h"].to_list() == ["42.0", "—"]
    assert rows["within_target"].to_list() == ["100%", "—"]
    assert rows["kind"].to_list() == ["Appeal", "Complaint"]
