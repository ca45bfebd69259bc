"""Least privilege: every page, the simulator too, renders for a SELECT-only PostgreSQL role,
and the role cannot write.

The role is the one the README documents for the dashboard: this test runs the README's own
statements on the seeded database, beside a writing role as the loaders would have, uses the
reader, and drops both roles.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from data_access.engine import create_db_engine
from data_access.schema import Case
from tests.conftest import _admin_execute
from tests.test_pages import FIRST_TILE, PAGES, SUMMER, assert_clean, open_page, tiles
from tests.test_sim_page import KPI_TILES
from tests.test_sim_page import open_page as open_simulator

pytestmark = pytest.mark.postgres
README = Path(__file__).resolve().parent.parent / "README.md"
READER = f"sp_reader_{os.getpid()}"
WRITER = f"sp_writer_{os.getpid()}"  # a loader's role, not the admin that runs the grants


def reader_grants(database: str) -> list[str]:
    """The README's statements for a read-only dashboard role, with this test's names."""
    readme = README.read_text(encoding="utf-8")
    block = readme.split("**A read-only role for the dashboard.**", 1)[1]
    block = block.split("```sql\n", 1)[1].split("```", 1)[0]
    names = {"servicepulse_reader": READER, "servicepulse_writer": WRITER,
             "'change-me'": f"'{READER}-secret'",
             "DATABASE servicepulse ": f'DATABASE "{database}" '}
    statements = [statement.strip() for statement in re.sub(r"--[^\n]*", "", block).split(";")]
    for old, new in names.items():
        statements = [statement.replace(old, new) for statement in statements]
    return [statement for statement in statements if statement]


def url_of(seeded_postgres_url: str, role: str) -> str:
    return make_url(seeded_postgres_url).set(username=role, password=f"{role}-secret"
                                             ).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def reader_url(seeded_postgres_url) -> str:
    owner = make_url(seeded_postgres_url)
    _admin_execute([f"DROP ROLE IF EXISTS {READER}", f"DROP ROLE IF EXISTS {WRITER}",
                    f"CREATE ROLE {WRITER} LOGIN PASSWORD '{WRITER}-secret'"])
    engine = create_db_engine(seeded_postgres_url)
    with engine.begin() as connection:  # grants on tables are given inside the database
        connection.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {WRITER}"))
        for statement in reader_grants(owner.database):
            connection.execute(text(statement))
    engine.dispose()
    yield url_of(seeded_postgres_url, READER)
    engine = create_db_engine(seeded_postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP OWNED BY {READER}, {WRITER}"))
    engine.dispose()
    _admin_execute([f"DROP ROLE IF EXISTS {READER}", f"DROP ROLE IF EXISTS {WRITER}"])


def test_the_readme_grants_cover_tables_the_writer_creates_later(seeded_postgres_url,
                                                                 reader_url):
    """ALTER DEFAULT PRIVILEGES covers the tables of the role named in FOR ROLE (here the
    writer), not only those of the admin that runs it."""
    assert any(f"FOR ROLE {WRITER}" in statement
               for statement in reader_grants(make_url(seeded_postgres_url).database))
    writer = create_db_engine(url_of(seeded_postgres_url, WRITER))
    reader = create_db_engine(reader_url)
    try:
        with writer.begin() as connection:
            connection.execute(text("CREATE TABLE later_import_log (id integer)"))
            connection.execute(text("INSERT INTO later_import_log VALUES (1)"))
        with reader.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM later_import_log")
                                      ).scalar_one() == 1
    finally:
        reader.dispose()
        with writer.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS later_import_log"))
        writer.dispose()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_for_a_select_only_role(monkeypatch, reader_url, page):
    at = open_page(monkeypatch, reader_url, page, SUMMER)
    assert_clean(at, page)
    assert tiles(at)[FIRST_TILE[page]] not in ("—", "0")


def test_the_simulator_renders_for_a_select_only_role(monkeypatch, reader_url):
    """The simulator learns its baseline from the database with reads only (3 replications)."""
    at = open_simulator(monkeypatch, reader_url)
    assert at.title[0].value == "Staffing simulator"
    # The backtest's verdict may warn (the small test demo's days are noisy); nothing else may.
    problems = [*at.error, *(w for w in at.warning if not w.value.startswith("Does not reproduce"))]
    assert not problems, [e.value for e in problems]
    assert [m.label for m in at.metric] == KPI_TILES
    # Learned from the database (the story ends 2022-07-31), not the example fallback.
    assert not [i for i in at.info if "baseline_monday.toml" in i.value]
    assert any("2022-07-31" in caption.value for caption in at.caption)


def test_the_select_only_role_cannot_write(reader_url):
    engine = create_db_engine(reader_url)
    try:
        denied = pytest.raises(ProgrammingError, match="permission denied")
        with denied, engine.begin() as connection:
            connection.execute(insert(Case).values(
                external_id="reader-write", kind="complaint", channel_id=1, category="test",
                region_id=1, received_at=dt.datetime(2022, 7, 1), status="received"))
        with pytest.raises(ProgrammingError, match="permission denied"), \
                engine.begin() as connection:
            connection.execute(text("DELETE FROM contacts"))
    finally:
        engine.dispose()
