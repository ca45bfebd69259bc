"""`python -m sim ...` as planners and scripts use it.

The commands run in process (`sim.cli.main`, as `python -m sim` calls it): a subprocess per
case cost 32 s. One test runs the real `python -m sim` to prove the entry point.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tomllib
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from sim.cli import main
from sim.config import parse_scenario

EXAMPLES = Path(__file__).resolve().parent.parent / "sim" / "examples"


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def sim_cli(*args: str) -> Completed:
    """One command, in this process: its exit code and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's own errors
            code = exit_.code if isinstance(exit_.code, int) else 2
    return Completed(code, out.getvalue(), err.getvalue())


def test_python_dash_m_sim_is_the_entry_point():
    result = subprocess.run([sys.executable, "-m", "sim", "erlang", "--arrivals-per-hour",
                             "100", "--aht-s", "360", "--agents", "12", "--json"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"] == "erlang_c"


def test_run_json_has_the_day_summary_with_intervals(seeded_sqlite_url):
    result = sim_cli("run", "--scenario", str(EXAMPLES / "mmc_stationary.toml"),
                     "--replications", "8", "--seed", "3", "--json", "--db", seeded_sqlite_url)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in ("offered", "answered", "abandoned_share", "asa_s", "wait_p90_s",
                "service_level", "occupancy", "cost"):
        assert summary[f"{key}_ci_low"] <= summary[key] <= summary[f"{key}_ci_high"], key
    assert summary["cost"] == pytest.approx(12 * 24 * 2500.0)
    assert 40 < summary["asa_s"] < 130  # Erlang C says 80.9 s
    assert summary["predicted_nps_ci_low"] < summary["predicted_nps"] < \
        summary["predicted_nps_ci_high"]
    assert "model estimate" in summary["predicted_nps_note"]


def test_erlang_json_matches_the_reference_figures():
    result = sim_cli("erlang", "--arrivals-per-hour", "100", "--aht-s", "360", "--agents", "12",
                     "--sl-target-s", "20", "--json")
    figures = json.loads(result.stdout)
    assert figures["p_wait"] == pytest.approx(0.4494, abs=1e-4)
    assert figures["asa_s"] == pytest.approx(80.9, abs=0.05)
    assert figures["service_level"] == pytest.approx(0.5979, abs=1e-4)
    with_patience = json.loads(sim_cli("erlang", "--arrivals-per-hour", "100", "--aht-s", "360",
                                       "--agents", "11", "--patience-s", "180",
                                       "--json").stdout)
    assert with_patience["p_abandon"] == pytest.approx(0.1016, abs=1e-4)


def test_bad_scenario_names_the_fields(tmp_path):
    data = tomllib.loads((EXAMPLES / "mmc_stationary.toml").read_text())
    text = (EXAMPLES / "mmc_stationary.toml").read_text().replace(
        "aht_s = 360.0", "aht_s = -5.0")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    result = sim_cli("run", "--scenario", str(bad))
    assert result.returncode == 2
    assert "channels[0].aht_s: -5 must be > 0" in result.stderr
    assert "Traceback" not in result.stderr
    assert parse_scenario(data).ok


def test_sweep_json_marks_the_frontier(tmp_path):
    csv = tmp_path / "grid.csv"
    result = sim_cli("sweep", "--scenario", str(EXAMPLES / "mmc_stationary.toml"),
                     "--operators", "0.9,1.1", "--extra-bot", "0:0.4:2", "--containment",
                     "0.6", "--replications", "2", "--json", "--csv", str(csv),
                     "--db", "sqlite:////nonexistent/dir/x.db")
    assert result.returncode == 0, result.stderr
    grid = json.loads(result.stdout)
    # The baseline (factor 1, no extra bot) joins the axes: 3 factors x 2 extra shares.
    assert len(grid) == 6 and any(row["on_frontier"] for row in grid)
    assert [row["is_baseline"] for row in grid].count(True) == 1
    assert csv.read_text().startswith("operator_factor,extra_bot_share,is_baseline")


def test_optimize_and_default_scenario_from_the_database(seeded_sqlite_url, tmp_path):
    baseline = tmp_path / "baseline.toml"
    made = sim_cli("default-scenario", "--db", seeded_sqlite_url, "--end", "2022-07-31",
                   "--weekday", "2", "--output", str(baseline))
    assert made.returncode == 0, made.stderr
    parsed = parse_scenario(tomllib.loads(baseline.read_text()))
    assert parsed.ok and not parsed.warnings
    assert {c.name for c in parsed.scenario.channels} == {
        "office", "whatsapp", "telegram", "web_cabinet", "mobile_app"}
    optimized = sim_cli("optimize", "--scenario", str(baseline), "--replications", "3",
                        "--json")
    assert optimized.returncode == 0, optimized.stderr
    plan = json.loads(optimized.stdout)
    assert plan["cost"] > 0 and plan["rounds"] >= 1
    assert {row["pool"] for row in plan["plan"]} == {"office", "digital"}


@pytest.mark.parametrize("args, message", [
    (("erlang", "--arrivals-per-hour", "1e10", "--aht-s", "360", "--agents", "10"),
     "--arrivals-per-hour: 1e10 must be >= 0 and <= 1e+07"),
    (("erlang", "--arrivals-per-hour", "100", "--aht-s", "360", "--agents", "1000000001"),
     "--agents: 1000000001 must be <= 100000"),
    (("run", "--scenario", str(EXAMPLES / "mmc_stationary.toml"), "--seed", "-1"),
     "--seed: -1 must be >= 0"),
    (("sweep", "--scenario", str(EXAMPLES / "mmc_stationary.toml"), "--operators", "inf"),
     "--operators: factors must be within 0..10, got 'inf'"),
])
def test_hostile_arguments_get_one_line_naming_them(args, message):
    result = sim_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_compare_up_to_five_scenarios(tmp_path):
    text = (EXAMPLES / "mmc_stationary.toml").read_text()
    more = tmp_path / "more.toml"
    more.write_text(text.replace('name = "M/M/12, 100 per hour, AHT 6 min"',
                                 'name = "13 operators"').replace("12, ", "13, ")
                    .replace(", 12]", ", 13]"))
    result = sim_cli("compare", "--baseline", str(EXAMPLES / "mmc_stationary.toml"),
                     "--scenario", str(more), "--replications", "6", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["scenario"] for row in rows][1] == "13 operators"
    assert rows[1]["service_level_delta_ci_low"] > 0
    six = sim_cli("compare", "--baseline", str(more), *(["--scenario", str(more)] * 6))
    assert six.returncode == 2 and "give 1 to 5 scenarios, got 6" in six.stderr
