"""Least privilege: every page, the simulator too, renders for a SELECT-only PostgreSQL role,
and the role cannot write.

The role is the one the README documents for the dashboard; this test creates it on the seeded
database, uses it, and drops it.
"""

from __future__ import annotations

import datetime as dt
import os

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
READER = f"sp_reader_{os.getpid()}"


def reader_grants(database: str) -> list[str]:
    """The README's statements for a read-only dashboard role."""
    return [
        f"CREATE ROLE {READER} LOGIN PASSWORD 'reader-secret'",
        f'GRANT CONNECT ON DATABASE "{database}" TO {READER}',
        f"GRANT USAGE ON SCHEMA public TO {READER}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}",
    ]


@pytest.fixture(scope="module")
def reader_url(seeded_postgres_url) -> str:
    owner = make_url(seeded_postgres_url)
    _admin_execute([f"DROP ROLE IF EXISTS {READER}"])
    engine = create_db_engine(seeded_postgres_url)
    with engine.begin() as connection:  # grants on tables are given inside the database
        for statement in reader_grants(owner.database):
            connection.execute(text(statement))
    engine.dispose()
    yield owner.set(username=READER, password="reader-secret").render_as_string(
        hide_password=False)
    engine = create_db_engine(seeded_postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP OWNED BY {READER}"))
    engine.dispose()
    _admin_execute([f"DROP ROLE IF EXISTS {READER}"])


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_for_a_select_only_role(monkeypatch, reader_url, page):
    at = open_page(monkeypatch, reader_url, page, SUMMER)
    assert_clean(at, page)
    assert tiles(at)[FIRST_TILE[page]] not in ("—", "0")


def test_the_simulator_renders_for_a_select_only_role(monkeypatch, reader_url):
    """The simulator learns its baseline from the database with reads only (3 replications)."""
    at = open_simulator(monkeypatch, reader_url)
    assert at.title[0].value == "Staffing simulator"
    assert not at.error and not at.warning, [e.value for e in (*at.error, *at.warning)]
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
