"""The perimeter: no password in any message, no formula in any CSV the app exports.

Findings of the perimeter issue covered here: 2 (a key=value connection string printed
verbatim by the app's banner and by the CLI) and 6 (imported text starting with `=`, `+`,
`-`, `@`, tab or CR exported verbatim into spreadsheets). Markdown injection (4) is covered in
the browser (tests/test_e2e.py) and on the simulator page (tests/test_sim_page.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import insert
from streamlit.testing.v1 import AppTest

from data_access.__main__ import main as data_main
from data_access.config import local_now, mask_secrets, mask_url, scrub
from data_access.customer import (
    case_breakdown,
    detractor_reasons,
    low_score_comments,
    open_e_otinish_appeals,
)
from data_access.engine import create_db_engine
from data_access.exports import spreadsheet_safe, spreadsheet_safe_text
from data_access.queries import Filters
from data_access.reference import CHANNEL_BY_CODE
from data_access.schema import Case, CaseEvent
from sim.__main__ import main as sim_main
from tests.conftest import insert_answered_contacts
from ui.layout import csv_bytes

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PASSWORD = "S3cretPw"
CONNECTIONS = [
    f"host=db user=reader password={PASSWORD} dbname=sp",
    f"host=db user=reader password='{PASSWORD} x' dbname=sp",
    f"postgresql+psycopg://reader:{PASSWORD}@db:5432/sp",
    f"postgresql+psycopg://reader:{PASSWORD}@db@x:5432/sp",
    f"postgresql://db/sp?user=reader&password={PASSWORD}",
    f"postgresql://reader@db/sp?sslpassword={PASSWORD}",
    f"PGPASSWORD={PASSWORD} psql -h db",
    f"nosuchdb://host=db password = {PASSWORD}",
]


@pytest.mark.parametrize("connection", CONNECTIONS)
def test_every_way_of_writing_a_connection_is_masked(connection):
    assert PASSWORD not in mask_url(connection)
    assert PASSWORD not in mask_secrets(f"could not connect with {connection}")
    assert PASSWORD not in scrub(f"server said: password {PASSWORD} rejected", connection)
    assert "***" in mask_url(connection)


@pytest.mark.parametrize("argv", [
    ["kpis", "--from", "2022-07-01", "--to", "2022-07-31", "--db",
     f"host=x password={PASSWORD}"],
    ["kpis", "--from", "2022-07-01", "--to", "2022-07-31", "--db",
     f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:1/x"],
])
def test_the_cli_never_prints_the_password(capsys, argv):
    """`kpis --db 'host=x password=S3cret'` printed the password."""
    assert data_main(argv) != 0
    printed = capsys.readouterr()
    assert PASSWORD not in printed.out + printed.err
    assert "***" in printed.err


def test_the_simulator_cli_never_prints_the_password(capsys, tmp_path):
    example = Path(__file__).resolve().parent.parent / "sim" / "examples" / "mmc_stationary.toml"
    assert sim_main(["run", "--scenario", str(example),
                     "--replications", "2", "--db", f"host=x password={PASSWORD}"]) == 0
    printed = capsys.readouterr()
    assert PASSWORD not in printed.out + printed.err
    assert "password=***" in printed.out


def test_the_app_banner_never_shows_the_password(monkeypatch):
    """The "Invalid database URL" banner showed a key=value string verbatim to visitors."""
    monkeypatch.setenv("DATABASE_URL", f"host=db user=reader password={PASSWORD} dbname=sp")
    at = AppTest.from_file(APP, default_timeout=60).run()
    shown = " ".join(e.value for e in at.error)
    assert shown and PASSWORD not in shown and "***" in shown
    assert not at.exception


# --- CSV exports -----------------------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://evil.example/\",\"open\")", "+SUM(1,2)", "-2+3", "@cmd",
            "\tnote", "\rline"]


def test_a_formula_cell_gets_a_leading_quote_and_numbers_stay_numbers():
    frame = pl.DataFrame({"text": [*FORMULAS, "plain", "a=b", None], "n": list(range(-4, 5))})
    safe = spreadsheet_safe(frame)
    assert safe["text"].to_list()[:6] == ["'" + f for f in FORMULAS]
    assert safe["text"].to_list()[6:] == ["plain", "a=b", None]
    assert safe["n"].to_list() == frame["n"].to_list()
    assert [spreadsheet_safe_text(f) for f in FORMULAS] == ["'" + f for f in FORMULAS]


@pytest.fixture
def hostile_db(tmp_path, seeded_sqlite_url) -> str:
    """The seeded story plus imported-looking text that starts like a formula in each export."""
    path = tmp_path / "hostile.db"
    shutil.copy(seeded_sqlite_url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    moment = dt.datetime(2022, 7, 30, 12, 0)
    insert_answered_contacts(url, 1, moment, score=0, reason=FORMULAS[0], suggestion=FORMULAS[1])
    engine = create_db_engine(url)
    with engine.begin() as connection:
        for number, (kind, channel, category) in enumerate([
                ("complaint", "office", FORMULAS[2]),
                ("appeal", "e_otinish", FORMULAS[3])]):
            case_id = connection.execute(insert(Case).values(
                external_id=f"hostile-{number}", kind=kind,
                channel_id=CHANNEL_BY_CODE[channel].id, category=category, region_id=1,
                received_at=moment, status="received").returning(Case.id)).scalar_one()
            connection.execute(insert(CaseEvent).values(case_id=case_id, stage="received",
                                                         at=moment))
    engine.dispose()
    return url


def exported_cells(frame: pl.DataFrame) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(csv_bytes(frame).decode())) for cell in row]


@pytest.mark.parametrize("export", ["low_score_comments", "detractor_reasons",
                                    "cases_by_category", "e_otinish_open"])
def test_each_export_neutralises_formulas(hostile_db, export):
    """`=HYPERLINK(…)` from an imported comment ran when a manager opened the CSV."""
    filters = Filters(dt.date(2022, 7, 1), dt.date(2022, 7, 31))
    engine = create_db_engine(hostile_db)
    with engine.connect() as connection:
        frame = {
            "low_score_comments": lambda: low_score_comments(connection, filters, 50),
            "detractor_reasons": lambda: detractor_reasons(connection, filters),
            "cases_by_category": lambda: case_breakdown(connection, filters, "category"),
            "e_otinish_open": lambda: open_e_otinish_appeals(connection, filters, local_now()),
        }[export]()
    engine.dispose()
    cells = exported_cells(frame)
    hostile = [cell for cell in cells if cell.lstrip("'") in FORMULAS]
    assert hostile, f"the hostile text is not in the {export} export"
    assert all(cell.startswith("'") for cell in hostile), hostile
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")
                or (cell[:1] == "-" and not _number(cell))]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
