"""The demo load's shortcuts leave the schema as they found it.

To load fast it pauses the rollup insert triggers inside each month's transaction and, on
PostgreSQL, drops the loaded tables' foreign keys until the end. Whether it finishes or is
interrupted and redone, the database must end with every key and trigger, and the shared
metadata must still create the keys for the next database.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.schema import CreateTable

from data_access import rollups
from data_access.config import local_today
from data_access.demo import DemoConfig, generate_demo, needs_demo
from data_access.engine import create_db_engine
from data_access.schema import AgentRating, Base, Case, CaseEvent, Contact, NpsSurvey
from tests.test_rollups import assert_matches_rebuild

LOADED = (Contact, NpsSurvey, AgentRating, Case, CaseEvent)


def foreign_keys(connection: Connection) -> set[tuple[str, tuple[str, ...], str]]:
    found = inspect(connection)
    return {(model.__tablename__, tuple(key["constrained_columns"]), key["referred_table"])
            for model in LOADED for key in found.get_foreign_keys(model.__tablename__)}


def rollup_triggers(connection: Connection) -> set[str]:
    if connection.dialect.name == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'rollup%'"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rollup%'"
    return set(connection.scalars(text(query)))


def test_an_interrupted_load_redone_keeps_every_key_and_trigger(empty_url):
    engine = create_db_engine(empty_url)
    Base.metadata.create_all(engine)
    rollups.ensure_schema(engine)
    with engine.connect() as connection:
        keys, triggers = foreign_keys(connection), rollup_triggers(connection)
    assert len(keys) >= 9 and len(triggers) >= len(rollups.ROLLUPS) * 3

    def interrupt(fraction: float, _message: str) -> None:
        if fraction > 0.5:
            raise KeyboardInterrupt

    end = local_today()
    config = DemoConfig(end - dt.timedelta(days=75), end, scale=0.003)
    with pytest.raises(KeyboardInterrupt):
        generate_demo(engine, config, interrupt)
    assert needs_demo(engine)
    generate_demo(engine, config)
    assert not needs_demo(engine)
    with engine.connect() as connection:
        assert foreign_keys(connection) == keys
        assert rollup_triggers(connection) == triggers
        assert connection.scalar(select(Contact.id).limit(1)) is not None
    assert_matches_rebuild(engine)
    engine.dispose()
    for model in LOADED:  # the keys still belong to CREATE TABLE for the next database
        ddl = str(CreateTable(model.__table__).compile(engine))
        assert ddl.count("FOREIGN KEY") == len(model.__table__.foreign_key_constraints)
