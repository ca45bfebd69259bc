"""The "Staffing simulator" page: AppTest on a seeded SQLite file, plus its pure URL helpers.

The page runs the real simulator through the process pool, with 3 replications to stay fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from sim.config import Problem
from ui import sim_form as form
from ui import sim_results as results
from ui import simulator as planner

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/simulator.py"
UNREACHABLE = "postgresql+psycopg://reader:s3cret@127.0.0.1:1/sp"
KPI_TILES = ["Service level", "Average speed of answer", "Abandoned", "Cost per day",
             "Predicted NPS"]
# The third planner question as a link: every chart of the page is drawn, the chosen mix too.
CHEAPEST_MIX = {"sweep": "1"}


def open_page(monkeypatch, url: str, **params: str) -> AppTest:
    """The app with the simulator open, the URL carrying `params` from the first request."""
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SERVICEPULSE_DEMO_SCALE", "0.01")
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    # As a deep link to /simulator: AppTest starts on the overview, whose run keeps only the
    # dashboards' parameters in the URL, so the simulator's are given on the switch.
    at.switch_page(PAGE)
    for key, value in {"reps": "3", **params}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def kpis(at: AppTest) -> pd.DataFrame:
    tables = [d.value for d in at.dataframe if "Metric" in d.value.columns]
    assert len(tables) == 1, "expected one KPI comparison table"
    return tables[0].set_index("Metric")


def widget(at: AppTest, key: str):
    if key in ("wd", "iv"):
        return at.selectbox(key=form.widget_key(key))
    return at.number_input(key=form.widget_key(key))


def test_page_renders_results_learned_from_the_database(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url)
    assert at.title[0].value == "Staffing simulator"
    # The backtest's verdict may warn (a small demo's days are noisy); nothing else may.
    assert not at.error and not [w.value for w in at.warning
                                 if not w.value.startswith("Does not reproduce")]
    # Learned from the DB (the demo story ends 2022-07-31), not the example fallback.
    assert not [i for i in at.info if "baseline_monday.toml" in i.value]
    assert any("Monday" in c.value and "2022-07-31" in c.value for c in at.caption)
    # Patience is learned from the same weeks' queue, with its interval, under its input.
    assert any(c.value.startswith("WhatsApp: learned from 8 weeks: ") and " s [" in c.value
               for c in at.caption), [c.value for c in at.caption if "atience" in c.value
                                      or "learned" in c.value]
    assert (widget(at, "wd").value, widget(at, "iv").value, widget(at, "reps").value) == (0, 60, 3)
    assert [m.label for m in at.metric] == KPI_TILES
    table = kpis(at)
    assert {"Service level (within target)", "Total cost per day",
            "Predicted NPS (model estimate)"} <= set(table.index)
    # Finding 11: no edits, no screen of "+0" — the page asks for a change and shows the
    # baseline alone, each figure with its interval.
    assert at.info[0].value == results.PICK_A_CHANGE
    assert list(table.columns) == ["Baseline", "Baseline 95% CI"]
    assert not any(m.delta for m in at.metric)
    assert table.loc["Contacts offered", "Baseline"] != "—"
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download interval results (CSV)" in labels
    assert "Download sweep grid (CSV)" not in labels  # no sweep until asked


def test_url_round_trip(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, wd="2", mult="1.2", dig_add="5",
                   dig_from="8", dig_to="12", bot_add="0.4")
    assert widget(at, "wd").value == 2
    assert widget(at, "mult").value == pytest.approx(1.2)
    assert (widget(at, "dig_add").value, widget(at, "dig_from").value,
            widget(at, "dig_to").value) == (5, 8, 12)
    assert widget(at, "bot_add").value == pytest.approx(0.4)
    assert widget(at, "reps").value == 3
    assert any("Wednesday" in c.value for c in at.caption)
    # 5 extra operators for 4 hours at the default 2,500 KZT an hour.
    assert kpis(at).loc["Operator cost", "Change"] == "+50,000 KZT"

    widget(at, "mult").set_value(1.5)
    at.button(key="simulate").click().run()
    assert not at.exception
    assert at.query_params["mult"] == "1.5"
    assert {k: at.query_params[k] for k in ("wd", "dig_add", "dig_from", "dig_to", "bot_add")} \
        == {"wd": "2", "dig_add": "5", "dig_from": "8", "dig_to": "12", "bot_add": "0.4"}
    assert widget(at, "mult").value == pytest.approx(1.5)

    # Back to the baseline's value: the edit leaves the URL (a window needs a count).
    widget(at, "dig_add").set_value(0)
    at.button(key="simulate").click().run()
    assert not at.exception
    assert not {"dig_add", "dig_from", "dig_to"} & set(at.query_params)
    assert kpis(at).loc["Operator cost", "Change"] == "+0 KZT"


def test_bad_query_parameters_are_named_and_ignored(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, mult="abc", bot_add="7")
    warnings = " ".join(w.value for w in at.warning)
    assert "'mult'" in warnings and "'abc'" in warnings and "is not a number" in warnings
    assert "'bot_add'" in warnings and "'7'" in warnings and "between 0 and 1" in warnings
    assert len([w for w in at.warning if not w.value.startswith("Does not reproduce")]) == 2
    assert widget(at, "mult").value == pytest.approx(1.0)
    assert widget(at, "bot_add").value == 0
    assert [m.label for m in at.metric] == KPI_TILES
    assert list(kpis(at).columns) == ["Baseline", "Baseline 95% CI"]


def test_unknown_or_old_url_keys_are_errors_naming_the_nearest_key(monkeypatch,
                                                                    seeded_sqlite_url):
    """Finding 6 on the page: a misspelt lever must not quietly simulate the baseline."""
    at = open_page(monkeypatch, seeded_sqlite_url, pat_s="600", auto="0.3")
    errors = [e.value for e in at.error]
    assert any("'pat_s'" in e and "did you mean" in e and "'pat'" in e for e in errors)
    assert any("'auto'" in e and "'bot_add'" in e for e in errors)
    assert not at.metric  # nothing simulated


def test_url_values_cannot_inject_markdown(monkeypatch, seeded_sqlite_url):
    """A value or key from the link is shown inside a code span, never as a link or image."""
    at = open_page(monkeypatch, seeded_sqlite_url, wk="![x](http://127.0.0.9:9/p.png)",
                   mult="[Sign in again](http://evil/)", **{"a`b": "1"})
    shown = " ".join(m.value for m in [*at.warning, *at.error])
    assert "` '![x](http://127.0.0.9:9/p.png)' `" in shown
    assert "` '[Sign in again](http://evil/)' `" in shown
    assert "`` 'a`b' ``" in shown


def test_impossible_edits_show_named_errors_instead_of_results(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, dig_add="-50", off_add="3", off_from="10",
                   off_to="10")
    errors = [e.value for e in at.error]
    assert any("pool 'digital' operators at" in e and "must be >= 0" in e for e in errors)
    assert any("(off_to)" in e and "10" in e for e in errors)
    assert not at.metric


def test_presets_apply_their_values(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, seed="7")
    at.button(key="preset_evening").click().run()
    assert not at.exception
    assert at.query_params == {"seed": "7", "reps": "3", "dig_add": "10", "dig_from": "18",
                               "dig_to": "23"}
    assert (widget(at, "dig_add").value, widget(at, "dig_from").value,
            widget(at, "dig_to").value) == (10, 18, 23)
    assert kpis(at).loc["Operator cost", "Change"] == "+125,000 KZT"  # 10 × 5 h × 2,500
    # The answer opens the page: the change, then each figure with its paired 95% CI.
    answer = at.success[0].value
    assert answer.startswith("+10 digital operators 18–23 h: service level +"), answer
    assert "[" in answer and "for +125.0 k KZT a day" in answer

    at.button(key="preset_bot").click().run()
    assert not at.exception
    assert (at.query_params["bot_add"], at.query_params["bot_cont"]) == ("0.3", "0.6")
    assert "dig_add" not in at.query_params and at.query_params["seed"] == "7"
    assert widget(at, "bot_add").value == pytest.approx(0.3)
    assert widget(at, "bot_cont").value == pytest.approx(0.6)
    assert widget(at, "dig_add").value == 0
    # Finding 2: the bot question adds to today's bot, so it finishes more, not fewer.
    table = kpis(at)
    assert table.loc["Finished by the bot", "Change"].startswith("+")
    assert not table.loc["Finished by the bot", "Change 95% CI"].startswith("-")
    assert not table.loc["Service level (within target)", "Change"].startswith("-")
    assert table.loc["Predicted NPS (model estimate)", "Change 95% CI"] != "—"
    assert at.success[0].value.startswith("Bot on 30% more of the chats (containment 60%)")


def test_cheapest_mix_preset_runs_the_sweep_and_names_the_mix(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url)
    assert not at.success  # no sweep until asked
    at.button(key="preset_cheapest").click().run()
    assert not at.exception
    # Finding 4: the question changes no target; it sweeps around the baseline.
    assert dict(at.query_params) == {"reps": "3", "sweep": "1"}
    # The sweep's answer opens the page and heads the sweep section.
    assert len(at.success) == 2
    assert all(s.value.startswith("Cheapest mix reaching 80%: operators ×") for s in at.success)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download sweep grid (CSV)" in labels


def test_unavailable_database_falls_back_to_the_example_day(monkeypatch):
    at = open_page(monkeypatch, UNREACHABLE)
    assert any("baseline_monday.toml" in i.value for i in at.info)
    assert any("Predicted NPS is unavailable" in i.value for i in at.info)
    assert len(at.error) == 1 and "unavailable" in at.error[0].value  # the frame's banner
    assert [m.label for m in at.metric] == KPI_TILES[:-1]
    assert kpis(at).loc["Contacts offered", "Baseline"] != "—"


def test_overloaded_scenario_is_flagged_as_unstable(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, mult="3")
    assert any(w.value.startswith("Scenario is unstable: pool 'office'") for w in at.warning)
    assert kpis(at).loc["Abandoned in the queue", "Change"].startswith("+")


def drawn_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def mark_views(spec: dict, inherited: dict | None = None) -> Iterator[tuple[dict, dict]]:
    """Every view that draws a mark, with its encoding (a layer inherits its parent's)."""
    encoding = {**(inherited or {}), **spec.get("encoding", {})}
    if "mark" in spec:
        yield spec, encoding
    for child in spec.get("layer", []):
        yield from mark_views(child, encoding)
    for key in ("hconcat", "vconcat", "concat"):
        for child in spec.get(key, []):
            yield from mark_views(child)
    if "spec" in spec:  # facet and repeat
        yield from mark_views(spec["spec"], encoding)


def tooltips(view: dict, encoding: dict) -> list[dict]:
    """The tooltip fields of one mark: its encoding's, or the mark's own."""
    mark = view["mark"] if isinstance(view["mark"], dict) else {}
    found = encoding.get("tooltip", mark.get("tooltip"))
    if found in (None, False, True):  # `True` shows raw field names, without titles or units
        return []
    return found if isinstance(found, list) else [found]


def title_text(spec: dict) -> str:
    title = spec.get("title") or ""
    if isinstance(title, dict):
        parts = [title.get("text") or "", title.get("subtitle") or ""]
        return " ".join(" ".join(p) if isinstance(p, list) else p for p in parts).strip()
    return " ".join(title) if isinstance(title, list) else title


def test_every_mark_of_every_chart_has_a_tooltip_and_every_chart_a_title(monkeypatch,
                                                                          seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, **CHEAPEST_MIX)
    # A chosen mix: its highlight layers are drawn too (the backtest's verdict aside).
    assert len([m for m in at.success if not m.value.startswith("Reproduces")]) == 2
    specs = drawn_specs(at)
    # Erlang preview, one per pool, waits, NPS, three sweep heatmaps and the cost frontier.
    assert len(specs) == 11  # with the staffing reference and the backtest
    bare = []
    for spec in specs:
        title = title_text(spec)
        # Every chart of the simulated day names it; the backtest shows recorded days.
        assert title and ("Monday" in title or title.startswith("Backtest: recorded")), \
            f"chart without a title naming the day: {title!r}"
        for view, encoding in mark_views(spec):
            fields = tooltips(view, encoding)
            mark = view["mark"]["type"] if isinstance(view["mark"], dict) else view["mark"]
            if not fields:
                bare.append(f"{title}: {mark}")
            # Each field says what it is (and its unit), not a raw column name.
            assert all(f.get("title") for f in fields), (title, mark, fields)
    assert not bare, bare


def test_every_chart_and_table_has_its_own_csv_download(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, **CHEAPEST_MIX)
    charts, tables = at.get("vega_lite_chart"), at.dataframe
    buttons = at.get("download_button")
    assert len(charts) == 11 and len(tables) == 3  # Erlang day, KPIs, per channel
    assert len(buttons) >= len(charts) + len(tables), [b.proto.label for b in buttons]
    labels = [b.proto.label for b in buttons]
    assert {"Download interval results (CSV)", "Download sweep grid (CSV)"} <= set(labels)
    # Each button has its own key (its id ends with it), so none depends on its position.
    ids = [b.proto.id for b in buttons]
    assert len(set(ids)) == len(ids)
    assert all("-download_sim_" in button_id for button_id in ids), ids


# --------------------------------------------------------------------------- pure helpers


def test_parse_query_is_strict():
    edits, warnings, errors = form.parse_query({
        "wd": "6", "iv": "45", "reps": "3.0", "mult": "1e400", "seed": ["1", "2"],
        "cont": " 0.25 ", "patience": "600"})
    assert edits == {"wd": 6, "seed": 2, "cont": 0.25}
    assert len(warnings) == 3
    assert any("'iv'" in w and "'45'" in w and "one of 15, 30, 60" in w for w in warnings)
    assert any("'reps'" in w and "'3.0'" in w and "whole number" in w for w in warnings)
    assert any("'mult'" in w and "'1e400'" in w and "finite" in w for w in warnings)
    assert errors == ["URL parameter ` 'patience' `: unknown field; did you mean ` 'pat' `?"]


def test_query_round_trip_and_only_edits_are_kept():
    defaults = form.defaults_for(form.example_scenario(60))
    assert defaults["cont"] == pytest.approx(0.6) and defaults["conc"] == 2
    assert defaults["bot_add"] == 0 and defaults["bot_cont"] == defaults["cont"]
    values = {key: defaults[key] for key in form.SCENARIO_KEYS} | {
        "mult": 1.25, "bot_add": 0.5, "dig_from": 6}
    edits = form.edits_from_values(values, defaults, form.SCENARIO_KEYS)
    assert edits == {"mult": 1.25, "bot_add": 0.5}  # a window without a count is dropped
    assert form.parse_query(form.to_query(edits)) == (edits, [], [])


def test_apply_edits_wraps_windows_past_midnight_and_names_problems():
    baseline = form.example_scenario(60)
    data, problems = form.apply_edits(baseline, {"dig_add": 2, "dig_from": 22, "dig_to": 2})
    digital = next(p for p in data["pools"] if p["name"] == "digital")
    before = baseline.scheduled(baseline.pool("digital"))
    changed = [h for h, (a, b) in enumerate(zip(before, digital["operators"], strict=True))
               if a != b]
    assert changed == [0, 1, 22, 23] and not problems
    built = form.build_scenario(baseline, {"dig_add": -100})  # default window 18–23
    assert built.scenario is None
    assert built.problems[0].startswith("pool 'digital' operators at 18:00: -")
    text = form.describe_problem(Problem("channels[1].aht_s", "must be > 0"), data)
    assert text == f"channel '{data['channels'][1]['name']}'.aht_s: must be > 0"


def test_one_replication_per_mix_is_refused_by_name_not_a_crash(monkeypatch, seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, sweep="1", sw_r="1")
    assert not at.exception
    assert any("sw_r" in w.value for w in at.warning)


def test_sweep_answer_formats_a_missing_interval():
    best = {"operator_factor": 1.0, "operator_hours": 100.0, "extra_bot_share": 0.3,
            "queue_service_level": 0.85, "queue_service_level_ci_low": None,
            "queue_service_level_ci_high": None, "asa_s": None, "cost": 1000.0}
    assert "95% CI —–—" in results.sweep_answer(best, 0.8, "KZT")


def test_a_scenario_that_answers_nobody_renders_with_dashes(monkeypatch, seeded_sqlite_url):
    """Sunday with 95% shrinkage leaves no operator: no ASA to compare, yet no crash."""
    at = open_page(monkeypatch, seeded_sqlite_url, wd="6", shrink="0.95")
    table = kpis(at)
    assert table.loc["Average speed of answer", "Scenario"] == "—"
    assert table.loc["Service level (within target)", "Change 95% CI"] != "—"


def test_paired_change_interval_is_narrower_than_the_scenarios_own(monkeypatch,
                                                                   seeded_sqlite_url):
    at = open_page(monkeypatch, seeded_sqlite_url, dig_add="2")
    row = kpis(at).loc["Service level (within target)"]
    assert row["Change 95% CI"] != "—" and row["Scenario 95% CI"] != "—"


def test_sweep_needs_channels_in_the_pool_and_a_sane_budget():
    example = form.example_scenario(60)
    assert results.can_sweep(example)
    offices_only = example.__class__(**{**example.__dict__, "channels": tuple(
        c for c in example.channels if c.pool != results.SWEEP_POOL)})
    assert not results.can_sweep(offices_only)
    huge = results.sweep_axes({"sweep": 1, "sw_nf": 15, "sw_na": 15, "sw_r": 20})
    busy = example.__class__(**{**example.__dict__, "volume_multiplier": 5.0})
    assert "the most is 20,000,000" in (results.sweep_budget_problem(busy, huge) or "")
    assert results.sweep_budget_problem(example, results.sweep_axes({"sweep": 1})) is None


def test_csv_files_name_their_day_and_interval_and_hold_their_charts_data():
    view = planner.SimView("example Monday", 30)
    assert view.file_name("sweep_cost") == \
        "servicepulse_simulator_sweep_cost_example_monday_30min.csv"
    grid = pl.DataFrame({"operator_factor": [1.0], "extra_bot_share": [0.3],
                         "is_baseline": [False], "operator_hours": [50.0], "cost": [9.0],
                         "cost_ci_low": [8.0], "cost_ci_high": [10.0], "asa_s": [5.0],
                         "on_frontier": [True]})
    assert results.sweep_metric(grid, "cost").columns == [
        "operator_factor", "extra_bot_share", "is_baseline", "operator_hours", "cost",
        "cost_ci_low", "cost_ci_high", "on_frontier"]


def with_staffing(seeded_sqlite_url: str, path: Path) -> str:
    """A copy of the seeded story with (only) these agents on record for its last 4 weeks."""
    import datetime as dt
    import shutil

    from sqlalchemy import delete, insert

    from data_access.engine import create_db_engine
    from data_access.schema import Staffing
    shutil.copy(seeded_sqlite_url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    engine = create_db_engine(url)
    days = [dt.date(2022, 7, 31) - dt.timedelta(days=n) for n in range(28)]
    with engine.begin() as connection:
        connection.execute(delete(Staffing))
        connection.execute(insert(Staffing), [
            {"day": day, "quarter": quarter, "pool": pool,
             "agents": 3 if pool == "digital" else (4 if 36 <= quarter < 72 else 0)}
            for day in days for quarter in range(96) for pool in ("digital", "office")])
    engine.dispose()
    return url


def test_backtest_of_the_last_four_weeks_shows_a_verdict_and_a_chart(monkeypatch,
                                                                       seeded_sqlite_url,
                                                                       tmp_path):
    at = open_page(monkeypatch, with_staffing(seeded_sqlite_url, tmp_path / "staffed.db"))
    verdicts = [m.value for m in [*at.success, *at.warning]
                if "the 28 days from 2022-07-04 to 2022-07-31" in m.value]
    assert len(verdicts) == 1, [m.value for m in [*at.success, *at.warning]]
    titles = [json.loads(chart.proto.spec).get("title") for chart in at.get("vega_lite_chart")]
    texts = [t["text"] if isinstance(t, dict) else str(t) for t in titles]
    assert any(t.startswith("Backtest: recorded vs simulated") for t in texts), texts


def test_without_staffing_the_backtest_says_why(monkeypatch, seeded_sqlite_url, tmp_path):
    import shutil

    from sqlalchemy import delete

    from data_access.engine import create_db_engine
    from data_access.schema import Staffing
    path = tmp_path / "unstaffed.db"
    shutil.copy(seeded_sqlite_url.removeprefix("sqlite:///"), path)
    engine = create_db_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(delete(Staffing))
    engine.dispose()
    at = open_page(monkeypatch, f"sqlite:///{path}")
    assert any(results.NO_BACKTEST_DAYS in i.value for i in at.info)


def test_patience_notes_name_each_channel_and_its_source():
    notes = form.patience_notes({"whatsapp": (412.0, "learned from 8 weeks: 412 s [398, 427]"),
                                 "office": (1800.0, "assumed 1800 s: no queue on record")})
    assert notes["pat"] == "WhatsApp: learned from 8 weeks: 412 s [398, 427]"
    assert notes["opat"].startswith("Service office: assumed 1800 s")
    assert "wpat" not in notes
