"""The `python -m data_access` commands, run as a user would run them."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import SMALL_SCALE

KPI_KEYS = {"nps", "nps_moe", "responses", "surveys_sent", "promoters", "passives",
            "detractors", "contacts_online", "contacts_offline", "online_share", "complaints",
            "appeals", "e_otinish_appeals", "avg_wait_s", "operators_rated_share"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "data_access", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_kpis_json(seeded_url):
    result = run_cli("kpis", "--from", "2022-07-01", "--to", "2022-07-31", "--json",
                     "--db", seeded_url)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) >= KPI_KEYS
    assert figures["contacts_online"] + figures["contacts_offline"] == figures["surveys_sent"]
    assert figures["e_otinish_appeals"] == round(36 * SMALL_SCALE)
    assert figures["online_share"] == round(figures["contacts_online"] / figures["surveys_sent"],
                                            4)


def test_kpis_table(seeded_sqlite_url):
    result = run_cli("kpis", "--from", "2022-07-01", "--to", "2022-07-31",
                     "--db", seeded_sqlite_url)
    assert result.returncode == 0
    assert "nps_moe:" in result.stdout


def test_bad_date_names_the_field():
    result = run_cli("kpis", "--from", "2022-13-01", "--to", "2022-07-31")
    assert result.returncode == 2
    assert "--from: '2022-13-01' is not a date" in result.stderr
    assert "Traceback" not in result.stderr


def test_reversed_range_is_refused(seeded_sqlite_url):
    result = run_cli("kpis", "--from", "2022-07-31", "--to", "2022-07-01",
                     "--db", seeded_sqlite_url)
    assert result.returncode == 2
    assert "--to 2022-07-01 is before --from 2022-07-31" in result.stderr


def test_unreachable_database_is_one_masked_line():
    result = run_cli("kpis", "--from", "2022-07-01", "--to", "2022-07-31",
                     "--db", "postgresql+psycopg://reader:s3cret@127.0.0.1:1/sp")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "reader:***@127.0.0.1:1/sp" in lines[0] and "s3cret" not in lines[0]


def test_demo_loads_with_progress_and_refuses_a_second_load(empty_url):
    args = ("demo", "--start", "2022-06-01", "--end", "2022-07-31", "--scale", "0.01",
            "--db", empty_url)
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "100%" in first.stderr  # the terminal progress bar
    assert "contacts" in first.stdout
    second = run_cli(*args)
    assert second.returncode == 2
    assert "already holds" in second.stderr and "Traceback" not in second.stderr


def test_demo_rejects_bad_scale():
    result = run_cli("demo", "--scale", "-1")
    assert result.returncode == 2
    assert "--scale: -1 must be > 0" in result.stderr


def test_kpis_on_a_database_without_tables_says_what_to_run(tmp_path):
    result = run_cli("kpis", "--from", "2022-07-01", "--to", "2022-07-31",
                     "--db", f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 2
    assert "has no ServicePulse tables; run `python -m data_access demo`" in result.stderr
    assert "Traceback" not in result.stderr
