"""The frame's building blocks without a page: overview chart builders, CSV export, KPI tiles."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest

from data_access.metrics import (
    automated_share,
    online_offline_totals,
    open_at_end,
    period_has_data,
    rating_summary,
)
from ui import charts
from ui.layout import Tile, csv_bytes
from ui.palette import ONLINE_COLORS, TARGET_COLOR

PERIODS = [dt.date(2022, 5, 1), dt.date(2022, 6, 1)]


def marks(spec: dict) -> list[dict]:
    return [layer for layer in spec.get("layer", [spec]) if "mark" in layer]


def test_nps_trend_has_band_line_target_and_tooltips():
    frame = pl.DataFrame({"period": PERIODS, "nps": [41.0, 45.5], "nps_moe": [2.0, 1.5],
                          "responses": [900, 1000]})
    spec = charts.nps_trend(frame, 40, "NPS per month, May–June 2022").to_dict()
    assert spec["title"] == "NPS per month, May–June 2022"
    layers = marks(spec)
    assert [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
            for layer in layers] == ["area", "line", "rule"]
    assert all("tooltip" in layer["encoding"] for layer in layers)
    assert layers[0]["encoding"]["y2"]["field"] == "high"
    assert layers[2]["mark"]["color"] == TARGET_COLOR
    target_data = spec["datasets"][layers[2]["data"]["name"]]
    assert target_data == [{"target": 40}]


def test_online_offline_mix_uses_the_palette_and_shares():
    contacts = pl.DataFrame({"period": PERIODS * 2, "is_online": [True, True, False, False],
                             "contacts": [60, 70, 40, 30]})
    totals = online_offline_totals(contacts)
    assert totals.filter(pl.col("mode") == "online")["share"].to_list() == [0.6, 0.7]
    spec = charts.online_offline_mix(totals, "Contacts per month").to_dict()
    assert spec["encoding"]["color"]["scale"]["range"] == list(ONLINE_COLORS.values())
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
        "operator_hours": [40.0, 50.0, 40.0, 50.0], "service_level": [0.7, 0.85, 0.8, 0.9],
        "asa_s": [40.0, 12.0, 20.0, 8.0], "cost": [100.0, 125.0, 110.0, 135.0],
        "on_frontier": [True, True, True, True]})
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
